// Test access to the real S3 server named by S3_TEST_* (Ceph RGW in CI): a
// fresh bucket per suite, raw views of what is in it, and a forwarding proxy
// that injects failures into otherwise real traffic.
import * as crypto from 'crypto';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { normalizeProfile, type Profile } from '../../src/core/storage/profile';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
 
const sdk = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');

export interface S3TestEnv {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** A second user (S3_TEST_OTHER_*), when exported: it has no rights on the first user's buckets. */
  other?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * For suites that need the server: fails (never skips) when S3_TEST_* is not
 * set, so a run without a server cannot pass by testing less.
 */
export function requireS3Server(): void {
  s3TestEnv();
}

/** The S3_TEST_* environment; throws a clear error when it is not set. */
export function s3TestEnv(): S3TestEnv {
  const e = process.env;
  const missing = ['S3_TEST_ENDPOINT', 'S3_TEST_ACCESS_KEY_ID', 'S3_TEST_SECRET_ACCESS_KEY'].filter((n) => !e[n]);
  if (missing.length) {
    throw new Error(
      `S3 tests need a real S3 server: ${missing.join(', ')} not set. ` +
        'Start Ceph RGW with test/setup/rgw.sh and `source .cache/rgw/env`, or run `npm test`.',
    );
  }
  return {
    endpoint: e.S3_TEST_ENDPOINT!,
    region: e.S3_TEST_REGION || 'us-east-1',
    accessKeyId: e.S3_TEST_ACCESS_KEY_ID!,
    secretAccessKey: e.S3_TEST_SECRET_ACCESS_KEY!,
    other:
      e.S3_TEST_OTHER_ACCESS_KEY_ID && e.S3_TEST_OTHER_SECRET_ACCESS_KEY
        ? { accessKeyId: e.S3_TEST_OTHER_ACCESS_KEY_ID, secretAccessKey: e.S3_TEST_OTHER_SECRET_ACCESS_KEY }
        : undefined,
  };
}

/** A raw SDK client for the test user (or the given keys), with the settings the server needs. */
export function rawClient(keys?: { accessKeyId: string; secretAccessKey: string }): import('@aws-sdk/client-s3').S3Client {
  const env = s3TestEnv();
  return new sdk.S3Client({
    endpoint: env.endpoint,
    region: env.region,
    forcePathStyle: true,
    credentials: keys ?? { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export interface TestBucket {
  bucket: string;
  /** The normalized profile for this bucket (test user's keys). */
  profile: Profile;
  /** The same profile with another root path. */
  profileAt(rootPath: string): Profile;
  client: import('@aws-sdk/client-s3').S3Client;
  /** Every object (key, size) under the prefix, straight from ListObjectsV2. */
  listObjects(prefix?: string): Promise<{ key: string; size: number }[]>;
  /** Pending multipart uploads under the prefix. */
  listMultipartUploads(prefix?: string): Promise<{ key: string; uploadId: string }[]>;
  putObject(key: string, body: Buffer | string): Promise<void>;
  getObject(key: string): Promise<Buffer>;
  /** Writes many small objects, `concurrency` at a time. */
  putMany(keys: string[], body: Buffer | string, concurrency?: number): Promise<void>;
  /** Aborts pending uploads, deletes every object, then the bucket. */
  cleanup(): Promise<void>;
}

/** Makes a fresh bucket named `<prefix>-<time>-<random>` on the test server. */
export async function createTestBucket(prefix = 'test'): Promise<TestBucket> {
  const env = s3TestEnv();
  const client = rawClient();
  const clean = prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 30);
  const bucket = `${clean}-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
  await client.send(new sdk.CreateBucketCommand({ Bucket: bucket }));

  const profileAt = (rootPath: string): Profile => {
    const r = normalizeProfile(
      { endpoint: env.endpoint, region: env.region, bucket, accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey, rootPath },
      { requireCredentials: true },
    );
    if (!r.ok) throw new Error(`test profile rejected: ${r.errors.map((e) => e.message).join(' ')}`);
    return r.profile;
  };

  const listObjects = async (p?: string): Promise<{ key: string; size: number }[]> => {
    const out: { key: string; size: number }[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: p, ContinuationToken: token }));
      for (const c of page.Contents ?? []) out.push({ key: c.Key!, size: c.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  };

  const listMultipartUploads = async (p?: string): Promise<{ key: string; uploadId: string }[]> => {
    const out: { key: string; uploadId: string }[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await client.send(
        new sdk.ListMultipartUploadsCommand({ Bucket: bucket, Prefix: p, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
      );
      for (const u of page.Uploads ?? []) out.push({ key: u.Key!, uploadId: u.UploadId! });
      if (!page.IsTruncated) return out;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  };

  const putObject = async (key: string, body: Buffer | string): Promise<void> => {
    await client.send(new sdk.PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  };

  const getObject = async (key: string): Promise<Buffer> => {
    const out = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray());
  };

  const putMany = async (keys: string[], body: Buffer | string, concurrency = 32): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length) await putObject(keys[next++], body);
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
  };

  const cleanup = async (): Promise<void> => {
    for (const u of await listMultipartUploads()) {
      await client.send(new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: u.key, UploadId: u.uploadId }));
    }
    const all = await listObjects();
    for (let i = 0; i < all.length; i += 1000) {
      await client.send(
        new sdk.DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: all.slice(i, i + 1000).map((o) => ({ Key: o.key })), Quiet: true },
        }),
      );
    }
    await client.send(new sdk.DeleteBucketCommand({ Bucket: bucket }));
    client.destroy();
  };

  return { bucket, profile: profileAt(''), profileAt, client, listObjects, listMultipartUploads, putObject, getObject, putMany, cleanup };
}

/** What a fault rule may answer instead of forwarding. */
export interface FaultAnswer {
  status: number;
  /** S3 error code put into an XML error body (none for HEAD). */
  code?: string;
  message?: string;
  headers?: Record<string, string>;
  /** Extra XML elements inside <Error>. */
  extra?: string;
  /** A raw body instead of the XML error. */
  body?: string;
}

/** Returns an answer to fail the request, 'hang' to never answer, `{ after }` to forward it once `after` settles, or undefined to forward it. */
export type FaultRule = (req: http.IncomingMessage) => FaultAnswer | 'hang' | { after: Promise<unknown> } | undefined;

export interface FaultProxy {
  endpoint: string;
  /** Requests seen, as "METHOD /path?query". */
  requests: string[];
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of the real server: forwards every request unchanged
 * (the Host header included, so signatures stay valid) unless `rule` answers it.
 */
export async function startFaultProxy(rule: FaultRule): Promise<FaultProxy> {
  const target = new URL(s3TestEnv().endpoint);
  const requests: string[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const answer = rule(req);
    if (answer === 'hang') {
      hanging.add(res);
      req.resume();
      return;
    }
    if (answer && 'after' in answer) {
      void answer.after.finally(forward);
      return;
    }
    if (answer) {
      req.resume();
      const body =
        answer.body !== undefined ? answer.body
        : req.method === 'HEAD' || !answer.code
          ? ''
          : `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${answer.code}</Code><Message>${answer.message ?? answer.code}</Message>${answer.extra ?? ''}<RequestId>fault</RequestId></Error>`;
      res.writeHead(answer.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), ...answer.headers });
      res.end(body);
      return;
    }
    forward();
    function forward(): void {
      const up = http.request(
        { host: target.hostname, port: target.port || 80, method: req.method, path: req.url, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      req.on('aborted', () => up.destroy());
      res.on('close', () => up.destroy());
      req.pipe(up);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of hanging) r.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function unusedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
