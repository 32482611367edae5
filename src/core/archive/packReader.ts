// Reads files of a format-2 backup out of its packs with ranged GETs: never
// a whole pack for one file. Neighbouring small entries of a pack come in one
// request; a big entry is streamed. Every file is checked against the
// manifest (each piece's size and crc32, the file's sha256) before it is
// created (or handed over), so a damaged or hostile pack writes nothing.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Transform, Writable, type Readable } from 'stream';
import { pipeline } from 'stream/promises';
import * as zlib from 'zlib';
import { packKey } from '../format/packKeys';
import { printable, type Manifest, type ManifestFile, type PieceRef } from '../format/manifest';
import { BackupError, CancelledError, throwIfAborted } from '../util/engineErrors';
import { FirstFailure } from '../util/firstFailure';
import type { ProgressListener } from '../util/progress';
import { testPause } from '../util/testPause';
import { sortSliced, yieldIfDue } from '../util/timeSlice';
import { wholeBufferInflate } from '../util/deflateWindow';
import { fromWorkerError } from '../util/workerError';
import { WorkerPool } from '../util/workerPool';
import { ENTRY_CHMOD, type EntryBatchReply, type EntryBatchRequest } from '../workers/messages';
import { checkFailure, integrity } from './readerErrors';

/** The store operations reading packs needs (S3Store's). */
export interface PackSource {
  /**
   * `allowShort`: the object may end before `end` (encrypted chunks are read whole; the last one is shorter).
   * `into`: a buffer at least as long as the range that the bytes may be read into (the result is then a view of
   * it); the caller keeps it until it is done with the result.
   */
  getRange(key: string, start: number, end: number, o?: { signal?: AbortSignal; allowShort?: boolean; into?: Buffer }): Promise<Buffer>;
  getRangeStream(key: string, start: number, end: number, o?: { signal?: AbortSignal }): Promise<Readable>;
}

/**
 * `src`, with a pack the bucket does not have reported as what it means for
 * a restore: the backup is incomplete (a pack deleted by hand, or a planted
 * manifest naming one that never was), not "an object was not found".
 */
export function reportingMissingPacks(src: PackSource): PackSource {
  const missing = (key: string) => (e: unknown): never => {
    if (e instanceof BackupError && e.code === 'NotFound') {
      throw new BackupError('Integrity', `The backup is incomplete: its data file "${printable(key)}" is missing from the bucket.`, 'Restore another backup; a new backup stores the files again.', {
        cause: e,
        params: { key: printable(key), detail: 'pack missing' },
      });
    }
    throw e;
  };
  return {
    getRange: (key, start, end, o) => src.getRange(key, start, end, o).catch(missing(key)),
    getRangeStream: (key, start, end, o) => src.getRangeStream(key, start, end, o).catch(missing(key)),
  };
}

/** What to do with each file read. */
export type PackSink =
  | { kind: 'file'; dest: (f: ManifestFile) => string | undefined; setMeta: boolean; modeOf?: (f: ManifestFile, umask: number) => number }
  | { kind: 'check' }
  | { kind: 'memory' };

// Entries up to this size (stored and unpacked) are read in one go and checked on a worker thread.
const ONE_SHOT = 4 * 1024 * 1024;
// Neighbours closer than this are read with the gap: one request costs more than 256 KiB on a LAN or a fast link.
const MAX_GAP = 256 * 1024;
// One ranged GET at most this long. Staging many small files is bound by
// creating them, not by the downloads: ranges of 8 MiB held 25-30 MiB more at
// the peak of a 100,000-file restore than 4 MiB, and 4 MiB ~12 MiB more than
// 2 MiB (30,000 files: ~17 MiB), none of them faster.
const MAX_RANGE = 2 * 1024 * 1024;
const PARALLEL_GETS = 4;
// Downloaded and not yet written: three ranges (48 MiB instead of 24 held
// ~25 MiB more at that peak for no time gained either).
const IN_FLIGHT_BYTES = 3 * MAX_RANGE;
// Ranges this long or longer are read into buffers reused from range to range (RangeBuffers).
const REUSED_RANGE = 1024 * 1024;

/**
 * The download buffers of the ranges handed to the entry workers, reused:
 * every byte of such a range is copied out (into each folder's batch) before
 * the next range may take its buffer. A fresh 8 MiB buffer a range outlived
 * the young generation and was freed only by a full collection: 100,000
 * small files held 45-70 MiB of them at the restore's peak.
 */
class RangeBuffers {
  private readonly free: Buffer[] = [];

  /** A buffer for a range of `bytes`, with the call that gives it back (once; later calls do nothing). Undefined for a short range. */
  lease(bytes: number): { buffer: Buffer; release: () => void } | undefined {
    if (bytes < REUSED_RANGE || bytes > MAX_RANGE) return undefined;
    const buffer = this.free.pop() ?? Buffer.allocUnsafeSlow(MAX_RANGE);
    let held = true;
    return {
      buffer,
      release: () => {
        if (held) this.free.push(buffer);
        held = false;
      },
    };
  }
}

interface Small {
  file: ManifestFile;
  ref: PieceRef;
}

interface Range {
  pack: number;
  start: number;
  end: number;
  items: Small[];
}

/** Groups single-piece small files into ranges per pack, in offset order. */
async function rangesOf(files: ManifestFile[]): Promise<Range[]> {
  const byPack = new Map<number, Small[]>();
  for (let i = 0; i < files.length; i++) {
    if (i % 1024 === 0) await yieldIfDue();
    const f = files[i];
    const ref = f.refs![0];
    const list = byPack.get(ref[0]);
    if (list) list.push({ file: f, ref });
    else byPack.set(ref[0], [{ file: f, ref }]);
  }
  const ranges: Range[] = [];
  for (const [pack, items] of byPack) {
    // Up to 20,000 entries a pack, sorted and walked with turns of the event loop.
    await yieldIfDue();
    await sortSliced(items, (a, b) => a.ref[1] - b.ref[1]);
    let cur: Range | undefined;
    for (let k = 0; k < items.length; k++) {
      if ((k & 1023) === 1023) await yieldIfDue();
      const it = items[k];
      const start = it.ref[1];
      const end = start + it.ref[2] - 1;
      if (cur && start - cur.end - 1 <= MAX_GAP && end - cur.start + 1 <= MAX_RANGE && start > cur.end) {
        cur.end = end;
        cur.items.push(it);
      } else {
        cur = { pack, start, end, items: [it] };
        ranges.push(cur);
      }
    }
  }
  return ranges;
}

function currentUmask(): number {
  // Reading the umask means setting it; put it straight back. Assume the strictest where unavailable (worker threads).
  try {
    const m = process.umask(0o022);
    process.umask(m);
    return m;
  } catch {
    return 0o777;
  }
}

/** One folder's entries of a range (`buf`, which starts at pack offset `start`) as one message for the entry worker. */
function entryBatch(
  buf: Buffer,
  start: number,
  items: readonly Small[],
  dests: readonly string[],
  meta: (f: ManifestFile) => { mode: number; chmod: boolean; mtime: number | undefined },
): EntryBatchRequest {
  const n = items.length;
  let bytes = 0;
  for (const { ref } of items) bytes += ref[2];
  const b: EntryBatchRequest['batch'] = {
    raw: new Uint8Array(bytes),
    start: new Float64Array(n + 1),
    method: new Uint8Array(n),
    size: new Float64Array(n),
    crc32: new Uint32Array(n),
    sha256: '',
    dest: dests.join('\0'),
    mode: new Uint32Array(n),
    flags: new Uint8Array(n),
    mtime: new Float64Array(n),
  };
  const shas: string[] = new Array(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const { file, ref } = items[i];
    b.raw.set(buf.subarray(ref[1] - start, ref[1] - start + ref[2]), at);
    b.start[i] = at;
    at += ref[2];
    b.method[i] = ref[3];
    b.size[i] = ref[5];
    b.crc32[i] = ref[4];
    // The manifest's parser let only 64 hex digits through; the worker slices by that length.
    if (file.sha256.length !== 64) throw integrity('The backup\'s list of files is damaged.', file.path, 'sha256');
    shas[i] = file.sha256;
    if (dests.length > 0) {
      const m = meta(file);
      b.mode[i] = m.mode;
      b.flags[i] = m.chmod ? ENTRY_CHMOD : 0;
      b.mtime[i] = m.mtime ?? Number.NaN;
    }
  }
  b.start[n] = at;
  b.sha256 = shas.join('');
  return { batch: b };
}

/**
 * Reads `files` of `manifest` from the packs under `rootPath` into `sink`:
 * files created exclusively at `dest(f)` (with the manifest's mode and mtime
 * when `setMeta`), or only checked, or returned in memory (small files such
 * as app data). Rejects with 'Integrity' naming the first bad file; files
 * created by then stay for the caller to remove (it writes into staging).
 */
export async function readFromPacks(
  src: PackSource,
  rootPath: string,
  manifest: Manifest,
  files: readonly ManifestFile[],
  sink: PackSink,
  o: { signal?: AbortSignal; onProgress?: ProgressListener } = {},
): Promise<Map<string, Buffer>> {
  src = reportingMissingPacks(src);
  const packs = manifest.packs ?? [];
  const keyOf = (pack: number): string => packKey(rootPath, packs[pack]);
  const memory = new Map<string, Buffer>();
  const umask = currentUmask();
  const bytesTotal = files.reduce((n, f) => n + f.size, 0);
  let bytesDone = 0;
  let filesDone = 0;
  const report = (): void => o.onProgress?.({ phase: sink.kind === 'check' ? 'verify' : 'write', bytesDone, bytesTotal, filesDone, filesTotal: files.length });
  const done = (f: ManifestFile): void => {
    bytesDone += f.size;
    filesDone++;
    report();
  };
  const meta = (f: ManifestFile): { mode: number; chmod: boolean; mtime: number | undefined } => {
    const setMeta = sink.kind === 'file' && sink.setMeta;
    const mode = setMeta ? (sink.modeOf ? sink.modeOf(f, umask) : f.mode & 0o777) : 0o600;
    return { mode, chmod: setMeta && (mode & ~umask) !== mode, mtime: setMeta ? Date.parse(f.mtime) / 1000 : undefined };
  };
  report();

  const isSmall = (f: ManifestFile): boolean => f.refs!.length === 1 && f.refs![0][2] > 0 && f.refs![0][2] <= ONE_SHOT && f.size <= ONE_SHOT;
  const small: ManifestFile[] = [];
  const big: ManifestFile[] = [];
  for (let i = 0; i < files.length; i++) {
    if (i % 1024 === 0) await yieldIfDue();
    const f = files[i];
    (f.refs && f.refs.length > 0 && isSmall(f) ? small : big).push(f);
  }
  const pool = sink.kind === 'memory' ? undefined : WorkerPool.create('entryWorker');
  const failure = new FirstFailure();
  try {
    // Small files: ranges fetched a few at a time; each file checked (and written) on a worker thread.
    const ranges = await rangesOf(small);
    let next = 0;
    let inFlight = 0;
    let wake: (() => void) | undefined;
    const pending = new Set<Promise<void>>();
    const buffers = new RangeBuffers();
    const one = async (r: Range): Promise<void> => {
      testPause('download');
      if (sink.kind !== 'memory' && pool) {
        // The download's buffer goes back once the range is read and copied out, or failed (no read is running then).
        const lease = buffers.lease(r.end - r.start + 1);
        try {
          const bytes = await src.getRange(keyOf(r.pack), r.start, r.end, { signal: o.signal, into: lease?.buffer });
          return await onThreads(pool, r, { bytes, release: lease?.release });
        } finally {
          lease?.release();
        }
      }
      const buf = await src.getRange(keyOf(r.pack), r.start, r.end, { signal: o.signal });
      await Promise.all(
        r.items.map(async ({ file, ref }) => {
          throwIfAborted(o.signal);
          const raw = buf.subarray(ref[1] - r.start, ref[1] - r.start + ref[2]);
          const dest = sink.kind === 'file' ? sink.dest(file) : undefined;
          const data = checkInline(file, ref, raw);
          if (sink.kind === 'memory') memory.set(file.path, data);
          else if (dest) await writeWhole(dest, data, meta(file));
          testPause('verify');
          done(file);
        }),
      );
    };
    // A range's entries, one message per folder (the same folder, the same thread): checked, then created.
    const onThreads = async (threads: WorkerPool, r: Range, range: { bytes?: Buffer; release?: () => void }): Promise<void> => {
      const groups = new Map<string, { items: Small[]; dests: string[] }>();
      for (let i = 0; i < r.items.length; i++) {
        if (i % 256 === 0) await yieldIfDue();
        const dest = sink.kind === 'file' ? sink.dest(r.items[i].file) : undefined;
        const key = dest ? path.dirname(dest) : '';
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { items: [], dests: [] }));
        g.items.push(r.items[i]);
        if (dest) g.dests.push(dest);
      }
      const post = async (key: string, g: { items: Small[] }, request: EntryBatchRequest): Promise<void> => {
        // The entries' bytes are copied into one buffer of the group's own and moved to the thread (shared
        // memory would live as long as the threads' garbage collector lets it: 60 MiB more at peak on the 1 GiB restore).
        const transfer = [request.batch.raw.buffer as ArrayBuffer];
        const bad = await (key ? threads.callKeyed<EntryBatchReply>(key, request, transfer) : threads.call<EntryBatchReply>(request, transfer));
        const first = bad[0];
        const ok = first ? first.index : g.items.length;
        for (let k = 0; k < ok; k++) {
          testPause('verify');
          done(g.items[k].file);
        }
        if (first?.error) throw fromWorkerError(first.error);
        if (first?.check) throw checkFailure({ name: g.items[first.index].file.path }, first.check);
      };
      // Posted one by one with turns between: a range of small files is up to a few dozen
      // messages of hundreds of entries each (~60 ms of postMessage at once otherwise).
      const calls: Promise<void>[] = [];
      for (const [key, g] of groups) {
        await yieldIfDue();
        throwIfAborted(o.signal);
        const call = post(key, g, entryBatch(range.bytes!, r.start, g.items, g.dests, meta));
        call.catch(() => undefined);
        calls.push(call);
      }
      // Every group has its copy: the range is let go (a holder, as a parameter would live on in this frame), so
      // what waits for the threads holds each byte once, not twice (up to three ranges are in flight).
      range.bytes = undefined;
      range.release?.();
      await Promise.all(calls);
    };
    while (next < ranges.length && !failure.failed) {
      throwIfAborted(o.signal);
      const r = ranges[next++];
      const cost = r.end - r.start + 1;
      while (pending.size > 0 && (pending.size >= PARALLEL_GETS || inFlight + cost > IN_FLIGHT_BYTES) && !failure.failed) {
        await new Promise<void>((res) => (wake = res));
      }
      if (failure.failed) break;
      inFlight += cost;
      const p: Promise<void> = one(r)
        .catch((e: unknown) => void failure.record(e))
        .finally(() => {
          inFlight -= cost;
          pending.delete(p);
          const w = wake;
          wake = undefined;
          w?.();
        });
      pending.add(p);
    }
    while (pending.size > 0) await Promise.all([...pending]);
    failure.throwIfFailed();

    // Big files, one at a time, each piece streamed from its pack.
    for (const f of big) {
      throwIfAborted(o.signal);
      const dest = sink.kind === 'file' ? sink.dest(f) : undefined;
      if (sink.kind === 'file' && !dest) continue;
      const data = await streamFile(src, keyOf, f, dest, sink.kind === 'memory', meta(f), o.signal, (n) => {
        bytesDone += n;
        report();
      });
      if (data) memory.set(f.path, data);
      testPause('verify');
      filesDone++;
      report();
    }
  } catch (e) {
    if (o.signal?.aborted) throw new CancelledError(o.signal.reason);
    throw e;
  } finally {
    await pool?.close();
  }
  return memory;
}

/** Inflates and checks one small entry on this thread (app data, or no worker threads). */
function checkInline(f: ManifestFile, ref: PieceRef, raw: Buffer): Buffer {
  let data: Buffer;
  try {
    data = ref[3] === 8 ? zlib.inflateRawSync(raw, wholeBufferInflate(ref[5])) : raw;
  } catch (e) {
    const tooBig = (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError;
    throw checkFailure({ name: f.path }, tooBig ? { check: 'big' } : { check: 'damaged', message: (e as Error).message });
  }
  if (data.length !== ref[5]) throw checkFailure({ name: f.path }, { check: data.length > ref[5] ? 'big' : 'small' });
  if (zlib.crc32(data) >>> 0 !== ref[4]) throw checkFailure({ name: f.path }, { check: 'crc32' });
  if (createHash('sha256').update(data).digest('hex') !== f.sha256) throw checkFailure({ name: f.path }, { check: 'sha256' });
  return data;
}

async function writeWhole(dest: string, data: Buffer, m: { mode: number; chmod: boolean; mtime: number | undefined }): Promise<void> {
  const fh = await fs.promises.open(dest, 'wx', m.mode);
  try {
    await fh.writeFile(data);
    if (m.chmod) await fh.chmod(m.mode);
    if (m.mtime !== undefined) await fh.utimes(m.mtime, m.mtime);
  } finally {
    await fh.close();
  }
}

/**
 * Streams a file's pieces in order, each through inflate and its own size
 * and crc32 check, the whole through sha256; into `dest` (created
 * exclusively), or into memory, or nowhere (verify).
 */
async function streamFile(
  src: PackSource,
  keyOf: (pack: number) => string,
  f: ManifestFile,
  dest: string | undefined,
  keep: boolean,
  m: { mode: number; chmod: boolean; mtime: number | undefined },
  signal: AbortSignal | undefined,
  onBytes: (n: number) => void,
): Promise<Buffer | undefined> {
  const name = printable(f.path);
  const hash = createHash('sha256');
  const kept: Buffer[] = [];
  const fh = dest ? await fs.promises.open(dest, 'wx', m.mode) : undefined;
  let total = 0;
  try {
    for (const ref of f.refs ?? []) {
      const [pack, offset, compressedSize, method, crc32, size] = ref;
      let got = 0;
      let crc = 0;
      const check = new Writable({
        highWaterMark: 256 * 1024,
        write(chunk: Buffer, _enc, cb) {
          got += chunk.length;
          if (got > size) return cb(integrity(`"${name}" in the backup is larger than declared.`, f.path, 'size'));
          crc = zlib.crc32(chunk, crc);
          hash.update(chunk);
          onBytes(chunk.length);
          if (keep) kept.push(Buffer.from(chunk));
          if (!fh) return cb();
          fh.write(chunk, 0, chunk.length, total + got - chunk.length).then(() => cb(), cb);
        },
      });
      if (compressedSize > 0) {
        testPause('download');
        const body = await src.getRangeStream(keyOf(pack), offset, offset + compressedSize - 1, { signal });
        const counted = countBytes(compressedSize, name, f.path);
        try {
          await (method === 8 ? pipeline(body, counted, zlib.createInflateRaw({ chunkSize: 64 * 1024 }), check, { signal }) : pipeline(body, counted, check, { signal }));
        } catch (e) {
          if (signal?.aborted) throw new CancelledError(signal.reason);
          if (e instanceof BackupError) throw e;
          throw integrity(`"${name}" in the backup is damaged (${(e as Error).message}).`, f.path, 'data', e);
        }
      } else {
        await new Promise<void>((res, rej) => check.end((e?: Error | null) => (e ? rej(e) : res())));
      }
      if (got !== size) throw integrity(`"${name}" in the backup is smaller than declared.`, f.path, 'size');
      if (crc >>> 0 !== crc32) throw integrity(`"${name}" in the backup is damaged (checksum mismatch).`, f.path, 'crc32');
      total += size;
    }
    if (hash.digest('hex') !== f.sha256) throw integrity(`"${name}" in the backup does not match its recorded checksum.`, f.path, 'sha256');
    if (fh) {
      if (m.chmod) await fh.chmod(m.mode);
      if (m.mtime !== undefined) await fh.utimes(m.mtime, m.mtime);
    }
  } finally {
    await fh?.close();
  }
  return keep ? Buffer.concat(kept) : undefined;
}

/** Passes exactly `expected` bytes through; more or fewer is a damaged pack. */
function countBytes(expected: number, name: string, entry: string): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      if (n > expected) return cb(integrity(`The stored data of "${name}" is longer than the backup says.`, entry, 'size'));
      cb(null, chunk);
    },
    flush(cb) {
      cb(n === expected ? null : integrity(`The stored data of "${name}" is shorter than the backup says.`, entry, 'truncated'));
    },
  });
}
