'use strict';
/*
 * The S3 server of `npm start`: the same single-node Ceph RGW the tests use
 * (test/setup/rgw.sh), with its own data folder and port, so it checks
 * signatures like a real provider (a wrong secret gets SignatureDoesNotMatch).
 *
 *   const s3 = await startSandboxS3({ dir, port, bucket });
 *   s3.endpoint, s3.keys  ->  { accessKeyId, secretAccessKey }
 *   s3.stop()             ->  stops radosgw, the OSD and the mon (synchronous)
 *
 * Objects live in RAM (memstore): a sandbox holds nothing worth keeping, and
 * every start is clean. `node scripts/sandboxS3.js start|stop <dir> [port]` for manual use.
 */

const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { spawn, spawnSync } = require('child_process');
const { canListen, freePortTriple, parseEnvFile } = require('./lib');

const ROOT = path.resolve(__dirname, '..');
const RGW_SH = path.join(ROOT, 'test', 'setup', 'rgw.sh');
// Ceph's admin sockets are Unix sockets: their path (dir + /run/ceph-client.rgw.a.asok) must stay under 108 bytes.
const MAX_DIR_LENGTH = 70;

/** `dir`, or a short stand-in under the temp folder when `dir` is too long for Ceph's sockets. */
function cephDir(dir) {
  const abs = path.resolve(dir);
  if (abs.length <= MAX_DIR_LENGTH) return abs;
  return path.join(os.tmpdir(), `s3b-sandbox-${crypto.createHash('sha256').update(abs).digest('hex').slice(0, 10)}`);
}

/** A port P with P+1 and P+2 free (rgw.sh puts the Ceph mon there): `preferred` when it can be. */
async function pickPorts(preferred) {
  if (preferred && preferred + 2 < 65536) {
    const all = await Promise.all([preferred, preferred + 1, preferred + 2].map(canListen));
    if (all.every(Boolean)) return preferred;
  }
  return freePortTriple();
}

function runRgw(args, { quiet }) {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [RGW_SH, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (d) => {
      out += d;
      if (out.length > 8000) out = out.slice(-8000);
      if (!quiet) process.stderr.write(d);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`rgw.sh ${args[0]} exited with ${code}:\n${out.trim()}`))));
  });
}

/** Creates the bucket with the sandbox's own keys (a signed request: the server checks it). */
async function createBucket(endpoint, region, keys, bucket) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const sdk = require('@aws-sdk/client-s3');
  const client = new sdk.S3Client({ endpoint, region, forcePathStyle: true, credentials: keys });
  try {
    await client.send(new sdk.CreateBucketCommand({ Bucket: bucket }));
  } catch (e) {
    if (e?.name !== 'BucketAlreadyOwnedByYou' && e?.name !== 'BucketAlreadyExists') throw e;
  } finally {
    client.destroy();
  }
}

/**
 * Starts the sandbox's RGW in `dir` (preferring `port`) and makes `bucket`.
 * @param {{ dir: string, port?: number, bucket: string, quiet?: boolean }} o
 * @returns {Promise<{ endpoint: string, region: string, port: number, dir: string,
 *   keys: { accessKeyId: string, secretAccessKey: string }, stop(): void }>}
 */
async function startSandboxS3(o) {
  const dir = cephDir(o.dir);
  fs.mkdirSync(dir, { recursive: true });
  const port = await pickPorts(o.port);
  let started = false;
  const stop = () => {
    if (!started) return;
    started = false;
    spawnSync('bash', [RGW_SH, 'stop', dir], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 60000 });
  };
  try {
    started = true;
    await runRgw(['start', dir, String(port)], { quiet: o.quiet !== false });
    const env = parseEnvFile(path.join(dir, 'env'));
    const keys = { accessKeyId: env.S3_TEST_ACCESS_KEY_ID, secretAccessKey: env.S3_TEST_SECRET_ACCESS_KEY };
    const region = env.S3_TEST_REGION || 'us-east-1';
    await createBucket(env.S3_TEST_ENDPOINT, region, keys, o.bucket);
    return { endpoint: env.S3_TEST_ENDPOINT, region, port, dir, keys, stop };
  } catch (e) {
    stop();
    throw e;
  }
}

module.exports = { startSandboxS3, cephDir };

if (require.main === module) {
  const [cmd, dir, port] = process.argv.slice(2);
  if (cmd === 'start' && dir) {
    startSandboxS3({ dir, port: Number(port) || undefined, bucket: 'sandbox', quiet: false }).then(
      (s) => console.log(`${s.endpoint} (bucket "sandbox", data in ${s.dir})`),
      (e) => {
        console.error(e.message);
        process.exit(1);
      },
    );
  } else if (cmd === 'stop' && dir) {
    spawnSync('bash', [RGW_SH, 'stop', cephDir(dir)], { stdio: 'inherit' });
  } else {
    console.error('usage: node scripts/sandboxS3.js start <dir> [port] | stop <dir>');
    process.exit(2);
  }
}
