import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { RestoreResult } from '../restore/applyRestore';
import { SnapshotWriter } from '../restore/snapshot';
import { BackupError, throwIfAborted } from '../util/engineErrors';
import { sha256Of } from '../util/fileHash';
import { isInside, resolveInside } from '../util/paths';
import type { ProgressListener } from '../util/progress';
import { APPDATA_PREFIX } from './categories';
import type { AppDataPlan } from './planAppDataRestore';
import { readIfFile } from './userFiles';

/** Writes `data` to `file` through a temp file beside it, synced, then renamed: never half a settings file. */
async function writeAtomic(file: string, data: Buffer, mode: number): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.s3b-${randomBytes(4).toString('hex')}.tmp`);
  const fh = await fs.promises.open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
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
}

/**
 * Writes a plan's changes, each atomically (temp file + rename), after
 * copying the files they replace into a safety snapshot (restore/snapshot.ts,
 * so `BackupEngine.undo` undoes it like a workspace restore). Refuses
 * ('SourceChanged') when a target changed since the plan.
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
  const modes = new Map<string, number>();
  let snapshot: SnapshotWriter | undefined;
  try {
    snapshot = await SnapshotWriter.create(snapshotRoot, plan.backup, { [APPDATA_PREFIX]: plan.userDir });
    for (const c of work) {
      if (c.action !== 'overwrite') continue;
      const st = await fs.promises.stat(c.targetPath);
      modes.set(c.targetPath, st.mode & 0o777);
      await snapshot.saveOriginal(c.targetPath, st, sha256Of(c.data));
    }
    await snapshot.save();
  } catch (e) {
    await snapshot?.discard().catch(() => undefined);
    throw new BackupError('Io', `The safety copy could not be written to "${snapshotRoot}".`, 'Check the free space, then try again.', { cause: e, params: { path: snapshotRoot } });
  }
  throwIfAborted(o.signal);
  report(0);

  // From here on no cancel: every step is recorded so undo can put it back.
  let written = 0;
  try {
    for (const c of work) {
      const missing: string[] = [];
      for (let d = path.dirname(c.targetPath); !(await fs.promises.lstat(d).catch(() => undefined)); d = path.dirname(d)) {
        if (d === path.dirname(d) || !(d === plan.userDir || isInside(plan.userDir, d))) break;
        missing.unshift(d);
      }
      for (const d of missing) {
        await fs.promises.mkdir(d);
        snapshot.createdDirs.push(d);
      }
      await writeAtomic(c.targetPath, c.data, modes.get(c.targetPath) ?? 0o644);
      if (c.action === 'create') snapshot.createdFile(c.targetPath, sha256Of(c.data));
      written++;
      bytesDone += c.data.length;
      report(written);
    }
  } catch (e) {
    await snapshot.save().catch(() => undefined);
    throw new BackupError('Io', `The restore stopped after ${written} of ${work.length} files; undo puts back what it changed.`, 'Check the permissions of the VS Code user folder.', {
      cause: e,
      params: { snapshotDir: snapshot.dir, written },
    });
  }
  await snapshot.complete();
  return { written, snapshotDir: snapshot.dir };
}
