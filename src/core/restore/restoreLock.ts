// One restore at a time per folder, across the CLI, the extension and VS Code
// windows: a lock file inside the folder (the one place they all see), created
// exclusively, naming its process and its undo record. A lock whose process
// is gone is stale and taken over, so a crash never leaves a folder stuck.
import * as fs from 'fs';
import * as path from 'path';
import { BackupError } from '../util/engineErrors';
import { asOwner, currentOwner, ownerAlive, type ProcessOwner } from '../util/processOwner';
import { readRecord } from './snapshotRecord';

export const LOCK_NAME = '.s3-backup-restore.lock';

export interface LockInfo extends ProcessOwner {
  /** The undo record of the restore holding the lock. */
  snapshotDir: string;
}

/** A lock file may be read in the instant between its creation and its first write: that young and empty, it is held. */
const WRITING_GRACE_MS = 10_000;

export function lockFile(dir: string): string {
  return path.join(dir, LOCK_NAME);
}

/** The lock of a folder: undefined when there is none, `null` when it is unreadable. */
export async function readLock(dir: string): Promise<LockInfo | null | undefined> {
  let text: string;
  try {
    text = await fs.promises.readFile(lockFile(dir), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    const owner = asOwner(v);
    return owner && typeof v.snapshotDir === 'string' ? { ...owner, snapshotDir: v.snapshotDir } : null;
  } catch {
    return null;
  }
}

/** `Busy`: a restore (or its undo) into `dir` is running; `lock` names it when known. */
export function busyError(dir: string, lock?: LockInfo): BackupError {
  const who = lock ? ` (process ${lock.pid} on ${lock.host}, since ${lock.started})` : '';
  return new BackupError('Busy', `Another restore into "${dir}" is running${who}.`, 'Wait for it to finish, then try again.', {
    params: { path: dir, reason: 'running', ...(lock ? { pid: lock.pid, host: lock.host, snapshotDir: lock.snapshotDir } : {}) },
  });
}

function interrupted(dir: string, lock: LockInfo): BackupError {
  return new BackupError(
    'Busy',
    `An earlier restore into "${dir}" was interrupted and is not finished.`,
    `Finish it or roll it back first ("s3-backup undo" lists it; its undo record is ${lock.snapshotDir}).`,
    { params: { path: dir, reason: 'interrupted', snapshotDir: lock.snapshotDir } },
  );
}

async function isInterrupted(snapshotDir: string): Promise<boolean> {
  try {
    return (await readRecord(snapshotDir)).state === 'applying';
  } catch {
    return false;
  }
}

type LockState =
  | { kind: 'none' }
  | { kind: 'held'; lock?: LockInfo }
  | { kind: 'interrupted'; lock: LockInfo; text: string }
  | { kind: 'stale'; text: string };

/** What the lock of `dir` means: none, held by a live process, left by an interrupted restore, or stale. */
async function lockState(dir: string): Promise<LockState> {
  const file = lockFile(dir);
  const text = await fs.promises.readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return { kind: 'none' };
  const lock = await readLock(dir).catch(() => undefined);
  if (lock === undefined) return { kind: 'none' };
  if (lock === null) {
    const st = await fs.promises.stat(file).catch(() => undefined);
    return st && Date.now() - st.mtimeMs < WRITING_GRACE_MS ? { kind: 'held' } : { kind: 'stale', text };
  }
  if (ownerAlive(lock)) return { kind: 'held', lock };
  if (await isInterrupted(lock.snapshotDir)) return { kind: 'interrupted', lock, text };
  return { kind: 'stale', text };
}

/** Removes the lock file if it still holds `text` (never one that someone took meanwhile). */
async function removeIfUnchanged(dir: string, text: string): Promise<boolean> {
  const file = lockFile(dir);
  if ((await fs.promises.readFile(file, 'utf8').catch(() => undefined)) !== text) return false;
  await fs.promises.rm(file, { force: true });
  return true;
}

/** Whether a live process holds the folder's lock for the restore `snapshotDir` (any restore when omitted). */
export async function lockHeld(dir: string, snapshotDir?: string): Promise<boolean> {
  const lock = await readLock(dir).catch(() => undefined);
  return !!lock && ownerAlive(lock) && (snapshotDir === undefined || lock.snapshotDir === snapshotDir);
}

/**
 * Removes the lock of `dir` when it is stale (its process is gone) and does
 * not guard an interrupted restore; true when it removed one.
 */
export async function clearStaleLock(dir: string): Promise<boolean> {
  const st = await lockState(dir);
  return st.kind === 'stale' && removeIfUnchanged(dir, st.text);
}

/** The locks one restore (or its undo or finish) holds; `release` removes them. */
export class RestoreLocks {
  private constructor(
    private readonly held: string[],
    private readonly text: string,
  ) {}

  /**
   * Locks every folder for the work on `snapshotDir`, or none: `Busy` when a
   * live process holds one, or when a dead one left an interrupted restore
   * other than `snapshotDir` (it must be finished or rolled back first).
   * Folders that do not exist are skipped. Does not wait.
   */
  static async acquire(dirs: readonly string[], snapshotDir: string): Promise<RestoreLocks> {
    const locks = new RestoreLocks([], JSON.stringify({ ...currentOwner(), snapshotDir } satisfies LockInfo));
    try {
      for (const dir of [...new Set(dirs)].sort()) {
        if (await locks.take(dir, snapshotDir)) locks.held.push(dir);
      }
      return locks;
    } catch (e) {
      await locks.release();
      throw e;
    }
  }

  private async take(dir: string, snapshotDir: string): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await fs.promises.writeFile(lockFile(dir), this.text, { flag: 'wx', mode: 0o600 });
        return true;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return false;
        if (code !== 'EEXIST') throw e;
      }
      const st = await lockState(dir);
      if (st.kind === 'held') throw busyError(dir, st.lock);
      if (st.kind === 'interrupted') {
        if (st.lock.snapshotDir !== snapshotDir) throw interrupted(dir, st.lock);
        await removeIfUnchanged(dir, st.text);
      } else if (st.kind === 'stale') {
        await removeIfUnchanged(dir, st.text);
      }
    }
    throw busyError(dir);
  }

  /** Removes the locks this process still holds (never another's). */
  async release(): Promise<void> {
    for (const dir of this.held.splice(0)) await removeIfUnchanged(dir, this.text).catch(() => undefined);
  }
}
