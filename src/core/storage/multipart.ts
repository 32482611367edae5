import type * as S3 from '@aws-sdk/client-s3';
import type { Readable } from 'stream';
import { CancelledError } from '../util/engineErrors';
import { FirstFailure } from '../util/firstFailure';
import { yieldIfDue } from '../util/timeSlice';

type Sdk = typeof S3;

export interface PartsTarget {
  Bucket: string;
  Key: string;
  ContentType: string;
}

// How long part buffers given back stay for the next upload (a backup's next pack starts within it).
const KEEP_IDLE_MS = 2000;

/**
 * Part buffers shared by the uploads of one store: a backup's next pack takes
 * the ones its last pack gave back. A new set each upload lived as long as
 * its pack (seconds) and was freed only by a full collection: 100,000 small
 * files allocated ~50 MiB of them in five packs. Kept for KEEP_IDLE_MS after
 * the last upload gives them back, then let go (the extension host is shared).
 */
export class PartBuffers {
  private readonly free: Buffer[] = [];
  private idle: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly keep: number) {}

  take(size: number): Buffer {
    const k = this.free.findIndex((b) => b.length === size);
    return k >= 0 ? this.free.splice(k, 1)[0] : Buffer.allocUnsafeSlow(size);
  }

  /** Only once no request reads them any more. */
  give(buffers: readonly Buffer[]): void {
    for (const b of buffers) if (this.free.length < this.keep) this.free.push(b);
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => (this.free.length = 0), KEEP_IDLE_MS);
    this.idle.unref?.();
  }

  get held(): number {
    return this.free.length;
  }
}

/**
 * Streams `body` to one object: a single PutObject when it fits in one part,
 * else a multipart upload with `queueSize` parts in flight. Every request goes
 * through `send` (S3Store's, which adds the abort signal, the single-PUT
 * fallback and the last existence check before completing).
 *
 * Parts are gathered into `queueSize + 1` buffers that are reused from part to
 * part (and, through `buffers`, from upload to upload). lib-storage, which
 * this replaces, gathers each part with one Buffer.concat into a new buffer; on a virtual machine the first touch of a
 * new 5 MiB buffer costs 20-60 ms of the caller's thread, a stall each part.
 *
 * Rejects with the first request's error (or CancelledError once `signal`
 * aborts); the caller cleans up pending uploads. Never leaves a request
 * running: it waits for every part it started.
 */
export async function sendParts(
  send: (command: unknown) => Promise<unknown>,
  s3: Sdk,
  target: PartsTarget,
  body: Readable,
  o: { partSize: number; queueSize: number; signal: AbortSignal; onProgress?: (bytesSent: number) => void; buffers?: PartBuffers },
): Promise<void> {
  const { partSize, queueSize, signal } = o;
  const free: Buffer[] = [];
  // Every part buffer this upload took: given back (o.buffers) once nothing sends.
  const mine: Buffer[] = [];
  let wake: (() => void) | undefined;
  const running = new Set<Promise<void>>();
  const parts: { PartNumber: number; ETag?: string }[] = [];
  let created: Promise<string> | undefined;
  let sent = 0;

  // An abort or a failed part ends the read of the body at once, even while it waits for data.
  const stop = (): void => void body.destroy(new CancelledError(signal.reason));
  const failure = new FirstFailure(stop);
  if (signal.aborted) stop();
  else signal.addEventListener('abort', stop, { once: true });

  const take = async (): Promise<Buffer> => {
    while (free.length === 0 && mine.length > queueSize && !failure.failed) await new Promise<void>((r) => (wake = r));
    failure.throwIfFailed();
    if (free.length) return free.pop()!;
    const b = o.buffers?.take(partSize) ?? Buffer.allocUnsafeSlow(partSize);
    mine.push(b);
    return b;
  };
  const release = (b: Buffer): void => {
    free.push(b);
    const w = wake;
    wake = undefined;
    w?.();
  };

  const startPart = (buffer: Buffer, length: number): void => {
    const PartNumber = parts.length + 1;
    const part: { PartNumber: number; ETag?: string } = { PartNumber };
    parts.push(part);
    const data = buffer.subarray(0, length);
    const p: Promise<void> = (async () => {
      created ??= (send(new s3.CreateMultipartUploadCommand(target)) as Promise<S3.CreateMultipartUploadCommandOutput>).then((out) => out.UploadId ?? '');
      const UploadId = await created;
      const out = (await send(
        new s3.UploadPartCommand({ Bucket: target.Bucket, Key: target.Key, UploadId, PartNumber, Body: data, ContentLength: length }),
      )) as S3.UploadPartCommandOutput;
      part.ETag = out.ETag;
      sent += length;
      o.onProgress?.(sent);
    })()
      .catch((e: unknown) => {
        failure.record(e);
      })
      .finally(() => {
        running.delete(p);
        release(buffer);
      });
    running.add(p);
  };

  try {
    let buf = await take();
    let filled = 0;
    try {
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        // A body that is already buffered is read without a turn of the event loop: give it one now and then.
        await yieldIfDue();
        let off = 0;
        while (off < chunk.length) {
          if (filled === partSize) {
            startPart(buf, filled);
            buf = await take();
            filled = 0;
          }
          const n = Math.min(chunk.length - off, partSize - filled);
          buf.set(chunk.subarray(off, off + n), filled);
          filled += n;
          off += n;
        }
      }
    } catch (e) {
      throw failure.failed ? failure.error : e;
    }
    if (parts.length === 0) {
      // One part's worth or less: one request, as lib-storage does.
      await send(new s3.PutObjectCommand({ ...target, Body: buf.subarray(0, filled), ContentLength: filled, IfNoneMatch: '*' }));
      o.onProgress?.(filled);
      return;
    }
    if (filled > 0) startPart(buf, filled);
    while (running.size > 0) await Promise.all([...running]);
    failure.throwIfFailed();
    await send(
      new s3.CompleteMultipartUploadCommand({
        Bucket: target.Bucket,
        Key: target.Key,
        UploadId: await created!,
        MultipartUpload: { Parts: parts.map((x) => ({ PartNumber: x.PartNumber, ETag: x.ETag })) },
        IfNoneMatch: '*',
      }),
    );
  } finally {
    signal.removeEventListener('abort', stop);
    // Nothing may still be sending once this returns or throws; then the buffers are free for the next upload.
    while (running.size > 0) await Promise.all([...running]);
    o.buffers?.give(mine);
  }
}
