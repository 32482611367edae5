// The safety snapshot (undo record) of a restore while it is made, and undo.
// Workspace and app data restores both go through `SnapshotWriter`:
//   begin    record 'preparing' (the folders it will create, its staging folders), synced
//   prepare  create the target folders, lock them, create the staging folders
//   ...      the caller stages every new file
//   commit   copies of what will be replaced, then the whole list of changes, synced:
//            record 'applying'; from here each rename is undoable with no further write
//   complete record 'complete', staging removed, locks released
// A process killed at any point leaves either a 'preparing' record (nothing of
// the user's changed; clean-up removes it) or an 'applying' one (undo or finish).
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { lstatOrUndefined, sha256File } from '../util/fileHash';
import { mapLimit } from '../util/firstFailure';
import { isInside } from '../util/paths';
import { currentOwner, ownerAlive } from '../util/processOwner';
import { busyError, RestoreLocks } from './restoreLock';
import { ioError } from './targetRoots';
import {
  LINK_CONTENT_PREFIX,
  newSnapshotId,
  readRecord,
  STAGING_PREFIX,
  syncDir,
  writeRecord,
  type Before,
  type RecordEntry,
  type SnapshotBackup,
  type SnapshotRecord,
} from './snapshotRecord';

export type { SnapshotBackup } from './snapshotRecord';

export interface UndoResult {
  restored: number;
  removed: number;
}

// Parallel file operations: more than libuv's 4 threads keeps them all busy.
const PARALLEL = 8;

/** The folders missing on the way to `dir` (outermost first), below `stop` when given. */
export async function missingDirs(dir: string, known = new Map<string, boolean>()): Promise<string[]> {
  const missing: string[] = [];
  for (let p = dir; ; p = path.dirname(p)) {
    let exists = known.get(p);
    if (exists === undefined) {
      exists = (await lstatOrUndefined(p).catch(() => undefined)) !== undefined;
      known.set(p, exists);
    }
    if (exists || path.dirname(p) === p) break;
    missing.unshift(p);
  }
  return missing;
}

/**
 * Records one restore while it runs (see the steps above). The record lists
 * every change before the first one is made, so undo needs nothing else.
 */
export class SnapshotWriter {
  private copies = 0;
  private locks: RestoreLocks | undefined;
  /** The outermost folder `begin` created for the snapshot root, removed again by `abandon` when empty. */
  private madeRoot: string | undefined;

  private constructor(readonly record: SnapshotRecord) {}

  /** The snapshot folder. */
  get dir(): string {
    return this.record.dir;
  }

  /** Whether the record lists the changes (renames may have begun): past this point it is never discarded. */
  get committed(): boolean {
    return this.record.state !== 'preparing';
  }

  /**
   * Writes a 'preparing' record for a restore into `roots` (the folders it
   * locks and stages in; missing ones are created by `prepare`).
   */
  static async begin(snapshotRoot: string, backup: SnapshotBackup, targets: Record<string, string>, roots: readonly string[]): Promise<SnapshotWriter> {
    const id = newSnapshotId();
    const dir = path.join(path.resolve(snapshotRoot), id);
    const madeRoot = await fs.promises.mkdir(path.dirname(dir), { recursive: true });
    await fs.promises.mkdir(path.join(dir, 'files'), { recursive: true });
    const known = new Map<string, boolean>();
    const createdDirs: string[] = [];
    for (const r of roots) for (const d of await missingDirs(r, known)) if (!createdDirs.includes(d)) createdDirs.push(d);
    const w = new SnapshotWriter({
      dir,
      format: 2,
      created: new Date().toISOString(),
      backup,
      targets: { ...targets },
      state: 'preparing',
      owner: currentOwner(),
      roots: [...roots],
      staging: roots.map((r) => path.join(r, STAGING_PREFIX + id)),
      entries: [],
      createdDirs,
    });
    w.madeRoot = madeRoot;
    await writeRecord(w.record);
    await syncDir(path.dirname(dir));
    return w;
  }

  /** Creates the missing target folders, locks every root (`Busy` if another restore holds one) and creates the staging folders. */
  async prepare(): Promise<void> {
    for (const d of this.record.createdDirs) {
      await fs.promises.mkdir(d).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
    }
    this.locks = await RestoreLocks.acquire(this.record.roots, this.dir);
    for (const s of this.record.staging) await fs.promises.mkdir(s, { mode: 0o700 });
  }

  /** The staging folder inside `root`. */
  stagingDir(root: string): string {
    const i = this.record.roots.indexOf(root);
    if (i < 0) throw new TypeError(`not a root of this restore: ${root}`);
    return this.record.staging[i];
  }

  /** Copies what is at `targetPath` (file or link, as `st` says) into the snapshot, synced, and says what it was. */
  async saveOriginal(targetPath: string, st: fs.Stats): Promise<Before> {
    if (st.isSymbolicLink()) return { kind: 'symlink', link: await fs.promises.readlink(targetPath) };
    if (!st.isFile()) return { kind: 'other' };
    const stored = `files/${this.copies++}`;
    const copy = path.join(this.dir, stored);
    await fs.promises.copyFile(targetPath, copy, fs.constants.COPYFILE_FICLONE);
    const fh = await fs.promises.open(copy, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    return { kind: 'file', stored, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs, size: st.size };
  }

  /**
   * Writes the complete list of changes (record 'applying'), synced with its
   * copies: after this, every rename is undoable as it happens.
   */
  async commit(entries: RecordEntry[], createdDirs: readonly string[]): Promise<void> {
    await syncDir(path.join(this.dir, 'files'));
    const next: SnapshotRecord = { ...this.record, entries, state: 'applying', createdDirs: [...new Set([...this.record.createdDirs, ...createdDirs])] };
    await writeRecord(next);
    Object.assign(this.record, next);
  }

  /** Marks the restore complete, removes its staging folders and releases its locks. */
  async complete(): Promise<void> {
    const next: SnapshotRecord = { ...this.record, state: 'complete', completedAt: new Date().toISOString() };
    await writeRecord(next);
    Object.assign(this.record, next);
    await removeStaging(this.record);
    await this.release();
  }

  /** Releases the locks (the restore stopped; its record stays for undo or finish). */
  async release(): Promise<void> {
    await this.locks?.release();
    this.locks = undefined;
  }

  /** Before `commit` only: removes everything the restore made (staging, created folders, locks, the record). */
  async abandon(): Promise<void> {
    if (this.committed) throw new Error('a committed restore is undone, never abandoned');
    await abandonRecord(this.record, this.locks);
    this.locks = undefined;
    if (this.madeRoot) {
      for (let d = path.dirname(this.dir); d === this.madeRoot || isInside(this.madeRoot, d); d = path.dirname(d)) {
        if (!(await fs.promises.rmdir(d).then(() => true, () => false))) break;
      }
    }
  }
}

/** Removes a restore's staging folders (never anything else: the record lists them, `readRecord` checked their names). */
export async function removeStaging(r: SnapshotRecord): Promise<void> {
  for (const s of r.staging) {
    const st = await lstatOrUndefined(s).catch(() => undefined);
    if (st?.isDirectory()) await fs.promises.rm(s, { recursive: true, force: true });
  }
}

async function removeCreatedDirs(r: SnapshotRecord): Promise<void> {
  for (const d of [...r.createdDirs].sort((a, b) => b.length - a.length)) await fs.promises.rmdir(d).catch(() => undefined);
}

/** Removes a restore that changed nothing of the user's ('preparing'): staging, locks, created folders, then its record. */
export async function abandonRecord(r: SnapshotRecord, locks?: RestoreLocks): Promise<void> {
  await removeStaging(r);
  if (locks) await locks.release();
  else await (await RestoreLocks.acquire(r.roots, r.dir).catch(() => undefined))?.release();
  await removeCreatedDirs(r);
  await fs.promises.rm(r.dir, { recursive: true, force: true });
}

/** Whether `p` holds what a restore wrote: a regular file with content `sha`, or the link `symlink:<target>`. */
export async function holdsContent(p: string, sha: string): Promise<boolean> {
  const st = await lstatOrUndefined(p).catch(() => undefined);
  if (sha.startsWith(LINK_CONTENT_PREFIX)) return !!st?.isSymbolicLink() && (await fs.promises.readlink(p).catch(() => undefined)) === sha.slice(LINK_CONTENT_PREFIX.length);
  if (!st?.isFile()) return false;
  return (await sha256File(p).catch(() => '')) === sha;
}

/**
 * Undoes a restore, complete or interrupted, from its safety snapshot: files
 * it overwrote get their old content (mode, mtime) back and files it created
 * are removed, each only while it still holds exactly what the restore wrote
 * (later edits are kept; a change the restore never made is skipped).
 * Folders it created are removed when empty, its staging folders always.
 * A second undo does nothing; a restore still running is `Busy`.
 */
export async function undoSnapshot(snapshotDir: string): Promise<UndoResult> {
  const r = await readRecord(snapshotDir);
  if (r.state === 'undone') return { restored: 0, removed: 0 };
  if (r.state === 'preparing') {
    if (r.owner && ownerAlive(r.owner)) throw busyError(r.roots[0] ?? r.dir, { ...r.owner, snapshotDir: r.dir });
    await abandonRecord(r);
    return { restored: 0, removed: 0 };
  }
  const locks = await RestoreLocks.acquire(r.roots, r.dir);
  let restored = 0;
  let removed = 0;
  try {
    await mapLimit(
      r.entries.filter((e) => !e.before),
      PARALLEL,
      async (c) => {
        if (await holdsContent(c.targetPath, c.restoredSha256)) {
          await fs.promises.unlink(c.targetPath);
          removed++;
        }
      },
    );
    await mapLimit(
      r.entries.filter((e) => e.before),
      PARALLEL,
      async (w) => {
        if (await putBack(r.dir, w)) restored++;
      },
    );
    await removeStaging(r);
    r.state = 'undone';
    r.undoneAt = new Date().toISOString();
    await writeRecord(r).catch(() => undefined);
  } finally {
    await locks.release();
  }
  // After the locks: a folder the restore created may hold one.
  await removeCreatedDirs(r);
  return { restored, removed };
}

/** Puts one overwritten file back; false when it was changed after the restore (kept) or was never replaced. */
async function putBack(snapshotDir: string, w: RecordEntry): Promise<boolean> {
  const before = w.before!;
  const current = await lstatOrUndefined(w.targetPath).catch(() => undefined);
  if (current && !(await holdsContent(w.targetPath, w.restoredSha256))) return false;
  const tmp = path.join(path.dirname(w.targetPath), `.s3-backup-undo-${randomBytes(4).toString('hex')}`);
  try {
    if (before.kind === 'file' && before.stored) {
      await fs.promises.mkdir(path.dirname(w.targetPath), { recursive: true });
      await fs.promises.copyFile(path.resolve(snapshotDir, before.stored), tmp, fs.constants.COPYFILE_FICLONE);
      if (before.mode !== undefined) await fs.promises.chmod(tmp, before.mode);
      // Seconds as a number keep the sub-millisecond part that a Date would drop.
      if (before.mtimeMs !== undefined) await fs.promises.utimes(tmp, before.mtimeMs / 1000, before.mtimeMs / 1000);
      await fs.promises.rename(tmp, w.targetPath);
      return true;
    }
    if (before.kind === 'symlink' && before.link !== undefined) {
      await fs.promises.symlink(before.link, tmp);
      await fs.promises.rename(tmp, w.targetPath);
      return true;
    }
    return false;
  } catch (e) {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw ioError(`"${w.targetPath}" could not be put back`, e, { path: w.targetPath });
  }
}
