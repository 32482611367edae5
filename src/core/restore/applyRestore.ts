import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BackupError, throwIfAborted } from '../util/engineErrors';
import { lstatOrUndefined } from '../util/fileHash';
import { mapLimit } from '../util/firstFailure';
import { resolveInside } from '../util/paths';
import type { ProgressListener } from '../util/progress';
import { ContainmentCheck } from './containment';
import { extractEntries } from './extract';
import { PARALLEL, type RestoreItem, type RestorePlan } from './planRestore';
import { SnapshotWriter } from './snapshot';
import { conflict, ioError, rootFor, rootsOf, unsafeTarget } from './targetRoots';

export interface StageOptions {
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  setMeta: boolean;
}

/**
 * Writes the backup's files into staging: each archive path `select` maps to
 * a destination is created there (exclusively) once checked against the
 * manifest. The one step that differs between the formats: from the
 * downloaded zip (format 1, the default) or from the packs (format 2).
 */
export type Stager = (select: (archivePath: string) => string | undefined, o: StageOptions) => Promise<void>;

export interface RestoreResult {
  written: number;
  snapshotDir?: string;
}

const STAGING_PREFIX = '.s3-backup-staging-';
// Spread over a few folders: the kernel serialises creates within one folder, not across folders.
const STAGING_BUCKETS = 16;

/** Creates `dir` and its missing parents; returns those it created, outermost first. */
async function mkdirp(dir: string, created: string[]): Promise<void> {
  const missing: string[] = [];
  let p = dir;
  while (!(await lstatOrUndefined(p))) {
    missing.unshift(p);
    const up = path.dirname(p);
    if (up === p) break;
    p = up;
  }
  for (const m of missing) {
    try {
      await fs.promises.mkdir(m);
      created.push(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}


/**
 * Applies a plan. First every file to write is extracted into a staging
 * folder inside its target (same file system) and checked again against the
 * manifest; an abort or any problem up to there leaves the targets untouched.
 * Then files about to be overwritten are copied into a safety snapshot
 * (`snapshotRoot/<time>-<id>/`, with `snapshot.json`), and each staged file is
 * renamed into place (atomic per file) with the manifest's mode and mtime.
 * Files marked `runsCode` are left out unless `includeCodeFiles` is true.
 */
export async function applyRestore(
  plan: RestorePlan,
  o: { snapshotRoot?: string; signal?: AbortSignal; onProgress?: ProgressListener; stage?: Stager; includeCodeFiles?: boolean } = {},
): Promise<RestoreResult> {
  throwIfAborted(o.signal);
  const roots = rootsOf(plan.targets);
  const byPath = new Map(plan.manifest.files.map((f) => [f.path, f]));
  // Files that run code (item.runsCode) stay out unless the caller asked the user and the user said yes.
  const work = plan.items.filter((it) => (it.action === 'create' || it.action === 'overwrite') && (o.includeCodeFiles === true || !it.runsCode));
  if (work.length === 0) return { written: 0 };
  for (const it of work) {
    const hit = rootFor(roots, it.archivePath);
    const f = byPath.get(it.archivePath);
    if (!hit || !f || resolveInside(hit.root.dir, hit.rel) !== it.targetPath) throw unsafeTarget(it.archivePath, 'plan');
  }
  const usedRoots = roots.filter((r) => work.some((it) => rootFor(roots, it.archivePath)!.root === r));

  const createdRootDirs: string[] = [];
  const staging = new Map<string, string>();
  const staged = new Map<string, string>();
  let renamed = 0;
  try {
    for (const r of usedRoots) {
      try {
        await mkdirp(r.dir, createdRootDirs);
        const need = work.filter((it) => rootFor(roots, it.archivePath)!.root === r).reduce((s, it) => s + it.size, 0);
        const fsStat = await fs.promises.statfs(r.dir).catch(() => undefined);
        if (fsStat && fsStat.bavail * fsStat.bsize < need + 16 * 1024 * 1024) {
          throw new BackupError('Io', `There is not enough free space in "${r.dir}" (${need} bytes needed).`, 'Free some space, then try again.', {
            params: { path: r.dir, bytes: need },
          });
        }
        staging.set(r.dir, await fs.promises.mkdtemp(path.join(r.dir, STAGING_PREFIX)));
      } catch (e) {
        throw e instanceof BackupError ? e : ioError(`The folder "${r.dir}" cannot be written`, e, { path: r.dir });
      }
    }
    // Spread over a few folders: the kernel serialises creates within one folder, not across folders.
    const buckets = Math.min(STAGING_BUCKETS, work.length);
    try {
      await Promise.all([...staging.values()].flatMap((s) => Array.from({ length: buckets }, (_, k) => fs.promises.mkdir(path.join(s, String(k))))));
    } catch (e) {
      throw ioError(`The folder "${[...staging.values()][0]}" cannot be written`, e, { path: [...staging.values()][0] });
    }
    work.forEach((it, i) => staged.set(it.archivePath, path.join(staging.get(rootFor(roots, it.archivePath)!.root.dir)!, String(i % buckets), String(i))));

    const stageAll = o.stage ?? ((select: (p: string) => string | undefined, so: StageOptions) => extractEntries(plan.archiveFile, plan.manifest, select, so));
    await stageAll((p) => staged.get(p), { signal: o.signal, onProgress: o.onProgress, setMeta: true });
    throwIfAborted(o.signal);

    // Things may have moved since the plan: check containment and conflicts again.
    // The lstat taken here also decides what goes into the safety snapshot.
    const containment = new ContainmentCheck();
    const current = new Map<RestoreItem, fs.Stats>();
    await mapLimit(work, PARALLEL, async (it) => {
      if (!(await containment.check(rootFor(roots, it.archivePath)!.root.dir, it.targetPath, it.archivePath))) return;
      const st = await lstatOrUndefined(it.targetPath).catch((e: NodeJS.ErrnoException) => {
        throw e.code === 'ENOTDIR' ? conflict(it.archivePath, path.dirname(it.targetPath), 'A file') : e;
      });
      if (st?.isDirectory()) throw conflict(it.archivePath, it.targetPath, 'A folder');
      if (st) current.set(it, st);
    });
    throwIfAborted(o.signal);

    // Safety snapshot of everything about to be replaced.
    const snapshotRoot = o.snapshotRoot ?? path.join(os.tmpdir(), 's3-backup-snapshots');
    let snapshot: SnapshotWriter;
    try {
      snapshot = await SnapshotWriter.create(snapshotRoot, { created: plan.manifest.created, hostname: plan.manifest.hostname, kind: plan.manifest.kind }, plan.targets);
    } catch (e) {
      throw ioError(`The safety copy could not be written to "${snapshotRoot}"`, e, { path: snapshotRoot });
    }
    snapshot.createdDirs.push(...createdRootDirs);
    try {
      // In plan order, whatever order the copies finish in.
      for (const it of work) {
        const st = current.get(it);
        if (st) await snapshot.saveOriginal(it.targetPath, st, byPath.get(it.archivePath)!.sha256);
      }
      await snapshot.save();
    } catch (e) {
      await snapshot.discard().catch(() => undefined);
      throw ioError(`The safety copy could not be written to "${snapshotRoot}"`, e, { path: snapshotRoot });
    }
    const snapshotDir = snapshot.dir;

    // Point of no return: from here on, no cancel; every step is recorded for undo.
    const knownDirs = new Map<string, Promise<void>>();
    const ensureDir = (d: string): Promise<void> => {
      let p = knownDirs.get(d);
      if (!p) knownDirs.set(d, (p = mkdirp(d, snapshot.createdDirs)));
      return p;
    };
    try {
      // Mode and mtime were set while extracting; a rename keeps them.
      await mapLimit(work, PARALLEL, async (it) => {
        const f = byPath.get(it.archivePath)!;
        await ensureDir(path.dirname(it.targetPath));
        await fs.promises.rename(staged.get(it.archivePath)!, it.targetPath);
        renamed++;
        if (!snapshot.replaces(it.targetPath)) snapshot.createdFile(it.targetPath, f.sha256);
      });
    } catch (e) {
      await snapshot.save().catch(() => undefined);
      throw ioError(`The restore stopped after ${renamed} of ${work.length} files; undo puts back what it changed`, e, { snapshotDir, written: renamed });
    }
    await snapshot.complete();
    return { written: renamed, snapshotDir };
  } catch (e) {
    if (renamed === 0) {
      // Nothing reached the target: leave no folder we created either.
      await removeStaging(staging);
      for (const d of [...createdRootDirs].reverse()) await fs.promises.rmdir(d).catch(() => undefined);
    }
    throw e;
  } finally {
    await removeStaging(staging);
  }
}

async function removeStaging(staging: Map<string, string>): Promise<void> {
  for (const s of staging.values()) await fs.promises.rm(s, { recursive: true, force: true }).catch(() => undefined);
  staging.clear();
}
