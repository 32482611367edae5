import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BackupError, throwIfAborted } from '../util/engineErrors';
import { lstatOrUndefined } from '../util/fileHash';
import { mapLimit } from '../util/firstFailure';
import { resolveInside } from '../util/paths';
import { yieldIfDue } from '../util/timeSlice';
import type { ManifestFile } from '../format/manifest';
import type { ProgressListener } from '../util/progress';
import { ContainmentCheck } from './containment';
import { extractEntries } from './extract';
import { PARALLEL, type RestoreItem, type RestorePlan } from './planRestore';
import { commitRestore, InTreeFile, type StagedFile } from './commitRestore';
import { linkStaysInside } from './planLinks';
import { LINK_CONTENT_PREFIX } from './snapshotRecord';
import { SnapshotWriter } from './snapshot';
import { TreeStaging } from './stagedTrees';
import { conflict, ioError, rootFor, rootsOf, unsafeTarget, type Root } from './targetRoots';

export interface RestoreResult {
  written: number;
  snapshotDir?: string;
}

// Spread over a few folders: the kernel serialises creates within one folder, not across folders.
const STAGING_BUCKETS = 16;

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

/**
 * Applies a plan. First a 'preparing' undo record is written, the target
 * folders are locked (one restore per folder) and every file to write is
 * extracted into a staging folder inside its target (same file system) and
 * checked again against the manifest; an abort or any problem up to there
 * leaves the targets untouched and removes what the restore made. Then
 * `commitRestore` copies what will be replaced into the safety snapshot
 * (`snapshotRoot/<time>-<id>/`), records every change and renames each staged
 * file into place (atomic per file) with the manifest's mode and mtime.
 * Files marked `runsCode` are left out unless `includeCodeFiles` is true.
 */
export async function applyRestore(
  plan: RestorePlan,
  o: { snapshotRoot?: string; signal?: AbortSignal; onProgress?: ProgressListener; stage?: Stager; includeCodeFiles?: boolean } = {},
): Promise<RestoreResult> {
  throwIfAborted(o.signal);
  const roots = rootsOf(plan.targets);
  // Loops over every file give the event loop a turn (100,000 files: 30-300 ms each in one go).
  // Each manifest file's place, by archive path; numbers, not the files again.
  const manifestFiles: readonly ManifestFile[] = plan.manifest.files;
  let placeOf: Map<string, number> | undefined = new Map();
  for (let i = 0; i < manifestFiles.length; i++) {
    if (i % 1024 === 0) await yieldIfDue();
    placeOf.set(manifestFiles[i].path, i);
  }
  // Files that run code (item.runsCode) stay out unless the caller asked the user and the user said yes.
  const work = plan.items.filter((it) => (it.action === 'create' || it.action === 'overwrite') && (o.includeCodeFiles === true || !it.runsCode));
  const links = (plan.links ?? []).filter((l) => l.action !== 'unchanged' && (o.includeCodeFiles === true || !l.runsCode));
  const newDirs = (plan.dirs ?? []).filter((d) => d.action === 'create').map((d) => d.targetPath);
  if (work.length === 0 && links.length === 0 && newDirs.length === 0) return { written: 0 };
  // Each manifest file's place in `work`, or -1 (not written), and each file to write's place in the manifest.
  const workPlace = new Int32Array(manifestFiles.length).fill(-1);
  const manifestPlace = new Int32Array(work.length);
  // The roots this restore changes, with the bytes it writes into each (for the free-space check):
  // counted here, in the loop that checks each file's target.
  const need = new Map<Root, number>();
  const use = (root: Root, bytes = 0): void => void need.set(root, (need.get(root) ?? 0) + bytes);
  for (let i = 0; i < work.length; i++) {
    if (i % 512 === 0) await yieldIfDue();
    const it = work[i];
    const hit = rootFor(roots, it.archivePath);
    const m = placeOf.get(it.archivePath);
    if (!hit || m === undefined || resolveInside(hit.root.dir, hit.rel) !== it.targetPath) throw unsafeTarget(it.archivePath, 'plan');
    workPlace[m] = i;
    manifestPlace[i] = m;
    use(hit.root, it.size);
  }
  for (const l of links) {
    const hit = rootFor(roots, l.archivePath);
    if (!hit || resolveInside(hit.root.dir, hit.rel) !== l.targetPath || !linkStaysInside(hit.root.dir, l.targetPath, l.target)) throw unsafeTarget(l.archivePath, 'plan');
    use(hit.root);
  }
  for (const d of plan.dirs ?? []) {
    const root = d.action === 'create' ? rootFor(roots, d.archivePath)?.root : undefined;
    if (root) use(root);
  }
  const usedRoots = roots.filter((r) => need.has(r));

  const snapshotRoot = o.snapshotRoot ?? path.join(os.tmpdir(), 's3-backup-snapshots');
  let journal: SnapshotWriter;
  try {
    const backup = { created: plan.manifest.created, hostname: plan.manifest.hostname, kind: plan.manifest.kind };
    journal = await SnapshotWriter.begin(snapshotRoot, backup, plan.targets, usedRoots.map((r) => r.dir));
  } catch (e) {
    throw ioError(`The safety copy could not be written to "${snapshotRoot}"`, e, { path: snapshotRoot });
  }
  try {
    try {
      await journal.prepare();
      for (const r of usedRoots) {
        const bytes = need.get(r)!;
        const fsStat = await fs.promises.statfs(r.dir).catch(() => undefined);
        if (fsStat && fsStat.bavail * fsStat.bsize < bytes + 16 * 1024 * 1024) {
          throw new BackupError('Io', `There is not enough free space in "${r.dir}" (${bytes} bytes needed).`, 'Free some space, then try again.', {
            params: { path: r.dir, bytes },
          });
        }
      }
    } catch (e) {
      throw e instanceof BackupError ? e : ioError(`The folder "${usedRoots[0].dir}" cannot be written`, e, { path: usedRoots[0].dir });
    }
    const stagingOf = (it: { archivePath: string }): string => journal.stagingDir(rootFor(roots, it.archivePath)!.root.dir);
    const buckets = Math.max(1, Math.min(STAGING_BUCKETS, work.length));
    try {
      await Promise.all(journal.record.staging.flatMap((s) => Array.from({ length: buckets }, (_, k) => fs.promises.mkdir(path.join(s, String(k))))));
    } catch (e) {
      throw ioError(`The folder "${journal.record.staging[0]}" cannot be written`, e, { path: journal.record.staging[0] });
    }
    // Each bucket folder's path once; a file's is that plus its number: one
    // string join per file, not path.join's (100,000 files: ~9 MiB of string pieces).
    const bucketDirs = new Map<string, string[]>();
    const bucketDir = (it: { archivePath: string }, k: number): string => {
      const dir = stagingOf(it);
      let list = bucketDirs.get(dir);
      if (!list) bucketDirs.set(dir, (list = Array.from({ length: buckets }, (_, b) => path.join(dir, String(b)))));
      return list[k];
    };
    // New folders are staged whole (stagedTrees.ts); the other files go into the buckets.
    const folders = new Map<string, string>();
    for (let i = 0; i < work.length; i++) {
      if (i % 1024 === 0) await yieldIfDue();
      folders.set(path.dirname(work[i].targetPath), stagingOf(work[i]));
    }
    for (const l of links) folders.set(path.dirname(l.targetPath), stagingOf(l));
    for (const d of (plan.dirs ?? []).filter((x) => x.action === 'create')) folders.set(d.targetPath, stagingOf(d));
    let trees: TreeStaging;
    try {
      trees = await TreeStaging.of(folders);
      await trees.create();
    } catch (e) {
      throw ioError(`The folder "${journal.record.staging[0]}" cannot be written`, e, { path: journal.record.staging[0] });
    }
    // Where each file is staged is worked out when asked for, from the new folder it
    // is in (its place in trees.trees, or -1): not a string a file held to the end.
    const treePlace = new Int32Array(work.length);
    const treeIndex = new Map(trees.trees.map((t, k) => [t, k]));
    for (let i = 0; i < work.length; i++) {
      if (i % 512 === 0) await yieldIfDue();
      const tree = trees.treeOf(work[i].targetPath);
      treePlace[i] = tree ? treeIndex.get(tree)! : -1;
    }
    const stagedPath = (i: number): string => {
      const t = treePlace[i];
      return t >= 0 ? TreeStaging.stagedPath(trees.trees[t], work[i].targetPath) : `${bucketDir(work[i], i % buckets)}${path.sep}${i}`;
    };
    const select = (p: string): string | undefined => {
      const m = placeOf?.get(p);
      const i = m === undefined ? -1 : workPlace[m];
      return i >= 0 ? stagedPath(i) : undefined;
    };

    const stageAll = o.stage ?? ((sel: (p: string) => string | undefined, so: StageOptions) => extractEntries(plan.archiveFile, plan.manifest, sel, so));
    if (work.length > 0) await stageAll(select, { signal: o.signal, onProgress: o.onProgress, setMeta: true });
    // Links are staged as links, then renamed into place like files (atomic, and in the undo record).
    const stagedLinks = new Map<string, string>();
    await mapLimit(links, PARALLEL, async (l, i) => {
      const tree = trees.treeOf(l.targetPath);
      const at = tree ? TreeStaging.stagedPath(tree, l.targetPath) : path.join(stagingOf(l), String(i % buckets), `link-${i}`);
      await fs.promises.symlink(l.target, at);
      stagedLinks.set(l.archivePath, at);
    });
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

    const currentLink = new Map<string, fs.Stats>();
    await mapLimit(links, PARALLEL, async (l) => {
      if (!(await containment.check(rootFor(roots, l.archivePath)!.root.dir, l.targetPath, l.archivePath))) return;
      const st = await lstatOrUndefined(l.targetPath);
      if (st?.isDirectory()) throw conflict(l.archivePath, l.targetPath, 'A folder');
      if (st) currentLink.set(l.archivePath, st);
    });
    const files: StagedFile[] = [];
    for (let i = 0; i < work.length; i++) {
      if (i % 1024 === 0) await yieldIfDue();
      const it = work[i];
      const t = treePlace[i];
      const sha256 = manifestFiles[manifestPlace[i]].sha256;
      files.push(t >= 0 ? new InTreeFile(it.targetPath, trees.trees[t], sha256, current.get(it)) : { targetPath: it.targetPath, staged: stagedPath(i), restoredSha256: sha256, current: current.get(it) });
    }
    // The places by path are not needed from here on: the commit's peak is the restore's.
    placeOf = undefined;
    for (const l of links) {
      files.push({ targetPath: l.targetPath, staged: stagedLinks.get(l.archivePath)!, restoredSha256: `${LINK_CONTENT_PREFIX}${l.target}`, current: currentLink.get(l.archivePath), tree: trees.treeOf(l.targetPath) });
    }
    const written = await commitRestore(journal, files, { signal: o.signal, dirs: newDirs, trees: trees.trees });
    return { written, snapshotDir: journal.dir };
  } catch (e) {
    // Before the commit nothing of the user's has changed: leave nothing behind either.
    if (!journal.committed) await journal.abandon().catch(() => undefined);
    throw e;
  }
}
