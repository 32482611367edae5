#!/usr/bin/env node
'use strict';
// `npm run bench`: our engine against restic 0.14 on the same S3 server, side
// by side, plus the memory, event-loop, activation, package-size and listing
// figures the performance targets name. See docs/PERFORMANCE.md.
//
//   node scripts/bench.js [--quick] [--rounds N] [--write-docs] [--skip rounds,large,list,activate]
//
// Exit 0 when everything ran (targets missed or not: this is a measurement),
// 1 when a part failed to run, 2 on bad usage.
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { spawnSync } = require('child_process');
const { monitorEventLoopDelay } = require('perf_hooks');

const lib = require('../bench/lib');
const { ROOT, MiB, median, fmtMs, fmtMiB, fmtRatio, run, timed } = lib;
const tree = require('../bench/tree');

const SECTIONS = ['rounds', 'large', 'list', 'activate'];
const LIST_BACKUPS = 5000;
const TARGETS = {
  backupRatio: 1.0,
  archiveRatio: 1.1,
  restoreRatio: 1.0,
  peakRss: 300 * MiB,
  stallMs: 50,
  activateMs: 50,
  vsixBytes: 2 * MiB,
  listMs: 1000,
};

function parseArgs(argv) {
  const o = { quick: false, rounds: 5, writeDocs: false, skip: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--write-docs') o.writeDocs = true;
    else if (a === '--rounds') o.rounds = Number(argv[++i]);
    else if (a === '--skip') for (const s of String(argv[++i] || '').split(',')) o.skip.add(s);
    else if (a === '--help' || a === '-h') o.help = true;
    else throw new Error(`unknown option ${a}`);
  }
  if (o.quick) { o.rounds = 1; o.skip.add('large'); }
  if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new Error('--rounds needs a positive integer');
  for (const s of o.skip) if (!SECTIONS.includes(s)) throw new Error(`--skip takes ${SECTIONS.join(',')}`);
  return o;
}

const say = (s) => process.stdout.write(s + '\n');
const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-').toLowerCase();

// ---------------------------------------------------------------------------
// The server

/** Uses S3_TEST_* when set, else starts a throwaway Ceph RGW with test/setup/rgw.sh. */
async function startServer(work, cleanups) {
  if (process.env.S3_TEST_ENDPOINT) {
    return { server: lib.serverFromEnv(process.env), how: `S3_TEST_ENDPOINT (${process.env.S3_TEST_ENDPOINT})` };
  }
  const script = path.join(ROOT, 'test', 'setup', 'rgw.sh');
  if (!fs.existsSync(script)) throw new Error('test/setup/rgw.sh is missing and S3_TEST_ENDPOINT is not set');
  const dir = path.join(work, 'rgw');
  const port = await lib.freePortTriple();
  say(`starting Ceph RGW on 127.0.0.1:${port} ...`);
  cleanups.push(async () => {
    await run('bash', [script, 'stop', dir], { timeoutMs: 60_000 }).catch((e) => say(`warning: rgw stop: ${e.message}`));
  });
  const t = await timed(() => run('bash', [script, 'start', dir, String(port)], { timeoutMs: 180_000 }));
  say(`  up in ${fmtMs(t.ms)}`);
  return { server: lib.serverFromEnv(lib.parseEnvFile(path.join(dir, 'env'))), how: 'Ceph RGW (memstore) started by the bench' };
}

function resticEnv(server, work) {
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: server.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    RESTIC_PASSWORD: 'bench-password',
    RESTIC_CACHE_DIR: path.join(work, 'restic-cache'),
  };
  // This machine's AWS_CA_BUNDLE is for real AWS; on plain http it only gets in the way.
  for (const k of ['AWS_CA_BUNDLE', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'RESTIC_REPOSITORY', 'RESTIC_PASSWORD_FILE', 'RESTIC_PASSWORD_COMMAND']) delete env[k];
  return env;
}

// ---------------------------------------------------------------------------
// Reference rounds

async function referenceRounds(ctx, opts) {
  const { server, work, results } = ctx;
  const engineLib = require('../bench/engine');
  say('\n== reference tree ==');
  const t = await timed(() => tree.ensureTree(path.join(ROOT, '.cache', 'bench'), tree.REFERENCE));
  const ref = t.value;
  say(`  ${ref.files} files, ${fmtMiB(ref.bytes)} (text part deflates ${ref.textRatio.toFixed(2)}x), ${path.relative(ROOT, ref.dir)}${t.ms > 500 ? `, generated in ${fmtMs(t.ms)}` : ''}`);
  results.tree = { files: ref.files, bytes: ref.bytes, textDeflateRatio: ref.textRatio, generatorVersion: tree.GENERATOR_VERSION };
  const digest = await lib.digestTree(ref.dir);

  const bucket = `bench-${stamp()}-${crypto.randomBytes(3).toString('hex')}`;
  const client = lib.s3Client(server);
  await lib.createBucket(client, bucket);
  ctx.cleanups.push(() => lib.deleteBucket(client, bucket).catch((e) => say(`warning: clean-up of ${bucket}: ${e.message}`)));
  const engine = engineLib.makeEngine(server, bucket, 'bench', { tmpDir: path.join(work, 'engine-tmp') });
  fs.mkdirSync(path.join(work, 'engine-tmp'), { recursive: true });
  const renv = resticEnv(server, work);
  const folderName = 'bench-tree';

  const rounds = [];
  for (let r = 0; r <= opts.rounds; r++) {
    const warm = r === 0;
    const row = { round: r, warmUp: warm };
    const label = warm ? 'warm-up' : `round ${r}/${opts.rounds}`;

    const ours = async () => {
      const h = monitorEventLoopDelay({ resolution: 10 });
      h.enable();
      const b = await timed(() => engineLib.ourBackup(engine, ref.dir, folderName));
      h.disable();
      const dest = path.join(work, `ours-${r}`);
      fs.mkdirSync(dest);
      const rs = await timed(() => engineLib.ourRestore(engine, b.value.key, folderName, dest));
      if (warm) lib.assertSameTree(digest, await lib.digestTree(dest), 'our restore');
      fs.rmSync(dest, { recursive: true, force: true });
      await engine.delete(b.value.key);
      row.ours = {
        backupMs: b.ms, restoreMs: rs.ms, archiveBytes: b.value.size, files: b.value.files, stallMs: h.max / 1e6, stallP99Ms: h.percentile(99) / 1e6,
        backupPhaseStartMs: b.value.phaseStartMs, restoreSteps: { fetchMs: rs.value.fetchMs, planMs: rs.value.planMs, applyMs: rs.value.applyMs, fetchPhaseStartMs: rs.value.fetchPhaseStartMs },
      };
    };
    const restic = async () => {
      const repo = `s3:${server.endpoint}/${bucket}/restic-${r}`;
      await run('restic', ['-r', repo, 'init', '-q'], { env: renv, timeoutMs: 120_000 });
      const b = await run('restic', ['-r', repo, 'backup', '-q', '--host', 'bench', ref.dir], { env: renv, timeoutMs: 300_000 });
      const dest = path.join(work, `restic-${r}`);
      fs.mkdirSync(dest);
      const rs = await run('restic', ['-r', repo, 'restore', 'latest', '-q', '--target', dest], { env: renv, timeoutMs: 300_000 });
      // restic restores the absolute path under the target.
      if (warm) lib.assertSameTree(digest, await lib.digestTree(path.join(dest, ref.dir)), 'restic restore');
      fs.rmSync(dest, { recursive: true, force: true });
      row.restic = { backupMs: b.ms, restoreMs: rs.ms };
    };
    const zip = async () => {
      const out = path.join(work, `zip-${r}.zip`);
      const z = await run('zip', ['-qr', '-6', out, '.'], { cwd: ref.dir, timeoutMs: 300_000 });
      row.zip = { ms: z.ms, bytes: fs.statSync(out).size };
      fs.rmSync(out);
    };
    // Alternate who goes first so neither side always meets a cold server or a warm cache.
    for (const step of r % 2 === 0 ? [ours, restic, zip] : [restic, ours, zip]) await step();
    say(`  ${label}: ours backup ${fmtMs(row.ours.backupMs)}, restore ${fmtMs(row.ours.restoreMs)}, archive ${fmtMiB(row.ours.archiveBytes)}, stall ${fmtMs(row.ours.stallMs)} | restic backup ${fmtMs(row.restic.backupMs)}, restore ${fmtMs(row.restic.restoreMs)} | zip -6 ${fmtMs(row.zip.ms)}, ${fmtMiB(row.zip.bytes)}`);
    rounds.push(row);
  }
  const measured = rounds.filter((x) => !x.warmUp);
  const m = (f) => median(measured.map(f));
  const med = {
    oursBackupMs: m((x) => x.ours.backupMs),
    oursRestoreMs: m((x) => x.ours.restoreMs),
    oursArchiveBytes: m((x) => x.ours.archiveBytes),
    resticBackupMs: m((x) => x.restic.backupMs),
    resticRestoreMs: m((x) => x.restic.restoreMs),
    zipMs: m((x) => x.zip.ms),
    zipBytes: m((x) => x.zip.bytes),
    oursRestoreFetchMs: m((x) => x.ours.restoreSteps.fetchMs),
    oursRestorePlanMs: m((x) => x.ours.restoreSteps.planMs),
    oursRestoreApplyMs: m((x) => x.ours.restoreSteps.applyMs),
    stallMaxMs: Math.max(...measured.map((x) => x.ours.stallMs)),
    stallMedianMs: m((x) => x.ours.stallMs),
  };
  results.rounds = rounds;
  results.medians = med;
  results.ratios = {
    backup: med.oursBackupMs / med.resticBackupMs,
    restore: med.oursRestoreMs / med.resticRestoreMs,
    archive: med.oursArchiveBytes / med.zipBytes,
  };
}

// ---------------------------------------------------------------------------
// 1 GiB tree: peak RSS both ways

async function largeTree(ctx) {
  const { server, work, results } = ctx;
  const { measure } = require('../bench/rss');
  say('\n== 1 GiB tree (one 600 MiB incompressible file): peak RSS ==');
  const dir = path.join(work, 'large');
  const g = await timed(() => tree.writeTree(dir, tree.LARGE));
  say(`  ${g.value.files} files, ${fmtMiB(g.value.bytes)}, generated in ${fmtMs(g.ms)}`);
  const bucket = `bench-large-${stamp()}-${crypto.randomBytes(3).toString('hex')}`;
  const client = lib.s3Client(server);
  await lib.createBucket(client, bucket);
  ctx.cleanups.push(() => lib.deleteBucket(client, bucket).catch((e) => say(`warning: clean-up of ${bucket}: ${e.message}`)));
  const tmpDir = path.join(work, 'large-tmp');
  fs.mkdirSync(tmpDir, { recursive: true });
  const common = { bucket, rootPath: 'large', tmpDir, name: 'large-tree' };

  const idle = await measure('idle', common, server);
  say(`  baseline (engine loaded, one list call): peak RSS ${fmtMiB(idle.peakRss)}`);
  const b = await measure('backup', { ...common, dir }, server);
  say(`  backup: ${fmtMs(b.ms)}, archive ${fmtMiB(b.result.size)}, peak RSS ${fmtMiB(b.peakRss)}`);
  const dest = path.join(work, 'large-restore');
  fs.mkdirSync(dest);
  const rs = await measure('restore', { ...common, key: b.result.key, dest }, server);
  say(`  restore: ${fmtMs(rs.ms)}, peak RSS ${fmtMiB(rs.peakRss)}`);
  lib.assertSameTree(await lib.digestTree(dir), await lib.digestTree(dest), 'restore of the 1 GiB tree');
  results.large = {
    files: g.value.files, bytes: g.value.bytes,
    baselinePeakRss: idle.peakRss,
    backup: { ms: b.ms, archiveBytes: b.result.size, peakRss: b.peakRss },
    restore: { ms: rs.ms, peakRss: rs.peakRss },
  };
  fs.rmSync(dest, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
  await client.send(new (require('@aws-sdk/client-s3').DeleteObjectCommand)({ Bucket: bucket, Key: b.result.key }));
}

// ---------------------------------------------------------------------------
// Listing 5,000 backups

async function listBackups(ctx) {
  const { server, results } = ctx;
  const { makeEngine, loadCore } = require('../bench/engine');
  const { makeBackupKey } = loadCore();
  const { PutObjectCommand } = require('@aws-sdk/client-s3');
  say(`\n== listing ${LIST_BACKUPS.toLocaleString('en')} backups ==`);
  const bucket = `bench-list-${stamp()}-${crypto.randomBytes(3).toString('hex')}`;
  const client = lib.s3Client(server);
  await lib.createBucket(client, bucket);
  ctx.cleanups.push(() => lib.deleteBucket(client, bucket).catch((e) => say(`warning: clean-up of ${bucket}: ${e.message}`)));
  const rootPath = 'backups';
  const hosts = ['laptop', 'desktop', 'build-01', 'ci-runner'];
  const kinds = ['workspace', 'workspace', 'appdata', 'full'];
  const base = Date.UTC(2026, 0, 1);
  const keys = Array.from({ length: LIST_BACKUPS }, (_, i) =>
    makeBackupKey(rootPath, { time: new Date(base - i * 3_600_000), host: hosts[i % 4], kind: kinds[(i >> 2) % 4] }));
  const body = Buffer.from('not a real archive');
  const seed = await timed(() => lib.pool(keys, 48, (Key) => client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: body }))));
  say(`  seeded in ${fmtMs(seed.ms)}`);
  const engine = makeEngine(server, bucket, rootPath);
  const cold = await timed(() => engine.list());
  const samples = [];
  let page = cold.value;
  for (let i = 0; i < 5; i++) {
    const s = await timed(() => engine.list());
    samples.push(s.ms);
    page = s.value;
  }
  if (!page.backups.length) throw new Error('engine.list() returned an empty first page');
  // Whether the first page shows the newest backups (what a user opening the tree wants to see).
  const newestFirst = page.backups.some((b) => b.key === keys[0]);
  const all = [];
  for (let i = 0; i < 3; i++) all.push((await timed(() => engine.listAll())).ms);
  say(`  first page: ${page.backups.length} backups${page.nextToken ? ' (more to load)' : ''}, holds the newest backup: ${newestFirst ? 'yes' : 'no'}; cold ${fmtMs(cold.ms)}, median of 5 ${fmtMs(median(samples))}`);
  say(`  listAll() of all ${LIST_BACKUPS.toLocaleString('en')}: median of 3 ${fmtMs(median(all))}`);
  results.list = { backups: LIST_BACKUPS, firstPage: page.backups.length, hasMore: !!page.nextToken, firstPageHoldsNewest: newestFirst,
    coldMs: cold.ms, medianMs: median(samples), samplesMs: samples, listAllMedianMs: median(all) };
}

// ---------------------------------------------------------------------------
// activate() and the .vsix

async function activation(ctx) {
  const { results } = ctx;
  const act = require('../bench/activate');
  say('\n== .vsix and activate() ==');
  const v = await act.ensureVsix();
  let unpacked;
  if (v.error) {
    results.vsix = { error: v.error };
    say(`  .vsix: n/a (${v.error})`);
    say('  activate() is measured on a production bundle built by the bench instead');
    unpacked = await act.bundleExtension();
  } else {
    results.vsix = { bytes: v.size, packaged: v.packaged };
    say(`  .vsix: ${fmtMiB(v.size)}${v.packaged ? ' (packaged now)' : ''}`);
    unpacked = await act.unpackVsix(v.file);
  }
  const { tmp, extDir } = unpacked;
  try {
    const a = await act.measureActivate(extDir, 5);
    results.activate = { loadMs: a.loadMs, activateMs: a.activateMs, totalMs: a.totalMs, subscriptions: a.subscriptions, bundleBytes: a.bundleBytes, from: v.error ? 'bench-built production bundle' : 'dist/extension.js of the .vsix' };
    say(`  activate(): load ${fmtMs(a.loadMs)} + activate ${fmtMs(a.activateMs)} = ${fmtMs(a.totalMs)} (median of 5; ${a.subscriptions} disposables; bundle ${fmtMiB(a.bundleBytes)})`);
  } catch (e) {
    results.activate = { error: e.message };
    throw e;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Report

function verdicts(r) {
  const rows = [];
  const add = (name, value, shown, target, targetShown) =>
    rows.push({ name, value, shown, target, targetShown, pass: value === undefined ? undefined : value <= target });
  add('Backup time, ours / restic', r.ratios && r.ratios.backup, r.ratios && `${fmtRatio(r.ratios.backup)} (${fmtMs(r.medians.oursBackupMs)} vs ${fmtMs(r.medians.resticBackupMs)})`, TARGETS.backupRatio, '<= 1.00x');
  add('Restore time, ours / restic', r.ratios && r.ratios.restore, r.ratios && `${fmtRatio(r.ratios.restore)} (${fmtMs(r.medians.oursRestoreMs)} vs ${fmtMs(r.medians.resticRestoreMs)})`, TARGETS.restoreRatio, '<= 1.00x');
  add('Archive size, ours / zip -6', r.ratios && r.ratios.archive, r.ratios && `${fmtRatio(r.ratios.archive)} (${fmtMiB(r.medians.oursArchiveBytes)} vs ${fmtMiB(r.medians.zipBytes)})`, TARGETS.archiveRatio, '<= 1.10x');
  add('Peak RSS, backup of 1 GiB tree', r.large && r.large.backup.peakRss, r.large && fmtMiB(r.large.backup.peakRss), TARGETS.peakRss, '<= 300 MiB');
  add('Peak RSS, restore of 1 GiB tree', r.large && r.large.restore.peakRss, r.large && fmtMiB(r.large.restore.peakRss), TARGETS.peakRss, '<= 300 MiB');
  add('Longest event-loop stall, reference backup', r.medians && r.medians.stallMaxMs, r.medians && `${fmtMs(r.medians.stallMaxMs)} (median round ${fmtMs(r.medians.stallMedianMs)})`, TARGETS.stallMs, '<= 50 ms');
  add('activate() (load + call)', r.activate && r.activate.totalMs, r.activate && r.activate.totalMs !== undefined && `${fmtMs(r.activate.totalMs)} (load ${fmtMs(r.activate.loadMs)} + call ${fmtMs(r.activate.activateMs)})`, TARGETS.activateMs, '<= 50 ms');
  add('.vsix size', r.vsix && r.vsix.bytes, r.vsix && (r.vsix.bytes !== undefined ? fmtMiB(r.vsix.bytes) : `n/a: ${r.vsix.error.slice(0, 90)}${r.vsix.error.length > 90 ? '...' : ''}`), TARGETS.vsixBytes, '<= 2 MiB');
  add(`First page of ${LIST_BACKUPS.toLocaleString('en')} backups`, r.list && r.list.medianMs, r.list && `${fmtMs(r.list.medianMs)} (${r.list.firstPage} listed${r.list.firstPageHoldsNewest ? '' : ', not the newest'}; cold ${fmtMs(r.list.coldMs)})`, TARGETS.listMs, '<= 1 s');
  return rows;
}

const verdictWord = (p) => (p === undefined ? 'n/a' : p ? 'PASS' : 'MISS');

function printSummary(r) {
  say('\n== summary ==');
  if (r.medians) {
    const m = r.medians;
    say(`medians of ${r.rounds.filter((x) => !x.warmUp).length} rounds (${r.tree.files} files, ${fmtMiB(r.tree.bytes)}):`);
    say(`  ours   backup ${fmtMs(m.oursBackupMs)}, restore ${fmtMs(m.oursRestoreMs)}, archive ${fmtMiB(m.oursArchiveBytes)}`);
    say(`         restore = fetch (download + verify) ${fmtMs(m.oursRestoreFetchMs)} + plan ${fmtMs(m.oursRestorePlanMs)} + apply ${fmtMs(m.oursRestoreApplyMs)}`);
    const last = r.rounds[r.rounds.length - 1].ours;
    say(`         last backup's phases began at (ms): ${Object.entries(last.backupPhaseStartMs).map(([k, v]) => `${k} ${v}`).join(', ')}; fetch's: ${Object.entries(last.restoreSteps.fetchPhaseStartMs).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    say(`  restic backup ${fmtMs(m.resticBackupMs)}, restore ${fmtMs(m.resticRestoreMs)}`);
    say(`  zip -6 ${fmtMs(m.zipMs)}, ${fmtMiB(m.zipBytes)}`);
  }
  const rows = verdicts(r);
  const w = Math.max(...rows.map((x) => x.name.length));
  for (const x of rows) say(`  ${verdictWord(x.pass).padEnd(4)}  ${x.name.padEnd(w)}  ${(x.shown || 'not measured').padEnd(36)}  target ${x.targetShown}`);
  for (const [k, v] of Object.entries(r.errors)) say(`  FAILED to run: ${k}: ${v}`);
}

function machineInfo(r) {
  const cpus = os.cpus();
  return {
    cpu: cpus[0] ? cpus[0].model.trim() : 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    // Wall times mean little on a busy machine: the load when the run began is kept with them.
    loadAverageAtStart: Number(os.loadavg()[0].toFixed(2)),
    restic: r.resticVersion,
    zip: r.zipVersion,
  };
}

function docsTable(r) {
  const rows = verdicts(r);
  const lines = [];
  const mi = r.machine;
  lines.push(`Run of ${r.date.slice(0, 10)} (${r.quick ? 'quick: 1 round, no 1 GiB test' : `${r.rounds ? r.rounds.length - 1 : 0} rounds after a warm-up`}), server: ${r.server}.`);
  lines.push(`Machine: ${mi.cpu}, ${mi.cores} cores, ${mi.memoryGiB} GiB RAM, ${mi.os}, Node ${mi.node}, ${mi.restic || 'restic ?'}; load average ${mi.loadAverageAtStart} when the run began.`);
  lines.push('');
  lines.push('| figure | measured | target | verdict |');
  lines.push('| --- | --- | --- | --- |');
  for (const x of rows) lines.push(`| ${x.name} | ${x.shown || 'not measured'} | ${x.targetShown} | ${verdictWord(x.pass)} |`);
  if (r.medians) {
    const m = r.medians;
    lines.push('');
    lines.push(`Reference tree: ${r.tree.files} files in 20 folders, ${fmtMiB(r.tree.bytes)} (half source-like text, half random bytes). Medians:`);
    lines.push('');
    lines.push('| tool | backup | restore | archive |');
    lines.push('| --- | --- | --- | --- |');
    lines.push(`| S3 Backup (this engine) | ${fmtMs(m.oursBackupMs)} | ${fmtMs(m.oursRestoreMs)} | ${fmtMiB(m.oursArchiveBytes)} |`);
    lines.push(`| restic 0.14 | ${fmtMs(m.resticBackupMs)} | ${fmtMs(m.resticRestoreMs)} | (repository) |`);
    lines.push(`| zip -qr -6 (local only) | ${fmtMs(m.zipMs)} | | ${fmtMiB(m.zipBytes)} |`);
  }
  if (r.large) {
    lines.push('');
    lines.push(`1 GiB tree: backup ${fmtMs(r.large.backup.ms)} (archive ${fmtMiB(r.large.backup.archiveBytes)}), restore ${fmtMs(r.large.restore.ms)}; a child process that only loads the engine and lists peaks at ${fmtMiB(r.large.baselinePeakRss)}.`);
  }
  const errs = Object.entries(r.errors);
  if (errs.length) {
    lines.push('');
    for (const [k, v] of errs) lines.push(`- ${k} failed to run: ${v}`);
  }
  return lines.join('\n');
}

function writeDocs(r) {
  const file = path.join(ROOT, 'docs', 'PERFORMANCE.md');
  const start = '<!-- bench:results:start -->';
  const end = '<!-- bench:results:end -->';
  const text = fs.readFileSync(file, 'utf8');
  const i = text.indexOf(start), j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error('docs/PERFORMANCE.md lacks the bench:results markers');
  fs.writeFileSync(file, `${text.slice(0, i + start.length)}\n${docsTable(r)}\n${text.slice(j)}`);
  say('updated docs/PERFORMANCE.md');
}

// ---------------------------------------------------------------------------

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`bench: ${e.message}`);
    return 2;
  }
  if (opts.help) {
    say('usage: node scripts/bench.js [--quick] [--rounds N] [--write-docs] [--skip rounds,large,list,activate]');
    return 0;
  }
  // A fresh clone has no node_modules, restic, zip or Ceph: the same installer as npm test.
  const install = spawnSync('bash', [path.join(ROOT, 'test', 'setup', 'install.sh')], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (install.status !== 0) {
    console.error(`bench: test/setup/install.sh failed (${install.error ? install.error.message : `exit ${install.status}`})`);
    return 1;
  }
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-bench-'));
  const cleanups = [];
  const results = { date: new Date().toISOString(), quick: opts.quick, errors: {}, targets: TARGETS };
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    for (const c of cleanups.reverse()) await c();
    fs.rmSync(work, { recursive: true, force: true });
  };
  const onSignal = (sig) => {
    say(`\n${sig}: cleaning up`);
    cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    results.resticVersion = (await run('restic', ['version'])).stdout.trim().split(' compiled')[0];
    results.zipVersion = ((await run('zip', ['-v'])).stdout.split('\n').find((l) => /This is Zip/.test(l)) || 'zip').trim();
  } catch (e) {
    console.error(`bench: restic and zip are needed (test/setup/install.sh installs them): ${e.message}`);
    await cleanup();
    return 1;
  }
  results.machine = machineInfo(results);
  if (results.machine.loadAverageAtStart > results.machine.cores / 2) {
    say(`note: load average ${results.machine.loadAverageAtStart} on ${results.machine.cores} cores; other work will slow the timed runs`);
  }

  const engineLib = require('../bench/engine');
  const needsEngine = ['rounds', 'large', 'list'].filter((s) => !opts.skip.has(s));
  let engineProblem;
  if (needsEngine.length) {
    try {
      engineLib.buildCore();
    } catch (e) {
      engineProblem = `node esbuild.js --tests failed: ${e.message}`;
    }
    engineProblem = engineProblem || engineLib.engineMissing();
    if (engineProblem) for (const s of needsEngine) results.errors[s] = engineProblem;
  }

  const ctx = { work, cleanups, results };
  try {
    // Packaging is CPU work: before the timed rounds, not during them.
    if (!opts.skip.has('activate')) {
      await activation(ctx).catch((e) => { results.errors.activate = e.message; say(`  failed: ${e.message}`); });
    }
    if (needsEngine.length && !engineProblem) {
      const s = await startServer(work, cleanups);
      ctx.server = s.server;
      results.server = s.how;
      const parts = { rounds: () => referenceRounds(ctx, opts), large: () => largeTree(ctx), list: () => listBackups(ctx) };
      for (const name of needsEngine) {
        try {
          await parts[name]();
        } catch (e) {
          results.errors[name] = `${e.code ? e.code + ': ' : ''}${e.message}`;
          say(`  failed: ${results.errors[name]}`);
        }
      }
    }
    results.server = results.server || 'none';
  } catch (e) {
    results.errors.setup = e.message;
  } finally {
    await cleanup();
  }

  results.verdicts = verdicts(results).map(({ name, value, target, pass }) => ({ name, value, target, pass: pass === undefined ? null : pass }));
  printSummary(results);
  const out = path.join(ROOT, '.test-artifacts', 'bench.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
  say(`\nwrote ${path.relative(ROOT, out)}`);
  const partFailed = Object.keys(results.errors).length > 0;
  if (opts.writeDocs) {
    if (partFailed) say('docs/PERFORMANCE.md left as it was: a part failed to run');
    else writeDocs(results);
  }
  return partFailed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
