import { createHash } from 'crypto';
import { once } from 'events';
import * as fs from 'fs';
import * as zlib from 'zlib';
import type { ProgressListener } from '../util/progress';
import { yieldIfDue } from '../util/timeSlice';
import type { WorkerPool } from '../util/workerPool';
import { deflateInPool, deflateOnThread } from './compression';
import { EMPTY, OPEN_FLAGS, PARALLEL, readWhole, SMALL_FILE, sourceChanged, toIoError, type Entry } from './entries';

const READ_CHUNK = 256 * 1024;
// Compressed output waiting for the pack writer, summed over the files read ahead.
const READ_AHEAD_BYTES = 16 * 1024 * 1024;
// One big file's compressed output waiting for the pack writer.
const JOB_QUEUE_BYTES = 4 * 1024 * 1024;

/** Reads, checks and compresses the entries ahead of the pack writer, a few at a time, in bounded memory. */
export class Pipeline {
  readonly jobs: Job[];
  queued = 0;
  private reserved = 0;
  private next = 0;
  private working = 0;
  private consumer = 0;
  private cancelled?: Error;
  private bytesDone = 0;
  private filesDone = 0;
  private pumping = false;
  private pumpAgain = false;
  private awaitingTurn = false;

  constructor(
    entries: Entry[],
    readonly fail: (e: Error) => void,
    private readonly onProgress: ProgressListener | undefined,
    private readonly bytesTotal: number,
    readonly level: number,
    readonly threads: WorkerPool | undefined,
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
    // A job with nothing to wait for (packed by the hash pass) finishes inside run() and pumps again: loop, do not recurse.
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      // Not while a turn of the event loop is awaited: that turn pumps again (pumping on
      // here, each round's count of jobs started from zero, ran a whole wave in one go).
      do {
        this.pumpAgain = false;
        this.pumpOnce();
      } while (this.pumpAgain && !this.awaitingTurn);
    } finally {
      this.pumping = false;
    }
  }

  private pumpOnce(): void {
    if (this.awaitingTurn) return;
    let started = 0;
    while (!this.cancelled && this.next < this.jobs.length && this.working < PARALLEL) {
      // Jobs packed by the hash pass finish as they start: a wave's worth would run in one go.
      if (++started % 64 === 0) {
        const turn = yieldIfDue();
        if (turn) {
          if (!this.awaitingTurn) {
            this.awaitingTurn = true;
            void turn.then(() => {
              this.awaitingTurn = false;
              this.pump();
            });
          }
          return;
        }
      }
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
    this.onProgress?.({ phase: 'archive', bytesDone: this.bytesDone, bytesTotal: this.bytesTotal, filesDone: this.filesDone, filesTotal: this.jobs.length });
  }
}

export class Job {
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
      } else if (e.packed) {
        // Read, hashed and compressed by the hash pass's worker: nothing left to do but pack it.
        const buf = e.packed;
        e.packed = undefined;
        this.rawSize = e.size;
        this.crc = e.crc32!;
        this.pipeline.read(e.size);
        this.push(buf);
      } else if (e.cached) {
        const buf = e.cached;
        e.cached = undefined;
        this.pipeline.read(buf.length);
        await this.fromBuffer(buf, true);
      } else if (e.source?.data) {
        await this.fromBuffer(e.source.data);
      } else if (e.size <= SMALL_FILE && !e.range) {
        const buf = await readWhole(e.source!.absPath!, e.size, e.name);
        this.pipeline.read(buf.length);
        await this.fromBuffer(buf);
      } else {
        await this.fromFile(e.source!.absPath!, e.range);
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
    this.push(threads ? await deflateOnThread(threads, buf, level, hashed) : await deflateInPool(buf, level));
  }

  /** Streams the file (or the `range` of it that is this piece) through deflate, checking it against the hash pass. */
  private async fromFile(file: string, range?: { start: number; length: number }): Promise<void> {
    const fh = await fs.promises.open(file, OPEN_FLAGS);
    const start = range?.start ?? 0;
    const limit = range?.length ?? Infinity;
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
        // A whole file is read to its end (more than the hash pass saw means it changed); a piece, to its length.
        const want = Math.min(READ_CHUNK, limit - size);
        if (want <= 0) break;
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await fh.read(buf, 0, want, start + size);
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

  /** The next chunk of output, in order; null once the entry is complete. Rejects with the job's error. */
  async nextChunk(): Promise<Buffer | null> {
    for (;;) {
      const c = this.take();
      if (c) return c;
      if (this.error) throw this.error;
      if (this.ended) return null;
      this.throwIfCancelled();
      await new Promise<void>((r) => (this.notify = r));
    }
  }

  /** Resolves when the whole output is known (for entries whose compressed size goes in the local header). */
  async whenEnded(): Promise<void> {
    while (!this.ended) {
      if (this.error) throw this.error;
      this.throwIfCancelled();
      await new Promise<void>((r) => (this.notify = r));
    }
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

  /** Once the job has ended: all of its output not taken yet, at once (an entry written whole). */
  takeRest(): Buffer[] {
    const rest = this.chunks.slice(this.head);
    this.chunks = [];
    this.head = 0;
    this.pipeline.queued -= this.queuedHere;
    this.queuedHere = 0;
    this.pipeline.pump();
    return rest;
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
