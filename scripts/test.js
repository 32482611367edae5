#!/usr/bin/env node
/*
 * `npm test [core] [extension] [e2e] [--vscode=<versions>]`: installs what the
 * tests need, builds, type-checks, starts a private Ceph RGW (unless
 * S3_TEST_ENDPOINT is already set), runs the selected suites (all by default)
 * and stops everything it started, also on failure, Ctrl-C and SIGTERM.
 *
 * The extension and e2e suites run once per VS Code version of
 * scripts/codeServer.js (oldest and newest), logged as e.g. `extension@1.100.3`.
 * `--vscode=` (or S3B_VSCODE_VERSIONS) takes a comma-separated list of
 * `oldest`, `newest` or versions, to run on those only.
 *
 * Suite runner contract: each runner writes {passed, failed, skipped} as JSON to
 * the file named by S3B_RESULT_FILE (test/helpers/mochaCount.ts does it for mocha)
 * and exits non-zero on failure. Runners get S3_TEST_* and S3B_ARTIFACTS_DIR, the
 * versioned ones S3B_VSCODE_VERSION too.
 *
 * The last line printed is always `N passed, N failed[, N skipped]`.
 */
'use strict';

const fs = require('fs');
const codeServer = require('./codeServer');
const { freePortTriple, parseEnvFile } = require('./lib');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..');
const ARTIFACTS = path.join(ROOT, '.test-artifacts');
const RGW_SH = path.join(ROOT, 'test', 'setup', 'rgw.sh');
const SUITES = ['core', 'extension', 'e2e'];
// Suites that run inside code-server, once per VS Code version.
const VERSIONED = new Set(['extension', 'e2e']);
const SUITE_TIMEOUT_MS = 30 * 60 * 1000;

const totals = { passed: 0, failed: 0, skipped: 0 };
const failures = [];
const children = new Set();
let rgwDir = null;
let finishing = false;
const t0 = Date.now();

function log(msg) {
  process.stderr.write(`[test] ${msg}\n`);
}

function secs(since) {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

function fail(what) {
  totals.failed += 1;
  failures.push(what);
  log(`FAILED: ${what}`);
}

/** Runs a command with its output shown and copied to a log file; resolves with the exit code. */
function run(cmd, args, { env = process.env, logName, timeoutMs = SUITE_TIMEOUT_MS, quiet = false } = {}) {
  return new Promise((resolve) => {
    // Own process group, so cleanup can end the command and everything it spawned.
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.add(child);
    const logFile = logName ? fs.createWriteStream(path.join(ARTIFACTS, logName)) : null;
    const chunks = [];
    const forward = (stream, out) =>
      stream.on('data', (d) => {
        logFile?.write(d);
        if (quiet) chunks.push(d);
        else out.write(d);
      });
    forward(child.stdout, process.stdout);
    forward(child.stderr, process.stderr);
    const timer = setTimeout(() => {
      log(`${cmd} ${args.join(' ')}: timed out after ${timeoutMs / 1000} s, killing it`);
      killGroup(child, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      log(`${cmd}: ${e.message}`);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      logFile?.end();
      resolve({ code: code ?? (signal ? 128 : 1), output: Buffer.concat(chunks).toString() });
    });
  });
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

async function startRgw() {
  const t = Date.now();
  const port = await freePortTriple();
  // A short path: Ceph's admin sockets are Unix sockets (108-byte path limit).
  rgwDir = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-rgw-'));
  const { code } = await run('bash', [RGW_SH, 'start', rgwDir, String(port)], { logName: 'rgw-start.log', timeoutMs: 180000 });
  if (code !== 0) throw new Error(`rgw.sh start exited with ${code} (logs: .test-artifacts/rgw)`);
  log(`Ceph RGW up on 127.0.0.1:${port} in ${secs(t)}`);
  return parseEnvFile(path.join(rgwDir, 'env'));
}

/** Stops our RGW synchronously (also used from signal handlers) and keeps its logs. */
function stopRgw() {
  if (!rgwDir) return;
  const dir = rgwDir;
  rgwDir = null;
  const t = Date.now();
  spawnSync('bash', [RGW_SH, 'stop', dir], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 60000 });
  try {
    fs.cpSync(path.join(dir, 'log'), path.join(ARTIFACTS, 'rgw'), { recursive: true });
  } catch {
    /* no logs if it never started */
  }
  fs.rmSync(dir, { recursive: true, force: true });
  log(`Ceph RGW stopped in ${secs(t)}`);
}

function killChildren() {
  for (const c of children) killGroup(c, 'SIGTERM');
  const deadline = Date.now() + 5000;
  // Synchronous wait: this also runs from signal handlers, where the loop may not turn again.
  while (Date.now() < deadline && [...children].some((c) => isAlive(c.pid))) spawnSync('sleep', ['0.1']);
  for (const c of children) if (isAlive(c.pid)) killGroup(c, 'SIGKILL');
}

function isAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function walk(dir, test) {
  if (!fs.existsSync(dir)) return [];
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p, test));
    else if (test(p)) out.push(p);
  }
  return out.sort();
}

/** Drops out/ files whose source is gone, so a deleted test does not keep running from a stale build. */
function pruneStaleOutput() {
  for (const f of walk(path.join(ROOT, 'out'), (p) => /\.js(\.map)?$/.test(p))) {
    const src = path.join(ROOT, path.relative(path.join(ROOT, 'out'), f)).replace(/\.js(\.map)?$/, '.ts');
    if (!fs.existsSync(src)) fs.rmSync(f);
  }
}

async function step(name, cmd, args, opts) {
  const t = Date.now();
  const { code } = await run(cmd, args, opts);
  log(`${name}: ${code === 0 ? 'ok' : `exit ${code}`} (${secs(t)})`);
  if (code !== 0) fail(name);
  return code === 0;
}

async function typecheck() {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await step('typecheck', process.execPath, [tsc, '-p', '.', '--noEmit', '--pretty', 'false'], { logName: 'typecheck.log' });
  const webview = path.join(ROOT, 'src', 'webview');
  if (fs.existsSync(path.join(webview, 'tsconfig.json')) && walk(webview, (p) => p.endsWith('.ts')).length) {
    await step('typecheck (webview)', process.execPath, [tsc, '-p', 'src/webview', '--noEmit', '--pretty', 'false'], {
      logName: 'typecheck-webview.log',
    });
  }
}

/** ESLint over the whole tree (eslint.config.mjs: layering and plain mistakes); a warning fails too. */
async function lint() {
  const eslint = path.join(ROOT, 'node_modules', 'eslint', 'bin', 'eslint.js');
  await step('lint', process.execPath, [eslint, '.', '--max-warnings', '0'], { logName: 'lint.log' });
}

/** The command for one suite, or null when the suite has no tests yet. */
function suiteCommand(suite) {
  const out = path.join(ROOT, 'out', 'test');
  if (suite === 'core') {
    const files = [
      ...walk(path.join(out, 'core'), (p) => p.endsWith('.test.js')),
      ...walk(path.join(out, 'cli'), (p) => p.endsWith('.test.js')),
      ...walk(path.join(out, 'webview'), (p) => p.endsWith('.test.js')),
      ...walk(path.join(out, 'package'), (p) => p.endsWith('.test.js')),
    ].map((f) => path.relative(ROOT, f));
    if (!files.length) return null;
    const mocha = path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js');
    const args = [mocha, '--timeout', '120000', '--exit', '--reporter', 'out/test/helpers/mochaCount.js'];
    if (process.stdout.isTTY) args.push('--color');
    return [process.execPath, [...args, ...files]];
  }
  const runner = path.join(out, suite, 'run.js');
  return fs.existsSync(runner) ? [process.execPath, [runner]] : null;
}

/** `extension@1.100.3` for a suite run on one VS Code version, `core` for the others. */
function runLabel(suite, version) {
  return version ? `${suite}@${version.vscode}` : suite;
}

async function runSuite(suite, env, version) {
  const label = runLabel(suite, version);
  const cmd = suiteCommand(suite);
  if (!cmd) {
    log(`${label}: no tests, skipped`);
    return;
  }
  const resultFile = path.join(ARTIFACTS, `${label}.result.json`);
  const artifacts = path.join(ARTIFACTS, label);
  fs.mkdirSync(artifacts, { recursive: true });
  const t = Date.now();
  log(`${label}: running`);
  const versionEnv = version ? { S3B_VSCODE_VERSION: version.vscode } : {};
  const { code } = await run(cmd[0], cmd[1], {
    env: { ...env, ...versionEnv, S3B_RESULT_FILE: resultFile, S3B_ARTIFACTS_DIR: artifacts },
    logName: `${label}.log`,
  });
  let counts = null;
  try {
    counts = JSON.parse(fs.readFileSync(resultFile, 'utf8'));
  } catch {
    /* handled below */
  }
  if (counts) {
    for (const k of ['passed', 'failed', 'skipped']) totals[k] += Number(counts[k]) || 0;
    log(`${label}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped || 0} skipped, exit ${code} (${secs(t)})`);
    if (counts.failed > 0) failures.push(`${label} (${counts.failed})`);
  }
  if (!counts) fail(`${label}: runner exited ${code} without writing its counts`);
  else if (code !== 0 && !(counts.failed > 0)) fail(`${label}: runner exited ${code}`);
}

/** The suites and VS Code versions asked for on the command line (or S3B_VSCODE_VERSIONS); exits with usage on a bad one. */
function parseArgs(argv) {
  const flag = argv.find((a) => a.startsWith('--vscode='));
  const selected = argv.filter((a) => a !== flag);
  const unknown = selected.filter((s) => !SUITES.includes(s));
  const names = (flag ? flag.slice('--vscode='.length) : process.env.S3B_VSCODE_VERSIONS || '').split(',').filter(Boolean);
  let versions;
  try {
    const chosen = names.map((n) => codeServer.resolveVersion(n));
    versions = codeServer.VERSIONS.filter((v) => !names.length || chosen.includes(v));
  } catch (e) {
    unknown.push(e.message);
  }
  if (unknown.length) {
    process.stderr.write(`usage: npm test [-- ${SUITES.join('|')} ... --vscode=oldest,newest] (unknown: ${unknown.join(' ')})\n`);
    process.exit(2);
  }
  return { suites: selected.length ? SUITES.filter((s) => selected.includes(s)) : SUITES, versions };
}

/**
 * Installs each version's code-server in the background, one after the other
 * (both builds keep the two cores busy). Resolves to a Map: version -> installed.
 */
function installCodeServers(versions) {
  const codeServerJs = path.join(ROOT, 'scripts', 'codeServer.js');
  const installed = new Map();
  let chain = Promise.resolve();
  for (const v of versions) {
    chain = chain.then(async () => {
      const name = `code-server ${v.codeServer} install (VS Code ${v.vscode})`;
      installed.set(v, await step(name, process.execPath, [codeServerJs, 'install', v.vscode], { logName: `code-server-${v.codeServer}-install.log` }));
    });
  }
  return chain.then(() => installed);
}

/** Every run in order: each suite, the versioned ones once per version. */
function plannedRuns(suites, versions) {
  return suites.flatMap((suite) => (VERSIONED.has(suite) ? versions.map((version) => ({ suite, version })) : [{ suite }]));
}

function summaryLine() {
  let line = `${totals.passed} passed, ${totals.failed} failed`;
  if (totals.skipped) line += `, ${totals.skipped} skipped`;
  return line;
}

function finish(exitCode) {
  if (finishing) return;
  finishing = true;
  killChildren();
  stopRgw();
  if (failures.length) log(`failures: ${failures.join('; ')}`);
  log(`total ${secs(t0)}`);
  const bad = totals.failed > 0 || totals.passed === 0 || exitCode !== 0;
  if (totals.passed === 0 && totals.failed === 0) log('no test ran');
  process.stdout.write(`${summaryLine()}\n`, () => process.exit(exitCode || (bad ? 1 : 0)));
}

async function main() {
  const { suites, versions } = parseArgs(process.argv.slice(2));
  const runs = plannedRuns(suites, versions);

  fs.rmSync(ARTIFACTS, { recursive: true, force: true });
  fs.mkdirSync(ARTIFACTS, { recursive: true });

  if (!(await step('install', 'bash', [path.join(ROOT, 'test', 'setup', 'install.sh')], { logName: 'install.log' }))) {
    return finish(1);
  }
  // Installs in the background while the build and type check run; awaited before the suites.
  const installs = installCodeServers(suites.some((s) => VERSIONED.has(s)) ? versions : []);

  // Ceph spends most of its start-up waiting: overlap it with the build and the type check.
  const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  let rgw;
  if (env.S3_TEST_ENDPOINT) {
    log(`using S3_TEST_ENDPOINT=${env.S3_TEST_ENDPOINT}`);
    rgw = Promise.resolve({});
  } else {
    rgw = startRgw();
    rgw.catch(() => {}); // awaited below; avoid an early unhandled rejection
  }

  const t = Date.now();
  pruneStaleOutput();
  await step('build', process.execPath, ['esbuild.js'], { logName: 'build.log' });
  const testsBuilt = await step('build tests', process.execPath, ['esbuild.js', '--tests'], { logName: 'build-tests.log' });
  await typecheck();
  await lint();
  log(`build, type check and lint: ${secs(t)}`);

  try {
    Object.assign(env, await rgw);
  } catch (e) {
    fail(`S3 server: ${e.message}`);
    return finish(1);
  }
  const installed = await installs;

  if (testsBuilt) {
    for (const { suite, version } of runs) {
      if (finishing) return;
      // A version that did not install fails each of its runs, so it cannot pass unnoticed.
      if (version && !installed.get(version)) fail(`${runLabel(suite, version)}: not run, code-server ${version.codeServer} did not install`);
      else await runSuite(suite, env, version);
    }
  }
  finish(0);
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    log(`${sig}: stopping`);
    fail(`interrupted by ${sig}`);
    finish(130);
  });
}
process.on('uncaughtException', (e) => {
  log(`internal error: ${e.stack || e}`);
  fail('scripts/test.js crashed');
  finish(1);
});

main().catch((e) => {
  log(`internal error: ${e.stack || e}`);
  fail('scripts/test.js crashed');
  finish(1);
});
