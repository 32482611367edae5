// What a new backup need not upload again. Two ways to know a file's content
// is already in the bucket: its stat says it is the file the previous backup
// of this machine and folder read (same size, mtime, ctime and inode: no need
// to read it), or its sha256 matches a file of a kept backup. Either way the
// new manifest points at the same pieces of the same packs.
import type { StoredPiece } from '../archive/packWriter';
import type { Manifest, ManifestFile } from '../format/manifest';
import { yieldIfDue } from '../util/timeSlice';

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

type Held = { file: ManifestFile; packs: readonly string[] };

export class ReuseIndex {
  private readonly previous = new Map<string, Held>();
  // The file and its manifest's packs, not its StoredContent: that is built
  // only for the files found again (100,000 piece objects less up front).
  private readonly byContent = new Map<string, Held>();

  /** The previous backup of this machine for some of the folders (`prefixes`); its files' stats are trusted. */
  async addPrevious(m: Manifest, prefixes: ReadonlySet<string>): Promise<void> {
    const packs = m.packs ?? [];
    for (let i = 0; i < m.files.length; i++) {
      // Loops over every file give the event loop a turn (30,000 files: ~60 ms in one go).
      if (i % 1024 === 0) await yieldIfDue();
      const f = m.files[i];
      if (!f.refs) continue;
      const first = f.path.indexOf('/');
      const second = first < 0 ? -1 : f.path.indexOf('/', first + 1);
      const top = second < 0 ? f.path : f.path.slice(0, second);
      if (prefixes.has(top) || prefixes.has(first < 0 ? f.path : f.path.slice(0, first))) this.previous.set(f.path, { file: f, packs });
    }
    await this.addContent(m);
  }

  /** Any kept backup: its files' content can be referenced by hash. */
  async addContent(m: Manifest): Promise<void> {
    const packs = m.packs ?? [];
    for (let i = 0; i < m.files.length; i++) {
      if (i % 1024 === 0) await yieldIfDue();
      const f = m.files[i];
      if (f.refs && !this.byContent.has(f.sha256)) this.byContent.set(f.sha256, { file: f, packs });
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
    return c && c.file.size === size ? contentOf(c.file, c.packs) : undefined;
  }
}
