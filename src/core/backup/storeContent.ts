// The middle of an incremental backup: for each source, find its content in
// the bucket already (unchanged by its stat, or the same sha256), or hash,
// compress and pack it; then the manifest entries that say where it all is.
import { packEntryName, PackSet, writeEntries, type WrittenPack } from '../archive/packWriter';
import { CACHE_BYTES, hashPass, releasableBytes, releaseBytes } from '../archive/hashPass';
import { Pipeline } from '../archive/readAhead';
import type { ArchiveSource, Entry } from '../archive/entries';
import type { ManifestAdded, ManifestFile, PieceRef } from '../format/manifest';
import type { ProgressListener } from '../util/progress';
import { yieldIfDue } from '../util/timeSlice';
import type { WorkerPool } from '../util/workerPool';
import type { ReuseIndex, StoredContent, StoredPiece } from './reuseIndex';

export interface StoredFiles {
  /** One per source, in the sources' order. */
  files: ManifestFile[];
  /** The pack ids `files[].refs` index. */
  packs: string[];
  written: WrittenPack[];
  added: ManifestAdded;
  /** Sources found unchanged by their stat (not read at all). */
  unchanged: number;
}

export interface StoreOptions {
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  level: number;
  threads?: WorkerPool;
  /** The first failure of any part: stops the rest. */
  failed: () => Error | undefined;
  fail: (e: Error) => void;
  /** Called once every entry is in a pack, before the last pack is finished and the uploads are awaited. */
  beforeClose?: () => void;
  /** Called with every file's manifest entry and the pack ids they index, while the last packs upload. */
  whileUploading?: (files: ManifestFile[], packs: string[]) => void;
}

function mtimeIso(ms: number): string {
  return new Date(Number.isFinite(ms) ? Math.round(ms) : 0).toISOString();
}

/** A file's manifest entry: what the scan saw of it, and where its content is. */
function entryOf(s: ArchiveSource, sha256: string, size: number, refs: PieceRef[]): ManifestFile {
  return {
    path: s.archivePath,
    size,
    mtime: mtimeIso(s.mtimeMs),
    mode: s.mode & 0o777,
    sha256,
    refs,
    ...(s.ino !== undefined ? { ino: s.ino } : {}),
    ...(s.ctimeMs !== undefined ? { ctime: Math.round(s.ctimeMs) } : {}),
  };
}

/** A big file's entry as its pieces, each its own entry (see PIECE_SIZE). */
function piecesOf(e: Entry): Entry[] {
  if (!e.pieces || e.pieces.length < 2) return [e];
  return e.pieces.map((p) => ({ ...e, pieces: undefined, cached: undefined, packed: undefined, size: p.size, sha256: p.sha256, crc32: p.crc32, range: { start: p.start, length: p.size } }));
}

// A wave of the hash pass: enough files to keep both worker threads busy,
// few enough bytes to hold two waves in the read cache (CACHE_BYTES). The
// first wave is smaller (512): packing starts once it is hashed (with 4,096
// files this thread waited ~140 ms for it). 1,024 files, not 4,096: a
// wave's entries and jobs live until it is packed, and at 4,096 a wave lived
// long enough to reach V8's old generation, garbage only a full collection
// took (100,000 files, median peak RSS 317-321 against 353-363 MiB; 30,000
// files 212 against 228; time 1.01-1.03x).
const WAVE_FILES = 1024;
const FIRST_WAVE_FILES = 512;
const WAVE_BYTES = 16 * 1024 * 1024;

/**
 * Cuts the sources to hash into waves as they are found, one size at a time:
 * made afterwards from the whole list, the waves and the totals took three
 * more passes over 100,000 files without a turn of the event loop (~60 ms).
 */
export class WaveCutter {
  private readonly cut: [number, number][] = [];
  private from = 0;
  private n = 0;
  private bytes = 0;
  /** The bytes of every source added. */
  total = 0;

  add(size: number): void {
    const k = this.n++;
    if (k > this.from && (k - this.from >= Math.min(WAVE_FILES, FIRST_WAVE_FILES * 2 ** this.cut.length) || this.bytes + size > WAVE_BYTES)) {
      this.cut.push([this.from, k]);
      this.from = k;
      this.bytes = 0;
    }
    this.bytes += size;
    this.total += size;
  }

  /** [from, to) ranges of the sources added, in order: up to WAVE_FILES files (fewer for the first) or WAVE_BYTES bytes each (a bigger file is a wave of its own). */
  waves(): [number, number][] {
    return this.from < this.n ? [...this.cut, [this.from, this.n]] : [...this.cut];
  }
}

/**
 * Packs one wave's new entries in order. Its progress counts on from the
 * waves before it, and only once every wave is hashed and the totals are
 * known (`totals`; until then the hash pass's progress is the one shown:
 * two phases at once would flicker).
 */
async function packWave(entries: Entry[], packs: PackSet, o: StoreOptions, totals: () => { bytes: number; files: number } | undefined, done: { bytes: number; files: number }): Promise<StoredPiece[]> {
  const base = { ...done };
  const onProgress: ProgressListener = (p) => {
    const t = totals();
    if (t) o.onProgress?.({ ...p, bytesDone: base.bytes + p.bytesDone, bytesTotal: t.bytes, filesDone: base.files + p.filesDone, filesTotal: t.files });
  };
  const bytes = entries.reduce((n, e) => n + e.size, 0);
  const pipeline = new Pipeline(entries, o.fail, onProgress, bytes, o.level, o.threads);
  const cancel = (): void => pipeline.cancel(o.failed() ?? new Error('cancelled'));
  o.signal?.addEventListener('abort', cancel, { once: true });
  try {
    const placed = await writeEntries(pipeline, packs);
    done.bytes += bytes;
    done.files += entries.length;
    return placed;
  } catch (e) {
    pipeline.cancel(e instanceof Error ? e : new Error(String(e)));
    throw e;
  } finally {
    o.signal?.removeEventListener('abort', cancel);
  }
}

/**
 * Finds or stores the content of every source. Unchanged files (by stat,
 * against the previous backup) are not read; the others are hashed, and
 * what no kept backup holds yet goes into new packs. Two new files with the
 * same content are stored once. Consumes `sources`: each is cleared from the
 * array once its manifest entry is made.
 */
export async function storeContent(sources: ArchiveSource[], reuse: ReuseIndex, packs: PackSet, o: StoreOptions): Promise<StoredFiles> {
  // Each file's manifest entry is made as soon as its content is found or packed, and its source let go:
  // made all at the end, 100,000 entries came on top of the sources and contents they were made from,
  // garbage by then (the backup's peak RSS was there).
  const files: (ManifestFile | undefined)[] = new Array(sources.length);
  const packIds: string[] = [];
  const packIndex = new Map<string, number>();
  const refOf = (p: StoredPiece): PieceRef => {
    let k = packIndex.get(p.packId);
    if (k === undefined) {
      k = packIds.push(p.packId) - 1;
      packIndex.set(p.packId, k);
    }
    return [k, p.offset, p.compressedSize, p.method, p.crc32, p.size];
  };
  const place = (i: number, c: StoredContent): void => {
    files[i] = entryOf(sources[i], c.sha256, c.size, c.pieces.map(refOf));
    (sources as (ArchiveSource | undefined)[])[i] = undefined;
  };

  // Loops over every source give the event loop a turn (100,000 files: ~100 ms each otherwise).
  // The sources to read, by index (an object each would be 100,000 more objects for 100,000 files).
  const toHash: number[] = [];
  const cutter = new WaveCutter();
  for (let i = 0; i < sources.length; i++) {
    if (i % 1024 === 0) await yieldIfDue();
    const s = sources[i];
    const same = s.absPath && s.ino !== undefined && s.ctimeMs !== undefined ? reuse.unchanged(s.archivePath, { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino, ctimeMs: s.ctimeMs }) : undefined;
    if (same) place(i, same);
    else {
      toHash.push(i);
      cutter.add(s.size);
    }
  }
  const unchanged = sources.length - toHash.length;
  // A wave's entries, released once the wave is packed.
  const hashed: (Entry | undefined)[] = new Array(toHash.length);

  // What is new: how many entries (pieces for big files), and which sources the current wave packs.
  let newEntryCount = 0;
  let owners: { source: number; sha256: string; size: number; first: number; count: number }[] = [];
  const firstOf = new Map<string, number>();
  const sameAs = new Map<number, number>();
  const added: ManifestAdded = { files: 0, bytes: 0, packs: 0, packBytes: 0 };
  /** Decides for each entry of a wave, in the sources' order: stored already, a twin of an earlier one, or new. */
  const decide = async (from: number, to: number): Promise<Entry[]> => {
    const fresh: Entry[] = [];
    for (let k = from; k < to; k++) {
      if ((k - from) % 512 === 511) await yieldIfDue();
      const e = hashed[k]!;
      const i = toHash[k];
      const stored = reuse.byHash(e.sha256!, e.size);
      const twin = stored ? undefined : firstOf.get(e.sha256!);
      if (stored || twin !== undefined) {
        if (stored) place(i, stored);
        else sameAs.set(i, twin!);
        // Not packed: its bytes go now, not with the wave.
        e.cached = e.packed = undefined;
        continue;
      }
      firstOf.set(e.sha256!, i);
      const parts = piecesOf(e);
      owners.push({ source: i, sha256: e.sha256!, size: e.size, first: fresh.length, count: parts.length });
      newEntryCount += parts.length;
      fresh.push(...parts);
      added.files++;
      added.bytes += e.size;
    }
    return fresh;
  };

  // Hashing runs one wave ahead of packing: the worker threads read, hash and
  // compress wave k+1 while this thread packs wave k (one after the other, the
  // threads idled through the packing and this thread through the hashing).
  // The read cache is shared and each wave's bytes go back once it is packed.
  const waves = cutter.waves();
  const cache = { left: CACHE_BYTES };
  const hashTotals = { bytes: cutter.total, files: toHash.length };
  const hashDone = { bytes: 0, files: 0 };
  const packDone = { bytes: 0, files: 0 };
  let allHashed = waves.length <= 1;
  // The packing's totals, known once every wave is hashed (and decided).
  const totals = (): { bytes: number; files: number } | undefined => (allHashed ? { bytes: added.bytes, files: newEntryCount } : undefined);
  const hashWave = (w: number): Promise<void> => {
    const [from, to] = waves[w];
    const base = { ...hashDone };
    const onProgress: ProgressListener = (p) => o.onProgress?.({ ...p, bytesDone: base.bytes + p.bytesDone, bytesTotal: hashTotals.bytes, filesDone: base.files + p.filesDone, filesTotal: hashTotals.files });
    return hashPass(toHash.slice(from, to).map((i) => sources[i]), { onProgress, level: o.level, cache }, o.failed, o.threads).then((entries) => {
      entries.forEach((e, k) => (hashed[from + k] = e));
      hashDone.bytes = base.bytes + entries.reduce((n, e) => n + e.size, 0);
      hashDone.files = base.files + entries.length;
    });
  };
  let hashing = waves.length > 0 ? hashWave(0) : undefined;
  for (let w = 0; w < waves.length; w++) {
    await hashing;
    const err = o.failed();
    if (err) throw err;
    hashing = w + 1 < waves.length ? hashWave(w + 1) : undefined;
    // Awaited in the next turn of the loop; a failure meanwhile must not go unhandled.
    hashing?.catch((e: unknown) => o.fail(e instanceof Error ? e : new Error(String(e))));
    allHashed ||= !hashing;
    const [from, to] = waves[w];
    const wave = hashed.slice(from, to);
    const held = wave.reduce((n, e) => n + (e!.cached?.length ?? 0) + (e!.packed?.length ?? 0), 0);
    // Taken before decide() drops the views of what needs no packing.
    const release = releasableBytes(wave);
    const fresh = await decide(from, to);
    const placed = fresh.length > 0 ? await packWave(fresh, packs, o, totals, packDone) : [];
    for (const w of owners) place(w.source, { sha256: w.sha256, size: w.size, pieces: placed.slice(w.first, w.first + w.count) });
    owners = [];
    hashed.fill(undefined, from, to);
    cache.left += held;
    // Packed: the sink copied every view of these.
    releaseBytes(release);
  }
  o.beforeClose?.();
  // The entries are made while the last packs upload; awaited once they are.
  const closing = packs.close();
  closing.catch(() => undefined);

  // A twin's content is its first's (entered by now: a twin comes later in the sources' order).
  for (const [i, twin] of sameAs) {
    const first = files[twin]!;
    files[i] = entryOf(sources[i], first.sha256, first.size, first.refs!.map((r) => [...r] as PieceRef));
    (sources as (ArchiveSource | undefined)[])[i] = undefined;
  }
  const entries = files as ManifestFile[];
  o.whileUploading?.(entries, packIds);
  const written = await closing;
  added.packs = written.length;
  added.packBytes = written.reduce((n, p) => n + p.size, 0);
  return { files: entries, packs: packIds, written, added, unchanged };
}

export { packEntryName };
