'use strict';
// The incremental chain of issue 12: one tree backed up again and again by
// both tools into repositories of their own on the same server, the order
// alternating step by step so the machine's noise hits both:
//   first backup -> restore of it -> unchanged re-run -> one edited + one new
//   1 MB + one deleted file -> 10 rounds of 5% churn -> restore of the latest
//   (whose files now sit in the packs of earlier backups).
// Bytes added are read from the server (every object under the repository's
// prefix), not from what the tools say.
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { monitorEventLoopDelay } = require('perf_hooks');
const lib = require('./lib');
const tree = require('./tree');
const { fmtMs, fmtMiB, run, timed } = lib;

const CHURN_ROUNDS = 10;
const CHURN_SHARE = 0.05;
const NEW_FILE_BYTES = 1_000_000;

/** Every regular file under `dir`, relative, sorted (the churn picks from it). */
function listFiles(dir) {
  const out = [];
  const walk = (d, rel) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else if (e.isFile()) out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

const looksText = (buf) => !buf.subarray(0, 256).some((b) => b === 0 || b > 0x7e || (b < 0x20 && b !== 0x0a && b !== 0x09));

/** New content of the same size and kind (text stays source-like, binary stays incompressible). */
function rewrite(abs, rng) {
  const old = fs.readFileSync(abs);
  const size = old.length;
  const fresh = looksText(old) ? tree.makeText(tree.makeRng(rng.int(2 ** 31)), size) : crypto.randomBytes(size);
  fs.writeFileSync(abs, fresh.length === size ? fresh : Buffer.concat([fresh, Buffer.alloc(size - fresh.length, 0x20)]));
}

/** One edited (a line appended), one new 1 MB and one deleted file. */
function smallChange(dir, rng) {
  const files = listFiles(dir);
  const textFiles = files.filter((f) => looksText(fs.readFileSync(path.join(dir, f))));
  const edited = textFiles[rng.int(textFiles.length)];
  fs.appendFileSync(path.join(dir, edited), `// edited by the bench at ${new Date().toISOString()}\n`);
  const others = files.filter((f) => f !== edited);
  const deleted = others[rng.int(others.length)];
  fs.rmSync(path.join(dir, deleted));
  fs.writeFileSync(path.join(dir, 'bench-new-file.bin'), crypto.randomBytes(NEW_FILE_BYTES));
  return { edited, deleted, added: 'bench-new-file.bin' };
}

/** Rewrites CHURN_SHARE of the files (a different draw each round). */
function churn(dir, rng) {
  const files = listFiles(dir);
  const n = Math.max(1, Math.round(files.length * CHURN_SHARE));
  const picked = new Set();
  while (picked.size < n) picked.add(files[rng.int(files.length)]);
  for (const f of picked) rewrite(path.join(dir, f), rng);
  return n;
}

/**
 * Runs `chains` chains over a copy of the reference tree. Returns every
 * step's figures per chain; medians and ratios are the caller's.
 */
async function incrementalChains(ctx, refDir, chains, resticEnv, say) {
  const { server, work } = ctx;
  const engineLib = require('./engine');
  const client = lib.s3Client(server);
  const bucket = `bench-inc-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
  await lib.createBucket(client, bucket);
  ctx.cleanups.push(() => lib.deleteBucket(client, bucket).catch((e) => say(`warning: clean-up of ${bucket}: ${e.message}`)));
  const tmpDir = path.join(work, 'inc-tmp');
  fs.mkdirSync(tmpDir, { recursive: true });
  const out = [];
  for (let c = 0; c < chains; c++) {
    const dir = path.join(work, `chain-${c}`);
    await run('cp', ['-a', refDir, dir]);
    const rng = tree.makeRng(4242 + c);
    const engine = engineLib.makeEngine(server, bucket, `ours-${c}`, { tmpDir });
    const repo = `s3:${server.endpoint}/${bucket}/restic-${c}`;
    await run('restic', ['-r', repo, 'init', '-q'], { env: resticEnv, timeoutMs: 120_000 });
    const usage = { ours: 0, restic: 0 };
    const stalls = [];
    const steps = {};
    let latest;
    let lastStall = 0;
    let k = 0;
    const oursStall = async (fn) => {
      const h = monitorEventLoopDelay({ resolution: 10 });
      h.enable();
      try {
        return await timed(fn);
      } finally {
        h.disable();
        stalls.push(h.max / 1e6);
        lastStall = h.max / 1e6;
      }
    };
    const backupStep = async (name) => {
      const row = {};
      const ours = async () => {
        const b = await oursStall(() => engineLib.ourBackup(engine, dir, 'chain'));
        latest = b.value.key;
        const u = (await lib.prefixUsage(client, bucket, `ours-${c}/`)).bytes;
        row.ours = { ms: b.ms, addedBytes: u - usage.ours, packs: b.value.packs, unchanged: b.value.unchanged, stallMs: lastStall };
        usage.ours = u;
      };
      const restic = async () => {
        const b = await run('restic', ['-r', repo, 'backup', '-q', '--host', 'bench', dir], { env: resticEnv, timeoutMs: 600_000 });
        const u = (await lib.prefixUsage(client, bucket, `restic-${c}/`)).bytes;
        row.restic = { ms: b.ms, addedBytes: u - usage.restic };
        usage.restic = u;
      };
      for (const s of (c + k++) % 2 === 0 ? [ours, restic] : [restic, ours]) await s();
      steps[name] = row;
      return row;
    };
    const restoreStep = async (name) => {
      const digest = await lib.digestTree(dir);
      const row = {};
      const ours = async () => {
        const dest = path.join(work, `inc-ours-${c}-${name}`);
        fs.mkdirSync(dest);
        const r = await oursStall(() => engineLib.ourRestore(engine, latest, 'chain', dest));
        lib.assertSameTree(digest, await lib.digestTree(dest), `our restore (${name})`);
        fs.rmSync(dest, { recursive: true, force: true });
        row.ours = { ms: r.ms, stallMs: lastStall };
      };
      const restic = async () => {
        const dest = path.join(work, `inc-restic-${c}-${name}`);
        fs.mkdirSync(dest);
        const r = await run('restic', ['-r', repo, 'restore', 'latest', '-q', '--target', dest], { env: resticEnv, timeoutMs: 600_000 });
        lib.assertSameTree(digest, await lib.digestTree(path.join(dest, dir)), `restic restore (${name})`);
        fs.rmSync(dest, { recursive: true, force: true });
        row.restic = { ms: r.ms };
      };
      for (const s of (c + k++) % 2 === 0 ? [ours, restic] : [restic, ours]) await s();
      steps[name] = row;
      return row;
    };
    const show = (name, r) => say(`  chain ${c + 1}/${chains} ${name}: ours ${fmtMs(r.ours.ms)}${r.ours.addedBytes !== undefined ? ` +${fmtMiB(r.ours.addedBytes)}` : ''}${r.ours.packs !== undefined ? ` (${r.ours.packs} packs)` : ''}, stall ${fmtMs(r.ours.stallMs)} | restic ${fmtMs(r.restic.ms)}${r.restic.addedBytes !== undefined ? ` +${fmtMiB(r.restic.addedBytes)}` : ''}`);

    show('first backup', await backupStep('first'));
    show('restore of it', await restoreStep('restoreFirst'));
    show('unchanged re-run', await backupStep('unchanged'));
    const change = smallChange(dir, rng);
    show('edit + new 1 MB + delete', await backupStep('smallChange'));
    let churned = 0;
    for (let i = 1; i <= CHURN_ROUNDS; i++) {
      churned = churn(dir, rng);
      const r = await backupStep(`churn${i}`);
      if (i === CHURN_ROUNDS) show(`churn round ${i} (${churned} files)`, r);
    }
    show(`restore of the latest`, await restoreStep('restoreLatest'));
    out.push({ chain: c, change, churnedFilesPerRound: churned, steps, storage: { ...usage }, stallMaxMs: Math.max(...stalls) });
    say(`  chain ${c + 1}/${chains} storage after ${CHURN_ROUNDS} churn rounds: ours ${fmtMiB(usage.ours)}, restic ${fmtMiB(usage.restic)}; longest stall ${fmtMs(Math.max(...stalls))}`);
    fs.rmSync(dir, { recursive: true, force: true });
    await lib.emptyPrefix(client, bucket, `ours-${c}/`);
    await lib.emptyPrefix(client, bucket, `restic-${c}/`);
    engine.dispose();
  }
  return out;
}

/** Medians over the chains, and the ratios the targets name. */
function summarize(chains, firstBytesOf = (x) => x.steps.first.ours.addedBytes) {
  const med = (f) => lib.median(chains.map(f));
  const m = {
    firstMs: { ours: med((x) => x.steps.first.ours.ms), restic: med((x) => x.steps.first.restic.ms) },
    firstBytes: { ours: med(firstBytesOf), restic: med((x) => x.steps.first.restic.addedBytes) },
    restoreFirstMs: { ours: med((x) => x.steps.restoreFirst.ours.ms), restic: med((x) => x.steps.restoreFirst.restic.ms) },
    unchangedMs: { ours: med((x) => x.steps.unchanged.ours.ms), restic: med((x) => x.steps.unchanged.restic.ms) },
    unchangedAdded: { ours: med((x) => x.steps.unchanged.ours.addedBytes), restic: med((x) => x.steps.unchanged.restic.addedBytes) },
    smallChangeAdded: { ours: med((x) => x.steps.smallChange.ours.addedBytes), restic: med((x) => x.steps.smallChange.restic.addedBytes) },
    smallChangeMs: { ours: med((x) => x.steps.smallChange.ours.ms), restic: med((x) => x.steps.smallChange.restic.ms) },
    restoreLatestMs: { ours: med((x) => x.steps.restoreLatest.ours.ms), restic: med((x) => x.steps.restoreLatest.restic.ms) },
    latestPacks: med((x) => x.steps[`churn${CHURN_ROUNDS}`].ours.packs),
    storage: { ours: med((x) => x.storage.ours), restic: med((x) => x.storage.restic) },
    stallMaxMs: Math.max(...chains.map((x) => x.stallMaxMs)),
  };
  return {
    medians: m,
    ratios: {
      first: m.firstMs.ours / m.firstMs.restic,
      restoreFirst: m.restoreFirstMs.ours / m.restoreFirstMs.restic,
      unchanged: m.unchangedMs.ours / m.unchangedMs.restic,
      unchangedAddedShare: m.unchangedAdded.ours / m.firstBytes.ours,
      restoreLatest: m.restoreLatestMs.ours / m.restoreLatestMs.restic,
      storage: m.storage.ours / m.storage.restic,
    },
  };
}

module.exports = { incrementalChains, summarize, CHURN_ROUNDS, CHURN_SHARE, NEW_FILE_BYTES };
