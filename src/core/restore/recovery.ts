// After a crash, and before every restore: which restores can be undone or
// finished, what a killed process left behind (staging folders, temp
// downloads, half-written undo records, stale locks), and old undo records.
import * as fs from 'fs';
import * as path from 'path';
import { lstatOrUndefined } from '../util/fileHash';
import { OWNER_STALE_MS, ownerAlive, readOwnerFile } from '../util/processOwner';
import { clearStaleLock, lockHeld, readLock } from './restoreLock';
import { abandonRecord } from './snapshot';
import { readRecord, RECORD_FILE, snapshotDirs, STAGING_PREFIX, type SnapshotBackup, type SnapshotRecord } from './snapshotRecord';

/** The file that marks a temp folder with its process (see `BackupEngine.fetch`). */
export const TEMP_OWNER_FILE = '.s3-backup-owner';
/** Temp folders of `BackupEngine.fetch`: `mkdtemp(<tmpDir>/s3-backup-)`. */
const TEMP_DIR = /^s3-backup-[A-Za-z0-9]{6}$/;
/** What 0.1.0 left in such a folder (it wrote no owner file). */
const OLD_TEMP_CONTENT = /^(backup\.zip|\.backup\.zip\.[0-9a-f]+\.part)$/;
const PUT_TEMP = /^s3-backup-put-[0-9a-f]+\.tmp$/;
/** A folder or file being made right now is younger than this; older, with no owner to ask, it is a leftover. */
const LEFTOVER_AGE_MS = 60 * 60 * 1000;

export type RestoreState = 'running' | 'interrupted' | 'complete' | 'undone';

/** One restore as the recovery list shows it. */
export interface RestoreSummary {
  snapshotDir: string;
  /** When the restore began (ISO). */
  time: string;
  state: RestoreState;
  backup: SnapshotBackup;
  /** Archive prefix -> folder, as restored. */
  targets: Record<string, string>;
  /** The target folders, without repeats. */
  folders: string[];
  /** Files the restore creates and replaces. */
  newFiles: number;
  replacedFiles: number;
  /** Interrupted only: its staged files are still there, so it may be finished instead of rolled back. */
  canFinish: boolean;
}

async function stateOf(r: SnapshotRecord): Promise<RestoreState | undefined> {
  switch (r.state) {
    case 'preparing':
      // Nothing of the user's changed: running, or a leftover for `cleanUpLeftovers`.
      return r.owner && ownerAlive(r.owner) ? 'running' : undefined;
    case 'applying':
      for (const root of r.roots) if (await lockHeld(root, r.dir)) return 'running';
      return 'interrupted';
    default:
      return r.state;
  }
}

async function isDir(p: string): Promise<boolean> {
  return (await lstatOrUndefined(p).catch(() => undefined))?.isDirectory() ?? false;
}

function newestFirst<T extends { time: string; snapshotDir: string }>(a: T, b: T): number {
  return b.time.localeCompare(a.time) || b.snapshotDir.localeCompare(a.snapshotDir);
}

/** The restores recorded under `snapshotRoot`, newest first, with their state; unreadable records are left out. */
export async function listRestores(snapshotRoot: string): Promise<RestoreSummary[]> {
  const out: RestoreSummary[] = [];
  for (const dir of await snapshotDirs(snapshotRoot)) {
    const r = await readRecord(dir).catch(() => undefined);
    if (!r) continue;
    const state = await stateOf(r);
    if (!state) continue;
    let canFinish = false;
    if (state === 'interrupted' && r.format === 2) {
      canFinish = true;
      for (const s of r.staging) if (!(await isDir(s))) canFinish = false;
    }
    const replaced = r.entries.filter((e) => e.before).length;
    out.push({
      snapshotDir: r.dir,
      time: r.created,
      state,
      backup: r.backup,
      targets: r.targets,
      folders: [...new Set(Object.values(r.targets))],
      newFiles: r.entries.length - replaced,
      replacedFiles: replaced,
      canFinish,
    });
  }
  return out.sort(newestFirst);
}

export interface CleanupReport {
  /** Undo records removed: half-written, or of restores that stopped before changing anything. */
  records: number;
  /** Staging folders removed. */
  staging: number;
  /** Temp downloads removed. */
  temp: number;
  /** Stale lock files removed. */
  locks: number;
}

async function olderThan(p: string, ms: number, now: number): Promise<boolean> {
  const st = await lstatOrUndefined(p).catch(() => undefined);
  return !!st && now - st.mtimeMs > ms;
}

/**
 * Removes what killed processes left behind, never what a live one (or an
 * interrupted restore waiting for undo or finish) still needs:
 * - in `snapshotRoot`: folders without a readable record (after an hour),
 *   records of restores that stopped before their first change (with their
 *   staging folders, locks and created folders), stray temp files;
 * - in `folders` and the folders of every known restore: staging folders of
 *   finished or abandoned restores, or that no record claims (after a day),
 *   and stale locks; nothing while a live restore holds the folder;
 * - in `tmpDir`: temp downloads whose process is gone.
 */
export async function cleanUpLeftovers(o: { snapshotRoot?: string; tmpDir?: string; folders?: readonly string[] }): Promise<CleanupReport> {
  const now = Date.now();
  const report: CleanupReport = { records: 0, staging: 0, temp: 0, locks: 0 };
  const records = new Map<string, SnapshotRecord>();
  for (const dir of o.snapshotRoot ? await snapshotDirs(o.snapshotRoot) : []) {
    const r = await readRecord(dir).catch(() => undefined);
    if (!r) {
      if (await olderThan(dir, LEFTOVER_AGE_MS, now)) {
        await fs.promises.rm(dir, { recursive: true, force: true });
        report.records++;
      }
      continue;
    }
    for (const n of await fs.promises.readdir(dir).catch(() => [] as string[])) {
      const p = path.join(dir, n);
      if (n.startsWith(`${RECORD_FILE}.`) && n.endsWith('.tmp') && (await olderThan(p, LEFTOVER_AGE_MS, now))) await fs.promises.rm(p, { force: true });
    }
    if (r.state === 'preparing' && !(r.owner && ownerAlive(r.owner))) {
      await abandonRecord(r);
      report.records++;
      continue;
    }
    records.set(r.dir, r);
  }
  const folders = new Set([...(o.folders ?? []), ...[...records.values()].flatMap((r) => r.roots)]);
  for (const f of folders) await cleanFolder(path.resolve(f), records, report, now);
  if (o.tmpDir) report.temp = await cleanTemp(o.tmpDir, now);
  return report;
}

async function cleanFolder(folder: string, records: Map<string, SnapshotRecord>, report: CleanupReport, now: number): Promise<void> {
  let names: string[];
  try {
    names = await fs.promises.readdir(folder);
  } catch {
    return;
  }
  const lock = await readLock(folder).catch(() => null);
  if (lock && ownerAlive(lock)) return;
  for (const n of names) {
    if (!n.startsWith(STAGING_PREFIX)) continue;
    const p = path.join(folder, n);
    const st = await lstatOrUndefined(p).catch(() => undefined);
    if (!st?.isDirectory()) continue;
    const id = n.slice(STAGING_PREFIX.length);
    const owner =
      [...records.values()].find((r) => path.basename(r.dir) === id && r.staging.includes(p)) ??
      (lock && path.basename(lock.snapshotDir) === id ? await readRecord(lock.snapshotDir).catch(() => undefined) : undefined);
    const needed = owner
      ? owner.state === 'applying' || (owner.state === 'preparing' && !!owner.owner && ownerAlive(owner.owner))
      : now - st.mtimeMs <= OWNER_STALE_MS;
    if (needed) continue;
    await fs.promises.rm(p, { recursive: true, force: true });
    report.staging++;
  }
  if (lock !== undefined && (await clearStaleLock(folder))) report.locks++;
}

async function cleanTemp(tmpDir: string, now: number): Promise<number> {
  let removed = 0;
  for (const n of await fs.promises.readdir(tmpDir).catch(() => [] as string[])) {
    const p = path.join(tmpDir, n);
    const st = await lstatOrUndefined(p).catch(() => undefined);
    if (!st) continue;
    let leftover = false;
    if (st.isDirectory() && TEMP_DIR.test(n)) {
      const owner = await readOwnerFile(path.join(p, TEMP_OWNER_FILE));
      if (owner) leftover = !ownerAlive(owner);
      else if (now - st.mtimeMs > OWNER_STALE_MS) leftover = (await fs.promises.readdir(p).catch(() => ['?'])).every((c) => OLD_TEMP_CONTENT.test(c));
    } else if (st.isFile() && PUT_TEMP.test(n)) {
      leftover = now - st.mtimeMs > OWNER_STALE_MS;
    }
    if (leftover) {
      await fs.promises.rm(p, { recursive: true, force: true });
      removed++;
    }
  }
  return removed;
}

/**
 * Deletes old undo records after a successful restore: beyond the newest
 * `keep` (0 = no limit), or older than `days` (0 = no limit). Only finished
 * and undone restores count; an interrupted or running one is never
 * removed, nor `except` (the restore just made). Resolves with the number removed.
 */
export async function pruneSnapshots(snapshotRoot: string, o: { keep?: number; days?: number; except?: string }): Promise<number> {
  const keep = Math.max(0, Math.floor(o.keep ?? 0));
  const days = Math.max(0, o.days ?? 0);
  if (keep === 0 && days === 0) return 0;
  const now = Date.now();
  const except = o.except && path.resolve(o.except);
  // A record has an entry a file: only what the choice needs is kept of each, one read at a time.
  const done: { dir: string; created: string }[] = [];
  for (const dir of await snapshotDirs(snapshotRoot)) {
    // The restore that has just finished is not read back (never pruned, and the newest): parsing the
    // record of a 100,000-file restore raised the CLI's restore to ~410 MiB, ~120 more than the restore.
    if (path.resolve(dir) === except) {
      done.push({ dir: except, created: new Date(now).toISOString() });
      continue;
    }
    const r = await readRecord(dir).catch(() => undefined);
    if (r && (r.state === 'complete' || r.state === 'undone')) done.push({ dir: r.dir, created: r.created });
  }
  done.sort((a, b) => newestFirst({ time: a.created, snapshotDir: a.dir }, { time: b.created, snapshotDir: b.dir }));
  let removed = 0;
  for (const [i, r] of done.entries()) {
    if (r.dir === except) continue;
    const created = Date.parse(r.created);
    const tooOld = days > 0 && Number.isFinite(created) && now - created > days * 24 * 60 * 60 * 1000;
    if ((keep > 0 && i >= keep) || tooOld) {
      await fs.promises.rm(r.dir, { recursive: true, force: true });
      removed++;
    }
  }
  return removed;
}
