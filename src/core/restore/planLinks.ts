// Symbolic links and empty folders of a format-2 backup, on restore. A link
// is recreated as a link only when its target, read from where the link
// sits, stays inside the folder being restored (a relative target: the
// restored tree means the same thing on every machine); any other is
// reported and left out, never followed. Empty folders are created.
import * as fs from 'fs';
import * as path from 'path';
import type { Manifest } from '../format/manifest';
import { lstatOrUndefined } from '../util/fileHash';
import { isInside, resolveInside } from '../util/paths';
import { runsCode } from './codeFiles';
import type { ContainmentCheck } from './containment';
import { conflict, rootFor, unsafeTarget, type Root } from './targetRoots';

export interface PlannedLink {
  archivePath: string;
  relPath: string;
  targetPath: string;
  /** The link's target, as stored. */
  target: string;
  action: 'create' | 'overwrite' | 'unchanged';
  runsCode?: boolean;
}

export interface PlannedDir {
  archivePath: string;
  targetPath: string;
  action: 'create' | 'unchanged';
}

/** A link the restore does not recreate, and why. */
export interface SkippedLink {
  archivePath: string;
  target: string;
  reason: 'outside';
}

export interface PlannedExtras {
  links: PlannedLink[];
  dirs: PlannedDir[];
  skippedLinks: SkippedLink[];
}

/** Whether a link at `linkPath` with `target` points inside `rootDir` (lexically: the link is never followed). */
export function linkStaysInside(rootDir: string, linkPath: string, target: string): boolean {
  if (path.isAbsolute(target) || /^[A-Za-z]:/.test(target) || target.includes('\\')) return false;
  const resolved = path.resolve(path.dirname(linkPath), ...target.split('/'));
  return resolved === rootDir || isInside(rootDir, resolved);
}

/** Plans the links and empty folders of `manifest` under `roots`; nothing is written. */
export async function planLinksAndDirs(manifest: Manifest, roots: Root[], containment: ContainmentCheck): Promise<PlannedExtras> {
  const out: PlannedExtras = { links: [], dirs: [], skippedLinks: [] };
  for (const l of manifest.links ?? []) {
    const hit = rootFor(roots, l.path);
    if (!hit) continue;
    const targetPath = resolveInside(hit.root.dir, hit.rel);
    if (!targetPath) throw unsafeTarget(l.path, 'path');
    if (!linkStaysInside(hit.root.dir, targetPath, l.target)) {
      out.skippedLinks.push({ archivePath: l.path, target: l.target, reason: 'outside' });
      continue;
    }
    let action: PlannedLink['action'] = 'create';
    if (await containment.check(hit.root.dir, targetPath, l.path)) {
      const st = await lstatOrUndefined(targetPath);
      if (st?.isDirectory()) throw conflict(l.path, targetPath, 'A folder');
      if (st) action = st.isSymbolicLink() && (await fs.promises.readlink(targetPath)) === l.target ? 'unchanged' : 'overwrite';
    }
    out.links.push({ archivePath: l.path, relPath: hit.rel, targetPath, target: l.target, action, ...(runsCode(hit.rel) ? { runsCode: true } : {}) });
  }
  for (const d of manifest.dirs ?? []) {
    const hit = rootFor(roots, d.path);
    if (!hit) continue;
    const targetPath = resolveInside(hit.root.dir, hit.rel);
    if (!targetPath) throw unsafeTarget(d.path, 'path');
    let action: PlannedDir['action'] = 'create';
    if (await containment.check(hit.root.dir, targetPath, d.path)) {
      const st = await lstatOrUndefined(targetPath);
      if (st?.isDirectory()) action = 'unchanged';
      else if (st) throw conflict(d.path, targetPath, 'A file');
    }
    out.dirs.push({ archivePath: d.path, targetPath, action });
  }
  return out;
}
