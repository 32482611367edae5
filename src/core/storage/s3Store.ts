import { randomBytes } from 'crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'fs';
import * as path from 'path';
import { Readable, Transform } from 'stream';
import { pipeline } from 'stream/promises';
import type * as S3 from '@aws-sdk/client-s3';
import { BackupError, CancelledError, isCancelled, throwIfAborted, toBackupError } from '../util/engineErrors';
import { Logger, nullLogger, prefixed } from '../util/engineLogger';
import { testConnection, type ConnectionReport } from './connectionTest';
import { checkAnonymousAccess, type AnonymousAccess } from './anonymousAccess';

export type { ConnectionReport, ConnectionStep } from './connectionTest';
import { PartBuffers, sendParts } from './multipart';
import { payloadHashMiddleware } from './payloadHash';
import { ATTEMPT_TIMEOUT_MS, bodyTimeMs, CALL_BUDGET_MS, withinBudget } from './requestBudget';
import { FirstFailure, mapLimit } from '../util/firstFailure';
import { SinglePutFallback } from './singlePutFallback';
import type { Profile } from './profile';

/** One object of a listing. */
export interface S3Object {
  key: string;
  size: number;
  lastModified?: Date;
  etag?: string;
}

export interface ListPage {
  objects: S3Object[];
  /** Present when there is more; pass it back as `continuationToken`. */
  nextToken?: string;
}

export interface HeadResult {
  key: string;
  size: number;
  etag?: string;
  lastModified?: Date;
}

export interface UploadResult {
  key: string;
  size: number;
  etag?: string;
  /** false when the server refused multipart and the object went up in one PutObject. */
  multipart: boolean;
}


export interface S3StoreOptions {
  logger?: Logger;
  /** Attempts per request, the first included (5xx, throttling and network errors are retried with backoff). */
  maxAttempts?: number;
  connectionTimeoutMs?: number;
  /** A socket idle this long fails the request. */
  socketTimeoutMs?: number;
  /** One attempt of a request without a large body (list, head, get until its headers, delete, small put). */
  attemptTimeoutMs?: number;
  /** All attempts of such a request together: past it, 'Timeout' ("did not answer"). */
  callBudgetMs?: number;
  /** The slowest upload a small put (a manifest, a lock) must survive: its body's time at this rate is added to the budget. */
  minUploadBytesPerSec?: number;
  partSize?: number;
  queueSize?: number;
  /** Where a refused multipart upload is spooled before its single PutObject. */
  tmpDir?: string;
}

export interface CallOptions {
  signal?: AbortSignal;
}

// S3's smallest part: 10,000 of them still hold far more than an archive can (4 GiB),
// and the part buffers (queue + 1, see multipart.ts) stay small.
export const PART_SIZE = 5 * 1024 * 1024;
const QUEUE_SIZE = 4;

type Sdk = typeof S3;
type Client = S3.S3Client;

let sdkCache: { s3: Sdk } | undefined;

/** The SDK is loaded on first use so that activating the extension stays cheap. */
function sdk(): NonNullable<typeof sdkCache> {
  if (!sdkCache) {
    // The SDK prints a multi-line notice on Node 20 (VS Code's extension host) unless told not to.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    sdkCache = { s3: sdkModules().clientS3() };
  }
  return sdkCache;
}

/** dist/sdk.js in the extension's bundle (esbuild.js), required on first use. */
function sdkModules(): typeof import('./sdkModules') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./sdkModules') as typeof import('./sdkModules');
}

/**
 * Loads the AWS SDK before the first request, one step per `next()`, so
 * that a caller on a shared event loop can give the loop a turn between
 * them (extension/host/engineLoad.ts): the SDK's bundle, each of its
 * heavier packages, then the client. In one go they are the ~55-80 ms the
 * first request would otherwise block for.
 */
export function* sdkSteps(): Generator<void, void> {
  const { SDK_LAYERS } = sdkModules();
  for (const [, load] of SDK_LAYERS) {
    yield;
    load();
  }
  yield;
  sdk();
}

/** Waits until no request of an upload is still running. */
async function settle(inflight: Set<Promise<unknown>>): Promise<void> {
  while (inflight.size > 0) await Promise.allSettled([...inflight]);
}

function isMultipartRefusal(e: unknown): boolean {
  const r = e as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  const status = r?.$metadata?.httpStatusCode;
  return status === 501 || status === 405 || r?.Code === 'NotImplemented' || r?.name === 'NotImplemented' || r?.Code === 'MethodNotAllowed';
}

/** Calls `fn` when `signal` aborts (at once if it already has); returns the unsubscribe. */
function onAbort(signal: AbortSignal | undefined, fn: () => void): () => void {
  if (!signal) return () => undefined;
  if (signal.aborted) {
    fn();
    return () => undefined;
  }
  signal.addEventListener('abort', fn, { once: true });
  return () => signal.removeEventListener('abort', fn);
}

/**
 * S3 access for the engine: the only module that talks to the AWS SDK. Every
 * method takes an AbortSignal; every failure is a `BackupError`.
 */
export class S3Store {
  private clientCache: Client | undefined;
  private singleAttemptClientCache: Client | undefined;
  readonly log: Logger;
  private readonly partSize: number;
  private readonly queueSize: number;
  /**
   * One upload's part buffers, kept for the next: a backup's next pack reuses its last pack's set. Two
   * uploads' worth (a pack's upload ends while the next one starts) held ~25 MiB more at the peak of a
   * 1 GiB backup, one upload's ~10; 100,000 small files: ~20-25 MiB less at the peak either way.
   */
  private readonly parts: PartBuffers;

  constructor(
    readonly profile: Profile,
    private readonly options: S3StoreOptions = {},
  ) {
    this.log = prefixed(options.logger ?? nullLogger, 's3');
    this.partSize = options.partSize ?? PART_SIZE;
    this.queueSize = options.queueSize ?? QUEUE_SIZE;
    this.parts = new PartBuffers(this.queueSize + 1);
  }

  private makeClient(maxAttempts: number): Client {
    const p = this.profile;
    if (!p.accessKeyId || !p.secretAccessKey) {
      throw new BackupError('InvalidProfile', 'The access key ID and the secret access key are required.',
        'Enter both keys in the connection settings.', { params: { field: p.accessKeyId ? 'secretAccessKey' : 'accessKeyId' } });
    }
    const { s3 } = sdk();
    const agent = { keepAlive: true, maxSockets: Math.max(8, this.queueSize * 2) };
    const client = new s3.S3Client({
      endpoint: p.endpoint,
      region: p.region,
      forcePathStyle: p.forcePathStyle,
      credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey },
      // The SDK's newer defaults add CRC headers and aws-chunked bodies that Ceph, R2, OSS, COS, older MinIO and proxies reject.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts,
      retryMode: 'standard',
      // Options for the SDK's own NodeHttpHandler (@smithy/node-http-handler).
      requestHandler: {
        connectionTimeout: this.options.connectionTimeoutMs ?? 10_000,
        socketTimeout: this.options.socketTimeoutMs ?? 60_000,
        // The per-request requestTimeout given with small requests (see `call`) fails the attempt instead of only warning.
        throwOnRequestTimeout: true,
        httpAgent: agent,
        httpsAgent: agent,
      },
    });
    client.middlewareStack.add(payloadHashMiddleware() as never, { step: 'build', name: 's3BackupPayloadHash' });
    return client;
  }

  private get client(): Client {
    this.clientCache ??= this.makeClient(this.options.maxAttempts ?? 4);
    return this.clientCache;
  }

  /** For bodies that cannot be replayed: the SDK would retry them with an already consumed stream. */
  private get singleAttemptClient(): Client {
    this.singleAttemptClientCache ??= this.makeClient(1);
    return this.singleAttemptClientCache;
  }

  /** Any failure as the engine's error, secrets scrubbed. */
  toError(e: unknown, key?: string): BackupError {
    if (isCancelled(e)) return e instanceof CancelledError ? e : new CancelledError(e);
    return toBackupError(e, {
      bucket: this.profile.bucket,
      endpoint: this.profile.endpoint,
      key,
      secrets: [this.profile.secretAccessKey],
    });
  }

  /**
   * Runs one small SDK call (no large body) with the signal and the request
   * budget (storage/requestBudget.ts); `fn` passes on the signal and
   * `requestOptions`. An abort always surfaces as `CancelledError`, a server
   * that does not answer as 'Timeout'.
   */
  private async call<T>(
    signal: AbortSignal | undefined,
    key: string | undefined,
    fn: (send: { abortSignal: AbortSignal; requestTimeout: number }) => Promise<T>,
    bodyBytes = 0,
  ): Promise<T> {
    throwIfAborted(signal);
    try {
      const requestTimeout = this.options.attemptTimeoutMs ?? ATTEMPT_TIMEOUT_MS;
      const budget = (this.options.callBudgetMs ?? CALL_BUDGET_MS) + bodyTimeMs(bodyBytes, this.options.minUploadBytesPerSec);
      return await withinBudget(signal, budget, (abortSignal) => fn({ abortSignal, requestTimeout }));
    } catch (e) {
      if (signal?.aborted) throw new CancelledError(signal.reason);
      throw this.toError(e, key);
    }
  }

  /** One page of ListObjectsV2 under `prefix`. */
  async listPage(
    prefix: string,
    o: CallOptions & { continuationToken?: string; maxKeys?: number; delimiter?: string } = {},
  ): Promise<ListPage> {
    const { s3 } = sdk();
    const out = await this.call(o.signal, undefined, (send) =>
      this.client.send(
        new s3.ListObjectsV2Command({
          Bucket: this.profile.bucket,
          Prefix: prefix || undefined,
          ContinuationToken: o.continuationToken,
          MaxKeys: o.maxKeys,
          Delimiter: o.delimiter,
        }),
        send,
      ),
    );
    const objects: S3Object[] = (out.Contents ?? [])
      .filter((c) => c.Key !== undefined)
      .map((c) => ({ key: c.Key as string, size: c.Size ?? 0, lastModified: c.LastModified, etag: c.ETag }));
    if (out.IsTruncated && !out.NextContinuationToken) {
      throw new BackupError('Server', 'The server cut the listing short without a continuation token.',
        'The server may not be fully S3-compatible (ListObjectsV2).');
    }
    return { objects, nextToken: out.IsTruncated ? out.NextContinuationToken : undefined };
  }

  /** `listPage` with the prefix among the options. */
  list(o: CallOptions & { prefix: string; continuationToken?: string; maxKeys?: number; delimiter?: string }): Promise<ListPage> {
    return this.listPage(o.prefix, o);
  }

  /** Every object under `prefix`, following continuation tokens. */
  async listAll(prefix: string, o: CallOptions & { delimiter?: string } = {}): Promise<S3Object[]> {
    const all: S3Object[] = [];
    let token: string | undefined;
    const seen = new Set<string>();
    do {
      const page = await this.listPage(prefix, { signal: o.signal, continuationToken: token, delimiter: o.delimiter });
      all.push(...page.objects);
      token = page.nextToken;
      if (token !== undefined) {
        if (seen.has(token)) throw new BackupError('Server', 'The server repeated a listing page.', 'The server may not be fully S3-compatible (ListObjectsV2).');
        seen.add(token);
      }
    } while (token !== undefined);
    return all;
  }

  /** HeadObject; `undefined` when there is no such object. */
  async head(key: string, o: CallOptions = {}): Promise<HeadResult | undefined> {
    const { s3 } = sdk();
    try {
      const out = await this.call(o.signal, key, (send) => this.client.send(new s3.HeadObjectCommand({ Bucket: this.profile.bucket, Key: key }), send));
      return { key, size: out.ContentLength ?? 0, etag: out.ETag || undefined, lastModified: out.LastModified };
    } catch (e) {
      if (e instanceof BackupError && e.code === 'NotFound') return undefined;
      // A HEAD answer has no body, so its 403 cannot tell a wrong secret from a
      // missing permission; a one-byte GET carries the server's error code.
      if (e instanceof BackupError && e.code === 'AccessDenied' && e.params.serverCode !== 'AccessDenied') {
        try {
          const out = await this.call(o.signal, key, (send) =>
            this.client.send(new s3.GetObjectCommand({ Bucket: this.profile.bucket, Key: key, Range: 'bytes=0-0' }), send),
          );
          (out.Body as Readable | undefined)?.destroy?.();
          const total = /\/(\d+)$/.exec(out.ContentRange ?? '')?.[1];
          return { key, size: total ? Number(total) : out.ContentLength ?? 0, etag: out.ETag || undefined, lastModified: out.LastModified };
        } catch (g) {
          if (g instanceof BackupError && g.code === 'NotFound') return undefined;
          throw g;
        }
      }
      throw e;
    }
  }

  async delete(key: string, o: CallOptions = {}): Promise<void> {
    const { s3 } = sdk();
    this.log.debug(`delete ${key}`);
    await this.call(o.signal, key, (send) => this.client.send(new s3.DeleteObjectCommand({ Bucket: this.profile.bucket, Key: key }), send));
  }

  /**
   * Streams `body` to `key` (multipart with 5 MiB parts, 4 in flight, so memory
   * stays bounded). Never overwrites: an existing key fails with
   * `AlreadyExists`. On abort or failure no object and no pending multipart
   * upload is left, and `body` is destroyed. `size`, when given, is checked
   * afterwards (a mismatch removes the object: `Integrity`).
   */
  async upload(
    key: string,
    body: Readable,
    o: CallOptions & { onProgress?: (bytesSent: number) => void; size?: number; contentType?: string } = {},
  ): Promise<UploadResult> {
    const { s3 } = sdk();
    const signal = o.signal;
    const bucket = this.profile.bucket;
    const client = this.client;
    try {
      throwIfAborted(signal);
      if (await this.head(key, { signal })) throw this.toError(Object.assign(new Error('exists'), { $metadata: { httpStatusCode: 412 } }), key);
    } catch (e) {
      body.destroy();
      throw e;
    }

    const abort = new AbortController();
    const unlink = onAbort(signal, () => abort.abort(signal?.reason));
    const inflight = new Set<Promise<unknown>>();
    const fallback = new SinglePutFallback(this, key, this.partSize, this.options.tmpDir);
    // Upload ids this upload created: aborted by id on failure, whatever a listing shows.
    const created: string[] = [];
    // The first failed request is the story; the others then only saw our abort.
    const failure = new FirstFailure(() => abort.abort());
    const track = <T>(p: Promise<T>): Promise<T> => {
      inflight.add(p);
      const drop = (): void => void inflight.delete(p);
      p.then(drop, drop);
      return p;
    };

    // sendParts sends every request through here: that is where every
    // request gets the abort signal, where a refused multipart upload turns into
    // one PutObject, and where CompleteMultipartUpload is preceded by a last
    // existence check (servers such as Ceph RGW ignore If-None-Match on it).
    const send = (command: { input: Record<string, unknown> }): Promise<unknown> => {
      const isAbortCmd = command instanceof s3.AbortMultipartUploadCommand;
      const isCreate = command instanceof s3.CreateMultipartUploadCommand;
      if (fallback.active && !(command instanceof s3.PutObjectCommand)) return track(fallback.handle(command, s3, abort.signal));
      const run = async (): Promise<unknown> => {
        if (command instanceof s3.CompleteMultipartUploadCommand && (await this.head(key, { signal: abort.signal }))) {
          throw Object.assign(new Error('exists'), { name: 'PreconditionFailed', Code: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
        }
        try {
          // CreateMultipartUpload is never cut off: a request cut mid-way may still
          // create an upload on the server that no listing shows yet; letting it
          // finish gives its id, so the cleanup can abort it for sure.
           
          const out = await client.send(command as any, { abortSignal: isAbortCmd || isCreate ? undefined : abort.signal });
          const uploadId = isCreate ? (out as { UploadId?: string }).UploadId : undefined;
          if (uploadId) created.push(uploadId);
          if (isCreate && abort.signal.aborted) throw new CancelledError(abort.signal.reason);
          return out;
        } catch (e) {
          if (isCreate) {
            if (isMultipartRefusal(e) && !abort.signal.aborted) {
              this.log.info(`the server refused multipart upload (${(e as Error).name}); sending ${key} in one request`);
              return fallback.handle(command, s3, abort.signal);
            }
          }
          // Stop the other parts at the first failure.
          if (!isAbortCmd && !abort.signal.aborted) failure.record(e);
          throw e;
        }
      };
      return track(run());
    };

    this.log.debug(`upload ${key} start`);
    const started = Date.now();
    try {
      await sendParts(send as (command: unknown) => Promise<unknown>, s3, { Bucket: bucket, Key: key, ContentType: o.contentType ?? 'application/zip' }, body, {
        partSize: o.size !== undefined ? Math.max(this.partSize, Math.ceil(o.size / 10_000)) : this.partSize,
        queueSize: this.queueSize,
        signal: abort.signal,
        onProgress: o.onProgress,
        buffers: this.parts,
      });
    } catch (e) {
      if (!abort.signal.aborted) abort.abort();
      body.destroy();
      await settle(inflight);
      await fallback.dispose();
      if (!fallback.active) await this.removePendingUploads(key, created);
      if (signal?.aborted) throw new CancelledError(signal.reason);
      throw this.toError(failure.error ?? e, key);
    } finally {
      unlink();
    }

    // CompleteMultipartUpload's ETag is empty on Ceph RGW; HeadObject has the real one.
    const head = await this.head(key, { signal });
    if (!head) throw this.toError(Object.assign(new Error('missing after upload'), { $metadata: { httpStatusCode: 404 } }), key);
    if (o.size !== undefined && head.size !== o.size) {
      await this.delete(key).catch((e) => this.log.warn(`could not remove ${key} after a size mismatch: ${this.toError(e, key).message}`));
      throw new BackupError('Integrity', `The uploaded object "${key}" has ${head.size} bytes instead of ${o.size}.`,
        'Try the backup again.', { params: { key, size: head.size, expected: o.size } });
    }
    this.log.debug(`upload ${key} done: ${head.size} bytes in ${Date.now() - started} ms${fallback.active ? ' (single PUT)' : ''}`);
    return { key, size: head.size, etag: head.etag, multipart: !fallback.active && head.size > this.partSize };
  }

  /**
   * Aborts the multipart uploads this upload created (by id), then every other
   * one a listing still shows for `key`.
   */
  private async removePendingUploads(key: string, created: string[]): Promise<void> {
    const { s3 } = sdk();
    const abortOne = async (uploadId: string): Promise<void> => {
      this.log.debug(`aborting pending multipart upload of ${key}`);
      try {
        await this.client.send(new s3.AbortMultipartUploadCommand({ Bucket: this.profile.bucket, Key: key, UploadId: uploadId }));
      } catch (e) {
        const err = this.toError(e, key);
        if (err.code !== 'NotFound') this.log.warn(`could not abort the multipart upload of ${key}: ${err.message}`);
      }
    };
    for (const id of created) await abortOne(id);
    try {
      const out = await this.client.send(new s3.ListMultipartUploadsCommand({ Bucket: this.profile.bucket, Prefix: key }));
      for (const u of out.Uploads ?? []) {
        if (u.Key === key && u.UploadId && !created.includes(u.UploadId)) await abortOne(u.UploadId);
      }
    } catch (e) {
      this.log.warn(`could not check for pending multipart uploads of ${key}: ${this.toError(e, key).message}`);
    }
  }

  /** @internal Used by the single-PUT fallback: one PutObject of a spooled file, retried with a fresh stream. */
  async putFile(key: string, file: string, size: number, signal: AbortSignal): Promise<string | undefined> {
    const { s3 } = sdk();
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await this.singleAttemptClient.send(
          new s3.PutObjectCommand({
            Bucket: this.profile.bucket,
            Key: key,
            Body: createReadStream(file),
            ContentLength: size,
            ContentType: 'application/zip',
            IfNoneMatch: '*',
          }),
          { abortSignal: signal },
        );
        return out.ETag;
      } catch (e) {
        const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
        const transient = status >= 500 || status === 0 || status === 429;
        if (signal.aborted || !transient || attempt >= 3) throw e;
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  }

  /**
   * Downloads `key` to a temporary file beside `destFile`, then renames it: an
   * abort or failure leaves no partial file. `onProgress(bytes, total)`.
   */
  async download(
    key: string,
    destFile: string,
    o: CallOptions & { onProgress?: (bytes: number, total: number) => void } = {},
  ): Promise<{ size: number; etag?: string }> {
    const { s3 } = sdk();
    const signal = o.signal;
    const tmp = path.join(path.dirname(destFile), `.${path.basename(destFile)}.${randomBytes(4).toString('hex')}.part`);
    // The budget covers the wait for the answer's headers; the body then streams at its own pace.
    const out = await this.call(signal, key, (send) => this.client.send(new s3.GetObjectCommand({ Bucket: this.profile.bucket, Key: key }), send));
    const total = out.ContentLength ?? 0;
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        o.onProgress?.(bytes, total);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(out.Body as Readable, counter, createWriteStream(tmp, { flags: 'wx' }), { signal });
      if (out.ContentLength !== undefined && bytes !== out.ContentLength) {
        throw new BackupError('Integrity', `The download of "${key}" ended after ${bytes} of ${out.ContentLength} bytes.`,
          'Try again.', { params: { key, size: bytes, expected: out.ContentLength } });
      }
      await fsp.rename(tmp, destFile);
    } catch (e) {
      (out.Body as Readable | undefined)?.destroy?.();
      await fsp.rm(tmp, { force: true });
      if (signal?.aborted) throw new CancelledError(signal.reason);
      throw this.toError(e, key);
    }
    return { size: bytes, etag: out.ETag || undefined };
  }

  /**
   * Reads a whole (small) object into memory. Past `maxBytes` (an object
   * far larger than any of ours: planted, not made by us) it stops reading
   * and throws 'UnsafeArchive' rather than fill the memory.
   */
  async getBuffer(key: string, o: CallOptions & { maxBytes?: number } = {}): Promise<Buffer> {
    const { s3 } = sdk();
    const max = o.maxBytes ?? Infinity;
    return this.call(o.signal, key, async (send) => {
      const out = await this.client.send(new s3.GetObjectCommand({ Bucket: this.profile.bucket, Key: key }), send);
      const body = out.Body as Readable;
      const tooLarge = () => {
        body.destroy();
        return new BackupError('UnsafeArchive', `"${key}" is larger than any backup object S3 Backup writes, so it was not read.`, 'It was not made by S3 Backup; delete it from the bucket.', {
          params: { key, max },
        });
      };
      if ((out.ContentLength ?? 0) > max) throw tooLarge();
      const chunks: Buffer[] = [];
      let bytes = 0;
      for await (const chunk of body) {
        bytes += (chunk as Buffer).length;
        if (bytes > max) throw tooLarge();
        chunks.push(chunk as Buffer);
      }
      return Buffer.concat(chunks, bytes);
    });
  }

  /**
   * Reads bytes `start`..`end` (inclusive) of an object into memory with one
   * ranged GET; a short answer is an 'Integrity' error (the object is smaller
   * than its manifest says), unless `allowShort` (an encrypted object's
   * chunks are read to their whole length; the last one is shorter).
   * With `into` (at least as long as the range), the bytes are read into it
   * and the result is a view of it.
   */
  async getRange(key: string, start: number, end: number, o: CallOptions & { allowShort?: boolean; into?: Buffer } = {}): Promise<Buffer> {
    const { s3 } = sdk();
    const want = end - start + 1;
    return this.call(o.signal, key, async () => {
      const out = await this.client.send(new s3.GetObjectCommand({ Bucket: this.profile.bucket, Key: key, Range: `bytes=${start}-${end}` }), { abortSignal: o.signal });
      const { body, length } = await readBodyInto(out.Body as Readable, want, o.into);
      if (length > want || (length < want && !o.allowShort)) {
        throw new BackupError('Integrity', `"${key}" is shorter than the backup says (${start + length} of at least ${end + 1} bytes).`, 'The backup is damaged; pick another backup.', {
          params: { key, size: start + length, expected: end + 1 },
        });
      }
      return body;
    });
  }

  /** Streams bytes `start`..`end` (inclusive) of an object: for entries too big to hold in memory. */
  async getRangeStream(key: string, start: number, end: number, o: CallOptions = {}): Promise<Readable> {
    const { s3 } = sdk();
    const out = await this.call(o.signal, key, () =>
      this.client.send(new s3.GetObjectCommand({ Bucket: this.profile.bucket, Key: key, Range: `bytes=${start}-${end}` }), { abortSignal: o.signal }),
    );
    return out.Body as Readable;
  }

  /**
   * Writes a small object in one PutObject. Never overwrites (`AlreadyExists`)
   * unless `overwrite` says so (lock objects, which their owner refreshes).
   */
  async putBuffer(key: string, data: Buffer, o: CallOptions & { contentType?: string; overwrite?: boolean } = {}): Promise<void> {
    const { s3 } = sdk();
    await this.call(o.signal, key, (send) =>
      this.client.send(
        new s3.PutObjectCommand({
          Bucket: this.profile.bucket,
          Key: key,
          Body: data,
          ContentLength: data.length,
          ContentType: o.contentType ?? 'application/octet-stream',
          ...(o.overwrite ? {} : { IfNoneMatch: '*' }),
        }),
        send,
      ),
      data.length,
    );
  }

  /**
   * Deletes many objects, eight requests at a time. One DeleteObject each, not
   * DeleteObjects: that one needs a Content-MD5 or checksum header that not
   * every S3-compatible server accepts, and pack deletions are few.
   */
  async deleteMany(keys: readonly string[], o: CallOptions = {}): Promise<void> {
    await mapLimit(keys, 8, (key) => this.delete(key, o));
  }

  /**
   * GetBucketPolicyStatus: whether the bucket policy makes the bucket public
   * (no policy at all: false). Throws what the provider answers otherwise
   * (NotImplemented, AccessDenied, ...): the caller treats that as unknown.
   */
  async bucketPolicyIsPublic(o: CallOptions = {}): Promise<boolean> {
    const { s3 } = sdk();
    return this.call(o.signal, undefined, async (send) => {
      try {
        const out = await this.client.send(new s3.GetBucketPolicyStatusCommand({ Bucket: this.profile.bucket }), send);
        return out.PolicyStatus?.IsPublic === true;
      } catch (e) {
        const r = e as { name?: string; Code?: string };
        if (r?.name === 'NoSuchBucketPolicy' || r?.Code === 'NoSuchBucketPolicy') return false;
        throw e;
      }
    });
  }

  /** GetBucketAcl: the URIs of the groups the bucket ACL grants anything to (AllUsers, AuthenticatedUsers, ...). */
  async bucketAclGroups(o: CallOptions = {}): Promise<string[]> {
    const { s3 } = sdk();
    const out = await this.call(o.signal, undefined, (send) => this.client.send(new s3.GetBucketAclCommand({ Bucket: this.profile.bucket }), send));
    return (out.Grants ?? []).flatMap((g) => (g.Grantee?.Type === 'Group' && g.Grantee.URI ? [g.Grantee.URI] : []));
  }

  /** Bucket reachable, then write, read back and delete a probe object under the root path (see connectionTest.ts). */
  testConnection(o: CallOptions = {}): Promise<ConnectionReport> {
    return testConnection(this, o.signal);
  }

  /** What strangers can do under the root path, checked without writing (see anonymousAccess.ts). */
  checkAnonymousAccess(o: CallOptions = {}): Promise<AnonymousAccess> {
    return checkAnonymousAccess(this, { signal: o.signal });
  }

  /** Closes the connections; the store must not be used afterwards. */
  destroy(): void {
    this.clientCache?.destroy();
    this.singleAttemptClientCache?.destroy();
    this.clientCache = undefined;
    this.singleAttemptClientCache = undefined;
  }
}

/**
 * A response body copied chunk by chunk, as it arrives, into one buffer of
 * `want` bytes: no whole-body concatenation and copy on the caller's thread
 * at the end (the SDK's transformToByteArray does both, 20-40 ms for 8 MiB).
 * `length` is what the server sent (reading stops past `want`).
 */
async function readBodyInto(stream: Readable, want: number, into?: Buffer): Promise<{ body: Buffer; length: number }> {
  const body = into && into.length >= want ? into.subarray(0, want) : Buffer.allocUnsafe(want);
  let length = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (length + chunk.length > want) {
      stream.destroy();
      return { body, length: length + chunk.length };
    }
    body.set(chunk, length);
    length += chunk.length;
  }
  return { body: body.subarray(0, length), length };
}
