// The undo record of one restore (the "safety snapshot"), on disk:
// `<snapshotRoot>/<id>/snapshot.json` plus `files/<n>`, the copies of what the
// restore replaces. The only module that knows the format; it reads both
// format 1 (written by 0.1.0: the created files were added while renaming,
// so a killed restore could not be undone) and format 2 (everything the
// restore will change is listed before its first change).
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { BackupError } from '../util/engineErrors';
import { isInside } from '../util/paths';
import { asOwner, type ProcessOwner } from '../util/processOwner';
import { jsonPieces, MappedList } from '../util/jsonPieces';
import { utf8Chunks } from '../util/utf8Chunks';
import { yieldIfDue } from '../util/timeSlice';

export const RECORD_FILE = 'snapshot.json';
/** Staging folders are named after their restore's record: `.s3-backup-staging-<id>`. */
/** The content a restored link "holds" in the record: the prefix, then the link's target. */
export const LINK_CONTENT_PREFIX = 'symlink:';
export const STAGING_PREFIX = '.s3-backup-staging-';

/**
 * - preparing: staging files; nothing of the user's has changed yet.
 * - applying: the record is complete and the renames may have begun; when
 *   its owner is gone, the restore was interrupted.
 * - complete, undone: what they say.
 */
export type RecordState = 'preparing' | 'applying' | 'complete' | 'undone';

/** Which backup a restore came from, as the snapshot remembers it. */
export interface SnapshotBackup {
  created: string;
  hostname: string;
  kind: string;
}

/** What was at a target before the restore. */
export interface Before {
  kind: 'file' | 'symlink' | 'other';
  /** The copy, relative to the snapshot folder (`files/<n>`). */
  stored?: string;
  link?: string;
  mode?: number;
  mtimeMs?: number;
  size?: number;
}

/** One file the restore writes. */
export interface RecordEntry {
  targetPath: string;
  /** sha256 of what the restore writes: undo touches the file only while it still holds exactly that. */
  restoredSha256: string;
  /** Where the new content waits until its rename (format 2). */
  staged?: string;
  /** Absent: the restore creates the file. */
  before?: Before;
}

export interface SnapshotRecord {
  /** The snapshot folder (absolute). */
  dir: string;
  format: 1 | 2;
  /** When the restore began. */
  created: string;
  backup: SnapshotBackup;
  targets: Record<string, string>;
  state: RecordState;
  /** The process that ran the restore (format 2). */
  owner?: ProcessOwner;
  /** The folders the restore locks and stages in. */
  roots: string[];
  /** Staging folders (removed by undo, finish and clean-up). */
  staging: string[];
  entries: RecordEntry[];
  /** Folders the restore creates, outermost first. */
  createdDirs: string[];
  completedAt?: string;
  undoneAt?: string;
}

interface DocV1Entry {
  targetPath: string;
  restoredSha256: string;
}
interface DocV1 {
  format: 1;
  created: string;
  backup: SnapshotBackup;
  targets: Record<string, string>;
  overwritten: Array<DocV1Entry & { kind: Before['kind']; stored?: string; link?: string; mode?: number; mtimeMs?: number }>;
  createdFiles: DocV1Entry[];
  createdDirs: string[];
  complete: boolean;
  undoneAt?: string;
}
/** On disk, a record is the model without its folder, its entries with short names. */
type DocV2 = Omit<SnapshotRecord, 'dir' | 'format' | 'entries'> & {
  format: 2;
  entries: Array<{ path: string; sha256: string; staged?: string; before?: Before }>;
};

/** `20260102T030405Z-a1b2c3`: sorts by time, unique enough for one user's restores. */
export function newSnapshotId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

/** fsync of a folder, so a rename or create inside it survives a crash; a no-op where folders cannot be opened (Windows). */
export async function syncDir(dir: string): Promise<void> {
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(dir, 'r');
    await fh.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') throw e;
  } finally {
    await fh?.close();
  }
}

const WRITE_CHUNK = 1024 * 1024;

/** Writes `data` to `file` through a synced temp file and a rename, then syncs the folder: the old or the new record, never half. */
export async function writeJsonDurable(file: string, data: unknown): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await fs.promises.open(tmp, 'wx', 0o600);
  try {
    // Encoded into one reused buffer of a MiB, written, then the event loop's turn: no big string is made.
    for (const chunk of utf8Chunks(jsonPieces(data), WRITE_CHUNK, { reuse: 1 })) {
      for (let at = 0; at < chunk.length; ) at += (await fh.write(chunk, at, chunk.length - at)).bytesWritten;
      await yieldIfDue();
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await syncDir(path.dirname(file));
}

/** Writes a record (format 2, or format 1 for a record that was read as one). */
export function writeRecord(r: SnapshotRecord): Promise<void> {
  return writeJsonDurable(path.join(r.dir, RECORD_FILE), r.format === 1 ? toV1(r) : toV2(r));
}

function toV2(r: SnapshotRecord): Omit<DocV2, 'entries'> & { entries: MappedList<RecordEntry> } {
  const { dir: _dir, format: _format, entries, ...rest } = r;
  return {
    ...rest,
    format: 2,
    entries: new MappedList(entries, (e): DocV2['entries'][number] => ({ path: e.targetPath, sha256: e.restoredSha256, ...(e.staged ? { staged: e.staged } : {}), ...(e.before ? { before: e.before } : {}) })),
  };
}

function toV1(r: SnapshotRecord): DocV1 {
  return {
    format: 1,
    created: r.created,
    backup: r.backup,
    targets: r.targets,
    overwritten: r.entries.filter((e) => e.before).map((e) => ({ targetPath: e.targetPath, restoredSha256: e.restoredSha256, ...e.before! })),
    createdFiles: r.entries.filter((e) => !e.before).map((e) => ({ targetPath: e.targetPath, restoredSha256: e.restoredSha256 })),
    createdDirs: r.createdDirs,
    complete: r.state === 'complete' || r.state === 'undone',
    ...(r.undoneAt ? { undoneAt: r.undoneAt } : {}),
  };
}

function missing(snapshotDir: string, cause?: unknown): BackupError {
  return new BackupError('NotFound', `No safety copy was found in "${snapshotDir}".`, 'The safety copy may have been removed; the restore cannot be undone.', {
    ...(cause === undefined ? {} : { cause }),
    params: { path: snapshotDir, reason: 'snapshot' },
  });
}

function damaged(snapshotDir: string, why: string): BackupError {
  return new BackupError('Integrity', `The safety copy in "${snapshotDir}" is damaged (${why}).`, 'The restore cannot be undone automatically.', {
    params: { path: snapshotDir, reason: 'snapshot', detail: why },
  });
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isAbs = (v: unknown): v is string => isStr(v) && path.isAbsolute(v);
const isSha = (v: unknown): v is string => isStr(v) && /^[0-9a-f]{64}$/.test(v);
/** What a restored entry holds: a file's sha256, or `symlink:<target>` for a link (see snapshot.ts holdsContent). */
const isContent = (v: unknown): v is string => isSha(v) || (isStr(v) && v.startsWith(LINK_CONTENT_PREFIX) && v.length > LINK_CONTENT_PREFIX.length && v.length < 4200 && !v.includes('\0'));

/**
 * Reads and checks the record in `snapshotDir`: `NotFound` when there is
 * none, `Integrity` when it is not one we wrote. Paths must be absolute and
 * copies inside the snapshot folder, so a tampered record cannot make undo
 * read or write elsewhere than the restore did.
 */
export async function readRecord(snapshotDir: string): Promise<SnapshotRecord> {
  const dir = path.resolve(snapshotDir);
  let text: string;
  try {
    text = await fs.promises.readFile(path.join(dir, RECORD_FILE), 'utf8');
  } catch (e) {
    throw missing(dir, e);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw damaged(dir, 'not JSON');
  }
  const d = doc as Partial<DocV1> & Partial<Omit<DocV2, 'format'>> & { format?: unknown };
  if (!d || typeof d !== 'object' || !d.targets || typeof d.targets !== 'object') throw damaged(dir, 'no targets');
  const backup = d.backup && typeof d.backup === 'object' ? d.backup : { created: '', hostname: '', kind: '' };
  const targets = Object.fromEntries(Object.entries(d.targets).filter(([, v]) => isAbs(v))) as Record<string, string>;
  const createdDirs = Array.isArray(d.createdDirs) ? d.createdDirs.filter(isAbs) : [];
  const storedOk = (s: unknown): s is string => isStr(s) && isInside(dir, path.resolve(dir, s));
  const before = (b: Partial<Before> | undefined): Before | undefined => {
    if (!b || typeof b !== 'object' || (b.kind !== 'file' && b.kind !== 'symlink' && b.kind !== 'other')) return undefined;
    return {
      kind: b.kind,
      ...(storedOk(b.stored) ? { stored: b.stored } : {}),
      ...(isStr(b.link) ? { link: b.link } : {}),
      ...(typeof b.mode === 'number' ? { mode: b.mode & 0o7777 } : {}),
      ...(typeof b.mtimeMs === 'number' ? { mtimeMs: b.mtimeMs } : {}),
      ...(typeof b.size === 'number' ? { size: b.size } : {}),
    };
  };
  const base = { dir, created: isStr(d.created) ? d.created : '', backup, targets, createdDirs };

  if (d.format === 1) {
    if (!Array.isArray(d.overwritten) || !Array.isArray(d.createdFiles)) throw damaged(dir, 'no file lists');
    const entries: RecordEntry[] = [];
    for (const w of d.overwritten) {
      if (!isAbs(w?.targetPath) || !isSha(w.restoredSha256)) continue;
      entries.push({ targetPath: w.targetPath, restoredSha256: w.restoredSha256, before: before(w) ?? { kind: 'other' } });
    }
    for (const c of d.createdFiles) {
      if (isAbs(c?.targetPath) && isSha(c.restoredSha256)) entries.push({ targetPath: c.targetPath, restoredSha256: c.restoredSha256 });
    }
    return {
      ...base,
      format: 1,
      state: isStr(d.undoneAt) ? 'undone' : d.complete ? 'complete' : 'applying',
      roots: [...new Set(Object.values(targets))],
      staging: [],
      entries,
      ...(isStr(d.undoneAt) ? { undoneAt: d.undoneAt } : {}),
    };
  }
  if (d.format !== 2) throw damaged(dir, `unknown format ${String(d.format)}`);
  const states: RecordState[] = ['preparing', 'applying', 'complete', 'undone'];
  if (!states.includes(d.state as RecordState) || !Array.isArray(d.entries) || !Array.isArray(d.roots)) throw damaged(dir, 'no state or entries');
  const roots = d.roots.filter(isAbs);
  // Staging folders are ours only where the record says: directly inside a root, with our prefix.
  const staging = (Array.isArray(d.staging) ? d.staging : []).filter((s) => isAbs(s) && path.basename(s).startsWith(STAGING_PREFIX) && roots.includes(path.dirname(s)));
  const entries: RecordEntry[] = [];
  for (const e of d.entries) {
    if (!isAbs(e?.path) || !isContent(e.sha256)) throw damaged(dir, 'a bad entry');
    const b = e.before === undefined ? undefined : before(e.before);
    if (e.before !== undefined && !b) throw damaged(dir, 'a bad entry');
    const stagedOk = isAbs(e.staged) && staging.some((s) => isInside(s, e.staged as string));
    entries.push({ targetPath: e.path, restoredSha256: e.sha256, ...(stagedOk ? { staged: e.staged } : {}), ...(b ? { before: b } : {}) });
  }
  return {
    ...base,
    format: 2,
    state: d.state as RecordState,
    ...(asOwner(d.owner) ? { owner: asOwner(d.owner) } : {}),
    roots,
    staging,
    entries,
    ...(isStr(d.completedAt) ? { completedAt: d.completedAt } : {}),
    ...(isStr(d.undoneAt) ? { undoneAt: d.undoneAt } : {}),
  };
}

/** The snapshot folders under `snapshotRoot` (those with a record or not), newest name first. */
export async function snapshotDirs(snapshotRoot: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(snapshotRoot);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const dirs: string[] = [];
  for (const n of names.sort().reverse()) {
    const st = await fs.promises.lstat(path.join(snapshotRoot, n)).catch(() => undefined);
    if (st?.isDirectory()) dirs.push(path.join(snapshotRoot, n));
  }
  return dirs;
}
