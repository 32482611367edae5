import type { Readable, Writable } from 'stream';
import type { Entry } from '../../../src/core/archive/entries';
import type { Job, Pipeline } from '../../../src/core/archive/readAhead';

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
 
const JSZip = require('jszip') as typeof import('jszip');
const GenericWorker = require('jszip/lib/stream/GenericWorker') as new (name: string) => JsWorker;
const CompressedObject = require('jszip/lib/compressedObject') as new (
  compressedSize: number,
  uncompressedSize: number,
  crc32: number,
  compression: JsCompression,
  data: unknown,
) => { compression: JsCompression; getCompressedWorker(): JsWorker };
 

const STORE: JsCompression = { magic: '\x00\x00' };
const DEFLATE: JsCompression = { magic: '\x08\x00' };

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

/** ZIP stores local DOS dates from 1980 to 2107; the manifest keeps the exact time. */
function dosSafeDate(d: Date): Date {
  const min = Date.UTC(1980, 0, 1, 0, 0, 0);
  const max = Date.UTC(2107, 11, 31, 23, 59, 58);
  const t = d.getTime();
  return new Date(Number.isNaN(t) ? min : Math.min(max, Math.max(min, t)));
}

/**
 * Streams `entries` (the manifest first) into `out` as one ZIP, each entry's
 * bytes taken from its job in `pipeline` as jszip reaches it. Resolves when
 * jszip has written the central directory; rejects on its errors. `onEnd`
 * runs at once when jszip ends, before `out` can close.
 */
export async function writeZip(entries: Entry[], pipeline: Pipeline, out: Writable, isFailed: () => boolean, onEnd: () => void): Promise<void> {
  const zip = new JSZip();
  for (let i = 0; i < entries.length; i++) {
    // ~10 µs an entry: let the event loop breathe between slices of a big selection.
    if (i % 256 === 255) {
      await new Promise<void>((r) => setImmediate(r));
      if (isFailed()) return;
    }
    const e = entries[i];
    zip.file(e.name, new NativeCompressed(pipeline.jobs[i]) as unknown as Buffer, {
      binary: true,
      compression: e.method === 'deflate' ? 'DEFLATE' : 'STORE',
      createFolders: false,
      date: dosSafeDate(new Date(e.mtimeMs)),
      unixPermissions: 0o100000 | (e.unixMode & 0o777),
    });
  }
  const zstream = zip.generateNodeStream({ type: 'nodebuffer', streamFiles: true, platform: 'UNIX', compression: 'STORE' }) as unknown as Readable;
  await new Promise<void>((resolve, reject) => {
    zstream.on('error', reject);
    zstream.on('end', () => {
      onEnd();
      resolve();
    });
    zstream.pipe(out);
  });
}
