import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { extractEntries } from './extract';
import { BackupError, throwIfAborted } from '../util/engineErrors';
import { printable, type Manifest } from '../format/manifest';
import { archivePathProblem, isInside, resolveInside } from '../util/paths';
import type { ProgressListener } from '../util/progress';
import { selectFiles } from '../backup/select';

export type RestoreAction = 'create' | 'overwrite' | 'unchanged' | 'onlyLocal';

export interface RestoreItem {
  archivePath: string;
  /** POSIX path relative to the target folder. */
  relPath: string;
  targetPath: string;
  action: RestoreAction;
  size: number;
}

export interface RestorePlan {
  archiveFile: string;
  manifest: Manifest;
  targets: Record<string, string>;
  items: RestoreItem[];
  counts: Record<RestoreAction, number>;
}

export interface RestoreResult {
  written: number;
  snapshotDir?: string;
}

const STAGING_PREFIX = '.s3-backup-staging-';
const SNAPSHOT_FILE = 'snapshot.json';
// Thread-pool calls in flight: more than libuv's 4 threads keeps them all busy between round trips.
const PARALLEL = 8;
const STAGING_BUCKETS = 16;

interface Root {
  prefix: string;
  dir: string;
}

function unsafeTarget(name: string, detail: string): BackupError {
  return new BackupError('UnsafeArchive', `The backup would write "${printable(name)}" outside the target folder (${detail}).`, 'Nothing was restored. Check the target folder for symbolic links.', {
    params: { entry: printable(name), detail },
  });
}

function conflict(name: string, target: string, what: string): BackupError {
  return new BackupError('AlreadyExists', `${what} is in the way of "${printable(name)}" at ${target}.`, 'Move it away, or restore into another folder.', {
    params: { entry: printable(name), path: target },
  });
}

function ioError(message: string, e: unknown, params: Record<string, string | number> = {}): BackupError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return new BackupError('Io', code ? `${message} (${code})` : message, 'Check the folder and free space, then try again.', {
    cause: e,
    params: { ...params, ...(code ? { detail: code } : {}) },
  });
}

function rootsOf(targets: Record<string, string>): Root[] {
  const roots: Root[] = [];
  for (const [rawPrefix, dir] of Object.entries(targets)) {
    const prefix = rawPrefix.replace(/\/+$/, '');
    if (prefix !== '' && archivePathProblem(prefix)) throw new TypeError(`invalid restore prefix ${JSON.stringify(rawPrefix)}`);
    if (!path.isAbsolute(dir)) throw new TypeError(`restore target must be absolute: ${dir}`);
    roots.push({ prefix, dir: path.resolve(dir) });
  }
  // The longest prefix wins when prefixes nest.
  return roots.sort((a, b) => b.prefix.length - a.prefix.length);
}

function rootFor(roots: Root[], archivePath: string): { root: Root; rel: string } | undefined {
  for (const root of roots) {
    if (root.prefix === '') return { root, rel: archivePath };
    if (archivePath.startsWith(root.prefix + '/')) return { root, rel: archivePath.slice(root.prefix.length + 1) };
  }
  return undefined;
}

async function lstatOrUndefined(p: string): Promise<fs.Stats | undefined> {
  try {
    return await fs.promises.lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Proves that writing `target` cannot leave `rootDir`: the deepest existing
 * ancestor of `target` must be a folder whose real path (symlinks resolved)
 * is inside the root's real path. Caches per folder.
 */
class ContainmentCheck {
  private readonly realRoots = new Map<string, string | null>();
  private readonly dirs = new Map<string, Promise<boolean>>();

  /** Resolves whether the target's folder exists: when it does not, neither does the target. */
  check(rootDir: string, target: string, name: string): Promise<boolean> {
    const parent = path.dirname(target);
    let p = this.dirs.get(parent);
    if (!p) {
      p = this.checkDir(rootDir, parent, name);
      this.dirs.set(parent, p);
    }
    return p;
  }

  private readonly rootDirs = new Map<string, Promise<boolean>>();

  private isDir(rootDir: string): Promise<boolean> {
    let p = this.rootDirs.get(rootDir);
    if (!p) this.rootDirs.set(rootDir, (p = fs.promises.stat(rootDir).then((st) => st.isDirectory())));
    return p;
  }

  private async realRoot(rootDir: string): Promise<string | null> {
    if (!this.realRoots.has(rootDir)) {
      try {
        this.realRoots.set(rootDir, await fs.promises.realpath(rootDir));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        this.realRoots.set(rootDir, null);
      }
    }
    return this.realRoots.get(rootDir)!;
  }

  private async checkDir(rootDir: string, dir: string, name: string): Promise<boolean> {
    const realRoot = await this.realRoot(rootDir);
    if (realRoot === null) {
      // The root does not exist yet: nothing below it can exist either, but its parents might be links; that is the user's choice.
      return false;
    }
    let probe = dir;
    while (probe !== rootDir && isInside(rootDir, probe)) {
      // ENOTDIR: a file further up; the loop walks up to it and reports the conflict.
      const st = await fs.promises.lstat(probe).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined;
        throw e;
      });
      if (st) break;
      probe = path.dirname(probe);
    }
    if (probe === rootDir) {
      if (!(await this.isDir(rootDir))) throw conflict(name, rootDir, 'A file');
      return dir === rootDir;
    }
    if (!isInside(rootDir, probe)) throw unsafeTarget(name, 'path');
    let real: string;
    try {
      real = await fs.promises.realpath(probe);
    } catch (e) {
      // A dangling symlink on the way: it would be followed on mkdir.
      throw unsafeTarget(name, `a broken link at ${probe}`);
    }
    if (real !== realRoot && !isInside(realRoot, real)) throw unsafeTarget(name, `a link at ${probe}`);
    const st = await fs.promises.stat(probe);
    if (!st.isDirectory()) throw conflict(name, probe, 'A file');
    return probe === dir;
  }
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await fs.promises.open(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  try {
    const buf = Buffer.allocUnsafe(256 * 1024);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

async function mapLimit<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { e: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        failed ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  if (failed) throw failed.e;
}

/**
 * Says what restoring would do to each file, without writing anything:
 * `targets` maps an archive prefix (e.g. 'workspace/app') to an absolute
 * folder. A file is 'create'd, 'overwrite'n, or left 'unchanged' (same size
 * and sha256); files in a target that the backup lacks are 'onlyLocal' (never
 * deleted). Refuses ('UnsafeArchive') any file that would land outside its
 * target, including through a symbolic link already in the target, and
 * ('AlreadyExists') a folder where the backup has a file.
 */
export async function planRestore(archiveFile: string, manifest: Manifest, targets: Record<string, string>): Promise<RestorePlan> {
  const roots = rootsOf(targets);
  const containment = new ContainmentCheck();
  const items: RestoreItem[] = [];
  const planned = new Map<string, Set<string>>();
  for (const f of manifest.files) {
    const hit = rootFor(roots, f.path);
    if (!hit) continue;
    const targetPath = resolveInside(hit.root.dir, hit.rel);
    if (!targetPath) throw unsafeTarget(f.path, 'path');
    items.push({ archivePath: f.path, relPath: hit.rel, targetPath, action: 'create', size: f.size });
    let set = planned.get(hit.root.dir);
    if (!set) planned.set(hit.root.dir, (set = new Set()));
    set.add(hit.rel);
  }
  const byPath = new Map(manifest.files.map((f) => [f.path, f]));
  const rootOfItem = (it: RestoreItem): Root => rootFor(roots, it.archivePath)!.root;

  await mapLimit(items, async (it) => {
    if (!(await containment.check(rootOfItem(it).dir, it.targetPath, it.archivePath))) return;
    let st: fs.Stats | undefined;
    try {
      st = await lstatOrUndefined(it.targetPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') throw conflict(it.archivePath, path.dirname(it.targetPath), 'A file');
      throw ioError(`"${it.targetPath}" cannot be read`, e, { path: it.targetPath });
    }
    if (!st) return;
    if (st.isDirectory()) throw conflict(it.archivePath, it.targetPath, 'A folder');
    const f = byPath.get(it.archivePath)!;
    if (!st.isFile() || st.size !== f.size) {
      it.action = 'overwrite';
      return;
    }
    let sha: string;
    try {
      sha = await sha256File(it.targetPath);
    } catch (e) {
      throw ioError(`"${it.targetPath}" cannot be read`, e, { path: it.targetPath });
    }
    it.action = sha === f.sha256 ? 'unchanged' : 'overwrite';
  });

  for (const root of roots) {
    const st = await lstatOrUndefined(root.dir).catch(() => undefined);
    if (!st?.isDirectory()) continue;
    const local = await selectFiles(root.dir, { useGitignore: true });
    const mine = planned.get(root.dir) ?? new Set<string>();
    for (const f of local.files) {
      if (mine.has(f.relPath)) continue;
      items.push({
        archivePath: root.prefix === '' ? f.relPath : `${root.prefix}/${f.relPath}`,
        relPath: f.relPath,
        targetPath: f.absPath,
        action: 'onlyLocal',
        size: f.size,
      });
    }
  }
  const counts: Record<RestoreAction, number> = { create: 0, overwrite: 0, unchanged: 0, onlyLocal: 0 };
  for (const it of items) counts[it.action]++;
  return { archiveFile, manifest, targets: { ...targets }, items, counts };
}

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
  backup: { created: string; hostname: string; kind: string };
  targets: Record<string, string>;
  overwritten: SnapshotOverwritten[];
  createdFiles: SnapshotEntry[];
  createdDirs: string[];
  complete: boolean;
  undoneAt?: string;
}

function timestampName(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

async function writeJsonAtomic(file: string, data: unknown): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await fs.promises.writeFile(tmp, JSON.stringify(data, null, 1));
  await fs.promises.rename(tmp, file);
}

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
 */
export async function applyRestore(
  plan: RestorePlan,
  o: { snapshotRoot?: string; signal?: AbortSignal; onProgress?: ProgressListener } = {},
): Promise<RestoreResult> {
  throwIfAborted(o.signal);
  const roots = rootsOf(plan.targets);
  const byPath = new Map(plan.manifest.files.map((f) => [f.path, f]));
  const work = plan.items.filter((it) => it.action === 'create' || it.action === 'overwrite');
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

    await extractEntries(plan.archiveFile, plan.manifest, (p) => staged.get(p), { signal: o.signal, onProgress: o.onProgress, setMeta: true });
    throwIfAborted(o.signal);

    // Things may have moved since the plan: check containment and conflicts again.
    // The lstat taken here also decides what goes into the safety snapshot.
    const containment = new ContainmentCheck();
    const current = new Map<RestoreItem, fs.Stats>();
    await mapLimit(work, async (it) => {
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
    const now = new Date();
    const snapshotDir = path.join(snapshotRoot, `${timestampName(now)}-${randomBytes(3).toString('hex')}`);
    const doc: SnapshotDoc = {
      format: 1,
      created: now.toISOString(),
      backup: { created: plan.manifest.created, hostname: plan.manifest.hostname, kind: plan.manifest.kind },
      targets: { ...plan.targets },
      overwritten: [],
      createdFiles: [],
      createdDirs: [...createdRootDirs],
      complete: false,
    };
    try {
      await fs.promises.mkdir(path.join(snapshotDir, 'files'), { recursive: true });
      const saved: (SnapshotOverwritten | undefined)[] = new Array(work.length);
      await mapLimit(
        work.map((it, i) => ({ it, i })),
        async ({ it, i }) => {
          const st = current.get(it);
          const sha = byPath.get(it.archivePath)!.sha256;
          if (!st) return;
          if (st.isSymbolicLink()) {
            saved[i] = { targetPath: it.targetPath, restoredSha256: sha, kind: 'symlink', link: await fs.promises.readlink(it.targetPath) };
          } else if (st.isFile()) {
            const stored = `files/${i}`;
            await fs.promises.copyFile(it.targetPath, path.join(snapshotDir, stored), fs.constants.COPYFILE_FICLONE);
            saved[i] = { targetPath: it.targetPath, restoredSha256: sha, kind: 'file', stored, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs };
          } else {
            saved[i] = { targetPath: it.targetPath, restoredSha256: sha, kind: 'other' };
          }
        },
      );
      doc.overwritten = saved.filter((x): x is SnapshotOverwritten => x !== undefined);
      await writeJsonAtomic(path.join(snapshotDir, SNAPSHOT_FILE), doc);
    } catch (e) {
      await fs.promises.rm(snapshotDir, { recursive: true, force: true }).catch(() => undefined);
      throw ioError(`The safety copy could not be written to "${snapshotRoot}"`, e, { path: snapshotRoot });
    }

    // Point of no return: from here on, no cancel; every step is recorded for undo.
    const overwritten = new Set(doc.overwritten.map((x) => x.targetPath));
    const knownDirs = new Map<string, Promise<void>>();
    const ensureDir = (d: string): Promise<void> => {
      let p = knownDirs.get(d);
      if (!p) knownDirs.set(d, (p = mkdirp(d, doc.createdDirs)));
      return p;
    };
    try {
      // Mode and mtime were set while extracting; a rename keeps them.
      await mapLimit(work, async (it) => {
        const f = byPath.get(it.archivePath)!;
        await ensureDir(path.dirname(it.targetPath));
        await fs.promises.rename(staged.get(it.archivePath)!, it.targetPath);
        renamed++;
        if (!overwritten.has(it.targetPath)) doc.createdFiles.push({ targetPath: it.targetPath, restoredSha256: f.sha256 });
      });
      doc.complete = true;
    } catch (e) {
      await writeJsonAtomic(path.join(snapshotDir, SNAPSHOT_FILE), doc).catch(() => undefined);
      throw ioError(`The restore stopped after ${renamed} of ${work.length} files; undo puts back what it changed`, e, { snapshotDir, written: renamed });
    }
    await writeJsonAtomic(path.join(snapshotDir, SNAPSHOT_FILE), doc);
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

/**
 * Undoes a restore from its safety snapshot: files it overwrote get their old
 * content (mode, mtime) back and files it created are removed, each only
 * while it still holds exactly what the restore wrote (later edits are kept).
 * Folders it created are removed when empty. A second undo does nothing.
 */
export async function undoRestore(snapshotDir: string): Promise<{ restored: number; removed: number }> {
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
