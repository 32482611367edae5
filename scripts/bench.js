#!/usr/bin/env node
'use strict';
// `npm run bench`: our engine against restic 0.14 on the same S3 server, side
// by side, plus the memory, event-loop, activation, package-size and listing
// figures the performance targets name. See docs/PERFORMANCE.md.
//
//   node scripts/bench.js [--quick] [--rounds N] [--chains N] [--scale] [--scale-rounds N] [--scale-rows id,...] [--write-docs]
//                         [--skip rounds,incremental,large,scale,list,activate]
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

const SECTIONS = ['rounds', 'incremental', 'large', 'scale', 'list', 'activate'];
const USAGE = 'usage: node scripts/bench.js [--quick] [--rounds N] [--chains N] [--scale] [--scale-rounds N] [--scale-rows id,...] [--write-docs] [--skip rounds,incremental,large,scale,list,activate]';
const LIST_BACKUPS = 5000;
const TARGETS = {
  // Issue 12: a full first backup and the restore of the latest, each <= 0.7x restic.
  backupRatio: 0.7,
  archiveRatio: 1.1,
  restoreRatio: 0.7,
  // Issue 13: encryption costs <= 10% of backup and restore wall time on the reference tree.
  encryptionRatio: 1.1,
  unchangedRatio: 0.5,
  unchangedAddedShare: 0.01,
  smallChangeBytes: 1_500_000,
  restoreLatestRatio: 1.0,
  storageRatio: 1.2,
  // Issue 15: 30,000 small files <= 0.7x restic, 100,000 <= 0.8x; peak RSS <= 300 MiB.
  files30kRatio: 0.7,
  files100kRatio: 0.8,
  peakRss: 300 * MiB,
  stallMs: 50,
  activateMs: 50,
  vsixBytes: 2 * MiB,
  listMs: 1000,
};

function parseArgs(argv) {
  const o = { quick: false, rounds: 5, chains: 2, scale: false, scaleRounds: 1, writeDocs: false, skip: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--write-docs') o.writeDocs = true;
    else if (a === '--rounds') o.rounds = Number(argv[++i]);
    else if (a === '--chains') o.chains = Number(argv[++i]);
    else if (a === '--scale') o.scale = true;
    else if (a === '--scale-rounds') o.scaleRounds = Number(argv[++i]);
    else if (a === '--scale-rows') o.scaleRows = String(argv[++i] || '').split(',').filter(Boolean);
    else if (a === '--skip') for (const s of String(argv[++i] || '').split(',')) o.skip.add(s);
    else if (a === '--help' || a === '-h') o.help = true;
    else throw new Error(`unknown option ${a}`);
  }
  if (o.quick) { o.rounds = 1; o.chains = 1; o.skip.add('large'); }
  for (const k of ['rounds', 'chains', 'scaleRounds']) if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} needs a positive integer`);
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
  // The same backups into an encrypted repository of its own: what encryption costs (issue 13).
  const sealedEngine = engineLib.makeEngine(server, bucket, 'bench-sealed', { tmpDir: path.join(work, 'engine-tmp'), passphrase: crypto.randomBytes(18).toString('base64') });
  const renv = resticEnv(server, work);
  const folderName = 'bench-tree';

  const rounds = [];
  for (let r = 0; r <= opts.rounds; r++) {
    const warm = r === 0;
    const row = { round: r, warmUp: warm };
    const label = warm ? 'warm-up' : `round ${r}/${opts.rounds}`;

    // Backup (the stall measured during it), restore (checked in the warm-up), delete: one engine's share of a round.
    const roundTrip = async (eng, tag) => {
      const h = monitorEventLoopDelay({ resolution: 10 });
      h.enable();
      const b = await timed(() => engineLib.ourBackup(eng, ref.dir, folderName));
      h.disable();
      const dest = path.join(work, `${tag}-${r}`);
      fs.mkdirSync(dest);
      const rs = await timed(() => engineLib.ourRestore(eng, b.value.key, folderName, dest));
      if (warm) lib.assertSameTree(digest, await lib.digestTree(dest), `our restore (${tag})`);
      fs.rmSync(dest, { recursive: true, force: true });
      await eng.delete(b.value.key);
      return { b, rs, h };
    };
    const ours = async () => {
      const { b, rs, h } = await roundTrip(engine, 'ours');
      row.ours = {
        backupMs: b.ms, restoreMs: rs.ms, archiveBytes: b.value.uploaded, files: b.value.files, stallMs: h.max / 1e6, stallP99Ms: h.percentile(99) / 1e6,
        backupPhaseStartMs: b.value.phaseStartMs, restoreSteps: { fetchMs: rs.value.fetchMs, planMs: rs.value.planMs, applyMs: rs.value.applyMs, fetchPhaseStartMs: rs.value.fetchPhaseStartMs },
      };
    };
    const sealed = async () => {
      const { b, rs, h } = await roundTrip(sealedEngine, 'sealed');
      row.sealed = { backupMs: b.ms, restoreMs: rs.ms, archiveBytes: b.value.uploaded, stallMs: h.max / 1e6 };
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
    // The encrypted run sits between the two, so it follows our plain run every other round and precedes it otherwise.
    for (const step of r % 2 === 0 ? [ours, sealed, restic, zip] : [restic, sealed, ours, zip]) await step();
    say(`  ${label}: ours backup ${fmtMs(row.ours.backupMs)}, restore ${fmtMs(row.ours.restoreMs)}, archive ${fmtMiB(row.ours.archiveBytes)}, stall ${fmtMs(row.ours.stallMs)} | encrypted backup ${fmtMs(row.sealed.backupMs)}, restore ${fmtMs(row.sealed.restoreMs)} | restic backup ${fmtMs(row.restic.backupMs)}, restore ${fmtMs(row.restic.restoreMs)} | zip -6 ${fmtMs(row.zip.ms)}, ${fmtMiB(row.zip.bytes)}`);
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
    sealedBackupMs: m((x) => x.sealed.backupMs),
    sealedRestoreMs: m((x) => x.sealed.restoreMs),
    stallMaxMs: Math.max(...measured.map((x) => x.ours.stallMs)),
    stallMedianMs: m((x) => x.ours.stallMs),
  };
  results.rounds = rounds;
  results.medians = med;
  results.ratios = {
    backup: med.oursBackupMs / med.resticBackupMs,
    restore: med.oursRestoreMs / med.resticRestoreMs,
    archive: med.oursArchiveBytes / med.zipBytes,
    // Per round, encrypted over plain (both ours, same round), then the median: a round's load hits both alike.
    sealedBackup: median(measured.map((x) => x.sealed.backupMs / x.ours.backupMs)),
    sealedRestore: median(measured.map((x) => x.sealed.restoreMs / x.ours.restoreMs)),
  };
}

// ---------------------------------------------------------------------------
// The incremental chain (issue 12)

async function incremental(ctx, opts) {
  const { incrementalChains, summarize, CHURN_ROUNDS } = require('../bench/incremental');
  say(`\n== incremental chain (${opts.chains} chain${opts.chains > 1 ? 's' : ''}): first, unchanged, small change, ${CHURN_ROUNDS} x 5% churn ==`);
  const ref = await tree.ensureTree(path.join(ROOT, '.cache', 'bench'), tree.REFERENCE);
  const chains = await incrementalChains(ctx, ref.dir, opts.chains, resticEnv(ctx.server, ctx.work), say);
  ctx.results.incremental = { chains, ...summarize(chains) };
}

// ---------------------------------------------------------------------------
// The scaling table (issue 15)

async function scaleTable(ctx, opts) {
  const { scaling } = require('../bench/scale');
  say(`\n== scaling: time and peak RSS of whole processes (/usr/bin/time)${opts.scale ? ', all rows' : '; --scale adds 100,000 files, 1 GiB and 5 GiB'} ==`);
  ctx.results.scale = await scaling(ctx, { all: opts.scale, rows: opts.scaleRows, rounds: opts.scaleRounds }, resticEnv(ctx.server, ctx.work), say);
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
  say(`  backup: ${fmtMs(b.ms)}, archive ${fmtMiB(b.result.uploaded)}, peak RSS ${fmtMiB(b.peakRss)}`);
  const dest = path.join(work, 'large-restore');
  fs.mkdirSync(dest);
  const rs = await measure('restore', { ...common, key: b.result.key, dest }, server);
  say(`  restore: ${fmtMs(rs.ms)}, peak RSS ${fmtMiB(rs.peakRss)}`);
  lib.assertSameTree(await lib.digestTree(dir), await lib.digestTree(dest), 'restore of the 1 GiB tree');
  results.large = {
    files: g.value.files, bytes: g.value.bytes,
    baselinePeakRss: idle.peakRss,
    backup: { ms: b.ms, archiveBytes: b.result.uploaded, peakRss: b.peakRss },
    restore: { ms: rs.ms, peakRss: rs.peakRss },
  };
  fs.rmSync(dest, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
  await lib.emptyPrefix(client, bucket, 'large/');
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
  add('Full first backup time, ours / restic', r.ratios && r.ratios.backup, r.ratios && `${fmtRatio(r.ratios.backup)} (${fmtMs(r.medians.oursBackupMs)} vs ${fmtMs(r.medians.resticBackupMs)})`, TARGETS.backupRatio, '<= 0.70x');
  add('Restore of the latest (full) backup, ours / restic', r.ratios && r.ratios.restore, r.ratios && `${fmtRatio(r.ratios.restore)} (${fmtMs(r.medians.oursRestoreMs)} vs ${fmtMs(r.medians.resticRestoreMs)})`, TARGETS.restoreRatio, '<= 0.70x');
  for (const op of ['Backup', 'Restore']) {
    const v = r.ratios && r.ratios[`sealed${op}`];
    add(`${op} time with encryption / without (reference tree)`, v, v !== undefined && `${fmtRatio(v)} (${fmtMs(r.medians[`sealed${op}Ms`])} vs ${fmtMs(r.medians[`ours${op}Ms`])})`, TARGETS.encryptionRatio, '<= 1.10x');
  }
  add('Archive size, ours / zip -6', r.ratios && r.ratios.archive, r.ratios && `${fmtRatio(r.ratios.archive)} (${fmtMiB(r.medians.oursArchiveBytes)} vs ${fmtMiB(r.medians.zipBytes)})`, TARGETS.archiveRatio, '<= 1.10x');
  const inc = r.incremental;
  const incShow = (k, f = fmtMs) => inc && `${fmtRatio(inc.ratios[k])} (${f(inc.medians[`${k}Ms`].ours)} vs ${f(inc.medians[`${k}Ms`].restic)})`;
  add('Unchanged re-run time, ours / restic', inc && inc.ratios.unchanged, incShow('unchanged'), TARGETS.unchangedRatio, '<= 0.50x');
  add('Unchanged re-run, bytes added / first backup', inc && inc.ratios.unchangedAddedShare,
    inc && `${(inc.ratios.unchangedAddedShare * 100).toFixed(3)}% (${fmtBytes(inc.medians.unchangedAdded.ours)} of ${fmtMiB(inc.medians.firstBytes.ours)}; restic ${fmtBytes(inc.medians.unchangedAdded.restic)})`, TARGETS.unchangedAddedShare, '<= 1%');
  add('1 edited + 1 new 1 MB + 1 deleted file, bytes added', inc && inc.medians.smallChangeAdded.ours,
    inc && `${fmtBytes(inc.medians.smallChangeAdded.ours)} (restic ${fmtBytes(inc.medians.smallChangeAdded.restic)})`, TARGETS.smallChangeBytes, '<= 1.5 MB');
  add(`Restore of a backup in ${inc ? inc.medians.latestPacks : 'N'} packs of earlier backups, ours / restic`, inc && inc.ratios.restoreLatest, incShow('restoreLatest'), TARGETS.restoreLatestRatio, '<= 1.00x');
  add('Storage after 10 rounds of 5% churn, ours / restic', inc && inc.ratios.storage,
    inc && `${fmtRatio(inc.ratios.storage)} (${fmtMiB(inc.medians.storage.ours)} vs ${fmtMiB(inc.medians.storage.restic)})`, TARGETS.storageRatio, '<= 1.20x');
  add('Longest event-loop stall, incremental chain (backups and restores)', inc && inc.medians.stallMaxMs, inc && fmtMs(inc.medians.stallMaxMs), TARGETS.stallMs, '<= 50 ms');
  const row = (id) => r.scale && r.scale.rows.find((x) => x.id === id);
  for (const [id, target, shown] of [['files30k', TARGETS.files30kRatio, '<= 0.70x'], ['files100k', TARGETS.files100kRatio, '<= 0.80x']]) {
    const x = row(id);
    for (const op of ['backup', 'restore']) {
      add(`${x ? x.label : id} ${op}, ours / restic`, x && x.ratios[`${op}Ms`], x && `${fmtRatio(x.ratios[`${op}Ms`])} (${fmtMs(x.ours[`${op}Ms`])} vs ${fmtMs(x.restic[`${op}Ms`])})`, target, shown);
      add(`${x ? x.label : id} ${op}, the CLI / restic`, x && x.cliRatios[`${op}Ms`], x && `${fmtRatio(x.cliRatios[`${op}Ms`])} (${fmtMs(x.cli[`${op}Ms`])} vs ${fmtMs(x.restic[`${op}Ms`])})`, target, shown);
    }
  }
  for (const id of ['files100k', 'tree1g']) {
    const x = row(id);
    for (const op of ['backup', 'restore']) {
      add(`Peak RSS of the whole process, ${op} of ${x ? x.label : id}`, x && x.ours[`${op}Rss`], x && `${fmtMiB(x.ours[`${op}Rss`])} (restic ${fmtMiB(x.restic[`${op}Rss`])})`, TARGETS.peakRss, '<= 300 MiB');
      add(`Peak RSS of the CLI, ${op} of ${x ? x.label : id}`, x && x.cli[`${op}Rss`], x && fmtMiB(x.cli[`${op}Rss`]), TARGETS.peakRss, '<= 300 MiB');
    }
  }
  for (const id of ['files30k', 'files100k']) {
    const x = row(id);
    add(`Longest event-loop stall, ${x ? x.label : id} (backup or restore)`, x && x.ours.stallMs, x && x.ours.stallMs !== undefined && fmtMs(x.ours.stallMs), TARGETS.stallMs, '<= 50 ms');
  }
  // Once a session: the engine bundle's load and the SDK's setup at the first listing, before any backup or restore.
  const firstUse = (r.scale ? r.scale.rows : []).map((x) => x.ours.firstUseStallMs).filter((ms) => ms !== undefined);
  const firstUseMs = firstUse.length ? Math.max(...firstUse) : undefined;
  add('Longest event-loop stall, the engine\'s first use in a session (load, first listing)', firstUseMs, firstUseMs !== undefined && fmtMs(firstUseMs), TARGETS.stallMs, '<= 50 ms');
  add('Peak RSS, backup of 1 GiB tree', r.large && r.large.backup.peakRss, r.large && fmtMiB(r.large.backup.peakRss), TARGETS.peakRss, '<= 300 MiB');
  add('Peak RSS, restore of 1 GiB tree', r.large && r.large.restore.peakRss, r.large && fmtMiB(r.large.restore.peakRss), TARGETS.peakRss, '<= 300 MiB');
  add('Longest event-loop stall, reference backup', r.medians && r.medians.stallMaxMs, r.medians && `${fmtMs(r.medians.stallMaxMs)} (median round ${fmtMs(r.medians.stallMedianMs)})`, TARGETS.stallMs, '<= 50 ms');
  add('activate() (load + call)', r.activate && r.activate.totalMs, r.activate && r.activate.totalMs !== undefined && `${fmtMs(r.activate.totalMs)} (load ${fmtMs(r.activate.loadMs)} + call ${fmtMs(r.activate.activateMs)})`, TARGETS.activateMs, '<= 50 ms');
  add('.vsix size', r.vsix && r.vsix.bytes, r.vsix && (r.vsix.bytes !== undefined ? fmtMiB(r.vsix.bytes) : `n/a: ${r.vsix.error.slice(0, 90)}${r.vsix.error.length > 90 ? '...' : ''}`), TARGETS.vsixBytes, '<= 2 MiB');
  add(`First page of ${LIST_BACKUPS.toLocaleString('en')} backups`, r.list && r.list.medianMs, r.list && `${fmtMs(r.list.medianMs)} (${r.list.firstPage} listed${r.list.firstPageHoldsNewest ? '' : ', not the newest'}; cold ${fmtMs(r.list.coldMs)})`, TARGETS.listMs, '<= 1 s');
  return rows;
}

const fmtBytes = (b) => (b === undefined ? 'n/a' : b < 10_000 ? `${b} B` : b < 10_000_000 ? `${(b / 1e6).toFixed(3)} MB` : fmtMiB(b));

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
    if (m.sealedBackupMs !== undefined) lines.push(`| S3 Backup, encrypted repository | ${fmtMs(m.sealedBackupMs)} | ${fmtMs(m.sealedRestoreMs)} | |`);
    lines.push(`| restic 0.14 | ${fmtMs(m.resticBackupMs)} | ${fmtMs(m.resticRestoreMs)} | (repository) |`);
    lines.push(`| zip -qr -6 (local only) | ${fmtMs(m.zipMs)} | | ${fmtMiB(m.zipBytes)} |`);
  }
  if (r.incremental) {
    const m = r.incremental.medians;
    const { CHURN_ROUNDS } = require('../bench/incremental');
    lines.push('');
    lines.push(`Incremental chain on a copy of the reference tree (medians of ${r.incremental.chains.length} chain${r.incremental.chains.length > 1 ? 's' : ''}; each tool its own repository on the same server; bytes are what the server holds under the repository's prefix):`);
    lines.push('');
    lines.push('| step | S3 Backup | restic 0.14 | ratio |');
    lines.push('| --- | --- | --- | --- |');
    const t = (label, x, f = fmtMs) => lines.push(`| ${label} | ${f(x.ours)} | ${f(x.restic)} | ${fmtRatio(x.ours / x.restic)} |`);
    t('first backup, time', m.firstMs);
    t('first backup, bytes stored', m.firstBytes, fmtMiB);
    t('restore of it, time', m.restoreFirstMs);
    t('unchanged re-run, time', m.unchangedMs);
    lines.push(`| unchanged re-run, bytes added | ${fmtBytes(m.unchangedAdded.ours)} | ${fmtBytes(m.unchangedAdded.restic)} | |`);
    t('1 edited + 1 new 1 MB + 1 deleted file, time', m.smallChangeMs);
    lines.push(`| 1 edited + 1 new 1 MB + 1 deleted file, bytes added | ${fmtBytes(m.smallChangeAdded.ours)} | ${fmtBytes(m.smallChangeAdded.restic)} | |`);
    t(`storage after ${CHURN_ROUNDS} rounds of 5% churn`, m.storage, fmtMiB);
    t(`restore of the latest (files in ${m.latestPacks} packs), time`, m.restoreLatestMs);
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

/** Replaces what lies between `<!-- bench:<name>:start -->` and its end marker. */
function replaceBlock(text, name, body) {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const i = text.indexOf(start), j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`docs/PERFORMANCE.md lacks the bench:${name} markers`);
  return `${text.slice(0, i + start.length)}\n${body}\n${text.slice(j)}`;
}

function writeDocs(r) {
  const file = path.join(ROOT, 'docs', 'PERFORMANCE.md');
  let text = replaceBlock(fs.readFileSync(file, 'utf8'), 'results', docsTable(r));
  if (r.scale) {
    const { scalingTable, scalingSvg } = require('../bench/scale');
    fs.writeFileSync(path.join(ROOT, 'docs', 'images', 'scaling.svg'), scalingSvg(r.scale));
    const intro = `Run of ${r.date.slice(0, 10)}, ${r.scale.rounds} round${r.scale.rounds > 1 ? 's' : ''} a row${r.scale.all ? ', all rows (--scale)' : ' (the rows of 100,000 files, 1 GiB and 5 GiB need --scale)'}; load average ${r.machine.loadAverageAtStart} when the run began. Each figure is a whole process under /usr/bin/time (ours: a Node process that makes the engine's first use as the extension makes it, load and a first listing, then backs up or restores; the second table: the CLI, \`s3-backup backup\` and \`restore\`).`;
    text = replaceBlock(text, 'scaling', `${intro}\n\n${scalingTable(r.scale)}\n\n![Wall time against file count, S3 Backup and restic](images/scaling.svg)`);
    say('updated docs/images/scaling.svg');
  }
  fs.writeFileSync(file, text);
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
    say(USAGE);
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
  const needsEngine = ['rounds', 'incremental', 'large', 'scale', 'list'].filter((s) => !opts.skip.has(s));
  let engineProblem;
  if (needsEngine.length) {
    try {
      engineLib.buildCore();
    } catch (e) {
      engineProblem = `the build (node esbuild.js --tests, then --production) failed: ${e.message}`;
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
      const parts = {
        rounds: () => referenceRounds(ctx, opts),
        incremental: () => incremental(ctx, opts),
        large: () => largeTree(ctx),
        scale: () => scaleTable(ctx, opts),
        list: () => listBackups(ctx),
      };
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
