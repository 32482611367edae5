import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { RestoreResult } from '../restore/applyRestore';
import { commitRestore, type StagedFile } from '../restore/commitRestore';
import { SnapshotWriter } from '../restore/snapshot';
import { BackupError, throwIfAborted } from '../util/engineErrors';
import { lstatOrUndefined, sha256Of } from '../util/fileHash';
import { resolveInside } from '../util/paths';
import type { ProgressListener } from '../util/progress';
import { APPDATA_PREFIX } from './categories';
import type { AppDataPlan } from './planAppDataRestore';
import { readIfFile } from './userFiles';

/** Writes `data` to a new file, synced: a settings file is small, and half of one is worse than none. */
async function writeSynced(file: string, data: Buffer, mode: number): Promise<void> {
  const fh = await fs.promises.open(file, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The mode a replaced file keeps (a link's target's); new files get 0644 less the umask. */
async function modeFor(target: string, st: fs.Stats | undefined): Promise<number> {
  if (!st) return 0o644;
  if (!st.isSymbolicLink()) return st.mode & 0o777;
  const real = await fs.promises.stat(target).catch(() => undefined);
  return real ? real.mode & 0o777 : 0o644;
}

/**
 * Writes a plan's changes like a workspace restore (restore/commitRestore.ts):
 * every file is staged in the user folder first, then the files it replaces
 * are copied into a safety snapshot and every change is recorded, then each
 * staged file is renamed into place (so `BackupEngine.undo` undoes it, also
 * after a crash). Refuses ('SourceChanged') when a target changed since the
 * plan, and ('Busy') while another restore writes into the user folder.
 */
export async function applyAppDataRestore(
  plan: AppDataPlan,
  o: { snapshotRoot?: string; signal?: AbortSignal; onProgress?: ProgressListener } = {},
): Promise<RestoreResult> {
  throwIfAborted(o.signal);
  const work = plan.changes.filter((c) => c.action !== 'unchanged');
  if (work.length === 0) return { written: 0 };
  const bytesTotal = work.reduce((s, c) => s + c.data.length, 0);
  let bytesDone = 0;
  const report = (filesDone: number): void => o.onProgress?.({ phase: 'write', bytesDone, bytesTotal, filesDone, filesTotal: work.length });
  for (const c of work) {
    if (!path.isAbsolute(c.targetPath)) throw new TypeError(`target must be absolute: ${c.targetPath}`);
    const joined = resolveInside(plan.userDir, c.relPath);
    if (!joined) throw new BackupError('UnsafeArchive', `The backup would write "${c.relPath}" outside the user folder.`, 'Nothing was restored.', { params: { entry: c.relPath, detail: 'plan' } });
    const now = await readIfFile(c.targetPath).catch(() => undefined);
    if ((now ? sha256Of(now.data) : '') !== c.baseSha256) {
      throw new BackupError('SourceChanged', `"${c.targetPath}" changed since the restore was planned.`, 'Start the restore again.', {
        params: { path: c.targetPath, reason: 'targetChanged' },
      });
    }
  }
  const snapshotRoot = o.snapshotRoot ?? path.join(os.tmpdir(), 's3-backup-snapshots');
  const safetyCopyFailed = (e: unknown): BackupError =>
    new BackupError('Io', `The safety copy could not be written to "${snapshotRoot}".`, 'Check the free space, then try again.', { cause: e, params: { path: snapshotRoot } });
  let journal: SnapshotWriter;
  try {
    journal = await SnapshotWriter.begin(snapshotRoot, plan.backup, { [APPDATA_PREFIX]: plan.userDir }, [plan.userDir]);
  } catch (e) {
    throw safetyCopyFailed(e);
  }
  try {
    const files: StagedFile[] = [];
    try {
      await journal.prepare();
      const staging = journal.stagingDir(plan.userDir);
      report(0);
      for (const [i, c] of work.entries()) {
        throwIfAborted(o.signal);
        const current = await lstatOrUndefined(c.targetPath);
        const staged = path.join(staging, String(i));
        await writeSynced(staged, c.data, await modeFor(c.targetPath, current));
        files.push({ targetPath: c.targetPath, staged, restoredSha256: sha256Of(c.data), current });
        bytesDone += c.data.length;
        report(files.length);
      }
    } catch (e) {
      if (e instanceof BackupError) throw e;
      throw new BackupError('Io', `The VS Code user folder "${plan.userDir}" cannot be written.`, 'Check the permissions of the VS Code user folder.', {
        cause: e,
        params: { path: plan.userDir },
      });
    }
    const written = await commitRestore(journal, files, { signal: o.signal });
    return { written, snapshotDir: journal.dir };
  } catch (e) {
    if (!journal.committed) await journal.abandon().catch(() => undefined);
    throw e;
  }
}
