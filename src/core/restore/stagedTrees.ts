// New folders staged whole. Where a folder of the target does not exist yet
// (the "Computer B" restore), its files are staged in a copy of the folder's
// subtree inside the staging folder, and at commit the subtree is renamed
// into place once: 100,000 files in 200 new folders are 200 renames of
// files' folders instead of 100,000 renames of files. The undo record is the
// same as for files renamed one by one (every file with its staged path, and
// the folders the restore creates), so undo and finish need nothing new: a
// file whose folder moved is already at its target, one whose folder did not
// is still at its staged path.
import * as fs from 'fs';
import * as path from 'path';
import { missingDirs } from './snapshot';

/** A new folder of the target (`targetPath`, missing when staged) and where its subtree is staged. */
export interface StagedTree {
  targetPath: string;
  staged: string;
}

/** Which target paths lie in a new folder, and where each is staged then. */
export class TreeStaging {
  readonly trees: StagedTree[] = [];
  private readonly topOf = new Map<string, StagedTree | null>();
  private readonly dirs = new Set<string>();

  /**
   * `folders`: the folders that will hold what is staged (files' and links'
   * parents, empty folders of the backup), each with the staging folder of
   * the root it is in. Every root must exist.
   */
  static async of(folders: ReadonlyMap<string, string>): Promise<TreeStaging> {
    const t = new TreeStaging();
    const known = new Map<string, boolean>();
    const byTop = new Map<string, StagedTree>();
    const counts = new Map<string, number>();
    for (const [folder, staging] of folders) {
      const missing = await missingDirs(folder, known);
      if (missing.length === 0) {
        t.topOf.set(folder, null);
        continue;
      }
      const top = missing[0];
      let tree = byTop.get(top);
      if (!tree) {
        const n = counts.get(staging) ?? 0;
        counts.set(staging, n + 1);
        tree = { targetPath: top, staged: path.join(staging, `tree-${n}`) };
        byTop.set(top, tree);
        t.trees.push(tree);
      }
      t.topOf.set(folder, tree);
      for (const d of missing) t.dirs.add(tree.staged + d.slice(top.length));
    }
    return t;
  }

  /** The new folder the file or link at `targetPath` is staged in, if any (its folder must be one of `folders`). */
  treeOf(targetPath: string): StagedTree | undefined {
    return this.topOf.get(path.dirname(targetPath)) ?? undefined;
  }

  /** Where the file or link at `targetPath` is staged in `tree`. */
  static stagedPath(tree: StagedTree, targetPath: string): string {
    return tree.staged + targetPath.slice(tree.targetPath.length);
  }

  /** Creates the staged subtrees' folders (outermost first). */
  async create(): Promise<void> {
    for (const d of [...this.dirs].sort((a, b) => a.length - b.length)) await fs.promises.mkdir(d);
  }
}

/**
 * Renames a staged subtree into place; false (nothing changed) when the
 * target folder exists by now, or the rename fails: its files then go one by
 * one, like any other.
 */
export async function moveTree(tree: StagedTree): Promise<boolean> {
  // Linux renames a folder over an empty one; a folder made since staging stays the user's.
  if (await fs.promises.lstat(tree.targetPath).then(() => true, () => false)) return false;
  return fs.promises.rename(tree.staged, tree.targetPath).then(
    () => true,
    () => false,
  );
}
