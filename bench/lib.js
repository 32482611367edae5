'use strict';
// Small helpers shared by the benchmark scripts: timing, commands, S3 set-up.
const { spawn } = require('child_process');
const fs = require('fs');
const { freePortTriple, parseEnvFile } = require('../scripts/lib');
const path = require('path');
const crypto = require('crypto');

const ROOT = path.resolve(__dirname, '..');

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return undefined;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

const MiB = 1024 * 1024;
const fmtMs = (ms) => (ms === undefined ? 'n/a' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);
const fmtMiB = (b) => (b === undefined ? 'n/a' : `${(b / MiB).toFixed(b < 10 * MiB ? 2 : 1)} MiB`);
const fmtRatio = (r) => (r === undefined ? 'n/a' : `${r.toFixed(2)}x`);

/**
 * Runs a command to completion; resolves with its wall time, stdout and stderr
 * (both kept in memory, so only for quiet commands). Rejects on non-zero exit.
 */
function run(cmd, args, o = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env || process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [], err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    let timer;
    if (o.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (code === 0) resolve({ ms, stdout, stderr });
      else {
        const tail = (stderr || stdout).trim().split('\n').slice(-5).join('\n');
        reject(Object.assign(new Error(`${path.basename(cmd)} ${args[0] || ''} exited with ${signal || code}: ${tail}`), { stdout, stderr }));
      }
    });
  });
}

/** Wall time of an async function, in ms. */
async function timed(fn) {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, value };
}

/** The S3 server the bench talks to, as the S3_TEST_* variables describe it. */
function serverFromEnv(env) {
  const s = {
    endpoint: env.S3_TEST_ENDPOINT,
    region: env.S3_TEST_REGION || 'us-east-1',
    accessKeyId: env.S3_TEST_ACCESS_KEY_ID,
    secretAccessKey: env.S3_TEST_SECRET_ACCESS_KEY,
  };
  if (!s.endpoint || !s.accessKeyId || !s.secretAccessKey) {
    throw new Error('S3_TEST_ENDPOINT, S3_TEST_ACCESS_KEY_ID and S3_TEST_SECRET_ACCESS_KEY must all be set');
  }
  return s;
}

/** A plain SDK client for the bench's own set-up work (buckets, seeding, clean-up). */
function s3Client(server) {
  const { S3Client } = require('@aws-sdk/client-s3');
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

async function createBucket(client, bucket) {
  const { CreateBucketCommand } = require('@aws-sdk/client-s3');
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
}

/** Deletes every object of a bucket, then the bucket (best effort clean-up of a shared server). */
async function deleteBucket(client, bucket) {
  const { ListObjectsV2Command, DeleteObjectsCommand, DeleteBucketCommand } = require('@aws-sdk/client-s3');
  let token;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    const keys = (page.Contents || []).map((o) => ({ Key: o.Key }));
    if (keys.length) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

/** Every object under `prefix` of a bucket: count and bytes (what a repository takes on the server). */
async function prefixUsage(client, bucket, prefix) {
  const { ListObjectsV2Command } = require('@aws-sdk/client-s3');
  let token, objects = 0, bytes = 0;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents || []) { objects++; bytes += o.Size || 0; }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return { objects, bytes };
}

/** Deletes every object under `prefix` (frees the memstore server's memory between big tests). */
async function emptyPrefix(client, bucket, prefix) {
  const { ListObjectsV2Command, DeleteObjectsCommand } = require('@aws-sdk/client-s3');
  let token;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    const keys = (page.Contents || []).map((o) => ({ Key: o.Key }));
    if (keys.length) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool(items, limit, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  });
  await Promise.all(workers);
}

/** Relative path -> {size, sha256} of every regular file under `dir`. */
async function digestTree(dir) {
  const out = new Map();
  const walk = async (d, rel) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const abs = path.join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(abs, r);
      else if (e.isFile()) out.set(r, await hashFile(abs));
    }
  };
  await walk(dir, '');
  return out;
}

function hashFile(file) {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('sha256');
    let size = 0;
    fs.createReadStream(file, { highWaterMark: 1 << 20 })
      .on('data', (d) => { size += d.length; h.update(d); })
      .on('error', reject)
      .on('end', () => resolve({ size, sha256: h.digest('hex') }));
  });
}

/** Throws unless `b` holds exactly the files of `a`, byte for byte. */
function assertSameTree(a, b, what) {
  if (a.size !== b.size) throw new Error(`${what}: ${b.size} files restored, ${a.size} expected`);
  for (const [rel, d] of a) {
    const o = b.get(rel);
    if (!o) throw new Error(`${what}: ${rel} missing`);
    if (o.size !== d.size || o.sha256 !== d.sha256) throw new Error(`${what}: ${rel} differs`);
  }
}

function dirBytes(dir) {
  let total = 0;
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const abs = path.join(d, e.name);
      if (e.isDirectory()) walk(abs);
      else if (e.isFile()) total += fs.statSync(abs).size;
    }
  };
  walk(dir);
  return total;
}

/** Peak resident set size of this process, in bytes (VmHWM, else resourceUsage). */
function peakRss() {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  return process.resourceUsage().maxRSS * 1024;
}

module.exports = {
  ROOT, MiB, median, fmtMs, fmtMiB, fmtRatio, run, timed, freePortTriple, parseEnvFile, serverFromEnv,
  s3Client, createBucket, deleteBucket, prefixUsage, emptyPrefix, pool, digestTree, hashFile, assertSameTree, dirBytes, peakRss,
};
