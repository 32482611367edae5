// The middle of an incremental backup: for each source, find its content in
// the bucket already (unchanged by its stat, or the same sha256), or hash,
// compress and pack it; then the manifest entries that say where it all is.
import { packEntryName, PackSet, writeEntries, type WrittenPack } from '../archive/packWriter';
import { hashPass } from '../archive/hashPass';
import { Pipeline } from '../archive/readAhead';
import type { ArchiveSource, Entry } from '../archive/entries';
import type { ManifestAdded, ManifestFile, PieceRef } from '../format/manifest';
import type { ProgressListener } from '../util/progress';
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
}

function mtimeIso(ms: number): string {
  return new Date(Number.isFinite(ms) ? Math.round(ms) : 0).toISOString();
}

/** A big file's entry as its pieces, each its own entry (see PIECE_SIZE). */
function piecesOf(e: Entry): Entry[] {
  if (!e.pieces || e.pieces.length < 2) return [e];
  return e.pieces.map((p) => ({ ...e, pieces: undefined, cached: undefined, packed: undefined, size: p.size, sha256: p.sha256, crc32: p.crc32, range: { start: p.start, length: p.size } }));
}

/**
 * Finds or stores the content of every source. Unchanged files (by stat,
 * against the previous backup) are not read; the others are hashed, and
 * what no kept backup holds yet goes into new packs. Two new files with the
 * same content are stored once.
 */
export async function storeContent(sources: ArchiveSource[], reuse: ReuseIndex, packs: PackSet, o: StoreOptions): Promise<StoredFiles> {
  const found: (StoredContent | undefined)[] = sources.map((s) =>
    s.absPath && s.ino !== undefined && s.ctimeMs !== undefined ? reuse.unchanged(s.archivePath, { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino, ctimeMs: s.ctimeMs }) : undefined,
  );
  const unchanged = found.filter(Boolean).length;
  const toHash = sources.map((s, i) => ({ s, i })).filter((x) => !found[x.i]);
  const hashed = await hashPass(toHash.map((x) => x.s), { onProgress: o.onProgress, level: o.level }, o.failed, o.threads);
  const err = o.failed();
  if (err) throw err;

  // What is new: its entries (pieces for big files), and which source each stands for.
  const newEntries: Entry[] = [];
  const owner: { source: number; hashed: number; first: number; count: number }[] = [];
  const firstOf = new Map<string, number>();
  const sameAs = new Map<number, number>();
  const added: ManifestAdded = { files: 0, bytes: 0, packs: 0, packBytes: 0 };
  hashed.forEach((e, k) => {
    const i = toHash[k].i;
    const stored = reuse.byHash(e.sha256!, e.size);
    if (stored) {
      found[i] = stored;
      return;
    }
    const twin = firstOf.get(e.sha256!);
    if (twin !== undefined) {
      sameAs.set(i, twin);
      return;
    }
    firstOf.set(e.sha256!, i);
    const parts = piecesOf(e);
    owner.push({ source: i, hashed: k, first: newEntries.length, count: parts.length });
    newEntries.push(...parts);
    added.files++;
    added.bytes += e.size;
  });

  let placed: StoredPiece[] = [];
  if (newEntries.length > 0) {
    const pipeline = new Pipeline(newEntries, o.fail, o.onProgress, added.bytes, o.level, o.threads);
    const cancel = (): void => pipeline.cancel(o.failed() ?? new Error('cancelled'));
    o.signal?.addEventListener('abort', cancel, { once: true });
    try {
      placed = await writeEntries(pipeline, packs);
    } catch (e) {
      pipeline.cancel(e instanceof Error ? e : new Error(String(e)));
      throw e;
    } finally {
      o.signal?.removeEventListener('abort', cancel);
    }
  }
  const written = await packs.close();
  added.packs = written.length;
  added.packBytes = written.reduce((n, p) => n + p.size, 0);

  for (const w of owner) {
    const h = hashed[w.hashed];
    found[w.source] = { sha256: h.sha256!, size: h.size, pieces: placed.slice(w.first, w.first + w.count) };
  }
  for (const [i, twin] of sameAs) found[i] = found[twin];

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
  const files: ManifestFile[] = sources.map((s, i) => {
    const c = found[i]!;
    return {
      path: s.archivePath,
      size: c.size,
      mtime: mtimeIso(s.mtimeMs),
      mode: s.mode & 0o777,
      sha256: c.sha256,
      refs: c.pieces.map(refOf),
      ...(s.ino !== undefined ? { ino: s.ino } : {}),
      ...(s.ctimeMs !== undefined ? { ctime: Math.round(s.ctimeMs) } : {}),
    };
  });
  return { files, packs: packIds, written, added, unchanged };
}

export { packEntryName };
