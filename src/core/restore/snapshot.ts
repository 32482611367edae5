// The safety snapshot (undo record) of a restore: one folder per restore,
// `<snapshotRoot>/<time>-<id>/snapshot.json` plus `files/<n>`, the copies of
// what the restore overwrote. The only module that reads or writes the format;
// workspace restores and app data restores both write through `SnapshotWriter`.
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { BackupError } from '../util/engineErrors';
import { lstatOrUndefined, sha256File } from '../util/fileHash';
import { isInside } from '../util/paths';

const SNAPSHOT_FILE = 'snapshot.json';

interface SnapshotEntry {
  targetPath: string;
  /** sha256 of what the restore wrote: undo touches the file only while it still holds exactly that. */
  restoredSha256: string;
}
interface SnapshotOverwritten extends SnapshotEntry {
  kind: 'file' | 'symlink' | 'other';
  stored?: string;
  link?: string;
  mode?: number;
  mtimeMs?: number;
}
interface SnapshotDoc {
  format: 1;
  created: string;
  backup: SnapshotBackup;
  targets: Record<string, string>;
  overwritten: SnapshotOverwritten[];
  createdFiles: SnapshotEntry[];
  createdDirs: string[];
  complete: boolean;
  undoneAt?: string;
}

/** Which backup a restore came from, as the snapshot remembers it. */
export interface SnapshotBackup {
  created: string;
  hostname: string;
  kind: string;
}

export interface UndoResult {
  restored: number;
  removed: number;
}

function timestampName(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

async function writeJsonAtomic(file: string, data: unknown): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await fs.promises.open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(JSON.stringify(data, null, 1));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, file);
}

/**
 * Records one restore while it runs: copies of what it is about to replace,
 * then the files and folders it creates. `save()` writes the record
 * atomically; the restore calls it before its first change and at the end.
 */
export class SnapshotWriter {
  private readonly doc: SnapshotDoc;
  private copies = 0;

  private constructor(
    readonly dir: string,
    backup: SnapshotBackup,
    targets: Record<string, string>,
  ) {
    this.doc = {
      format: 1,
      created: new Date().toISOString(),
      backup,
      targets: { ...targets },
      overwritten: [],
      createdFiles: [],
      createdDirs: [],
      complete: false,
    };
  }

  /** Makes a new, empty snapshot folder under `snapshotRoot`. */
  static async create(snapshotRoot: string, backup: SnapshotBackup, targets: Record<string, string>): Promise<SnapshotWriter> {
    const dir = path.join(snapshotRoot, `${timestampName(new Date())}-${randomBytes(3).toString('hex')}`);
    await fs.promises.mkdir(path.join(dir, 'files'), { recursive: true });
    return new SnapshotWriter(dir, backup, targets);
  }

  /** Copies what is at `targetPath` (file or link, as `st` says) before the restore replaces it with content of `restoredSha256`. */
  async saveOriginal(targetPath: string, st: fs.Stats, restoredSha256: string): Promise<void> {
    if (st.isSymbolicLink()) {
      this.doc.overwritten.push({ targetPath, restoredSha256, kind: 'symlink', link: await fs.promises.readlink(targetPath) });
    } else if (st.isFile()) {
      const stored = `files/${this.copies++}`;
      await fs.promises.copyFile(targetPath, path.join(this.dir, stored), fs.constants.COPYFILE_FICLONE);
      this.doc.overwritten.push({ targetPath, restoredSha256, kind: 'file', stored, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs });
    } else {
      this.doc.overwritten.push({ targetPath, restoredSha256, kind: 'other' });
    }
  }

  /** Whether `saveOriginal` recorded this target. */
  replaces(targetPath: string): boolean {
    return this.doc.overwritten.some((x) => x.targetPath === targetPath);
  }

  createdFile(targetPath: string, restoredSha256: string): void {
    this.doc.createdFiles.push({ targetPath, restoredSha256 });
  }

  /** The list folders the restore creates are added to (outermost first). */
  get createdDirs(): string[] {
    return this.doc.createdDirs;
  }

  save(): Promise<void> {
    return writeJsonAtomic(path.join(this.dir, SNAPSHOT_FILE), this.doc);
  }

  async complete(): Promise<void> {
    this.doc.complete = true;
    await this.save();
  }

  /** Removes the snapshot folder (the restore changed nothing). */
  discard(): Promise<void> {
    return fs.promises.rm(this.dir, { recursive: true, force: true });
  }
}

async function readDoc(snapshotDir: string): Promise<SnapshotDoc> {
  let doc: SnapshotDoc;
  try {
    doc = JSON.parse(await fs.promises.readFile(path.join(snapshotDir, SNAPSHOT_FILE), 'utf8')) as SnapshotDoc;
  } catch (e) {
    throw new BackupError('NotFound', `No safety copy was found in "${snapshotDir}".`, 'The safety copy may have been removed; the restore cannot be undone.', {
      cause: e,
      params: { path: snapshotDir },
    });
  }
  if (doc.format !== 1 || !Array.isArray(doc.overwritten) || !Array.isArray(doc.createdFiles)) {
    throw new BackupError('Integrity', `The safety copy in "${snapshotDir}" is damaged.`, 'The restore cannot be undone automatically.', { params: { path: snapshotDir } });
  }
  return doc;
}

function ioError(message: string, e: unknown, params: Record<string, string | number>): BackupError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return new BackupError('Io', code ? `${message} (${code})` : message, 'Check the folder and free space, then try again.', {
    cause: e,
    params: { ...params, ...(code ? { detail: code } : {}) },
  });
}

/**
 * Undoes a restore from its safety snapshot: files it overwrote get their old
 * content (mode, mtime) back and files it created are removed, each only
 * while it still holds exactly what the restore wrote (later edits are kept).
 * Folders it created are removed when empty. A second undo does nothing.
 */
export async function undoSnapshot(snapshotDir: string): Promise<UndoResult> {
  const doc = await readDoc(snapshotDir);
  if (doc.undoneAt) return { restored: 0, removed: 0 };
  const holdsRestored = async (p: string, sha: string): Promise<boolean> => {
    const st = await lstatOrUndefined(p).catch(() => undefined);
    if (!st?.isFile()) return false;
    return (await sha256File(p).catch(() => '')) === sha;
  };
  let restored = 0;
  let removed = 0;
  for (const c of doc.createdFiles) {
    if (!path.isAbsolute(c.targetPath)) continue;
    if (await holdsRestored(c.targetPath, c.restoredSha256)) {
      await fs.promises.unlink(c.targetPath);
      removed++;
    }
  }
  for (const w of doc.overwritten) {
    if (!path.isAbsolute(w.targetPath)) continue;
    const current = await lstatOrUndefined(w.targetPath).catch(() => undefined);
    if (current && !(await holdsRestored(w.targetPath, w.restoredSha256))) continue;
    const tmp = path.join(path.dirname(w.targetPath), `.s3-backup-undo-${randomBytes(4).toString('hex')}`);
    try {
      if (w.kind === 'file' && w.stored) {
        const src = path.resolve(snapshotDir, w.stored);
        if (!isInside(snapshotDir, src)) continue;
        await fs.promises.mkdir(path.dirname(w.targetPath), { recursive: true });
        await fs.promises.copyFile(src, tmp, fs.constants.COPYFILE_FICLONE);
        if (w.mode !== undefined) await fs.promises.chmod(tmp, w.mode);
        // Seconds as a number keep the sub-millisecond part that a Date would drop.
        if (w.mtimeMs !== undefined) await fs.promises.utimes(tmp, w.mtimeMs / 1000, w.mtimeMs / 1000);
        await fs.promises.rename(tmp, w.targetPath);
        restored++;
      } else if (w.kind === 'symlink' && w.link !== undefined) {
        await fs.promises.symlink(w.link, tmp);
        await fs.promises.rename(tmp, w.targetPath);
        restored++;
      }
    } catch (e) {
      await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
      throw ioError(`"${w.targetPath}" could not be put back`, e, { path: w.targetPath });
    }
  }
  for (const d of [...(doc.createdDirs ?? [])].sort((a, b) => b.length - a.length)) {
    await fs.promises.rmdir(d).catch(() => undefined);
  }
  doc.undoneAt = new Date().toISOString();
  await writeJsonAtomic(path.join(snapshotDir, SNAPSHOT_FILE), doc).catch(() => undefined);
  return { restored, removed };
}
