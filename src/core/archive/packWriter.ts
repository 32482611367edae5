// Writes new content into packs: plain zips of moderate size, uploaded as
// they fill, each a new object under `<root>/packs/`. The entries arrive in
// order from the read-ahead pipeline (readAhead.ts); each gets its place in
// a pack (offset of its data, sizes, crc), which the manifest records.
import { PassThrough, type Readable } from 'stream';
import { newPackId, packKey } from '../format/packKeys';
import type { Logger } from '../util/engineLogger';
import { SMALL_FILE, type Entry } from './entries';
import type { Job, Pipeline } from './readAhead';
import { yieldIfDue } from '../util/timeSlice';
import { gatheringSink, ZipWriter, type ZipEntryInfo, type ZipEntryPosition } from './zipWriter';

/** The store operations packs need (S3Store's). */
export interface PackStore {
  upload(key: string, body: Readable, o: { signal?: AbortSignal; contentType?: string }): Promise<{ size: number }>;
  delete(key: string, o?: { signal?: AbortSignal }): Promise<void>;
}

/** A piece of stored content, by pack id (manifests index packs; ids are global). */
export interface StoredPiece {
  packId: string;
  offset: number;
  compressedSize: number;
  method: 0 | 8;
  crc32: number;
  size: number;
}

export interface PackLimits {
  /** A pack is closed once it holds this many bytes (the entry that crosses it is completed first). */
  bytes: number;
  /** ... or this many entries: far below what a zip without ZIP64 holds (65,535). */
  entries: number;
  /** Packs uploading at once: the next one fills while the last parts of the previous one go up. */
  uploads: number;
}

export const DEFAULT_PACK_LIMITS: PackLimits = { bytes: 64 * 1024 * 1024, entries: 20_000, uploads: 2 };

export interface WrittenPack {
  id: string;
  key: string;
  size: number;
  entries: number;
}

interface OpenPack {
  id: string;
  key: string;
  out: PassThrough;
  zip: ZipWriter;
  /** Sends what the gathering sink holds into `out`. */
  flush: () => Promise<void>;
  upload: Promise<{ size: number }>;
}

/** The name of an entry in its pack: the file's path, with `.partNNN` for the pieces of a big file. */
export function packEntryName(e: Entry): string {
  if (!e.range || !e.source) return e.name;
  const count = Math.ceil(e.source.size / e.range.length) || 1;
  const width = Math.max(3, String(count).length);
  return `${e.name}.part${String(Math.floor(e.range.start / e.range.length) + 1).padStart(width, '0')}`;
}

/** A sequence of packs under one root path; `add` entries in order, then `close`. */
export class PackSet {
  private current: OpenPack | undefined;
  private readonly uploading = new Set<Promise<void>>();
  private readonly written: WrittenPack[] = [];
  private readonly started: string[] = [];
  private entries = 0;

  constructor(
    private readonly store: PackStore,
    private readonly rootPath: string,
    private readonly o: { signal?: AbortSignal; limits?: PackLimits; log?: Logger },
  ) {}

  private get limits(): PackLimits {
    return this.o.limits ?? DEFAULT_PACK_LIMITS;
  }

  /** Writes one entry from its job; resolves with where its data is. */
  async add(job: Job): Promise<StoredPiece> {
    const e = job.entry;
    const method = e.method === 'deflate' ? 8 : 0;
    // Deflated in one go (small files): wait for it, so the local header carries the compressed size.
    // (Awaited only when there is something to wait for: an await of nothing still costs a promise and a microtask, ~30,000 a pack.)
    if (method === 8 && e.size <= SMALL_FILE && !e.range && !job.ended) await job.whenEnded();
    const info: ZipEntryInfo = {
      name: packEntryName(e),
      kind: 'file',
      method,
      mtimeMs: e.mtimeMs,
      mode: e.unixMode,
      size: e.size,
      crc32: e.crc32 ?? 0,
      ...(method === 8 && job.ended ? { compressedSize: job.compressedSize } : {}),
    };
    const open = this.current;
    const pack = open && !open.zip.has(info.name) ? open : await this.packFor(info.name);
    let position: ZipEntryPosition;
    if (job.ended) {
      // All of it in memory (small files): written in one call, not three and one per chunk.
      const turn = yieldIfDue();
      if (turn) await turn;
      position = await pack.zip.addEntry(info, job.takeRest(), { size: job.rawSize, crc32: job.crc >>> 0, compressedSize: job.compressedSize });
    } else {
      position = await pack.zip.beginEntry(info);
      for (;;) {
        // Entries whose data is already queued would otherwise chain without a turn of the event loop.
        await yieldIfDue();
        const chunk = await job.nextChunk();
        if (!chunk) break;
        await pack.zip.write(chunk);
      }
      await pack.zip.endEntry({ size: job.rawSize, crc32: job.crc >>> 0, compressedSize: job.compressedSize });
    }
    const { offset, headerLength } = position;
    this.entries++;
    const piece: StoredPiece = { packId: pack.id, offset: offset + headerLength, compressedSize: job.compressedSize, method, crc32: job.crc >>> 0, size: job.rawSize };
    if (pack.zip.bytesWritten >= this.limits.bytes || pack.zip.entryCount >= this.limits.entries) await this.closeCurrent();
    return piece;
  }

  /** Finishes the last pack and waits for every upload; the packs written, in order. */
  async close(): Promise<WrittenPack[]> {
    await this.closeCurrent();
    await Promise.all([...this.uploading]);
    return this.written;
  }

  /** After a failure: stops the open pack's upload and removes every pack this set uploaded (best effort). */
  async abort(reason: Error): Promise<void> {
    this.current?.out.destroy(reason);
    this.current = undefined;
    await Promise.allSettled([...this.uploading]);
    for (const id of this.started) {
      await this.store.delete(packKey(this.rootPath, id)).catch((e: unknown) => this.o.log?.warn(`could not remove the unused pack ${id}: ${String(e)}`));
    }
  }

  get entryCount(): number {
    return this.entries;
  }

  private async packFor(name: string): Promise<OpenPack> {
    // Names are unique within a pack (unzip would overwrite); a clash starts the next pack.
    if (this.current?.zip.has(name)) await this.closeCurrent();
    if (this.current) return this.current;
    const id = newPackId();
    const key = packKey(this.rootPath, id);
    // The reading side hands on each written block as it is: a byte-mode stream's reader gets all it holds
    // joined into a new buffer per read (100,000 small files: ~60 MiB of copies, garbage the heap kept).
    const out = new PassThrough({ writableHighWaterMark: 1024 * 1024, readableObjectMode: true, readableHighWaterMark: 4 });
    const gathered = gatheringSink(out, this.o.signal);
    const zip = new ZipWriter(gathered.sink);
    this.started.push(id);
    const upload = this.store.upload(key, out, { signal: this.o.signal, contentType: 'application/zip' });
    // Watched here; awaited in closeCurrent. A failure also breaks the writes into `out`.
    upload.catch((e: unknown) => out.destroy(e instanceof Error ? e : new Error(String(e))));
    this.current = { id, key, out, zip, flush: gathered.flush, upload };
    return this.current;
  }

  private async closeCurrent(): Promise<void> {
    const pack = this.current;
    if (!pack) return;
    this.current = undefined;
    await pack.zip.finish();
    await pack.flush();
    pack.out.end();
    const done = pack.upload.then((r) => {
      this.written.push({ id: pack.id, key: pack.key, size: r.size, entries: pack.zip.entryCount });
      this.o.log?.debug(`pack ${pack.id}: ${pack.zip.entryCount} entries, ${r.size} bytes`);
    });
    this.uploading.add(done);
    done.then(() => this.uploading.delete(done), () => undefined);
    // Bounded: at most `uploads` packs in flight.
    while (this.uploading.size >= this.limits.uploads) await Promise.race(this.uploading);
  }
}

/**
 * Runs the pipeline's jobs through a pack set in order; resolves with each
 * entry's place. The pipeline reads and compresses ahead within its budget.
 */
export async function writeEntries(pipeline: Pipeline, packs: PackSet): Promise<StoredPiece[]> {
  const placed: StoredPiece[] = [];
  for (let i = 0; i < pipeline.jobs.length; i++) {
    const job = pipeline.jobs[i];
    pipeline.consumerAt(i);
    placed.push(await packs.add(job));
    pipeline.consumed(job);
  }
  return placed;
}
