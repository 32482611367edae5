'use strict';
// The engine as the bench drives it, the bundle a release ships
// (dist/engine.js, `node esbuild.js --production`), called the way the
// extension calls it; the helpers the extension has in its own bundle
// (profile checks, backup keys) from `node esbuild.js --tests`'s out/src/core.
const fs = require('fs');
const path = require('path');
const { ROOT } = require('./lib');

const CORE = path.join(ROOT, 'out', 'src', 'core');
const BUNDLE = path.join(ROOT, 'dist', 'engine.js');

/** Transpiles src/ into out/ and bundles dist/ as a release does (esbuild, no type check; a few seconds). */
function buildCore() {
  const { execFileSync } = require('child_process');
  execFileSync(process.execPath, ['esbuild.js', '--tests'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  execFileSync(process.execPath, ['esbuild.js', '--production'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** Why the engine cannot run yet, or undefined when its modules load. */
function engineMissing() {
  for (const m of ['storage/profile.js', 'format/backupKeys.js']) {
    if (!fs.existsSync(path.join(CORE, m))) return `out/src/core/${m} is missing (src/core/${m.replace('.js', '.ts')} not written yet?)`;
  }
  if (!fs.existsSync(BUNDLE)) return 'dist/engine.js is missing (node esbuild.js --production)';
  try {
    loadCore();
  } catch (e) {
    return `the engine does not load: ${e.message.split('\n')[0]}`;
  }
  return undefined;
}

/** How each bundle of the first use was compiled (firstUse). */
const precompiled = [];

/** The engine's first use as the extension makes it (src/extension/host/engineLoad.ts): Node's modules, the bundle, the SDK, in turns of the loop, both bundles compiled on a worker thread. */
function firstUse() {
  const { engineBundles, loadInTurns, outcomeLine } = require(path.join(ROOT, 'out', 'src', 'extension', 'host', 'engineLoad.js'));
  const files = engineBundles(path.dirname(BUNDLE), { engine: true, sdk: true });
  return loadInTurns(loadCore, (core) => core.BackupEngine.sdkSteps(), { files, onOutcome: (...o) => precompiled.push(outcomeLine(...o)) });
}

function loadCore() {
  const { BackupEngine } = require(BUNDLE);
  const { normalizeProfile } = require(path.join(CORE, 'storage', 'profile.js'));
  const { makeBackupKey } = require(path.join(CORE, 'format', 'backupKeys.js'));
  if (typeof BackupEngine !== 'function' || typeof normalizeProfile !== 'function') throw new Error('unexpected exports');
  return { BackupEngine, normalizeProfile, makeBackupKey };
}

const drop = () => undefined;

/** A BackupEngine on `bucket`/`rootPath` of the bench's server (encrypted with `o.passphrase`). */
function makeEngine(server, bucket, rootPath, o = {}) {
  const { BackupEngine, normalizeProfile } = loadCore();
  const r = normalizeProfile({
    endpoint: server.endpoint,
    region: server.region,
    bucket,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    rootPath,
    addressingStyle: 'path',
  });
  if (!r.ok) throw new Error(`profile refused: ${r.errors.map((e) => e.message).join(' ')}`);
  // Like the extension's EngineHost: a logger, a temp folder and a snapshot folder of its own.
  const logger = { trace: drop, debug: drop, info: drop, warn: drop, error: drop };
  // `o.passphrase`: an encrypted repository (issue 13), with the engine's default scrypt parameters.
  return new BackupEngine(r.profile, { logger, hostname: 'bench', tmpDir: o.tmpDir, snapshotRoot: o.tmpDir && path.join(o.tmpDir, 'snapshots'), ...(o.passphrase ? { passphrase: o.passphrase } : {}) });
}

const now = () => Number(process.hrtime.bigint()) / 1e6;

/** Records when each progress phase was first seen, relative to `t0`: where the time goes. */
function phaseClock(t0) {
  const phases = {};
  let events = 0;
  return {
    listener: (p) => { events++; if (!(p.phase in phases)) phases[p.phase] = Math.round(now() - t0); },
    phases,
    events: () => events,
  };
}

/** Our backup of one folder, as the extension's "Back Up Workspace" does it (progress listener included). */
async function ourBackup(engine, dir, name) {
  const clock = phaseClock(now());
  const ref = await engine.backup({ kind: 'workspace', folders: [{ name, path: dir }] }, { onProgress: clock.listener });
  return {
    key: ref.key, size: ref.size, files: ref.files, skipped: (ref.skipped || []).length, progressEvents: clock.events(), phaseStartMs: clock.phases,
    // Format 2: what the backup sent (new packs + manifest), and how many packs its files sit in.
    uploaded: ref.uploaded ?? ref.size, unchanged: ref.unchanged, packs: ref.manifest && ref.manifest.packs ? ref.manifest.packs.length : undefined,
  };
}

/** Our restore of a backup into an empty folder: download + verify, plan, apply, clean-up. */
async function ourRestore(engine, key, name, dest) {
  const t0 = now();
  const fetchClock = phaseClock(t0);
  const fetched = await engine.fetch(key, { onProgress: fetchClock.listener });
  const t1 = now();
  try {
    const plan = await engine.plan(fetched, { [`workspace/${name}`]: dest });
    const t2 = now();
    const result = await engine.apply(plan, { onProgress: () => undefined });
    const t3 = now();
    return { written: result.written, counts: plan.counts, fetchMs: t1 - t0, planMs: t2 - t1, applyMs: t3 - t2, fetchPhaseStartMs: fetchClock.phases };
  } finally {
    await fetched.dispose();
  }
}

module.exports = { CORE, buildCore, engineMissing, firstUse, loadCore, makeEngine, ourBackup, ourRestore, precompiled };
