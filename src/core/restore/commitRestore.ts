import * as fs from 'fs';
import * as path from 'path';
import { BackupError, throwIfAborted } from '../util/engineErrors';
import { mapLimit } from '../util/firstFailure';
import { testPause } from '../util/testPause';
import { renameAll } from './renameAll';
import { missingDirs, type SnapshotWriter } from './snapshot';
import { moveTree, TreeStaging, type StagedTree } from './stagedTrees';
import type { Before, RecordEntry } from './snapshotRecord';
import { ioError as ioErrorOf } from './targetRoots';
import { yieldIfDue } from '../util/timeSlice';

/**
 * One staged file, ready to be renamed over its target. It is its own entry
 * in the undo record (`before` is set when what it replaces is saved): one
 * object a file at the commit, not two.
 */
export interface StagedFile extends RecordEntry {
  staged: string;
  /** What is at the target now (lstat), if anything. */
  current?: fs.Stats;
  /** The new folder it is staged in (staged inside `tree.staged`), if any. */
  tree?: StagedTree;
}

/**
 * A file staged in a new folder: its staged path is worked out when asked for
 * (the undo record's writes, a folder that could not move whole), not a
 * string each file holds through the commit (100,000 files: ~12 MiB of the
 * restore's peak, at its very end).
 */
export class InTreeFile implements StagedFile {
  before?: Before;
  constructor(
    readonly targetPath: string,
    readonly tree: StagedTree,
    readonly restoredSha256: string,
    readonly current: fs.Stats | undefined,
  ) {}

  get staged(): string {
    return TreeStaging.stagedPath(this.tree, this.targetPath);
  }
}

// Thread-pool calls in flight: more than libuv's 4 threads keeps them all busy between round trips.
const PARALLEL = 8;

/**
 * The commit phase of a restore, once every file is staged and checked:
 * copies of what will be replaced go into the snapshot, the whole list of
 * changes (with the folders to create) is written and synced, then the staged
 * files are renamed into place (atomic per file; mode and mtime were set on
 * the staged file), a new folder staged whole in one rename of the folder.
 * A cancel is honoured until the list is written, never after. A failure
 * during the renames leaves an interrupted restore that undo rolls back or
 * finish completes. Resolves with the number of renames.
 */
export async function commitRestore(
  journal: SnapshotWriter,
  files: StagedFile[],
  o: { signal?: AbortSignal; dirs?: readonly string[]; trees?: readonly StagedTree[] } = {},
): Promise<number> {
  try {
    await mapLimit(files, PARALLEL, async (f) => {
      if (f.current) f.before = await journal.saveOriginal(f.targetPath, f.current);
    });
  } catch (e) {
    throw ioError(`The safety copy could not be written to "${journal.dir}"`, e, { path: journal.dir });
  }
  const known = new Map<string, boolean>();
  const dirs: string[] = [];
  // The files' parents, and the empty folders the backup holds (format 2).
  const parentSet = new Set<string>();
  for (let i = 0; i < files.length; i++) {
    // A turn of the event loop now and then: 100,000 files are ~20 ms of dirname and set.
    if (i % 2048 === 0) await yieldIfDue();
    parentSet.add(path.dirname(files[i].targetPath));
  }
  for (const d of o.dirs ?? []) parentSet.add(d);
  const parents = [...parentSet];
  for (const p of parents) for (const d of await missingDirs(p, known)) if (!dirs.includes(d)) dirs.push(d);
  dirs.sort((a, b) => a.length - b.length);
  testPause('snapshot');
  throwIfAborted(o.signal);
  try {
    await journal.commit(files, dirs);
  } catch (e) {
    throw ioError(`The safety copy could not be written to "${journal.dir}"`, e, { path: journal.dir });
  }

  // Point of no return: no cancel from here; the record already lists every change.
  let renamed = 0;
  const counted = (): void => {
    renamed++;
    testPause('renames');
  };
  try {
    // The new folders staged whole move with their subtree; the rest of the folders are made here.
    const trees = o.trees ?? [];
    const treeAt = new Map(trees.map((t) => [t.targetPath, t]));
    const treeOf = (d: string): StagedTree | undefined => {
      for (let p = d; ; p = path.dirname(p)) {
        const t = treeAt.get(p);
        if (t || path.dirname(p) === p) return t;
      }
    };
    const makeDirs = async (of: StagedTree | undefined): Promise<void> => {
      for (const d of dirs) {
        if (treeOf(d) !== of) continue;
        await fs.promises.mkdir(d).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e;
        });
      }
    };
    await makeDirs(undefined);
    const renameEach = (list: readonly StagedFile[]): Promise<void> =>
      renameAll(
        list.map((f) => f.staged),
        list.map((f) => f.targetPath),
        counted,
      );
    // Files of folders that exist first, then each new folder's subtree.
    const loose: StagedFile[] = [];
    const inTree = new Map<StagedTree, StagedFile[]>(trees.map((t) => [t, []]));
    for (const f of files) (f.tree ? inTree.get(f.tree)! : loose).push(f);
    await renameEach(loose);
    for (const t of trees) {
      if (await moveTree(t)) {
        for (let k = inTree.get(t)!.length; k > 0; k--) counted();
      } else {
        // The folder is there by now (or the move failed): its files go one by one.
        await makeDirs(t);
        await renameEach(inTree.get(t)!);
      }
    }
  } catch (e) {
    await journal.release();
    throw ioError(`The restore stopped after ${renamed} of ${files.length} files; undo puts back what it changed`, e, { snapshotDir: journal.dir, written: renamed });
  }
  await journal.complete();
  return renamed;
}

function ioError(message: string, e: unknown, params: Record<string, string | number>): BackupError {
  return e instanceof BackupError ? e : ioErrorOf(message, e, params);
}
