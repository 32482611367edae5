// What a new backup need not upload again. Two ways to know a file's content
// is already in the bucket: its stat says it is the file the previous backup
// of this machine and folder read (same size, mtime, ctime and inode: no need
// to read it), or its sha256 matches a file of a kept backup. Either way the
// new manifest points at the same pieces of the same packs.
import type { StoredPiece } from '../archive/packWriter';
import type { Manifest, ManifestFile } from '../format/manifest';

export type { StoredPiece } from '../archive/packWriter';

export interface StoredContent {
  sha256: string;
  size: number;
  pieces: StoredPiece[];
}

/** What the scan saw of a file. */
export interface FileStat {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

function contentOf(f: ManifestFile, packs: readonly string[]): StoredContent | undefined {
  if (!f.refs) return undefined;
  return {
    sha256: f.sha256,
    size: f.size,
    pieces: f.refs.map(([pack, offset, compressedSize, method, crc32, size]) => ({ packId: packs[pack], offset, compressedSize, method, crc32, size })),
  };
}

export class ReuseIndex {
  private readonly previous = new Map<string, { file: ManifestFile; packs: readonly string[] }>();
  private readonly byContent = new Map<string, StoredContent>();

  /** The previous backup of this machine for some of the folders (`prefixes`); its files' stats are trusted. */
  addPrevious(m: Manifest, prefixes: ReadonlySet<string>): void {
    const packs = m.packs ?? [];
    for (const f of m.files) {
      const top = f.path.split('/').slice(0, 2).join('/');
      if (f.refs && (prefixes.has(top) || prefixes.has(f.path.split('/')[0]))) this.previous.set(f.path, { file: f, packs });
    }
    this.addContent(m);
  }

  /** Any kept backup: its files' content can be referenced by hash. */
  addContent(m: Manifest): void {
    const packs = m.packs ?? [];
    for (const f of m.files) {
      if (this.byContent.has(f.sha256)) continue;
      const c = contentOf(f, packs);
      if (c) this.byContent.set(f.sha256, c);
    }
  }

  get size(): number {
    return this.byContent.size;
  }

  /**
   * The stored content of `archivePath` when the file is, by its stat, the one
   * the previous backup read: same size, mtime and ctime to the millisecond,
   * and the same inode (where the file system has stable ones).
   */
  unchanged(archivePath: string, st: FileStat): StoredContent | undefined {
    const prev = this.previous.get(archivePath);
    if (!prev) return undefined;
    const f = prev.file;
    if (f.size !== st.size || Date.parse(f.mtime) !== Math.round(st.mtimeMs)) return undefined;
    if (f.ctime === undefined || f.ctime !== Math.round(st.ctimeMs)) return undefined;
    if ((f.ino ?? 0) !== st.ino) return undefined;
    return contentOf(f, prev.packs);
  }

  /** The stored content with this sha256 and size, if a kept backup has it. */
  byHash(sha256: string, size: number): StoredContent | undefined {
    const c = this.byContent.get(sha256);
    return c && c.size === size ? c : undefined;
  }
}
