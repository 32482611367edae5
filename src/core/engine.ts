import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { applyAppDataRestore } from './appData/applyAppDataRestore';
import type { AppDataCategory, ExtensionEntry } from './appData/categories';
import { collectAppData } from './appData/collectAppData';
import { planAppDataRestore, type AppDataPlan, type AppDataRestoreChoice } from './appData/planAppDataRestore';
import { readAppData, type AppDataContent } from './appData/readAppData';
import type { ArchiveSource } from './archive/entries';
import { writeArchive } from './archive/archiveWriter';
import { verifyArchive } from './archive/verifyArchive';
import { selectFiles, type SkippedFile } from './backup/select';
import { backupPrefix, compareNewestFirst, makeBackupKey, parseBackupKey, type BackupKind, type BackupRef } from './format/backupKeys';
import type { Manifest, ManifestMeta } from './format/manifest';
import { applyRestore, type RestoreResult } from './restore/applyRestore';
import { finishRestore, type FinishResult } from './restore/finishRestore';
import { planRestore, type RestorePlan } from './restore/planRestore';
import { cleanUpLeftovers, listRestores, pruneSnapshots, TEMP_OWNER_FILE, type CleanupReport, type RestoreSummary } from './restore/recovery';
import { undoSnapshot, type UndoResult } from './restore/snapshot';
import type { Profile } from './storage/profile';
import { S3Store, type ConnectionReport, type ConnectionStep } from './storage/s3Store';
import { BackupError, CancelledError, isCancelled, throwIfAborted, toBackupError } from './util/engineErrors';
import { nullLogger, prefixed, type Logger } from './util/engineLogger';
import { FirstFailure } from './util/firstFailure';
import { writeOwnerFile } from './util/processOwner';
import { throttleProgress, type Progress, type ProgressListener } from './util/progress';
import { testPause } from './util/testPause';
import { toolVersion } from './util/version';

export interface BackupEngineOptions {
  logger?: Logger;
  /** Host name written into keys and manifests; defaults to `os.hostname()`. */
  hostname?: string;
  /** Where fetched archives are downloaded; defaults to `os.tmpdir()`. */
  tmpDir?: string;
  /** Where `apply` keeps safety snapshots unless the call names another folder. */
  snapshotRoot?: string;
  /** Replaces the S3 access, for tests that inject failures. */
  store?: S3Store;
}

export interface CallOptions {
  signal?: AbortSignal;
  onProgress?: ProgressListener;
}

/** How many undo records to keep after a successful restore (0 = no limit); see `pruneSnapshots`. */
export interface SnapshotRetention {
  /** Keep the newest this many. */
  keep?: number;
  /** Delete those older than this many days. */
  days?: number;
}

export interface ApplyOptions extends CallOptions {
  snapshotRoot?: string;
  /** Old undo records are pruned after the restore succeeded; none when omitted. */
  retention?: SnapshotRetention;
}

export type { CleanupReport, FinishResult, RestoreSummary, UndoResult };

export interface BackupFolder {
  /** Folder name shown to the user; becomes `workspace/<name>/` in the archive (made unique). */
  name: string;
  path: string;
  /** Extra exclude globs (gitignore syntax), on top of the default excludes. */
  excludes?: string[];
  /** Honour `.gitignore` files (default true). */
  useGitignore?: boolean;
}

/** The VS Code set-up to back up: a user folder and what to take from it. */
export interface AppDataSelection {
  /** `<user-data-dir>/User`. */
  userDir: string;
  categories?: readonly AppDataCategory[];
  /** Setting keys (globs with `*`) kept out of the backup. */
  ignoredSettings?: readonly string[];
  /** The installed extensions; only VS Code knows them, so the caller lists them. */
  extensions?: readonly ExtensionEntry[];
}

export interface BackupRequest {
  kind: BackupKind;
  folders: BackupFolder[];
  /** App data to collect into `appdata/` of the same backup. */
  appData?: AppDataSelection;
  /** Ready-made entries (tests); their archive paths must start with `appdata/`. */
  extra?: ArchiveSource[];
}

export type BackupResult = BackupRef & {
  /** Files in the archive (manifest excluded). */
  files: number;
  /** Source bytes archived. */
  bytes: number;
  /** Files left out; `relPath` is the archive path they would have had (`workspace/<name>/...`). */
  skipped: SkippedFile[];
  manifest: Manifest;
};

export interface FetchedBackup {
  key: string;
  /** The verified archive, in a temp folder of its own. */
  archiveFile: string;
  manifest: Manifest;
  /** Removes the temp folder; safe to call twice. */
  dispose(): Promise<void>;
}

export type { ConnectionReport, ConnectionStep };

export interface ListPage {
  backups: BackupRef[];
  nextToken?: string;
}

/**
 * The two data paths (backup = select -> archive -> upload; restore = list ->
 * download -> verify -> plan -> apply) behind one object, shared by the CLI,
 * the extension and the benchmark.
 */
export class BackupEngine {
  readonly store: S3Store;
  private readonly log: Logger;
  private readonly hostname: string;
  private readonly tmpDir: string;
  private readonly snapshotRoot: string | undefined;
  private readonly wrap: ReturnType<typeof wrapWith>;

  constructor(
    readonly profile: Profile,
    o: BackupEngineOptions = {},
  ) {
    const logger = o.logger ?? nullLogger;
    this.log = prefixed(logger, 'engine');
    this.store = o.store ?? new S3Store(profile, { logger, tmpDir: o.tmpDir });
    this.hostname = o.hostname ?? os.hostname();
    this.tmpDir = o.tmpDir ?? os.tmpdir();
    this.snapshotRoot = o.snapshotRoot;
    this.wrap = wrapWith(profile);
  }

  /**
   * Selects the folders' files, writes one archive and streams it to a new key
   * (never overwriting). On failure or cancel the upload is aborted and no
   * object is left in the bucket.
   */
  async backup(req: BackupRequest, o: CallOptions = {}): Promise<BackupResult> {
    const { signal } = o;
    const progress = throttleProgress(o.onProgress);
    throwIfAborted(signal);
    const extra = [...(req.extra ?? []), ...(req.appData ? await this.collectAppData(req.appData, { signal }) : [])];
    if (req.folders.length === 0 && extra.length === 0) {
      throw new BackupError('NotFound', 'There is nothing to back up: no folder was given.', 'Open a folder first.', {
        params: { reason: 'empty' },
      });
    }
    for (const e of extra) {
      if (!e.archivePath.startsWith('appdata/')) {
        throw new BackupError('UnsafeArchive', `The extra entry "${e.archivePath}" must live under appdata/.`, undefined, {
          params: { path: e.archivePath },
        });
      }
    }

    const names = uniqueFolderNames(req.folders.map((f) => f.name));
    const sources: ArchiveSource[] = [];
    const skipped: SkippedFile[] = [];
    let scanned = 0;
    let scannedBytes = 0;
    for (let i = 0; i < req.folders.length; i++) {
      const folder = req.folders[i];
      const prefix = `workspace/${names[i]}`;
      progress({ phase: 'scan', bytesDone: scannedBytes, bytesTotal: 0, filesDone: scanned, filesTotal: 0 });
      let sel;
      try {
        sel = await selectFiles(folder.path, { excludes: folder.excludes, useGitignore: folder.useGitignore ?? true, signal });
      } catch (e) {
        throw this.wrap(e, signal);
      }
      for (const f of sel.files) {
        sources.push({ archivePath: `${prefix}/${f.relPath}`, absPath: f.absPath, size: f.size, mtimeMs: f.mtimeMs, mode: f.mode });
      }
      for (const s of sel.skipped) skipped.push({ ...s, relPath: `${prefix}/${s.relPath}` });
      scanned += sel.files.length;
      scannedBytes += sel.totalBytes;
      this.log.info(`${folder.path}: ${sel.files.length} files, ${sel.totalBytes} bytes, ${sel.skipped.length} skipped`);
    }
    for (const e of extra) {
      sources.push(e);
      scanned++;
      scannedBytes += e.size;
    }
    progress({ phase: 'scan', bytesDone: scannedBytes, bytesTotal: scannedBytes, filesDone: scanned, filesTotal: scanned });

    const time = new Date();
    const key = makeBackupKey(this.profile.rootPath, { time, host: this.hostname, kind: req.kind });
    const meta: ManifestMeta = {
      kind: req.kind,
      hostname: this.hostname,
      platform: process.platform,
      created: time.toISOString(),
      sources: [...names.map((n) => `workspace/${n}`), ...(extra.length > 0 ? ['appdata'] : [])],
      toolVersion: toolVersion(),
    };

    // One controller for both halves: whichever fails first stops the other.
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let uploaded = false;
    const failure = new FirstFailure((e) => controller.abort(e));
    const fail = (e: unknown): void => void failure.record(e);
    // Archiving and uploading overlap (back-pressure ties them): report them as one
    // 'upload' phase counted in source bytes, since the archive's size is not known
    // in advance. Interleaving two phases would also defeat the throttle.
    const streaming = (p: Progress): void => progress(p.phase === 'archive' ? { ...p, phase: 'upload' } : p);
    try {
      throwIfAborted(signal);
      const archive = writeArchive(sources, meta, { signal: controller.signal, onProgress: streaming });
      // The writer reports its failures through `done`; an 'error' event with no
      // listener yet (the upload first checks the key) would crash the process.
      archive.stream.on('error', fail);
      const upload = this.store.upload(key, archive.stream, { signal: controller.signal }).then((r) => {
        uploaded = true;
        return r;
      });
      upload.catch(fail);
      archive.done.catch(fail);
      archive.manifest.catch(fail);
      const [stored, manifest] = await Promise.all([upload, archive.manifest, archive.done]);
      throwIfAborted(signal);
      const { files, bytes } = manifest.totals;
      progress({ phase: 'upload', bytesDone: bytes, bytesTotal: bytes, filesDone: files, filesTotal: files });
      this.log.info(`uploaded ${key}: ${stored.size} bytes, ${files} files (${bytes} bytes)`);
      const ref = parseBackupKey(this.profile.rootPath, key, stored.size);
      return {
        key,
        time: ref?.time ?? time,
        host: ref?.host ?? this.hostname,
        kind: req.kind,
        size: stored.size,
        files,
        bytes,
        skipped,
        manifest,
      };
    } catch (e) {
      fail(e);
      // The first failure is the story; the other half then only saw our abort.
      const err = this.wrap(signal?.aborted ? e : failure.error, signal, { key });
      // The upload may have finished just before the other half failed: never leave that object.
      if (uploaded) {
        await this.store.delete(key).catch((d: unknown) => this.log.warn(`could not remove ${key} after a failed backup: ${String(d)}`));
      }
      this.log.warn(`backup failed: ${err.code}: ${err.message}`);
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * One page of backups under the root path (S3's page: up to `pageSize`,
   * default 1,000), sorted newest first within the page. S3 lists keys in
   * ascending order and keys begin with the UTC time, so the first page holds
   * the OLDEST backups: for "newest first" across more than one page use
   * `listAll` (5,000 backups = 5 requests). Objects that are not backups are skipped.
   */
  async list(o: { signal?: AbortSignal; pageSize?: number; continuationToken?: string } = {}): Promise<ListPage> {
    throwIfAborted(o.signal);
    let page;
    try {
      page = await this.store.list({ prefix: this.prefix(), maxKeys: o.pageSize, continuationToken: o.continuationToken, signal: o.signal });
    } catch (e) {
      throw this.wrap(e, o.signal);
    }
    const backups: BackupRef[] = [];
    for (const obj of page.objects) {
      const ref = parseBackupKey(this.profile.rootPath, obj.key, obj.size);
      if (!ref) continue;
      backups.push(obj.lastModified ? { ...ref, lastModified: obj.lastModified } : ref);
    }
    return { backups: newestFirst(backups), ...(page.nextToken ? { nextToken: page.nextToken } : {}) };
  }

  /** Every backup under the root path, newest first (follows continuation tokens). */
  async listAll(o: { signal?: AbortSignal } = {}): Promise<BackupRef[]> {
    const all: BackupRef[] = [];
    let token: string | undefined;
    do {
      const page = await this.list({ signal: o.signal, continuationToken: token });
      all.push(...page.backups);
      token = page.nextToken;
    } while (token);
    return newestFirst(all);
  }

  /** Downloads a backup into a temp folder and verifies every entry; nothing else is written. */
  async fetch(key: string, o: CallOptions = {}): Promise<FetchedBackup> {
    throwIfAborted(o.signal);
    const progress = throttleProgress(o.onProgress);
    let dir: string;
    try {
      await fs.promises.mkdir(this.tmpDir, { recursive: true });
      dir = await fs.promises.mkdtemp(path.join(this.tmpDir, 's3-backup-'));
    } catch (e) {
      throw new BackupError('Io', `A temporary folder could not be made in ${this.tmpDir}.`, 'Check the free space and permissions of the temp folder.', {
        cause: e,
        params: { path: this.tmpDir },
      });
    }
    const dispose = (): Promise<void> => fs.promises.rm(dir, { recursive: true, force: true });
    const archiveFile = path.join(dir, 'backup.zip');
    try {
      // A process killed while it downloads leaves the folder: the next run's clean-up asks this file whether its owner is gone.
      await writeOwnerFile(path.join(dir, TEMP_OWNER_FILE));
      await this.store.download(key, archiveFile, {
        signal: o.signal,
        onProgress: (done, total) => {
          testPause('download');
          progress({ phase: 'download', bytesDone: done, bytesTotal: total || done, filesDone: 0, filesTotal: 0 });
        },
      });
      const manifest = await verifyArchive(archiveFile, {
        signal: o.signal,
        onProgress: (p) => {
          testPause('verify');
          progress(p);
        },
      });
      return { key, archiveFile, manifest, dispose };
    } catch (e) {
      await dispose().catch(() => undefined);
      throw this.wrap(e, o.signal, { key });
    }
  }

  /** What a restore of a fetched backup into `targets` (archive prefix -> folder) would do. */
  async plan(fetched: Pick<FetchedBackup, 'archiveFile' | 'manifest'>, targets: Record<string, string>): Promise<RestorePlan> {
    try {
      return await planRestore(fetched.archiveFile, fetched.manifest, targets);
    } catch (e) {
      throw this.wrap(e, undefined);
    }
  }

  /**
   * Applies a plan; overwritten files go to a safety snapshot first (see
   * `undo`). One restore per target folder at a time (`Busy` otherwise).
   */
  async apply(plan: RestorePlan, o: ApplyOptions = {}): Promise<RestoreResult> {
    const snapshotRoot = o.snapshotRoot ?? this.snapshotRoot;
    const progress = throttleProgress(o.onProgress);
    const onProgress = (p: Progress): void => {
      if (p.phase === 'write' && p.filesDone > 0) testPause('staging');
      progress(p);
    };
    let result: RestoreResult;
    try {
      result = await applyRestore(plan, { signal: o.signal, onProgress, ...(snapshotRoot ? { snapshotRoot } : {}) });
    } catch (e) {
      throw this.wrap(e, o.signal);
    }
    await this.pruneAfter(result, o);
    return result;
  }

  /** Prunes the undo records of `snapshotRoot` after a successful restore, as `retention` says; a failure only logs. */
  private async pruneAfter(result: RestoreResult, o: ApplyOptions): Promise<void> {
    const root = o.snapshotRoot ?? this.snapshotRoot;
    if (!root || !o.retention || !result.snapshotDir) return;
    try {
      const n = await pruneSnapshots(root, { ...o.retention, except: result.snapshotDir });
      if (n > 0) this.log.info(`pruned ${n} old undo records in ${root}`);
    } catch (e) {
      this.log.warn(`could not prune the undo records in ${root}: ${String(e)}`);
    }
  }

  /** Puts back what the restore that made `snapshotDir` changed (workspace or app data), also when it was interrupted. */
  undo(snapshotDir: string): Promise<UndoResult> {
    return BackupEngine.undo(snapshotDir);
  }

  /** `undo` without a profile (undo needs no bucket). */
  static async undo(snapshotDir: string): Promise<UndoResult> {
    try {
      return await undoSnapshot(snapshotDir);
    } catch (e) {
      throw toBackupError(e);
    }
  }

  /** The restores recorded under `snapshotRoot` (undoable, interrupted, running, undone), newest first. */
  static async listRestores(snapshotRoot: string): Promise<RestoreSummary[]> {
    try {
      return await listRestores(snapshotRoot);
    } catch (e) {
      throw toBackupError(e);
    }
  }

  /** Completes an interrupted restore from its staged files (`NotFound` when they are gone: undo it instead). */
  static async finishRestore(snapshotDir: string): Promise<FinishResult> {
    try {
      return await finishRestore(snapshotDir);
    } catch (e) {
      throw toBackupError(e);
    }
  }

  /** Removes what crashed runs left behind (see `cleanUpLeftovers`); never what a live or interrupted restore needs. */
  static async cleanUp(o: { snapshotRoot?: string; tmpDir?: string; folders?: readonly string[] }): Promise<CleanupReport> {
    try {
      return await cleanUpLeftovers(o);
    } catch (e) {
      throw toBackupError(e);
    }
  }

  /**
   * The app data of a user folder as archive entries under `appdata/`
   * (settings without the ignored keys, keybindings, snippets, tasks,
   * profiles, the extension list). Nothing is read outside `userDir`.
   */
  async collectAppData(sel: AppDataSelection, o: CallOptions = {}): Promise<ArchiveSource[]> {
    try {
      const sources = await collectAppData(sel.userDir, { ...sel, signal: o.signal });
      const bytes = sources.reduce((n, s) => n + s.size, 0);
      o.onProgress?.({ phase: 'scan', bytesDone: bytes, bytesTotal: bytes, filesDone: sources.length, filesTotal: sources.length });
      this.log.info(`${sel.userDir}: ${sources.length} app data files (${(sel.categories ?? []).join(', ') || 'all categories'})`);
      return sources;
    } catch (e) {
      throw this.wrap(e, o.signal);
    }
  }

  /** The app data of a fetched (verified) backup, read into memory (it is small). */
  async readAppData(fetched: Pick<FetchedBackup, 'archiveFile'>, o: CallOptions = {}): Promise<AppDataContent> {
    try {
      return await readAppData(fetched.archiveFile, { signal: o.signal });
    } catch (e) {
      throw this.wrap(e, o.signal);
    }
  }

  /** What restoring a fetched backup's app data into `userDir` would write, per the user's choice. */
  async planAppData(
    fetched: Pick<FetchedBackup, 'archiveFile' | 'manifest'>,
    userDir: string,
    choice: AppDataRestoreChoice,
    o: CallOptions & { ignoredSettings?: readonly string[]; content?: AppDataContent } = {},
  ): Promise<AppDataPlan> {
    try {
      return await planAppDataRestore(fetched.archiveFile, fetched.manifest, userDir, choice, { ignoredSettings: o.ignoredSettings, content: o.content, signal: o.signal });
    } catch (e) {
      throw this.wrap(e, o.signal);
    }
  }

  /** Writes an app data plan, with a safety snapshot that `undo` puts back. */
  async applyAppData(plan: AppDataPlan, o: ApplyOptions = {}): Promise<RestoreResult> {
    const snapshotRoot = o.snapshotRoot ?? this.snapshotRoot;
    let result: RestoreResult;
    try {
      result = await applyAppDataRestore(plan, { signal: o.signal, onProgress: throttleProgress(o.onProgress), ...(snapshotRoot ? { snapshotRoot } : {}) });
    } catch (e) {
      throw this.wrap(e, o.signal);
    }
    await this.pruneAfter(result, o);
    return result;
  }

  /** Downloads and fully checks a backup; returns its manifest. */
  async verify(key: string, o: CallOptions = {}): Promise<Manifest> {
    const fetched = await this.fetch(key, o);
    await fetched.dispose();
    return fetched.manifest;
  }

  /** Saves the raw archive to `file` (written to a temp name beside it, then renamed: never half a file). */
  async download(key: string, file: string, o: CallOptions = {}): Promise<void> {
    throwIfAborted(o.signal);
    const progress = throttleProgress(o.onProgress);
    try {
      await this.store.download(key, file, {
        signal: o.signal,
        onProgress: (done, total) => progress({ phase: 'download', bytesDone: done, bytesTotal: total || done, filesDone: 0, filesTotal: 0 }),
      });
    } catch (e) {
      throw this.wrap(e, o.signal, { key });
    }
  }

  /** Deletes one backup; a key that does not exist is a `NotFound` error. */
  async delete(key: string, o: { signal?: AbortSignal } = {}): Promise<void> {
    throwIfAborted(o.signal);
    try {
      // DeleteObject succeeds on a missing key, so ask first to tell the user the truth.
      const head = await this.store.head(key, { signal: o.signal });
      if (!head) throw notFound(key);
      await this.store.delete(key, { signal: o.signal });
    } catch (e) {
      throw this.wrap(e, o.signal, { key });
    }
  }

  /** Bucket reachable, then write, read back and delete a probe object under the root path. */
  async testConnection(o: { signal?: AbortSignal } = {}): Promise<ConnectionReport> {
    return this.store.testConnection({ signal: o.signal });
  }

  /** Closes the S3 connections; the engine must not be used afterwards. */
  dispose(): void {
    this.store.destroy();
  }

  private prefix(): string {
    return backupPrefix(this.profile.rootPath);
  }
}

function notFound(key: string): BackupError {
  return new BackupError('NotFound', `The backup "${key}" does not exist in the bucket.`, 'Refresh the list of backups.', { params: { key } });
}

function wrapWith(profile: Profile) {
  return (e: unknown, signal: AbortSignal | undefined, ctx?: { key?: string }): BackupError => {
    if (e instanceof CancelledError) return e;
    if (signal?.aborted || isCancelled(e)) return new CancelledError(e);
    if (e instanceof BackupError) return e;
    return toBackupError(e, { bucket: profile.bucket, endpoint: profile.endpoint, key: ctx?.key, secrets: [profile.secretAccessKey] });
  };
}

function newestFirst(refs: BackupRef[]): BackupRef[] {
  return refs.sort(compareNewestFirst);
}

const RESERVED = /^(con|prn|aux|nul|com\d|lpt\d)$/i;

/**
 * Folder names made safe as one archive path segment and unique without
 * regard to case (a restore may land on a case-insensitive file system).
 */
export function uniqueFolderNames(names: string[]): string[] {
  const seen = new Set<string>();
  return names.map((raw) => {
    let base = raw
      .normalize('NFC')
      .replace(/[\u0000-\u001f\u007f/\\:*?"<>|]/g, '_')
      .trim()
      .replace(/[. ]+$/, '');
    if (base === '' || base === '.' || base === '..' || RESERVED.test(base)) base = base ? `_${base}` : 'folder';
    let name = base;
    for (let n = 2; seen.has(name.toLowerCase()); n++) name = `${base}-${n}`;
    seen.add(name.toLowerCase());
    return name;
  });
}
