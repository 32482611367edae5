#!/usr/bin/env node
/*
 * `npm start`: try the extension in one command, everything on 127.0.0.1.
 *
 *   1. installs what is missing: the npm packages (when node_modules is missing
 *      or stale) and Ceph from Debian's packages (test/setup/install.sh --sandbox),
 *      builds the extension and packs it into a .vsix;
 *   2. installs code-server once, in the oldest VS Code version the extension
 *      supports (scripts/codeServer.js, .cache/code-server-<version>);
 *   3. starts a local S3 server with a bucket: the single-node Ceph RGW the
 *      tests use (scripts/sandboxS3.js), which checks signatures like a real
 *      provider, with its data in .cache/start/rgw; and installs the .vsix
 *      into .cache/start/extensions;
 *   4. starts code-server with .cache/start/user-data, a sample workspace and user
 *      settings pointing at the local server, and prints the URL to open.
 *
 * The sandbox's keys reach the extension through a file named by
 * S3_BACKUP_SANDBOX_CREDENTIALS_FILE, which src/extension/host/sandbox.ts
 * imports into SecretStorage only when the saved endpoint is a loopback
 * address and no key is stored yet; real users never set it.
 *
 * Ctrl-C (or SIGTERM) stops both servers and everything they spawned. Ports:
 * S3B_START_PORT (default 8080) for code-server and S3B_START_S3_PORT (default
 * 4568, with the two ports above it for Ceph's mon) for the S3 server; a busy
 * port is replaced by a free one. S3B_START_DIR replaces .cache/start as the
 * state folder.
 */
'use strict';

const fs = require('fs');
const { canListen, freePort } = require('./lib');
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..');
// S3B_START_DIR: another state folder (the e2e test of `npm start` uses a temp one).
const START_DIR = process.env.S3B_START_DIR ? path.resolve(process.env.S3B_START_DIR) : path.join(ROOT, '.cache', 'start');
const BUCKET = 'sandbox';
const WORKSPACE_NAME = 'sample-project';

function log(msg) {
  process.stderr.write(`[start] ${msg}\n`);
}

function secs(t) {
  return `${((Date.now() - t) / 1000).toFixed(1)} s`;
}

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

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** User settings: quiet, offline workbench and the connection to the local server; the user's other edits stay. */
function writeSettings(userDataDir, s3) {
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
    's3Backup.endpoint': s3.endpoint,
    's3Backup.region': s3.region,
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
    rgw: path.join(START_DIR, 'rgw'),
    workspace: path.join(START_DIR, 'workspace', WORKSPACE_NAME),
    credentials: path.join(START_DIR, 'sandbox-credentials.json'),
    vsix: path.join(START_DIR, 's3-backup.vsix'),
  };

  const children = { s3: null, codeServer: null };
  let stopping = false;
  const stopAll = async (code) => {
    if (stopping) return;
    stopping = true;
    log('stopping…');
    if (children.codeServer) await children.codeServer.stop().catch(() => undefined);
    children.s3?.stop();
    log('stopped');
    process.exit(code);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => void stopAll(sig === 'SIGINT' ? 0 : 143));
  // Last resort when the process dies another way (an uncaught error): no server is left behind.
  process.on('exit', () => children.s3?.stop());

  try {
    // 1. Packages (a fresh clone has none; Ceph comes from Debian), build and pack.
    runSync('bash', [path.join(ROOT, 'test', 'setup', 'install.sh'), '--sandbox'], 'packages');
    runSync(process.execPath, ['esbuild.js'], 'build');
    const { packVsix } = require('./packVsix');
    const packed = await packVsix(dirs.vsix);
    log(`packed ${path.relative(ROOT, packed.file)} (${(packed.bytes / 1024).toFixed(0)} KiB)`);

    // 2. code-server (first run only: its install keeps both cores busy, so nothing else starts meanwhile).
    const codeServer = require('./codeServer');
    if (!codeServer.isInstalled()) log(`installing code-server ${codeServer.resolveVersion().codeServer} into .cache/ (once, about a minute)…`);
    await codeServer.install();

    // 3. The local S3 server (Ceph takes ~15 s, mostly waiting), while the extension installs.
    const { startSandboxS3 } = require('./sandboxS3');
    const s3Started = Date.now();
    const s3 = startSandboxS3({ dir: dirs.rgw, port: Number(process.env.S3B_START_S3_PORT) || 4568, bucket: BUCKET });
    s3.then((r) => (children.s3 = r)).catch(() => undefined);
    const t = Date.now();
    await codeServer.installExtension(dirs.vsix, dirs.extensions);
    log(`installed the extension into .cache/start/extensions in ${secs(t)}`);
    const server = await s3;
    log(`Ceph RGW on ${server.endpoint} in ${secs(s3Started)}, bucket "${BUCKET}" (objects in memory: gone when it stops)`);

    // 4. Workspace, settings, sandbox keys, code-server.
    if (!fs.existsSync(dirs.workspace)) copyDir(path.join(__dirname, 'sample-workspace'), dirs.workspace);
    writeSettings(dirs.userData, server);
    fs.writeFileSync(dirs.credentials, JSON.stringify(server.keys) + '\n', { mode: 0o600 });
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
        '  It opens on the S3 Backup view, connected to the local S3 server',
        `  (bucket "${BUCKET}"): click "Back Up Workspace".`,
        `  Workspace: ${path.relative(ROOT, dirs.workspace)}   code-server log: ${cs.logFile}`,
        '  Ctrl-C stops everything.',
        '',
      ].join('\n') + '\n',
    );
  } catch (e) {
    log(`failed: ${e && e.message ? e.message : e}`);
    await stopAll(1);
  }
}

main();
