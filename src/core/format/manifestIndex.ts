// A backup seen as folders: the manifest's flat list of paths indexed once
// into a map from each folder to its children, so listing one folder of a
// 70,000-file backup costs a map lookup, not a pass over every path.
import type { Manifest, ManifestFile } from './manifest';

export type BrowseKind = 'file' | 'folder' | 'link';

/** One child of a folder in a backup. */
export interface BrowseEntry {
  name: string;
  /** Archive path (POSIX, relative), e.g. `workspace/app/src/index.ts`; '' is the backup's top. */
  path: string;
  kind: BrowseKind;
  /** Bytes of a file (0 for folders; a link's target length). */
  size: number;
  /** ISO 8601 UTC, when the manifest records one (folders that hold files have none). */
  mtime?: string;
  /** A link's target. */
  target?: string;
}

const indexes = new WeakMap<Manifest, ManifestIndex>();

export class ManifestIndex {
  private readonly children = new Map<string, Map<string, BrowseEntry>>();
  private readonly sorted = new Map<string, BrowseEntry[]>();
  private readonly files = new Map<string, ManifestFile>();

  /** The index of a manifest, built on first use and kept as long as the manifest is. */
  static of(manifest: Manifest): ManifestIndex {
    let ix = indexes.get(manifest);
    if (!ix) indexes.set(manifest, (ix = new ManifestIndex(manifest)));
    return ix;
  }

  private constructor(manifest: Manifest) {
    this.children.set('', new Map());
    for (const f of manifest.files) {
      this.files.set(f.path, f);
      this.add({ name: baseName(f.path), path: f.path, kind: 'file', size: f.size, mtime: f.mtime });
    }
    for (const d of manifest.dirs ?? []) this.folder(d.path).mtime = d.mtime;
    for (const l of manifest.links ?? []) this.add({ name: baseName(l.path), path: l.path, kind: 'link', size: l.target.length, mtime: l.mtime, target: l.target });
  }

  /** The children of folder `dir` ('' = the top), folders first, then by name; undefined when `dir` is no folder of the backup. */
  list(dir: string): BrowseEntry[] | undefined {
    const key = trimSlashes(dir);
    let list = this.sorted.get(key);
    if (!list) {
      const map = this.children.get(key);
      if (!map) return undefined;
      list = [...map.values()].sort(compareEntries);
      this.sorted.set(key, list);
    }
    return list;
  }

  /** What `p` is in the backup ('' = the top folder); undefined when the backup has nothing there. */
  stat(p: string): BrowseEntry | undefined {
    const key = trimSlashes(p);
    if (key === '') return { name: '', path: '', kind: 'folder', size: 0 };
    return this.children.get(parentOf(key))?.get(baseName(key));
  }

  /** The manifest's record of the file at `p`. */
  file(p: string): ManifestFile | undefined {
    return this.files.get(trimSlashes(p));
  }

  private add(e: BrowseEntry): void {
    const up = parentOf(e.path);
    if (!this.children.has(up)) this.folder(up);
    this.children.get(up)!.set(e.name, e);
  }

  /** The folder entry at `p`, created with its parents as needed. */
  private folder(p: string): BrowseEntry {
    if (p === '') return { name: '', path: '', kind: 'folder', size: 0 };
    const up = parentOf(p);
    const name = baseName(p);
    if (!this.children.has(up)) this.folder(up);
    const siblings = this.children.get(up)!;
    let e = siblings.get(name);
    if (!e || e.kind !== 'folder') {
      e = { name, path: p, kind: 'folder', size: 0 };
      siblings.set(name, e);
    }
    if (!this.children.has(p)) this.children.set(p, new Map());
    return e;
  }
}

function compareEntries(a: BrowseEntry, b: BrowseEntry): number {
  if ((a.kind === 'folder') !== (b.kind === 'folder')) return a.kind === 'folder' ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function trimSlashes(p: string): string {
  return p.replace(/^\/+|\/+$/g, '');
}

function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}
