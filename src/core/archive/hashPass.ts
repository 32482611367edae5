import { createHash, type Hash } from 'crypto';
import * as fs from 'fs';
import * as zlib from 'zlib';
import type { ProgressListener } from '../util/progress';
import type { WorkerPool } from '../util/workerPool';
import { compressedByName } from '../util/methodChoice';
import { fromWorkerError } from '../util/workerError';
import { READ_BIG, READ_FAILED, READ_KEEP, READ_MAY_DEFLATE, type ReadBatchReply, type ReadBatchRequest } from '../workers/messages';
import { chooseMethod, DEFAULT_LEVEL, sampleOf } from './compression';
import { COPIED_BELOW } from './zipWriter';
import { EMPTY, OPEN_FLAGS, PARALLEL, PIECE_SIZE, SMALL_FILE, toIoError, type ArchiveSource, type Entry, type Piece } from './entries';

// Small files the hashing pass read are kept for the archive pass, up to this
// much: the bytes archived are then exactly the bytes hashed, and not read twice.
export const CACHE_BYTES = 48 * 1024 * 1024;
// Small files go to the worker threads in batches of up to this many files
// and bytes: one message per batch, not two per file.
const BATCH_FILES = 128;
const BATCH_BYTES = 2 * 1024 * 1024;

// The batch buffers that came from a worker thread: the only ones ever
// released early (a Buffer's ArrayBuffer may be Node's shared pool).
const fromThreads = new WeakSet<ArrayBuffer>();

interface HashResult {
  cached?: Buffer;
  crc32: number;
  size: number;
  sha256: string;
  sample: Buffer;
  mtimeMs: number;
  mode: number;
  pieces?: Piece[];
}

/**
 * First pass: size, sha256, crc32 (so every entry's sizes and crc can go in
 * its local header) and a compression decision for every source, a few
 * files at a time; files over PIECE_SIZE also get each piece's hashes.
 */
export async function hashPass(
  sources: ArchiveSource[],
  o: { onProgress?: ProgressListener; level?: number; cache?: { left: number } },
  failed: () => Error | undefined,
  threads: WorkerPool | undefined,
): Promise<Entry[]> {
  const entries: Entry[] = new Array(sources.length);
  const bytesTotal = sources.reduce((a, s) => a + s.size, 0);
  let bytesDone = 0;
  let filesDone = 0;
  let next = 0;
  // Shared with the caller when it hashes in waves and gives back what it packed.
  const cache = o.cache ?? { left: CACHE_BYTES };
  const level = o.level ?? DEFAULT_LEVEL;
  const report = (): void => o.onProgress?.({ phase: 'hash', bytesDone, bytesTotal, filesDone, filesTotal: sources.length });
  const entryOf = (s: ArchiveSource, h: HashResult, method = chooseMethod(s.archivePath, h.sample), packed?: Buffer): Entry => ({
    name: s.archivePath,
    source: s,
    size: h.size,
    sha256: h.sha256,
    method,
    cached: h.cached,
    packed,
    crc32: h.crc32,
    pieces: h.pieces,
    mtimeMs: wholeMs(h.mtimeMs),
    unixMode: h.mode & 0o777,
  });

  // Small files on disk: batches to the worker threads, which read, hash and compress them.
  const batched: number[] = [];
  const single: number[] = [];
  sources.forEach((s, i) => (threads && !s.data && s.size <= SMALL_FILE ? batched : single).push(i));
  const batches: number[][] = [];
  for (let k = 0, bytes = 0; k < batched.length; k++) {
    const i = batched[k];
    if (batches.length === 0 || batches[batches.length - 1].length >= BATCH_FILES || bytes + sources[i].size > BATCH_BYTES) {
      batches.push([]);
      bytes = 0;
    }
    batches[batches.length - 1].push(i);
    bytes += sources[i].size;
  }
  let nextBatch = 0;
  const batchWorker = async (): Promise<void> => {
    while (nextBatch < batches.length) {
      const err = failed();
      if (err) throw err;
      const batch = batches[nextBatch++];
      const replies = await hashBatchOnThread(threads!, batch.map((i) => sources[i]), cache, level);
      for (const [k, r] of replies.entries()) {
        const i = batch[k];
        const s = sources[i];
        if (r.entry) {
          entries[i] = r.entry;
          bytesDone += r.entry.size;
        } else {
          // It grew past SMALL_FILE since the scan: streamed here.
          entries[i] = entryOf(s, await hashFile(s, Buffer.allocUnsafe(SMALL_FILE), cache, (n) => void (bytesDone += n)));
        }
        filesDone++;
      }
      report();
    }
  };
  const worker = async (): Promise<void> => {
    // Only for files read here (big ones, or no worker threads).
    let buf: Buffer | undefined;
    while (next < single.length) {
      const err = failed();
      if (err) throw err;
      const i = single[next++];
      const s = sources[i];
      let h: HashResult;
      if (s.data) {
        h = { size: s.data.length, sha256: createHash('sha256').update(s.data).digest('hex'), crc32: zlib.crc32(s.data) >>> 0, sample: sampleOf(s.data), mtimeMs: s.mtimeMs, mode: s.mode };
        bytesDone += s.data.length;
      } else {
        h = await hashFile(s, (buf ??= Buffer.allocUnsafe(SMALL_FILE)), cache, (n) => {
          const err = failed();
          if (err) throw err;
          bytesDone += n;
          report();
        });
      }
      entries[i] = entryOf(s, h);
      filesDone++;
      report();
    }
  };
  await Promise.all([
    ...Array.from({ length: Math.min(2 * (threads?.size ?? 0), batches.length) }, batchWorker),
    ...Array.from({ length: Math.min(2 * PARALLEL, single.length) }, worker),
  ]);
  return entries;
}

/**
 * A batch of small files read, hashed and (unless stored) compressed on a
 * worker thread; the bytes come back only while the cache budget lasts
 * (the pack writer reads the others again). An entry is missing where a
 * file grew past SMALL_FILE since the scan.
 */
async function hashBatchOnThread(threads: WorkerPool, batch: ArchiveSource[], cache: { left: number }, level: number): Promise<{ entry?: Entry }[]> {
  const opts = new Uint8Array(batch.length);
  batch.forEach((s, k) => {
    const keep = s.size <= cache.left;
    if (keep) cache.left -= s.size;
    opts[k] = (compressedByName(s.archivePath) ? 0 : READ_MAY_DEFLATE) | (keep ? READ_KEEP : 0);
  });
  const request: ReadBatchRequest = { kind: 'readBatch', flags: OPEN_FLAGS, max: SMALL_FILE, level, paths: batch.map((s) => s.absPath!), opts };
  let r: ReadBatchReply;
  try {
    r = await threads.call<ReadBatchReply>(request);
  } catch (e) {
    throw toIoError(e, batch[0].archivePath);
  }
  // Views of the batch's one buffer: no copy per file.
  fromThreads.add(r.data.buffer as ArrayBuffer);
  const data = Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength);
  const sha = Buffer.from(r.sha256.buffer, r.sha256.byteOffset, r.sha256.byteLength);
  return batch.map((s, k) => {
    // What was reserved for this file goes back; what it holds is taken.
    if (opts[k] & READ_KEEP) cache.left += s.size;
    const size = r.size[k];
    if (size === READ_FAILED) {
      const x = r.errors.find((e) => e.index === k)!;
      throw toIoError(fromWorkerError(x), s.archivePath);
    }
    if (size === READ_BIG) return {};
    const packed = r.length[k] >= 0 ? data.subarray(r.offset[k], r.offset[k] + r.length[k]) : undefined;
    if (packed) cache.left -= packed.length;
    return {
      entry: {
        name: s.archivePath,
        source: s,
        size,
        sha256: sha.toString('hex', 32 * k, 32 * k + 32),
        method: r.method[k] === 8 ? 'deflate' : 'store',
        packed,
        crc32: r.crc32[k],
        mtimeMs: wholeMs(s.mtimeMs),
        unixMode: s.mode & 0o777,
      },
    };
  });
}

/**
 * The worker threads' batch buffers behind `entries` (a whole wave: a batch
 * never spans two) that can go once the entries are packed: each of their
 * views short enough that the pack's sink copies it (COPIED_BELOW). A batch
 * with a longer one is left to the garbage collector: that view may still
 * wait in the upload's stream. Taken before any view is dropped.
 */
export function releasableBytes(entries: readonly (Entry | undefined)[]): ArrayBuffer[] {
  const copied = new Map<ArrayBuffer, boolean>();
  for (const e of entries) {
    const view = e?.packed;
    const buffer = view?.buffer as ArrayBuffer | undefined;
    if (!view || !buffer || !fromThreads.has(buffer)) continue;
    copied.set(buffer, (copied.get(buffer) ?? true) && view.length < COPIED_BELOW);
  }
  return [...copied].filter(([, all]) => all).map(([buffer]) => buffer);
}

/**
 * Frees `buffers` now: their memory moves to a clone that nobody keeps (a
 * transfer, no copy), young, gone at the next minor collection. A batch's
 * buffer outlives two of those while its wave is hashed and packed, so it
 * otherwise waited for a full collection: 100,000 files left up to ~36 MiB of
 * them behind (peak RSS 329-338 MiB where a full collection came late, against
 * 272-287). Any view of them left is empty after.
 */
export function releaseBytes(buffers: ArrayBuffer[]): void {
  if (buffers.length > 0) structuredClone(buffers, { transfer: buffers });
}

/** A file time as the archive holds it: whole milliseconds, 0 for what is not a time. */
function wholeMs(ms: number): number {
  return Number.isFinite(ms) ? Math.round(ms) : 0;
}

async function hashFile(s: ArchiveSource, buf: Buffer, cache: { left: number }, onRead: (n: number) => void): Promise<HashResult> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(s.absPath!, OPEN_FLAGS);
  } catch (e) {
    throw toIoError(e, s.archivePath);
  }
  try {
    // The scan's size, time and mode describe the file; what is read now is its content.
    const hash = createHash('sha256');
    let crc = 0;
    let size = 0;
    let sample: Buffer | undefined;
    let cached: Buffer | undefined;
    const pieces = s.size > PIECE_SIZE ? new PieceHasher() : undefined;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      if (!sample) {
        sample = sampleOf(chunk);
        if (bytesRead < buf.length && bytesRead <= cache.left) {
          cached = Buffer.from(chunk);
          cache.left -= bytesRead;
        }
      }
      hash.update(chunk);
      crc = zlib.crc32(chunk, crc);
      pieces?.update(chunk);
      size += bytesRead;
      onRead(bytesRead);
      // A short read of a regular file is its end: saves one call per small file.
      if (bytesRead < buf.length && size <= SMALL_FILE) break;
    }
    return { size, sha256: hash.digest('hex'), crc32: crc >>> 0, sample: sample ?? EMPTY, mtimeMs: s.mtimeMs, mode: s.mode, cached, pieces: pieces?.finish() };
  } catch (e) {
    throw toIoError(e, s.archivePath);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** The sha256 and crc32 of each PIECE_SIZE piece of a stream, in the same pass as the whole file's. */
class PieceHasher {
  private readonly done: Piece[] = [];
  private hash: Hash = createHash('sha256');
  private crc = 0;
  private start = 0;
  private filled = 0;

  update(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, PIECE_SIZE - this.filled);
      const part = chunk.subarray(off, off + n);
      this.hash.update(part);
      this.crc = zlib.crc32(part, this.crc);
      this.filled += n;
      off += n;
      if (this.filled === PIECE_SIZE) this.close();
    }
  }

  finish(): Piece[] {
    if (this.filled > 0) this.close();
    return this.done;
  }

  private close(): void {
    this.done.push({ start: this.start, size: this.filled, sha256: this.hash.digest('hex'), crc32: this.crc >>> 0 });
    this.start += this.filled;
    this.filled = 0;
    this.crc = 0;
    this.hash = createHash('sha256');
  }
}
