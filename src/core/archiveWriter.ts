import { createHash } from 'crypto';
import { once } from 'events';
import * as fs from 'fs';
import * as path from 'path';
import { PassThrough, type Readable } from 'stream';
import { promisify } from 'util';
import * as zlib from 'zlib';
import { BackupError, CancelledError } from './errors';
import { MANIFEST_NAME, FORMAT_VERSION, serializeManifest, printable, type Manifest, type ManifestFile, type ManifestMeta } from './manifest';
import { archivePathProblem } from './paths';
import { Threads } from './threads';
import type { ProgressListener } from './progress';

export interface ArchiveSource {
  /** POSIX path inside the archive, e.g. `workspace/app/src/index.ts`. */
  archivePath: string;
  /** Read from disk (twice: hashed first, then archived) ... */
  absPath?: string;
  /** ... or taken from memory (app data). */
  data?: Buffer;
  size: number;
  mtimeMs: number;
  mode: number;
}

/** The ZIP format without ZIP64, which is what jszip writes. */
export const MAX_ENTRIES = 65535;
export const MAX_ARCHIVE_BYTES = 0xffffffff;

// zlib level 4 (lazy matching) is ~1.03x the size of level 6 on source code
// at 60-85% of its CPU: a backup is mostly waiting on compression.
export const DEFAULT_LEVEL = 4;
// Four slices of this size, spread over the first read, make a file's sample.
const SAMPLE_SLICE = 4 * 1024;
// Above this many bits per byte, Huffman coding alone cannot save 5%: the
// data is already compressed (or random) and is stored. Measured on the
// content, not the name, so a .txt of random bytes is stored and a .bin of
// text deflated. A random sample of 16 KiB measures ~7.99, one of 1 KiB ~7.8.
const STORE_ENTROPY = 7.6;
// Files up to this size are read whole and deflated in one thread-pool call.
const SMALL_FILE = 1024 * 1024;
// Small files the hashing pass read are kept for the archive pass, up to this
// much: the bytes archived are then exactly the bytes hashed, and not read twice.
const CACHE_BYTES = 64 * 1024 * 1024;
const READ_CHUNK = 256 * 1024;
// Compressed output waiting for jszip, summed over the files read ahead.
const READ_AHEAD_BYTES = 16 * 1024 * 1024;
// One big file's compressed output waiting for jszip.
const JOB_QUEUE_BYTES = 4 * 1024 * 1024;
// Above libuv's default pool (4) nothing runs faster; below it the pool idles.
const PARALLEL = Math.max(2, Number(process.env.UV_THREADPOOL_SIZE) || 4);

// Formats that are already compressed: stored without even trying a sample.
const COMPRESSED_EXT = new Set(
  (
    'zip gz tgz bz2 tbz2 xz txz zst lz4 lzma 7z rar br jar war apk aar ipa vsix whl nupkg crx xpi ' +
    'docx xlsx pptx odt ods odp epub jpg jpeg png gif webp avif heic heif jxl ' +
    'mp3 mp4 m4a m4v aac mov mkv webm ogg oga ogv opus flac wma wmv avi woff woff2 dmg'
  ).split(' '),
);

const deflateRaw = promisify(zlib.deflateRaw) as (buf: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>;

// --- jszip internals (see the design note in writeArchive) ------------------

interface JsChunk {
  data: Buffer;
  meta: { percent: number };
}
interface JsWorker {
  streamInfo: Record<string, unknown>;
  isPaused: boolean;
  isFinished: boolean;
  push(chunk: JsChunk): void;
  end(): boolean;
  error(e: Error): boolean;
  resume(): boolean;
  pause(): boolean;
  withStreamInfo(key: string, value: unknown): JsWorker;
}
interface JsCompression {
  magic: string;
}
/* eslint-disable @typescript-eslint/no-require-imports */
const JSZip = require('jszip') as typeof import('jszip');
const GenericWorker = require('jszip/lib/stream/GenericWorker') as new (name: string) => JsWorker;
const CompressedObject = require('jszip/lib/compressedObject') as new (
  compressedSize: number,
  uncompressedSize: number,
  crc32: number,
  compression: JsCompression,
  data: unknown,
) => { compression: JsCompression; getCompressedWorker(): JsWorker };
/* eslint-enable @typescript-eslint/no-require-imports */

const STORE: JsCompression = { magic: '\x00\x00' };
const DEFLATE: JsCompression = { magic: '\x08\x00' };

type Method = 'store' | 'deflate';

interface Entry {
  name: string;
  source?: ArchiveSource;
  data?: Buffer;
  /** The content as hashed (small files, while the cache budget lasts). */
  cached?: Buffer;
  /** crc32 of `cached`, when the hashing pass computed it. */
  crc32?: number;
  size: number;
  sha256?: string;
  method: Method;
  date: Date;
  unixMode: number;
}

/**
 * Refuses up front what a ZIP without ZIP64 cannot hold: more than 65,535
 * entries (the manifest is one), a file of 4 GiB or more, or an archive that
 * could reach 4 GiB. Throws `BackupError` 'TooLarge'.
 */
export function checkArchiveLimits(sources: readonly Pick<ArchiveSource, 'archivePath' | 'size'>[]): void {
  const hint = 'Back up fewer files (exclude large or generated folders), or split the backup.';
  if (sources.length + 1 > MAX_ENTRIES) {
    throw new BackupError('TooLarge', `The backup would hold ${sources.length} files; a backup can hold at most ${MAX_ENTRIES - 1}.`, hint, {
      params: { files: sources.length, limit: MAX_ENTRIES - 1 },
    });
  }
  let bound = 64 * 1024; // the manifest's own entry, roughly
  for (const s of sources) {
    if (s.size >= MAX_ARCHIVE_BYTES) {
      throw new BackupError('TooLarge', `"${printable(s.archivePath)}" is 4 GiB or larger; a backup cannot hold files that large.`, hint, {
        params: { entry: s.archivePath, size: s.size, limit: MAX_ARCHIVE_BYTES },
      });
    }
    // Headers, data descriptor, central record and the manifest line; deflate's worst case adds ~0.03%.
    const name = Buffer.byteLength(s.archivePath);
    bound += s.size + Math.ceil(s.size / 2048) + 2 * name + 300;
  }
  if (bound >= MAX_ARCHIVE_BYTES) {
    throw new BackupError('TooLarge', 'The backup would be 4 GiB or larger; a backup can hold at most 4 GiB.', hint, {
      params: { bytes: bound, limit: MAX_ARCHIVE_BYTES },
    });
  }
}

/**
 * Writes one ZIP archive: `manifest.json` first, then every source. Returns at
 * once; `stream` starts producing after a first pass has hashed every file
 * (the manifest needs the checksums). Files are deflated by Node's native zlib
 * on libuv's thread pool, several at a time, never on the calling thread;
 * files that do not compress are stored. A file that changed between the two
 * passes fails the archive with 'SourceChanged'. The container is jszip's.
 *
 * Errors (and an abort) destroy `stream` and reject `manifest` and `done`.
 */
export function writeArchive(
  sources: ArchiveSource[],
  meta: ManifestMeta,
  o: { signal?: AbortSignal; onProgress?: ProgressListener; /** zlib level 1-9 for files that compress. */ level?: number } = {},
): { stream: Readable; manifest: Promise<Manifest>; done: Promise<void> } {
  checkArchiveLimits(sources);
  const seen = new Set<string>();
  for (const s of sources) {
    const problem = archivePathProblem(s.archivePath);
    // jszip keeps entries in an object: integer-like keys would jump ahead of the manifest.
    const intLike = /^(0|[1-9]\d{0,9})$/.test(s.archivePath);
    if (problem || intLike || s.archivePath === MANIFEST_NAME || seen.has(s.archivePath)) {
      const why = problem ?? (seen.has(s.archivePath) ? 'it is listed twice' : 'the name is reserved');
      throw new BackupError('UnsafeArchive', `"${printable(s.archivePath)}" cannot be stored in a backup: ${why}.`, 'Rename the file or exclude it.', {
        params: { entry: printable(s.archivePath), detail: why },
      });
    }
    if (!s.absPath && !s.data) throw new TypeError(`archive source ${s.archivePath} has neither absPath nor data`);
    seen.add(s.archivePath);
  }

  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  let failed: Error | undefined;
  let finished = false;
  let resolveManifest!: (m: Manifest) => void;
  let rejectManifest!: (e: Error) => void;
  let resolveDone!: () => void;
  let rejectDone!: (e: Error) => void;
  const manifest = new Promise<Manifest>((res, rej) => ((resolveManifest = res), (rejectManifest = rej)));
  const done = new Promise<void>((res, rej) => ((resolveDone = res), (rejectDone = rej)));
  // The caller may only watch the stream; an unobserved rejection must not crash the process.
  manifest.catch(() => undefined);
  done.catch(() => undefined);
  let pipeline: Pipeline | undefined;
  // Small files are read, hashed and deflated on worker threads; gone once the archive is written or failed.
  const threads = sources.some((s) => s.absPath && !s.data && s.size <= SMALL_FILE) ? Threads.create(FILE_THREAD) : undefined;
  const closeThreads = (): void => void threads?.close();
  done.then(closeThreads, closeThreads);

  const fail = (e: unknown): void => {
    if (failed || finished) return;
    failed = e instanceof Error ? e : new Error(String(e));
    pipeline?.cancel(failed);
    rejectManifest(failed);
    rejectDone(failed);
    out.destroy(failed);
  };
  const onAbort = (): void => fail(new CancelledError(o.signal?.reason));
  if (o.signal?.aborted) {
    queueMicrotask(onAbort);
  } else {
    o.signal?.addEventListener('abort', onAbort, { once: true });
  }
  out.on('close', () => {
    o.signal?.removeEventListener('abort', onAbort);
    if (!finished) fail(new CancelledError('the archive stream was closed early'));
  });

  const run = async (): Promise<void> => {
    const entries = await hashPass(sources, o, () => failed, threads);
    if (failed) return;
    const files: ManifestFile[] = entries.map((e) => ({
      path: e.name,
      size: e.size,
      mtime: e.date.toISOString(),
      mode: e.unixMode & 0o777,
      sha256: e.sha256!,
    }));
    const m: Manifest = { ...meta, format: FORMAT_VERSION, files, totals: { files: files.length, bytes: files.reduce((a, f) => a + f.size, 0) } };
    checkArchiveLimits(entries.map((e) => ({ archivePath: e.name, size: e.size })));
    const manifestData = serializeManifest(m);
    const created = new Date(meta.created);
    const all: Entry[] = [
      { name: MANIFEST_NAME, data: manifestData, size: manifestData.length, method: 'deflate', date: Number.isNaN(created.getTime()) ? new Date() : created, unixMode: 0o644 },
      ...entries,
    ];
    resolveManifest(m);

    pipeline = new Pipeline(all, fail, o.onProgress, m.totals.bytes, Math.min(9, Math.max(1, Math.round(o.level ?? DEFAULT_LEVEL))), threads);
    const zip = new JSZip();
    for (let i = 0; i < all.length; i++) {
      // ~10 µs an entry: let the event loop breathe between slices of a big selection.
      if (i % 256 === 255) {
        await new Promise<void>((r) => setImmediate(r));
        if (failed) return;
      }
      const e = all[i];
      zip.file(e.name, new NativeCompressed(pipeline.jobs[i]) as unknown as Buffer, {
        binary: true,
        compression: e.method === 'deflate' ? 'DEFLATE' : 'STORE',
        createFolders: false,
        date: dosSafeDate(e.date),
        unixPermissions: 0o100000 | (e.unixMode & 0o777),
      });
    }
    const zstream = zip.generateNodeStream({ type: 'nodebuffer', streamFiles: true, platform: 'UNIX', compression: 'STORE' });
    zstream.on('error', (e: Error) => fail(e));
    zstream.on('end', () => {
      if (failed) return;
      finished = true;
      resolveDone();
    });
    zstream.pipe(out);
  };
  run().catch(fail);
  return { stream: out, manifest, done };
}

/**
 * jszip hands a `CompressedObject` whose compression matches the entry's
 * straight to the zip writer (`ZipObject._compressWorker`): its worker's
 * chunks become the entry's data and its streamInfo the crc and sizes, which
 * `streamFiles` writes in a data descriptor after the data. So the bytes
 * arrive already deflated by native zlib, and only when jszip reaches the entry.
 */
class NativeCompressed extends CompressedObject {
  constructor(private readonly job: Job) {
    // NaN, not 0: jszip swaps an empty CompressedObject for "" and would skip our checks.
    super(0, Number.NaN, 0, job.entry.method === 'deflate' ? DEFLATE : STORE, null);
  }

  override getCompressedWorker(): JsWorker {
    return new EntryWorker(this.job);
  }
}

/** jszip's view of one entry: drains the job's queue at jszip's pace (pause/resume is its back-pressure). */
class EntryWorker extends GenericWorker {
  private scheduled = false;

  constructor(private readonly job: Job) {
    super('S3BackupEntry');
    this.withStreamInfo('compression', job.entry.method === 'deflate' ? DEFLATE : STORE);
  }

  override resume(): boolean {
    if (!super.resume()) return false;
    this.job.pipeline.consumerAt(this.job.index);
    this.schedule();
    return true;
  }

  override error(e: Error): boolean {
    this.job.pipeline.cancel(e);
    return super.error(e);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Never drain inside jszip's own call stack: entry ends chain into the next entry's resume.
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    const job = this.job;
    while (!this.isPaused && !this.isFinished) {
      const chunk = job.take();
      if (chunk) {
        this.push({ data: chunk, meta: { percent: 0 } });
        continue;
      }
      if (job.error) {
        this.error(job.error);
        return;
      }
      if (job.ended) {
        this.streamInfo.crc32 = job.crc >>> 0;
        this.streamInfo.compressedSize = job.compressedSize;
        this.streamInfo.uncompressedSize = job.rawSize;
        job.pipeline.consumed(job);
        this.end();
        return;
      }
      job.notify = () => this.schedule();
      return;
    }
  }
}

/** Reads, checks and compresses the entries ahead of jszip, a few at a time, in bounded memory. */
class Pipeline {
  readonly jobs: Job[];
  queued = 0;
  private reserved = 0;
  private next = 0;
  private working = 0;
  private consumer = 0;
  private cancelled?: Error;
  private bytesDone = 0;
  private filesDone = 0;

  constructor(
    entries: Entry[],
    readonly fail: (e: Error) => void,
    private readonly onProgress: ProgressListener | undefined,
    private readonly bytesTotal: number,
    readonly level: number,
    readonly threads: Threads | undefined,
  ) {
    this.jobs = entries.map((e, i) => new Job(e, i, this));
    this.pump();
  }

  get isCancelled(): Error | undefined {
    return this.cancelled;
  }

  consumerAt(index: number): void {
    this.consumer = index;
    this.pump();
  }

  pump(): void {
    while (!this.cancelled && this.next < this.jobs.length && this.working < PARALLEL) {
      const job = this.jobs[this.next];
      const estimate = Math.min(job.entry.size, SMALL_FILE);
      if (this.next > this.consumer && this.queued + this.reserved + estimate > READ_AHEAD_BYTES) break;
      this.next++;
      this.working++;
      this.reserved += estimate;
      job.estimate = estimate;
      void job.run();
    }
  }

  finished(job: Job): void {
    this.working--;
    this.reserved -= job.estimate;
    if (job.error) {
      this.fail(job.error);
      return;
    }
    if (job.entry.source) {
      this.filesDone++;
      this.progress();
    }
    this.pump();
  }

  read(n: number): void {
    this.bytesDone += n;
    this.progress();
  }

  consumed(job: Job): void {
    job.release();
    this.pump();
  }

  cancel(e: Error): void {
    if (this.cancelled) return;
    this.cancelled = e;
    for (const j of this.jobs) j.wake();
  }

  private progress(): void {
    this.onProgress?.({ phase: 'archive', bytesDone: this.bytesDone, bytesTotal: this.bytesTotal, filesDone: this.filesDone, filesTotal: this.jobs.length - 1 });
  }
}

class Job {
  private chunks: Buffer[] = [];
  private head = 0;
  private queuedHere = 0;
  private spaceWaiter?: () => void;
  ended = false;
  error?: Error;
  crc = 0;
  rawSize = 0;
  compressedSize = 0;
  estimate = 0;
  notify?: () => void;

  constructor(
    readonly entry: Entry,
    readonly index: number,
    readonly pipeline: Pipeline,
  ) {}

  async run(): Promise<void> {
    try {
      const e = this.entry;
      if (e.data) {
        await this.fromBuffer(e.data);
      } else if (e.cached) {
        const buf = e.cached;
        e.cached = undefined;
        this.pipeline.read(buf.length);
        await this.fromBuffer(buf, true);
      } else if (e.source?.data) {
        await this.fromBuffer(e.source.data);
      } else if (e.size <= SMALL_FILE) {
        const buf = await readWhole(e.source!.absPath!, e.size, e.name);
        this.pipeline.read(buf.length);
        await this.fromBuffer(buf);
      } else {
        await this.fromFile(e.source!.absPath!);
      }
      this.ended = true;
    } catch (err) {
      this.error = this.pipeline.isCancelled ?? toIoError(err, this.entry.name);
    }
    this.pipeline.finished(this);
    this.wakeConsumer();
  }

  private async fromBuffer(buf: Buffer, hashed = false): Promise<void> {
    this.rawSize = buf.length;
    this.crc = hashed && this.entry.crc32 !== undefined ? this.entry.crc32 : zlib.crc32(buf);
    if (this.entry.sha256 !== undefined && !hashed) this.checkUnchanged(buf.length, createHash('sha256').update(buf).digest('hex'));
    if (buf.length === 0) return;
    if (this.entry.method !== 'deflate') return this.push(buf);
    const { threads, level } = this.pipeline;
    // A cached buffer is the writer's own and moves to the thread; a caller's is copied.
    this.push(threads ? await deflateOnThread(threads, buf, level, hashed) : await deflateRaw(buf, { level }));
  }

  private async fromFile(file: string): Promise<void> {
    const fh = await fs.promises.open(file, OPEN_FLAGS);
    const deflater = this.entry.method === 'deflate' ? zlib.createDeflateRaw({ level: this.pipeline.level }) : undefined;
    try {
      let deflated: Promise<unknown> | undefined;
      if (deflater) {
        deflater.on('data', (c: Buffer) => this.push(c));
        deflated = once(deflater, 'end');
        deflated.catch(() => undefined);
      }
      const hash = createHash('sha256');
      let crc = 0;
      let size = 0;
      for (;;) {
        this.throwIfCancelled();
        const buf = Buffer.allocUnsafe(READ_CHUNK);
        const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, null);
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        hash.update(chunk);
        crc = zlib.crc32(chunk, crc);
        size += bytesRead;
        this.pipeline.read(bytesRead);
        if (size > this.entry.size) this.checkUnchanged(size, '');
        if (deflater) {
          if (!deflater.write(chunk)) await once(deflater, 'drain');
        } else {
          this.push(chunk);
        }
        await this.waitForSpace();
      }
      if (deflater) {
        deflater.end();
        await deflated;
      }
      this.rawSize = size;
      this.crc = crc;
      this.checkUnchanged(size, hash.digest('hex'));
    } finally {
      deflater?.destroy();
      await fh.close();
    }
  }

  private checkUnchanged(size: number, sha: string): void {
    if (size !== this.entry.size || sha !== this.entry.sha256) throw sourceChanged(this.entry.name);
  }

  private throwIfCancelled(): void {
    const c = this.pipeline.isCancelled;
    if (c) throw c;
  }

  private push(buf: Buffer): void {
    if (buf.length === 0) return;
    this.chunks.push(buf);
    this.queuedHere += buf.length;
    this.pipeline.queued += buf.length;
    this.compressedSize += buf.length;
    this.wakeConsumer();
  }

  take(): Buffer | undefined {
    if (this.head >= this.chunks.length) return undefined;
    const c = this.chunks[this.head];
    this.chunks[this.head++] = EMPTY;
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
    this.queuedHere -= c.length;
    this.pipeline.queued -= c.length;
    if (this.spaceWaiter && this.queuedHere <= JOB_QUEUE_BYTES / 2) this.wake();
    this.pipeline.pump();
    return c;
  }

  private waitForSpace(): Promise<void> {
    if (this.queuedHere < JOB_QUEUE_BYTES || this.pipeline.isCancelled) return Promise.resolve();
    return new Promise((res) => (this.spaceWaiter = res));
  }

  wake(): void {
    const w = this.spaceWaiter;
    this.spaceWaiter = undefined;
    w?.();
    if (this.pipeline.isCancelled) this.wakeConsumer();
  }

  private wakeConsumer(): void {
    const n = this.notify;
    this.notify = undefined;
    n?.();
  }

  release(): void {
    this.chunks = [];
    this.head = 0;
  }
}

const EMPTY = Buffer.alloc(0);

interface HashResult {
  cached?: Buffer;
  crc32?: number;
  size: number;
  sha256: string;
  sample: Buffer;
  mtimeMs: number;
  mode: number;
}

/** First pass: size, sha256 and a compression decision for every source, a few files at a time. */
async function hashPass(
  sources: ArchiveSource[],
  o: { onProgress?: ProgressListener },
  failed: () => Error | undefined,
  threads: Threads | undefined,
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
        h = { size: s.data.length, sha256: createHash('sha256').update(s.data).digest('hex'), sample: sampleOf(s.data), mtimeMs: s.mtimeMs, mode: s.mode };
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
        crc32: h.cached && h.crc32,
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
// later deflates it, one message instead of a zlib stream per file.
const FILE_THREAD = `
const fs = require('fs');
const zlib = require('zlib');
const { createHash } = require('crypto');
let buf;
function handle(m) {
  if (m.deflate) {
    // A copy: the output may be a view of a buffer other code shares.
    const out = new Uint8Array(zlib.deflateRawSync(m.data, { level: m.level }));
    return { reply: out, transfer: [out.buffer] };
  }
  // One byte more than the limit tells a file that grew past it.
  if (!buf || buf.length < m.max + 1) buf = Buffer.allocUnsafeSlow(m.max + 1);
  const fd = fs.openSync(m.path, m.flags);
  let got = 0;
  try {
    for (;;) {
      const want = m.max + 1 - got;
      const n = fs.readSync(fd, buf, got, want, null);
      got += n;
      // A short read of a regular file is its end: saves one call per file.
      if (n < want || got > m.max) break;
    }
  } finally {
    fs.closeSync(fd);
  }
  if (got > m.max) return { big: true };
  const data = new Uint8Array(got);
  data.set(buf.subarray(0, got));
  return { reply: { data, sha256: createHash('sha256').update(data).digest('hex'), crc32: zlib.crc32(data) >>> 0 }, transfer: [data.buffer] };
}
`;

async function deflateOnThread(threads: Threads, buf: Buffer, level: number, own: boolean): Promise<Buffer> {
  const whole = own && buf.byteOffset === 0 && buf.buffer.byteLength === buf.length && buf.buffer instanceof ArrayBuffer;
  const data = whole ? new Uint8Array(buf.buffer, 0, buf.length) : new Uint8Array(buf);
  const out = await threads.call<Uint8Array>({ deflate: true, data, level }, [data.buffer as ArrayBuffer]);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** A small file hashed on a worker thread; undefined when it grew past SMALL_FILE (the caller streams it). */
async function hashOnThread(threads: Threads, s: ArchiveSource, cache: { left: number }): Promise<HashResult | undefined> {
  let r: { data: Uint8Array; sha256: string; crc32: number } | { big: true };
  try {
    r = await threads.call({ path: s.absPath!, flags: OPEN_FLAGS, max: SMALL_FILE });
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

// O_NONBLOCK: a file swapped for a FIFO since the scan must fail, not hang a pool thread.
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

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
    let size = 0;
    let sample: Buffer | undefined;
    let cached: Buffer | undefined;
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
      size += bytesRead;
      onRead(bytesRead);
      // A short read of a regular file is its end: saves one call per small file.
      if (bytesRead < buf.length) break;
    }
    return { size, sha256: hash.digest('hex'), sample: sample ?? EMPTY, mtimeMs: s.mtimeMs, mode: s.mode, cached };
  } catch (e) {
    throw toIoError(e, s.archivePath);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Up to four slices spread over `chunk` (the first read of a file): headers alone can mislead. */
function sampleOf(chunk: Buffer): Buffer {
  // Always a copy: the read buffer is reused.
  if (chunk.length <= 4 * SAMPLE_SLICE) return Buffer.from(chunk);
  const step = Math.floor((chunk.length - SAMPLE_SLICE) / 3);
  return Buffer.concat([0, 1, 2, 3].map((k) => chunk.subarray(k * step, k * step + SAMPLE_SLICE)));
}

/** Shannon entropy of the bytes, in bits per byte. */
export function byteEntropy(b: Uint8Array): number {
  if (b.length === 0) return 0;
  const counts = new Uint32Array(256);
  for (let i = 0; i < b.length; i++) counts[b[i]]++;
  let h = 0;
  for (let i = 0; i < 256; i++) {
    const c = counts[i];
    if (c !== 0) {
      const p = c / b.length;
      h -= p * Math.log2(p);
    }
  }
  return h;
}

function chooseMethod(name: string, sample: Buffer): Method {
  if (sample.length === 0) return 'store';
  const ext = path.posix.extname(name).slice(1).toLowerCase();
  if (COMPRESSED_EXT.has(ext)) return 'store';
  return byteEntropy(sample) > STORE_ENTROPY ? 'store' : 'deflate';
}

async function readWhole(file: string, size: number, name: string): Promise<Buffer> {
  const fh = await fs.promises.open(file, OPEN_FLAGS);
  try {
    // One byte more than expected tells a file that grew; a short read is the end.
    const buf = Buffer.allocUnsafe(size + 1);
    let got = 0;
    while (got < buf.length) {
      const want = buf.length - got;
      const { bytesRead } = await fh.read(buf, got, want, null);
      got += bytesRead;
      if (bytesRead < want) break;
    }
    if (got !== size) throw sourceChanged(name);
    return buf.subarray(0, size);
  } finally {
    await fh.close();
  }
}

function sourceChanged(name: string): BackupError {
  return new BackupError('SourceChanged', `"${printable(name)}" changed while it was being backed up.`, 'Close programs that write to it, then back up again.', {
    params: { entry: printable(name) },
  });
}

function toIoError(e: unknown, name: string): BackupError {
  if (e instanceof BackupError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return sourceChanged(name);
  return new BackupError('Io', `"${printable(name)}" could not be read (${code ?? String(e)}).`, 'Check that the file can be read, then back up again.', {
    cause: e,
    params: { entry: printable(name), detail: code ?? 'read' },
  });
}

/** ZIP stores local DOS dates from 1980 to 2107; the manifest keeps the exact time. */
function dosSafeDate(d: Date): Date {
  const min = Date.UTC(1980, 0, 1, 0, 0, 0);
  const max = Date.UTC(2107, 11, 31, 23, 59, 58);
  const t = d.getTime();
  return new Date(Number.isNaN(t) ? min : Math.min(max, Math.max(min, t)));
}
