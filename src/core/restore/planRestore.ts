import * as fs from 'fs';
import * as path from 'path';
import { selectFiles } from '../backup/select';
import type { Manifest, ManifestFile } from '../format/manifest';
import { lstatOrUndefined, sha256File } from '../util/fileHash';
import { mapLimit } from '../util/firstFailure';
import { resolveInside } from '../util/paths';
import { yieldIfDue } from '../util/timeSlice';
import { runsCode } from './codeFiles';
import { ContainmentCheck } from './containment';
import { planLinksAndDirs, type PlannedDir, type PlannedLink, type SkippedLink } from './planLinks';
import { conflict, ioError, rootFor, rootsOf, unsafeTarget, type Root } from './targetRoots';

export type RestoreAction = 'create' | 'overwrite' | 'unchanged' | 'onlyLocal';

export interface RestoreItem {
  archivePath: string;
  /** POSIX path relative to the target folder. */
  relPath: string;
  targetPath: string;
  action: RestoreAction;
  size: number;
  /** A file that makes a tool run code on its own (restore/codeFiles.ts): written only when the caller opts in. */
  runsCode?: boolean;
}

export interface RestorePlan {
  archiveFile: string;
  manifest: Manifest;
  targets: Record<string, string>;
  items: RestoreItem[];
  counts: Record<RestoreAction, number>;
  /** Format 2: links recreated as links, empty folders, and links left out (their target leaves the folder). */
  links?: PlannedLink[];
  dirs?: PlannedDir[];
  skippedLinks?: SkippedLink[];
}


// Thread-pool calls in flight: more than libuv's 4 threads keeps them all busy between round trips.
export const PARALLEL = 8;

/**
 * Says what restoring would do to each file, without writing anything:
 * `targets` maps an archive prefix (e.g. 'workspace/app') to an absolute
 * folder. A file is 'create'd, 'overwrite'n, or left 'unchanged' (same size
 * and sha256); files in a target that the backup lacks are 'onlyLocal' (never
 * deleted). Files that can run code on their own are marked `runsCode`.
 * Refuses ('UnsafeArchive') any file that would land outside its
 * target, including through a symbolic link already in the target, and
 * ('AlreadyExists') a folder where the backup has a file.
 * `only` (an archive path) restores just that file or folder of the backup:
 * the plan, its manifest and its 'onlyLocal' files are limited to it.
 */
export async function planRestore(archiveFile: string, full: Manifest, targets: Record<string, string>, o: { only?: string } = {}): Promise<RestorePlan> {
  const manifest = o.only === undefined ? full : manifestUnder(full, o.only);
  const inScope = (archivePath: string): boolean => o.only === undefined || isUnder(archivePath, o.only);
  const roots = rootsOf(targets);
  const containment = new ContainmentCheck();
  const items: RestoreItem[] = [];
  // Each item's manifest file, by the item's index: no map of every path for the few targets that exist.
  const fileOf: ManifestFile[] = [];
  // The paths planned in each target that exists already, to tell its own files ('onlyLocal') from them.
  const planned = new Map<string, Set<string>>();
  for (const root of roots) if ((await lstatOrUndefined(root.dir).catch(() => undefined))?.isDirectory()) planned.set(root.dir, new Set());
  for (const f of manifest.files) {
    // Awaited only when due: an await of nothing still costs a promise and a microtask a file.
    const turn = yieldIfDue();
    if (turn) await turn;
    const hit = rootFor(roots, f.path);
    if (!hit) continue;
    const targetPath = resolveInside(hit.root.dir, hit.rel);
    if (!targetPath) throw unsafeTarget(f.path, 'path');
    items.push({ archivePath: f.path, relPath: hit.rel, targetPath, action: 'create', size: f.size, ...(runsCode(hit.rel) ? { runsCode: true } : {}) });
    fileOf.push(f);
    planned.get(hit.root.dir)?.add(hit.rel);
  }
  const rootOfItem = (it: RestoreItem): Root => rootFor(roots, it.archivePath)!.root;

  await mapLimit(items, PARALLEL, async (it, i) => {
    if (!(await containment.check(rootOfItem(it).dir, it.targetPath, it.archivePath))) return;
    let st: fs.Stats | undefined;
    try {
      st = await lstatOrUndefined(it.targetPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') throw conflict(it.archivePath, path.dirname(it.targetPath), 'A file');
      throw ioError(`"${it.targetPath}" cannot be read`, e, { path: it.targetPath });
    }
    if (!st) return;
    if (st.isDirectory()) throw conflict(it.archivePath, it.targetPath, 'A folder');
    const f = fileOf[i];
    if (!st.isFile() || st.size !== f.size) {
      it.action = 'overwrite';
      return;
    }
    let sha: string;
    try {
      sha = await sha256File(it.targetPath);
    } catch (e) {
      throw ioError(`"${it.targetPath}" cannot be read`, e, { path: it.targetPath });
    }
    it.action = sha === f.sha256 ? 'unchanged' : 'overwrite';
  });

  for (const root of roots) {
    const mine = planned.get(root.dir);
    if (!mine) continue;
    const local = await selectFiles(root.dir, { useGitignore: true });
    for (const f of local.files) {
      if (mine.has(f.relPath)) continue;
      const archivePath = root.prefix === '' ? f.relPath : `${root.prefix}/${f.relPath}`;
      if (!inScope(archivePath)) continue;
      items.push({
        archivePath,
        relPath: f.relPath,
        targetPath: f.absPath,
        action: 'onlyLocal',
        size: f.size,
      });
    }
  }
  const counts: Record<RestoreAction, number> = { create: 0, overwrite: 0, unchanged: 0, onlyLocal: 0 };
  for (const it of items) counts[it.action]++;
  const extras = manifest.links?.length || manifest.dirs?.length ? await planLinksAndDirs(manifest, roots, containment) : undefined;
  return { archiveFile, manifest, targets: { ...targets }, items, counts, ...(extras ?? {}) };
}

/** `p` is `scope` or inside it (archive paths). */
function isUnder(p: string, scope: string): boolean {
  const s = scope.replace(/^\/+|\/+$/g, '');
  return s === '' || p === s || p.startsWith(`${s}/`);
}

/** The part of a manifest at or under archive path `scope`: what restoring one file or folder writes. */
export function manifestUnder(m: Manifest, scope: string): Manifest {
  const files = m.files.filter((f) => isUnder(f.path, scope));
  return {
    ...m,
    files,
    totals: { files: files.length, bytes: files.reduce((n, f) => n + f.size, 0) },
    ...(m.dirs ? { dirs: m.dirs.filter((d) => isUnder(d.path, scope)) } : {}),
    ...(m.links ? { links: m.links.filter((l) => isUnder(l.path, scope)) } : {}),
  };
}
