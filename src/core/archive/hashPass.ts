import { createHash, type Hash } from 'crypto';
import * as fs from 'fs';
import * as zlib from 'zlib';
import type { ProgressListener } from '../util/progress';
import type { WorkerPool } from '../util/workerPool';
import type { ReadReply, ReadRequest } from '../workers/messages';
import { chooseMethod, sampleOf } from './compression';
import { EMPTY, OPEN_FLAGS, PARALLEL, PIECE_SIZE, SMALL_FILE, toIoError, type ArchiveSource, type Entry, type Piece } from './entries';

// Small files the hashing pass read are kept for the archive pass, up to this
// much: the bytes archived are then exactly the bytes hashed, and not read twice.
const CACHE_BYTES = 64 * 1024 * 1024;

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
  o: { onProgress?: ProgressListener },
  failed: () => Error | undefined,
  threads: WorkerPool | undefined,
): Promise<Entry[]> {
  const entries: Entry[] = new Array(sources.length);
  const bytesTotal = sources.reduce((a, s) => a + s.size, 0);
  let bytesDone = 0;
  let filesDone = 0;
  let next = 0;
  const cache = { left: CACHE_BYTES };
  const report = (): void => o.onProgress?.({ phase: 'hash', bytesDone, bytesTotal, filesDone, filesTotal: sources.length });
  const worker = async (): Promise<void> => {
    // Only for files read here (big ones, or no worker threads).
    let buf: Buffer | undefined;
    while (next < sources.length) {
      const err = failed();
      if (err) throw err;
      const i = next++;
      const s = sources[i];
      let h: HashResult;
      let thread: HashResult | undefined;
      if (s.data) {
        h = { size: s.data.length, sha256: createHash('sha256').update(s.data).digest('hex'), crc32: zlib.crc32(s.data) >>> 0, sample: sampleOf(s.data), mtimeMs: s.mtimeMs, mode: s.mode };
        bytesDone += s.data.length;
      } else if (threads && s.size <= SMALL_FILE && (thread = await hashOnThread(threads, s, cache))) {
        h = thread;
        bytesDone += h.size;
        report();
      } else {
        h = await hashFile(s, (buf ??= Buffer.allocUnsafe(SMALL_FILE)), cache, (n) => {
          const err = failed();
          if (err) throw err;
          bytesDone += n;
          report();
        });
      }
      entries[i] = {
        name: s.archivePath,
        source: s,
        size: h.size,
        sha256: h.sha256,
        method: chooseMethod(s.archivePath, h.sample),
        cached: h.cached,
        crc32: h.crc32,
        pieces: h.pieces,
        date: new Date(Number.isFinite(h.mtimeMs) ? Math.round(h.mtimeMs) : 0),
        unixMode: h.mode & 0o777,
      };
      filesDone++;
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.min(2 * PARALLEL, Math.max(1, sources.length)) }, worker));
  return entries;
}

// Runs on worker threads (see threads.ts): reads a small file whole with
// synchronous calls and hashes it, one message instead of three thread-pool
// round trips (open, read, close) and the hashing on the caller's thread;

/** A small file hashed on a worker thread; undefined when it grew past SMALL_FILE (the caller streams it). */
async function hashOnThread(threads: WorkerPool, s: ArchiveSource, cache: { left: number }): Promise<HashResult | undefined> {
  let r: ReadReply;
  try {
    const request: ReadRequest = { kind: 'read', path: s.absPath!, flags: OPEN_FLAGS, max: SMALL_FILE };
    r = await threads.call<ReadReply>(request);
  } catch (e) {
    throw toIoError(e, s.archivePath);
  }
  if ('big' in r) return undefined;
  const data = Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength);
  let cached: Buffer | undefined;
  if (data.length <= cache.left) {
    cached = data;
    cache.left -= data.length;
  }
  return { size: data.length, sha256: r.sha256, crc32: r.crc32, sample: sampleOf(data), mtimeMs: s.mtimeMs, mode: s.mode, cached };
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
