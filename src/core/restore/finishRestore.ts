import * as fs from 'fs';
import type { Stats } from 'fs';
import { BackupError } from '../util/engineErrors';
import { lstatOrUndefined } from '../util/fileHash';
import { mapLimit } from '../util/firstFailure';
import { isInside } from '../util/paths';
import { ContainmentCheck } from './containment';
import { renameAll } from './renameAll';
import { RestoreLocks } from './restoreLock';
import { holdsContent, removeStaging } from './snapshot';
import { readRecord, writeRecord, type Before, type RecordEntry } from './snapshotRecord';
import { ioError } from './targetRoots';

export interface FinishResult {
  /** Files renamed into place now. */
  written: number;
  /** Files changed by someone since the restore stopped: left as they are. */
  kept: number;
}

const PARALLEL = 8;

/** Whether what is at a target is still what the restore found there (so the restore may replace it). */
async function unchangedSince(target: string, st: Stats | undefined, before: Before | undefined): Promise<boolean> {
  if (!before) return st === undefined;
  if (!st) return false;
  if (before.kind === 'file') {
    return st.isFile() && (before.size === undefined || st.size === before.size) && (before.mtimeMs === undefined || st.mtimeMs === before.mtimeMs);
  }
  if (before.kind === 'symlink') return st.isSymbolicLink() && (await fs.promises.readlink(target).catch(() => undefined)) === before.link;
  return !st.isFile() && !st.isSymbolicLink() && !st.isDirectory();
}

function cannotFinish(snapshotDir: string, reason: string, message: string, hint: string, files?: number): BackupError {
  return new BackupError('NotFound', message, hint, { params: { path: snapshotDir, reason, ...(files === undefined ? {} : { files }) } });
}

/**
 * Completes an interrupted restore from its staged files: each file not yet
 * in place is checked (its staged copy must still hold the backup's sha256)
 * and renamed; a target someone changed since the crash is kept as it is.
 * When staged files are gone nothing is changed and the answer is
 * `NotFound` (reason 'staging'): roll it back with undo instead.
 */
export async function finishRestore(snapshotDir: string): Promise<FinishResult> {
  const r = await readRecord(snapshotDir);
  if (r.state === 'complete') return { written: 0, kept: 0 };
  if (r.state === 'undone') {
    throw cannotFinish(r.dir, 'undone', 'This restore was undone, so it cannot be finished.', 'Restore the backup again instead.');
  }
  if (r.state === 'preparing' || r.format === 1) {
    throw cannotFinish(r.dir, 'staging', 'This restore stopped before its files were ready, so it cannot be finished.', 'Roll it back (undo), then restore again.');
  }
  const locks = await RestoreLocks.acquire(r.roots, r.dir);
  try {
    const todo: RecordEntry[] = [];
    const gone: RecordEntry[] = [];
    let kept = 0;
    const containment = new ContainmentCheck();
    await mapLimit(r.entries, PARALLEL, async (e) => {
      const st = await lstatOrUndefined(e.targetPath).catch(() => undefined);
      if (st && (await holdsContent(e.targetPath, e.restoredSha256))) return;
      if (!(await unchangedSince(e.targetPath, st, e.before))) {
        kept++;
        return;
      }
      const root = r.roots.find((d) => isInside(d, e.targetPath));
      if (!root) throw ioError(`"${e.targetPath}" is outside the folders of this restore`, undefined, { path: e.targetPath });
      await containment.check(root, e.targetPath, e.targetPath);
      if (e.staged && (await holdsContent(e.staged, e.restoredSha256))) todo.push(e);
      else gone.push(e);
    });
    if (gone.length > 0) {
      throw cannotFinish(
        r.dir,
        'staging',
        `${gone.length} of the files this restore had ready are gone, so it cannot be finished.`,
        'Roll it back (undo), then restore again.',
        gone.length,
      );
    }
    let written = 0;
    try {
      for (const d of r.createdDirs) {
        await fs.promises.mkdir(d).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e;
        });
      }
      await renameAll(
        todo.map((e) => e.staged!),
        todo.map((e) => e.targetPath),
        () => written++,
      );
    } catch (e) {
      throw ioError(`Finishing the restore stopped after ${written} of ${todo.length} files; undo puts back what it changed`, e, { snapshotDir: r.dir, written });
    }
    await writeRecord({ ...r, state: 'complete', completedAt: new Date().toISOString() });
    await removeStaging(r);
    return { written, kept };
  } finally {
    await locks.release();
  }
}
