#!/usr/bin/env node
/*
 * code-server 4.100.3 (VS Code 1.100.3) for tests and `npm start`, installed offline.
 *
 *   node scripts/codeServer.js install           idempotent install into .cache/code-server
 *   node scripts/codeServer.js start <folder>    start one for manual use (Ctrl-C stops it)
 *
 * API (CommonJS): install(), isInstalled(), start(opts), installExtension(vsix, extensionsDir), paths.
 *
 * Why the install is done by hand: `npm i code-server` runs a postinstall that lets
 * @vscode/ripgrep download `rg` from GitHub, which is unreachable here. The steps
 * below are code-server's own postinstall with `rg` taken from an npm tarball
 * instead (see /work/shared/RECIPES.md).
 */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const net = require('net');
const { spawn, spawnSync } = require('child_process');

const VERSION = '4.100.3';
const RG_PACKAGE = '@vscode/ripgrep-linux-x64@1.18.0';
const ROOT = path.resolve(__dirname, '..');
const CACHE_DIR = process.env.S3B_CODE_SERVER_DIR || path.join(ROOT, '.cache', 'code-server');
const MARKER = path.join(CACHE_DIR, `.installed-${VERSION}`);
const LOCK = path.join(CACHE_DIR, '.install-lock');
const PKG_DIR = path.join(CACHE_DIR, 'node_modules', 'code-server');
const VSCODE_DIR = path.join(PKG_DIR, 'lib', 'vscode');
const ENTRY = path.join(PKG_DIR, 'out', 'node', 'entry.js');

const paths = { root: ROOT, cacheDir: CACHE_DIR, marker: MARKER, entry: ENTRY, vscodeDir: VSCODE_DIR };

function log(msg) {
  process.stderr.write(`[code-server] ${msg}\n`);
}

function isInstalled() {
  return fs.existsSync(MARKER) && fs.existsSync(ENTRY);
}

function npmEnv() {
  // nodedir: node-gyp would otherwise download Node headers; yes: node-pty's
  // postinstall calls `npx node-gyp`, and this machine's npm config says yes=false.
  return { ...process.env, npm_config_nodedir: '/usr', npm_config_yes: 'true', npm_config_fund: 'false', npm_config_audit: 'false' };
}

function run(cmd, args, cwd) {
  const t = Date.now();
  log(`$ (${path.relative(ROOT, cwd) || '.'}) ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd, env: npmEnv(), stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd} (exit ${r.status})`);
  log(`  done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
}

function ensureBuildTools() {
  const needed = ['build-essential', 'python3', 'libkrb5-dev'];
  const missing = needed.filter((p) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' });
    return r.status !== 0 || !/install ok installed/.test(r.stdout);
  });
  if (missing.length === 0) return;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(`missing Debian packages: ${missing.join(' ')} (run: sudo apt-get install -y ${missing.join(' ')})`);
  }
  run('apt-get', ['install', '-y', ...missing], ROOT);
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** Takes the install lock, or waits for another process's install to finish. Returns false if that one completed it. */
async function acquireLock() {
  for (;;) {
    try {
      fs.writeFileSync(LOCK, String(process.pid), { flag: 'wx' });
      return true;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    const owner = Number(fs.readFileSync(LOCK, 'utf8')) || 0;
    if (!owner || !pidAlive(owner)) {
      fs.rmSync(LOCK, { force: true });
      continue;
    }
    log(`another install (pid ${owner}) is running; waiting`);
    while (fs.existsSync(LOCK) && pidAlive(owner)) await new Promise((r) => setTimeout(r, 2000));
    if (isInstalled()) return false;
  }
}

/**
 * Installs code-server into .cache/code-server once; later calls return at once.
 * @returns {Promise<{ skipped: boolean, seconds: number }>}
 */
async function install() {
  const t0 = Date.now();
  if (isInstalled()) return { skipped: true, seconds: 0 };
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  if (!(await acquireLock())) return { skipped: true, seconds: (Date.now() - t0) / 1000 };
  try {
    ensureBuildTools();
    const pkgJson = path.join(CACHE_DIR, 'package.json');
    if (!fs.existsSync(pkgJson)) {
      fs.writeFileSync(pkgJson, JSON.stringify({
        name: 's3b-code-server-cache',
        version: '0.0.0',
        private: true,
        description: 'code-server for S3 Backup tests; written by scripts/codeServer.js',
        allowScripts: { argon2: true },
      }, null, 2) + '\n');
    }
    run('npm', ['i', '--ignore-scripts', '--save-exact', `code-server@${VERSION}`, RG_PACKAGE], CACHE_DIR);
    // argon2's prebuilt download fails offline; rebuild makes it compile.
    run('npm', ['rebuild', 'argon2'], CACHE_DIR);
    run('npm', ['install', '--omit=dev', '--ignore-scripts'], VSCODE_DIR);
    const rgDest = path.join(VSCODE_DIR, 'node_modules', '@vscode', 'ripgrep', 'bin', 'rg');
    fs.mkdirSync(path.dirname(rgDest), { recursive: true });
    fs.copyFileSync(path.join(CACHE_DIR, 'node_modules', '@vscode', 'ripgrep-linux-x64', 'bin', 'rg'), rgDest);
    fs.chmodSync(rgDest, 0o755);
    // With rg in place, ripgrep's postinstall finds nothing to download; the rest
    // (node-pty, spdlog, kerberos, ...) compile against /usr's headers.
    run('npm', ['rebuild'], VSCODE_DIR);
    symlink('node_modules', path.join(VSCODE_DIR, 'node_modules.asar'));
    symlink('code-linux.sh', path.join(VSCODE_DIR, 'bin', 'remote-cli', 'code-server'));
    symlink('browser-linux.sh', path.join(VSCODE_DIR, 'bin', 'helpers', 'browser.sh'));
    run('npm', ['install', '--omit=dev'], path.join(VSCODE_DIR, 'extensions'));
    if (!fs.existsSync(ENTRY)) throw new Error(`install finished but ${ENTRY} is missing`);
    const seconds = (Date.now() - t0) / 1000;
    fs.writeFileSync(MARKER, JSON.stringify({ version: VERSION, installedAt: new Date().toISOString(), seconds }) + '\n');
    log(`installed code-server ${VERSION} in ${seconds.toFixed(0)} s`);
    return { skipped: false, seconds };
  } finally {
    fs.rmSync(LOCK, { force: true });
  }
}

function symlink(target, linkPath) {
  fs.mkdirSync(path.dirname(linkPath), { recursive: true });
  fs.rmSync(linkPath, { force: true, recursive: false });
  fs.symlinkSync(target, linkPath);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function httpOk(url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(2000, () => {
      req.destroy();
      resolve(false);
    });
  });
}

/** Environment that keeps code-server (and what it spawns) out of $HOME and /tmp. */
function isolatedEnv(tmpDir, extra) {
  const env = { ...process.env };
  // Variables of an enclosing VS Code would confuse the server's own extension host.
  for (const k of Object.keys(env)) if (k.startsWith('VSCODE_') || k === 'ELECTRON_RUN_AS_NODE') delete env[k];
  const dirs = {
    XDG_CONFIG_HOME: path.join(tmpDir, 'xdg-config'),
    XDG_DATA_HOME: path.join(tmpDir, 'xdg-data'),
    XDG_CACHE_HOME: path.join(tmpDir, 'xdg-cache'),
    XDG_STATE_HOME: path.join(tmpDir, 'xdg-state'),
    TMPDIR: path.join(tmpDir, 'tmp'),
  };
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
  return { ...env, ...dirs, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...(extra || {}) };
}

const running = new Map(); // child -> its temp dir
function killAllSync() {
  for (const [child, tmpDir] of running) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    if (!process.env.S3B_KEEP_TMP) fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A crashed or interrupted runner must not leave servers behind.
  process.on('exit', killAllSync);
}

/**
 * Starts code-server on 127.0.0.1 for one folder, with auth off and workspace trust off.
 * Both dirs are created when missing. Resolves once /healthz answers.
 * @param {{ userDataDir: string, extensionsDir: string, folder?: string, port?: number, args?: string[],
 *           env?: Record<string,string>, log?: boolean | ((line: string) => void), timeoutMs?: number }} opts
 * @returns {Promise<{ url: string, port: number, pid: number, logFile: string, tmpDir: string, stop: () => Promise<void> }>}
 */
async function start(opts) {
  if (!isInstalled()) await install();
  const { userDataDir, extensionsDir, folder } = opts;
  for (const d of [userDataDir, extensionsDir, folder]) if (d) fs.mkdirSync(d, { recursive: true });
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-code-server-'));
  const port = opts.port || (await freePort());
  const configFile = path.join(tmpDir, 'config.yaml');
  fs.writeFileSync(configFile, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const args = [
    ENTRY,
    '--config', configFile,
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
  ];
  // More options for code-server, e.g. ['--locale', 'zh-cn'].
  if (opts.args) args.push(...opts.args);
  if (folder) args.push(folder);
  const logFile = path.join(tmpDir, 'code-server.log');
  const logFd = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, args, {
    cwd: tmpDir,
    env: isolatedEnv(tmpDir, opts.env),
    detached: true, // own process group: stop() takes the extension host and ptys with it
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.set(child, tmpDir);
  installExitHook();
  const sink = typeof opts.log === 'function' ? opts.log : opts.log || process.env.S3B_CODE_SERVER_LOG ? (l) => process.stderr.write(`[code-server] ${l}\n`) : null;
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream.on('data', (d) => {
      fs.writeSync(logFd, d);
      if (!sink) return;
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const l of lines) sink(l);
    });
  }
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      running.delete(child);
      resolve();
    });
  });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 5000);
      await exitPromise;
      clearTimeout(timer);
    }
    // Stragglers in the group (extension host, watchers) that ignored SIGTERM.
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* none */
    }
    try {
      fs.closeSync(logFd);
    } catch {
      /* closed */
    }
    if (!process.env.S3B_KEEP_TMP) fs.rmSync(tmpDir, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs || 60000);
  while (!(await httpOk(`${url}/healthz`))) {
    if (exited || Date.now() > deadline) {
      const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
      await stop();
      throw new Error(`code-server ${exited ? `exited (${exited.code ?? exited.signal})` : 'did not answer /healthz in time'}:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, port, pid: child.pid, logFile, tmpDir, stop };
}

/**
 * Installs a .vsix into an extensions dir with code-server's CLI (a folder does not work; a .vsix does).
 * @param {string} vsix
 * @param {string} extensionsDir
 */
async function installExtension(vsix, extensionsDir) {
  if (!isInstalled()) await install();
  fs.mkdirSync(extensionsDir, { recursive: true });
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-code-server-cli-'));
  try {
    const r = spawnSync(process.execPath, [
      ENTRY,
      '--user-data-dir', path.join(tmpDir, 'user-data'),
      '--extensions-dir', extensionsDir,
      '--install-extension', path.resolve(vsix),
      '--force',
    ], { env: isolatedEnv(tmpDir), encoding: 'utf8', timeout: 120000 });
    if (r.status !== 0) throw new Error(`installing ${vsix} failed (exit ${r.status}): ${r.stdout}\n${r.stderr}`);
    return r.stdout.trim();
  } finally {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}

module.exports = { VERSION, paths, install, isInstalled, start, installExtension };

if (require.main === module) {
  const [cmd, ...rest] = process.argv.slice(2);
  (async () => {
    if (cmd === 'install') {
      const r = await install();
      log(r.skipped ? `code-server ${VERSION} already installed (${CACHE_DIR})` : `done in ${r.seconds.toFixed(0)} s`);
    } else if (cmd === 'start') {
      const folder = path.resolve(rest[0] || ROOT);
      const base = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-manual-'));
      const cs = await start({ userDataDir: path.join(base, 'user-data'), extensionsDir: path.join(base, 'extensions'), folder, log: true });
      log(`open ${cs.url}/?folder=${encodeURIComponent(folder)}  (Ctrl-C stops it)`);
      const quit = async () => {
        await cs.stop();
        fs.rmSync(base, { recursive: true, force: true });
        process.exit(0);
      };
      process.on('SIGINT', quit);
      process.on('SIGTERM', quit);
    } else if (cmd === 'install-extension') {
      console.log(await installExtension(rest[0], rest[1]));
    } else {
      console.error('usage: node scripts/codeServer.js install | start [folder] | install-extension <vsix> <extensionsDir>');
      process.exit(2);
    }
  })().catch((e) => {
    console.error(e && e.stack ? e.stack : e);
    process.exit(1);
  });
}
