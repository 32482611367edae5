#!/usr/bin/env node
/*
 * `npm start`: try the extension in one command, everything on 127.0.0.1.
 *
 *   1. installs the npm packages when node_modules is missing or stale
 *      (test/setup/install.sh --npm-only), builds the extension and packs it into a .vsix;
 *   2. installs code-server once, in the oldest VS Code version the extension
 *      supports (scripts/codeServer.js, .cache/code-server-<version>);
 *   3. starts a local S3 server (s3rver from npm) with a bucket, data in .cache/start/s3rver,
 *      and installs the .vsix into .cache/start/extensions;
 *   4. starts code-server with .cache/start/user-data, a sample workspace and user
 *      settings pointing at the local server, and prints the URL to open.
 *
 * The demo server's keys (s3rver only knows S3RVER/S3RVER) reach the extension
 * through a file named by S3_BACKUP_SANDBOX_CREDENTIALS_FILE, which
 * src/sandbox.ts imports into SecretStorage only when the saved endpoint is a
 * loopback address and no key is stored yet; real users never set it.
 *
 * Ctrl-C (or SIGTERM) stops both servers and everything they spawned. Ports:
 * S3B_START_PORT (default 8080) for code-server and S3B_START_S3_PORT (default
 * 4568) for s3rver; a busy port is replaced by a free one.
 *
 * Internal: `node --openssl-legacy-provider scripts/start.js --s3rver <port> <dir> <bucket>`
 * is the s3rver child process.
 */
'use strict';

const fs = require('fs');
const { canListen, freePort } = require('./lib');
const path = require('path');
const { spawn, spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..');
const START_DIR = path.join(ROOT, '.cache', 'start');
const BUCKET = 'sandbox';
const REGION = 'us-east-1';
const SANDBOX_KEYS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }; // s3rver's only, built-in keys
const WORKSPACE_NAME = 'sample-project';

function log(msg) {
  process.stderr.write(`[start] ${msg}\n`);
}

function secs(t) {
  return `${((Date.now() - t) / 1000).toFixed(1)} s`;
}

// ---------------------------------------------------------------- s3rver child

async function runS3rverChild([port, dir, bucket]) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const S3rver = require('s3rver');
  fs.mkdirSync(dir, { recursive: true });
  const server = new S3rver({
    address: '127.0.0.1',
    port: Number(port),
    directory: dir,
    silent: true,
    configureBuckets: [{ name: bucket }],
  });
  const addr = await server.run();
  process.stdout.write(`listening ${addr.port}\n`);
  const stop = () => server.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The parent going away (even by SIGKILL) closes this pipe: nothing is left running.
  process.stdin.on('end', stop);
  process.stdin.resume();
}

// ---------------------------------------------------------------- parent

async function pickPort(preferred, what) {
  if (preferred && (await canListen(preferred))) return preferred;
  const port = await freePort();
  log(`port ${preferred} is busy; ${what} uses ${port}`);
  return port;
}

function runSync(cmd, args, what) {
  const t = Date.now();
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status})`);
  log(`${what}: done in ${secs(t)}`);
}

/** Starts the s3rver child in its own process group; resolves with its port once it listens. */
function startS3rver(port, dir) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--openssl-legacy-provider', __filename, '--s3rver', String(port), dir, BUCKET], {
      cwd: ROOT,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => fail(new Error('s3rver did not start within 60 s')), 60000);
    const fail = (e) => {
      clearTimeout(timer);
      killGroup(child.pid);
      reject(new Error(`${e.message}${err ? `\n${err.trim()}` : ''}`));
    };
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.stderr.on('data', (d) => {
      err += d;
      if (err.length > 8000) err = err.slice(-8000);
    });
    child.on('exit', (code, signal) => fail(new Error(`s3rver exited (${code ?? signal})`)));
  });
}

function killGroup(pid, signal = 'SIGTERM') {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    /* gone */
  }
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** User settings: quiet, offline workbench and the connection to the local server; the user's other edits stay. */
function writeSettings(userDataDir, s3Port) {
  const file = path.join(userDataDir, 'User', 'settings.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const existing = readJson(file);
  const settings = {
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'workbench.startupEditor': 'readme',
    'workbench.tips.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'chat.commandCenter.enabled': false,
    'security.workspace.trust.enabled': false,
    // The sample workspace sits inside this repository's checkout.
    'git.openRepositoryInParentFolders': 'never',
    ...(existing && typeof existing === 'object' ? existing : {}),
    // Always rewritten: the port may differ from the last run.
    's3Backup.endpoint': `http://127.0.0.1:${s3Port}`,
    's3Backup.region': REGION,
    's3Backup.bucket': BUCKET,
    's3Backup.addressingStyle': 'path',
  };
  fs.writeFileSync(file, JSON.stringify(settings, null, 2) + '\n');
}

function copyDir(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, e.name);
    const b = path.join(to, e.name);
    if (e.isDirectory()) copyDir(a, b);
    else fs.copyFileSync(a, b);
  }
}

async function main() {
  const t0 = Date.now();
  fs.mkdirSync(START_DIR, { recursive: true });
  const dirs = {
    userData: path.join(START_DIR, 'user-data'),
    extensions: path.join(START_DIR, 'extensions'),
    s3rver: path.join(START_DIR, 's3rver'),
    workspace: path.join(START_DIR, 'workspace', WORKSPACE_NAME),
    credentials: path.join(START_DIR, 'sandbox-credentials.json'),
    vsix: path.join(START_DIR, 's3-backup.vsix'),
  };

  const children = { s3rver: null, codeServer: null };
  let stopping = false;
  const stopAll = async (code) => {
    if (stopping) return;
    stopping = true;
    log('stopping…');
    const waits = [];
    if (children.codeServer) waits.push(children.codeServer.stop().catch(() => undefined));
    if (children.s3rver) {
      const c = children.s3rver;
      waits.push(
        new Promise((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const timer = setTimeout(() => killGroup(c.pid, 'SIGKILL'), 5000);
          c.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          killGroup(c.pid, 'SIGTERM');
        }),
      );
    }
    await Promise.all(waits);
    log('stopped');
    process.exit(code);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => void stopAll(sig === 'SIGINT' ? 0 : 143));
  // Last resort when the process dies another way (an uncaught error): no server is left behind.
  process.on('exit', () => {
    if (children.s3rver) killGroup(children.s3rver.pid, 'SIGKILL');
  });

  try {
    // 1. Packages (a fresh clone has none), build and pack.
    runSync('bash', [path.join(ROOT, 'test', 'setup', 'install.sh'), '--npm-only'], 'npm packages');
    runSync(process.execPath, ['esbuild.js'], 'build');
    const { packVsix } = require('./packVsix');
    const packed = await packVsix(dirs.vsix);
    log(`packed ${path.relative(ROOT, packed.file)} (${(packed.bytes / 1024).toFixed(0)} KiB)`);

    // 2. code-server (first run only: its install keeps both cores busy, so nothing else starts meanwhile).
    const codeServer = require('./codeServer');
    if (!codeServer.isInstalled()) log(`installing code-server ${codeServer.resolveVersion().codeServer} into .cache/ (once, about a minute)…`);
    await codeServer.install();

    // 3. Local S3 server, while the extension installs.
    const s3PortWanted = await pickPort(Number(process.env.S3B_START_S3_PORT) || 4568, 's3rver');
    const s3 = startS3rver(s3PortWanted, dirs.s3rver);
    s3.then((r) => (children.s3rver = r.child)).catch(() => undefined);
    const t = Date.now();
    await codeServer.installExtension(dirs.vsix, dirs.extensions);
    log(`installed the extension into .cache/start/extensions in ${secs(t)}`);

    const { port: s3Port } = await s3;
    log(`s3rver on http://127.0.0.1:${s3Port}, bucket "${BUCKET}", data in ${path.relative(ROOT, dirs.s3rver)}`);

    // 4. Workspace, settings, sandbox keys, code-server.
    if (!fs.existsSync(dirs.workspace)) copyDir(path.join(__dirname, 'sample-workspace'), dirs.workspace);
    writeSettings(dirs.userData, s3Port);
    fs.writeFileSync(dirs.credentials, JSON.stringify(SANDBOX_KEYS) + '\n', { mode: 0o600 });
    const csPort = await pickPort(Number(process.env.S3B_START_PORT) || 8080, 'code-server');
    const cs = await codeServer.start({
      userDataDir: dirs.userData,
      extensionsDir: dirs.extensions,
      folder: dirs.workspace,
      port: csPort,
      env: { S3_BACKUP_SANDBOX_CREDENTIALS_FILE: dirs.credentials },
      timeoutMs: 90000,
    });
    children.codeServer = cs;
    const url = `${cs.url}/?folder=${encodeURIComponent(dirs.workspace)}`;
    process.stdout.write(
      [
        '',
        `  S3 Backup is ready (${secs(t0)}). Open:`,
        '',
        `    ${url}`,
        '',
        '  Then click the S3 Backup icon in the activity bar and "Back Up Now":',
        `  it is already connected to the local S3 server (bucket "${BUCKET}").`,
        `  Workspace: ${path.relative(ROOT, dirs.workspace)}   code-server log: ${cs.logFile}`,
        '  Ctrl-C stops everything.',
        '',
      ].join('\n') + '\n',
    );
    if (children.s3rver) children.s3rver.once('exit', (c) => !stopping && (log(`s3rver exited (${c}); stopping`), void stopAll(1)));
  } catch (e) {
    log(`failed: ${e && e.message ? e.message : e}`);
    await stopAll(1);
  }
}

if (process.argv[2] === '--s3rver') {
  runS3rverChild(process.argv.slice(3)).catch((e) => {
    process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  });
} else {
  main();
}
