import * as fs from 'fs';
import * as path from 'path';
import { isInside } from '../util/paths';
import { conflict, unsafeTarget } from './targetRoots';

/**
 * Proves that writing `target` cannot leave `rootDir`: the deepest existing
 * ancestor of `target` must be a folder whose real path (symlinks resolved)
 * is inside the root's real path. Caches per folder.
 */
export class ContainmentCheck {
  private readonly realRoots = new Map<string, string | null>();
  private readonly dirs = new Map<string, Promise<boolean>>();

  /** Resolves whether the target's folder exists: when it does not, neither does the target. */
  check(rootDir: string, target: string, name: string): Promise<boolean> {
    const parent = path.dirname(target);
    let p = this.dirs.get(parent);
    if (!p) {
      p = this.checkDir(rootDir, parent, name);
      this.dirs.set(parent, p);
    }
    return p;
  }

  private readonly rootDirs = new Map<string, Promise<boolean>>();

  private isDir(rootDir: string): Promise<boolean> {
    let p = this.rootDirs.get(rootDir);
    if (!p) this.rootDirs.set(rootDir, (p = fs.promises.stat(rootDir).then((st) => st.isDirectory())));
    return p;
  }

  private async realRoot(rootDir: string): Promise<string | null> {
    if (!this.realRoots.has(rootDir)) {
      try {
        this.realRoots.set(rootDir, await fs.promises.realpath(rootDir));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        this.realRoots.set(rootDir, null);
      }
    }
    return this.realRoots.get(rootDir)!;
  }

  private async checkDir(rootDir: string, dir: string, name: string): Promise<boolean> {
    const realRoot = await this.realRoot(rootDir);
    if (realRoot === null) {
      // The root does not exist yet: nothing below it can exist either, but its parents might be links; that is the user's choice.
      return false;
    }
    let probe = dir;
    while (probe !== rootDir && isInside(rootDir, probe)) {
      // ENOTDIR: a file further up; the loop walks up to it and reports the conflict.
      const st = await fs.promises.lstat(probe).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined;
        throw e;
      });
      if (st) break;
      probe = path.dirname(probe);
    }
    if (probe === rootDir) {
      if (!(await this.isDir(rootDir))) throw conflict(name, rootDir, 'A file');
      return dir === rootDir;
    }
    if (!isInside(rootDir, probe)) throw unsafeTarget(name, 'path');
    let real: string;
    try {
      real = await fs.promises.realpath(probe);
    } catch (e) {
      // A dangling symlink on the way: it would be followed on mkdir.
      throw unsafeTarget(name, `a broken link at ${probe}`);
    }
    if (real !== realRoot && !isInside(realRoot, real)) throw unsafeTarget(name, `a link at ${probe}`);
    const st = await fs.promises.stat(probe);
    if (!st.isDirectory()) throw conflict(name, probe, 'A file');
    return probe === dir;
  }
}
