// An incremental backup, start to end: scan -> find what is stored already
// -> pack and upload the rest -> commit the manifest. The backup holds a
// shared lock in the bucket from before it reads other backups' manifests
// until its own manifest is written, so no clean-up can delete a pack it
// is about to reference (see repository/locks.ts).
import { DEFAULT_LEVEL } from '../archive/compression';
import type { ArchiveSource } from '../archive/entries';
import { PackSet, type PackLimits, type PackStore } from '../archive/packWriter';
import { compareNewestFirst, makeBackupKey, parseBackupKey, sanitizeHost, type BackupKind, type BackupRef } from '../format/backupKeys';
import { compressManifest, compressManifestEntries, FORMAT_VERSION, type Manifest, type ManifestDir, type ManifestEntries, type ManifestFile, type ManifestFolder, type ManifestLink, type ManifestMeta } from '../format/manifest';
import { packsPrefix, parsePackKey } from '../format/packKeys';
import type { SelectionRules } from '../format/selectionRules';
import { listBackups } from '../repository/collectGarbage';
import { acquireLock, waitForNoExclusive, type Lock, type LockOptions } from '../repository/locks';
import type { ManifestStore } from '../repository/manifestStore';
import type { S3Store } from '../storage/s3Store';
import { BackupError, throwIfAborted } from '../util/engineErrors';
import type { Logger } from '../util/engineLogger';
import { FirstFailure } from '../util/firstFailure';
import type { ProgressListener } from '../util/progress';
import { toolVersion } from '../util/version';
import { WorkerPool } from '../util/workerPool';
import { ReuseIndex } from './reuseIndex';
import { selectFiles, type SkippedFile } from './select';
import { storeContent, type StoredFiles } from './storeContent';

export interface FolderToBackUp {
  /** Unique among the backup's folders: `workspace/<name>/` in the backup. */
  name: string;
  path: string;
  excludes?: string[];
  useGitignore?: boolean;
}

export interface BackupDeps {
  store: S3Store;
  manifests: ManifestStore;
  log: Logger;
  hostname: string;
  packLimits?: PackLimits;
  lock?: Partial<Pick<LockOptions, 'staleMs' | 'refreshMs' | 'now' | 'waitMs'>>;
  /** Test seam: runs after the packs are uploaded, before the commit. */
  beforeCommit?: () => Promise<void>;
  /**
   * Encryption on: packs go through `packs`, the manifest is sealed by
   * `manifest` (crypto/repositoryCrypto.ts). May be a promise (the
   * repository's key on its way from the server) that settles to none.
   */
  sealing?: Sealing | Promise<Sealing | undefined>;
}

export interface Sealing {
  packs: PackStore;
  manifest: (key: string, body: Buffer) => Buffer;
}

export interface BackupOutcome {
  ref: BackupRef;
  manifest: Manifest;
  skipped: SkippedFile[];
  stored: StoredFiles;
  /** Bytes sent: the new packs and the manifest. */
  uploaded: number;
}

// The previous backups consulted: enough to cover a machine's kinds, few enough to stay quick.
const PREVIOUS_MANIFESTS = 4;
const OTHER_HOSTS = 6;
// A backup waits this long for a running clean-up to finish.
const LOCK_WAIT_MS = 5 * 60 * 1000;

/**
 * Backs up `folders` and `extra` (app data entries) as one new backup of
 * `kind`. Uploads only content no kept backup holds; writes the manifest
 * last, so a failure or a cancel leaves no backup (and removes its packs).
 */
export async function runBackup(
  deps: BackupDeps,
  req: { kind: BackupKind; folders: FolderToBackUp[]; extra: ArchiveSource[]; selection?: Record<string, SelectionRules> },
  o: { signal?: AbortSignal; onProgress?: ProgressListener; level?: number } = {},
): Promise<BackupOutcome> {
  const { store, log, signal } = { ...deps, signal: o.signal };
  const rootPath = store.profile.rootPath;
  const lockOptions = { ...deps.lock, host: deps.hostname, signal, logger: log };
  const sealingOnItsWay = Promise.resolve(deps.sealing);
  sealingOnItsWay.catch(() => undefined);
  const threads = req.folders.length > 0 ? WorkerPool.create('fileWorker') : undefined;
  // The scan reads this machine's files only: it runs while the repository's key and the lock go
  // to the server (a few round trips, ~120 ms on a local server). Work started ahead like this is
  // stopped when the backup fails before waiting for it.
  const stopAhead = new AbortController();
  const ahead = signal ? AbortSignal.any([signal, stopAhead.signal]) : stopAhead.signal;
  const scanning = scanFolders(req.folders, o.onProgress, ahead, log, threads);
  scanning.catch(() => undefined);
  let sealing: Sealing | undefined;
  let lock: Lock;
  try {
    sealing = await sealingOnItsWay;
    lock = await acquireLock(store, 'shared', { ...lockOptions, purpose: `backup (${req.kind})`, waitMs: deps.lock?.waitMs ?? LOCK_WAIT_MS });
  } catch (e) {
    stopAhead.abort();
    await scanning.catch(() => undefined);
    await threads?.close();
    throw e;
  }
  const prefixes = [...req.folders.map((f) => `workspace/${f.name}`), ...(req.extra.length > 0 ? ['appdata'] : [])];
  // The kept backups' manifests (what the bucket holds already) are read while the scan goes on:
  // with the lock held, as no clean-up may run meanwhile.
  const reusing = reuseIndexFor(deps, req.folders, prefixes, ahead);
  reusing.catch(() => undefined);
  const failure = new FirstFailure();
  const packs = new PackSet(sealing?.packs ?? store, rootPath, { signal, limits: deps.packLimits, log });
  try {
    const scan = await scanning;
    // The sources (two paths a file) and the reuse index (the kept backups' files) go once the
    // content is stored: the manifest of 100,000 files is made and gzip'd without them (~25 MiB less).
    let sources: ArchiveSource[] | undefined = [...scan.sources, ...req.extra];
    scan.sources = [];
    let reuse: ReuseIndex | undefined = await reusing;
    log.info(`${sources.length} files; content of ${reuse.size} files already in the bucket`);

    // The commit's lock refresh and wait for a clean-up go to the server while the last pack is finished and uploaded.
    let lockChecks: Promise<void> | undefined;
    const checkLock = (): Promise<void> =>
      (lockChecks ??= (async () => {
        await lock.refresh(signal);
        await waitForNoExclusive(store, { ...lockOptions, purpose: 'commit', except: lock.key, waitMs: LOCK_WAIT_MS });
      })());
    // The manifest's lists, one description for the gzip started early and for the manifest itself.
    const entriesOf = (files: ManifestFile[], packIds: string[]): ManifestEntries => ({ format: FORMAT_VERSION, files, packs: packIds, dirs: scan.dirs, links: scan.links });
    // The manifest's entries are gzip'd while the last packs upload; its first line (what was uploaded) after.
    let entriesGzip: Promise<Buffer[]> | undefined;
    const stored = await storeContent(sources, reuse, packs, {
      beforeClose: () => void checkLock().catch(() => undefined),
      whileUploading: (files, packIds) => {
        entriesGzip = compressManifestEntries(entriesOf(files, packIds));
        entriesGzip.catch(() => undefined);
      },
      signal,
      onProgress: o.onProgress,
      level: o.level ?? DEFAULT_LEVEL,
      threads,
      failed: () => failure.error as Error | undefined,
      fail: (e) => void failure.record(e),
    });
    sources = undefined;
    reuse = undefined;
    failure.throwIfFailed();
    throwIfAborted(signal);

    const time = new Date();
    const key = makeBackupKey(rootPath, { time, host: deps.hostname, kind: req.kind });
    const meta: ManifestMeta = {
      kind: req.kind,
      hostname: deps.hostname,
      platform: process.platform,
      created: time.toISOString(),
      sources: prefixes,
      toolVersion: toolVersion(),
      // Recorded so that a restore can tell a file these rules would have left out (a planted one).
      ...(req.selection && Object.keys(req.selection).length > 0 ? { selection: req.selection } : {}),
    };
    const manifest: Manifest = {
      ...meta,
      ...entriesOf(stored.files, stored.packs),
      totals: { files: stored.files.length, bytes: stored.files.reduce((n, f) => n + f.size, 0) },
      folders: scan.folders,
      added: stored.added,
    };
    // The manifest is compressed on the thread pool while the commit's checks go to the server.
    const compressing = compressManifest(manifest, entriesGzip);
    compressing.catch(() => undefined);
    await deps.beforeCommit?.();
    // Commit: with our lock fresh and no clean-up running, every pack we reference must still be there.
    // (Our shared lock keeps any clean-up out until the manifest is written; the checks guard a lock gone stale.)
    await checkLock();
    await checkPacksExist(store, rootPath, manifest.packs ?? [], signal);
    const gzipped = await compressing;
    const body = sealing ? sealing.manifest(key, gzipped) : gzipped;
    await store.putBuffer(key, body, { signal, contentType: sealing ? 'application/octet-stream' : 'application/gzip' });
    log.info(`committed ${key}: ${manifest.totals.files} files, ${stored.added.files} new (${stored.added.packBytes} bytes in ${stored.added.packs} packs), ${stored.unchanged} unchanged`);
    const ref: BackupRef = parseBackupKey(rootPath, key, body.length) ?? { key, time, host: sanitizeHost(deps.hostname), kind: req.kind, size: body.length, format: 2 };
    return { ref, manifest, skipped: scan.skipped, stored, uploaded: stored.added.packBytes + body.length };
  } catch (e) {
    failure.record(e);
    stopAhead.abort();
    await Promise.all([scanning.catch(() => undefined), reusing.catch(() => undefined)]);
    await packs.abort(e instanceof Error ? e : new Error(String(e)));
    throw failure.error;
  } finally {
    await Promise.all([threads?.close(), lock.release()]);
  }
}

/** Lists the folders' files, links and empty folders as a backup takes them (also what `checkForChanges` compares). */
export async function scanFolders(
  folders: FolderToBackUp[],
  onProgress: ProgressListener | undefined,
  signal: AbortSignal | undefined,
  log: Logger,
  threads?: WorkerPool,
): Promise<{ sources: ArchiveSource[]; dirs: ManifestDir[]; links: ManifestLink[]; folders: ManifestFolder[]; skipped: SkippedFile[] }> {
  const out = { sources: [] as ArchiveSource[], dirs: [] as ManifestDir[], links: [] as ManifestLink[], folders: [] as ManifestFolder[], skipped: [] as SkippedFile[] };
  let files = 0;
  let bytes = 0;
  for (const folder of folders) {
    const prefix = `workspace/${folder.name}`;
    onProgress?.({ phase: 'scan', bytesDone: bytes, bytesTotal: 0, filesDone: files, filesTotal: 0 });
    const sel = await selectFiles(folder.path, { excludes: folder.excludes, useGitignore: folder.useGitignore ?? true, signal, threads, archivePrefix: `${prefix}/` });
    // The scan's rows are the sources as they are (their paths in the backup included): no copy a file.
    for (const f of sel.files) out.sources.push(f);
    for (const d of sel.emptyDirs) out.dirs.push({ path: `${prefix}/${d.relPath}`, mtime: new Date(Math.round(d.mtimeMs)).toISOString(), mode: d.mode });
    for (const l of sel.links) out.links.push({ path: `${prefix}/${l.relPath}`, target: l.target, mtime: new Date(Math.round(l.mtimeMs)).toISOString() });
    for (const s of sel.skipped) out.skipped.push({ ...s, relPath: `${prefix}/${s.relPath}` });
    out.folders.push({ prefix, path: folder.path });
    files += sel.files.length;
    bytes += sel.totalBytes;
    log.info(`${folder.path}: ${sel.files.length} files, ${sel.links.length} links, ${sel.emptyDirs.length} empty folders, ${sel.totalBytes} bytes, ${sel.skipped.length} skipped`);
  }
  onProgress?.({ phase: 'scan', bytesDone: bytes, bytesTotal: bytes, filesDone: files, filesTotal: files });
  return out;
}

/**
 * What this backup can reuse: the newest backups of this machine that hold
 * each of its folders (their files' stats are trusted), and the newest
 * backup of every other machine (content by hash).
 */
async function reuseIndexFor(deps: BackupDeps, folders: FolderToBackUp[], prefixes: string[], signal?: AbortSignal): Promise<ReuseIndex> {
  const index = new ReuseIndex();
  const all = (await listBackups(deps.store, deps.store.profile.rootPath, signal)).filter((r) => r.format === 2).sort(compareNewestFirst);
  const host = sanitizeHost(deps.hostname).toLowerCase();
  const mine = all.filter((r) => r.host.toLowerCase() === host);
  const pathOf = new Map(folders.map((f) => [`workspace/${f.name}`, f.path]));
  let wanted = new Set(prefixes);
  let loaded = 0;
  for (const ref of mine) {
    if (wanted.size === 0 || loaded >= PREVIOUS_MANIFESTS) break;
    const couldHold = [...wanted].some((p) => (p === 'appdata' ? ref.kind !== 'workspace' : ref.kind !== 'appdata'));
    if (!couldHold) continue;
    const m = await deps.manifests.load(ref, { signal }).catch((e: unknown) => {
      deps.log.warn(`skipping the manifest of ${ref.key}: ${String(e)}`);
      return undefined;
    });
    loaded++;
    if (!m) continue;
    // A folder of the same name elsewhere on this machine is another folder: its stats say nothing about this one.
    const serves = new Set([...wanted].filter((p) => m.sources.includes(p) && (p === 'appdata' || m.folders?.find((f) => f.prefix === p)?.path === pathOf.get(p))));
    if (serves.size > 0) await index.addPrevious(m, serves);
    else await index.addContent(m);
    wanted = new Set([...wanted].filter((p) => !serves.has(p)));
  }
  const seenHosts = new Set([host]);
  let others = 0;
  for (const ref of all) {
    if (others >= OTHER_HOSTS) break;
    const h = ref.host.toLowerCase();
    if (seenHosts.has(h)) continue;
    seenHosts.add(h);
    const m = await deps.manifests.load(ref, { signal }).catch(() => undefined);
    if (m) await index.addContent(m);
    others++;
  }
  return index;
}

async function checkPacksExist(store: S3Store, rootPath: string, ids: readonly string[], signal?: AbortSignal): Promise<void> {
  if (ids.length === 0) return;
  const present = new Set<string>();
  for (const obj of await store.listAll(packsPrefix(rootPath), { signal })) {
    const id = parsePackKey(rootPath, obj.key);
    if (id) present.add(id);
  }
  const missing = ids.filter((id) => !present.has(id));
  if (missing.length > 0) {
    throw new BackupError('Busy', `${missing.length} packs this backup needs were deleted while it ran, by a clean-up on another machine.`, 'Back up again: the new backup stores that content anew.', {
      params: { missing: missing.length, reason: 'packsDeleted' },
    });
  }
}
