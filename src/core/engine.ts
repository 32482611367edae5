import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { applyAppDataRestore } from './appData/applyAppDataRestore';
import { APPDATA_PREFIX, type AppDataCategory, type ExtensionEntry } from './appData/categories';
import { collectAppData } from './appData/collectAppData';
import { planAppDataRestore, type AppDataPlan, type AppDataRestoreChoice } from './appData/planAppDataRestore';
import { appDataContentOf, readAppData, type AppDataContent } from './appData/readAppData';
import { MAX_FILE_BYTES } from './appData/userFiles';
import { assembleZip } from './archive/assembleZip';
import type { ArchiveSource } from './archive/entries';
import type { PackLimits } from './archive/packWriter';
import { readFromPacks } from './archive/packReader';
import { readZipFiles } from './archive/openArchive';
import { verifyArchive } from './archive/verifyArchive';
import { checkForChanges, type ChangeCheck } from './backup/changeCheck';
import { runBackup, type BackupDeps } from './backup/runBackup';
import { selectionRulesOf, type SkippedFile } from './backup/select';
import { backupPrefix, compareNewestFirst, parseBackupKey, type BackupKind, type BackupRef } from './format/backupKeys';
import type { Manifest, ManifestAdded, ManifestHeader } from './format/manifest';
import { collectGarbage, type GcResult } from './repository/collectGarbage';
import { ManifestStore } from './repository/manifestStore';
import { applyRestore, type RestoreResult, type Stager } from './restore/applyRestore';
import { finishRestore, type FinishResult } from './restore/finishRestore';
import { planRestore, type RestorePlan } from './restore/planRestore';
import { cleanUpLeftovers, listRestores, pruneSnapshots, TEMP_OWNER_FILE, type CleanupReport, type RestoreSummary } from './restore/recovery';
import { restoredMode } from './restore/restoredMode';
import { checkOwnGitignores } from './restore/selectionCheck';
import { undoSnapshot, type UndoResult } from './restore/snapshot';
import type { Profile } from './storage/profile';
import { S3Store, type ConnectionReport, type ConnectionStep } from './storage/s3Store';
import { BackupError, CancelledError, isCancelled, throwIfAborted, toBackupError } from './util/engineErrors';
import { nullLogger, prefixed, type Logger } from './util/engineLogger';
import { writeOwnerFile } from './util/processOwner';
import { throttleProgress, type Progress, type ProgressListener } from './util/progress';
import { testPause } from './util/testPause';

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
  /** Where downloaded manifests are kept between runs (immutable objects; a miss only costs a download). */
  cacheDir?: string;
  /** Pack size limits (tests use small ones). */
  packLimits?: PackLimits;
  /** Lock timing (tests use short ones). */
  lock?: BackupDeps['lock'];
  /** Test seam: runs after a backup's packs are uploaded, before its manifest is written. */
  beforeCommit?: () => Promise<void>;
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
  /** Restore files that run code too: only after the user's second, explicit yes. */
  includeCodeFiles?: boolean;
  /** Old undo records are pruned after the restore succeeded; none when omitted. */
  retention?: SnapshotRetention;
}

export type { ChangeCheck, CleanupReport, FinishResult, RestoreSummary, UndoResult };

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
  /** Keep settings that look like secrets (default: left out, their names recorded). */
  includeSecretSettings?: boolean;
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
  /** Files in the backup. */
  files: number;
  /** Their bytes. */
  bytes: number;
  /** What this backup added to the bucket (the rest was stored already). */
  added: ManifestAdded;
  /** Bytes sent: new packs and the manifest. */
  uploaded: number;
  /** Files known unchanged from their stat, not read at all. */
  unchanged: number;
  /** Files left out; `relPath` is the archive path they would have had (`workspace/<name>/...`). */
  skipped: SkippedFile[];
  manifest: Manifest;
};

export interface FetchedBackup {
  key: string;
  format: 1 | 2;
  /** Format 1: the verified archive, in a temp folder of its own. Format 2 reads from the packs on demand. */
  archiveFile?: string;
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
  readonly manifests: ManifestStore;
  private readonly log: Logger;
  private readonly hostname: string;
  private readonly tmpDir: string;
  private readonly snapshotRoot: string | undefined;
  private readonly wrap: ReturnType<typeof wrapWith>;
  private readonly options: BackupEngineOptions;

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
    this.options = o;
    this.manifests = new ManifestStore(this.store, o.cacheDir, this.log);
  }

  /**
   * Backs up the folders (and app data entries) as one new, incremental
   * backup: only content that no kept backup holds is uploaded, in new packs;
   * the manifest is written last. On failure or cancel no backup appears and
   * the new packs are removed.
   */
  async backup(req: BackupRequest, o: CallOptions = {}): Promise<BackupResult> {
    const { signal } = o;
    const progress = throttleProgress(o.onProgress);
    const { folders, extra, selection } = await this.prepare(req, signal);
    // Packing and uploading overlap (back-pressure ties them): one 'upload' phase, counted in source bytes.
    const streaming = (p: Progress): void => progress(p.phase === 'archive' ? { ...p, phase: 'upload' } : p);
    try {
      const r = await runBackup(
        { store: this.store, manifests: this.manifests, log: this.log, hostname: this.hostname, packLimits: this.options.packLimits, lock: this.options.lock, beforeCommit: this.options.beforeCommit },
        { kind: req.kind, folders, extra, selection },
        { signal, onProgress: streaming },
      );
      const { files, bytes } = r.manifest.totals;
      progress({ phase: 'upload', bytesDone: bytes, bytesTotal: bytes, filesDone: files, filesTotal: files });
      return { ...r.ref, files, bytes, added: r.stored.added, uploaded: r.uploaded, unchanged: r.stored.unchanged, skipped: r.skipped, manifest: r.manifest };
    } catch (e) {
      const err = this.wrap(e, signal);
      this.log.warn(`backup failed: ${err.code}: ${err.message}`);
      throw err;
    }
  }

  /**
   * Whether a backup of `req` would differ from the newest backup of this
   * machine of the same kind and folders (see `checkForChanges`): a stat of
   * every file against that manifest, nothing read or uploaded. An automatic
   * backup, and `backup --if-changed`, skip the backup when it would not.
   */
  async hasChanges(req: BackupRequest, o: { signal?: AbortSignal } = {}): Promise<ChangeCheck> {
    try {
      const { folders, extra, selection } = await this.prepare(req, o.signal);
      return await checkForChanges({ store: this.store, manifests: this.manifests, hostname: this.hostname, log: this.log }, { kind: req.kind, folders, extra, selection }, o);
    } catch (e) {
      throw this.wrap(e, o.signal);
    }
  }

  /** A request as `runBackup` takes it: app data collected, extra entries checked, folder names made unique. */
  private async prepare(req: BackupRequest, signal: AbortSignal | undefined) {
    throwIfAborted(signal);
    const extra = [...(req.extra ?? []), ...(req.appData ? await this.collectAppData(req.appData, { signal }) : [])];
    if (req.folders.length === 0 && extra.length === 0) {
      throw new BackupError('NotFound', 'There is nothing to back up: no folder was given.', 'Open a folder first.', {
        params: { reason: 'empty' },
      });
    }
    for (const e of extra) {
      if (!e.archivePath.startsWith(`${APPDATA_PREFIX}/`)) {
        throw new BackupError('UnsafeArchive', `The extra entry "${e.archivePath}" must live under appdata/.`, undefined, {
          params: { path: e.archivePath },
        });
      }
    }
    const names = uniqueFolderNames(req.folders.map((f) => f.name));
    const folders = req.folders.map((f, i) => ({ ...f, name: names[i] }));
    // Recorded so that a restore can tell a file these rules would have left out (a planted one).
    const selection = Object.fromEntries(folders.map((f) => [`workspace/${f.name}`, selectionRulesOf(f)]));
    return { folders, extra, selection };
  }

  /**
   * One page of backups under the root path (S3's page: up to `pageSize`,
   * default 1,000), sorted newest first within the page. S3 lists keys in
   * ascending order and keys begin with the UTC time, so the first page holds
   * the OLDEST backups: for "newest first" across more than one page use
   * `listAll` (5,000 backups = 5 requests). Objects that are not backups
   * (packs, locks, anything else) are skipped.
   */
  async list(o: { signal?: AbortSignal; pageSize?: number; continuationToken?: string } = {}): Promise<ListPage> {
    throwIfAborted(o.signal);
    let page;
    try {
      // The delimiter keeps packs/ and locks/ out of the listing: one page of backups, not of packs.
      page = await this.store.list({ prefix: this.prefix(), maxKeys: o.pageSize, continuationToken: o.continuationToken, delimiter: '/', signal: o.signal });
    } catch (e) {
      throw this.wrap(e, o.signal);
    }
    const backups: BackupRef[] = [];
    for (const obj of page.objects) {
      const ref = parseBackupKey(this.profile.rootPath, obj.key, obj.size);
      if (!ref) continue;
      backups.push({ ...ref, ...(obj.lastModified ? { lastModified: obj.lastModified } : {}), ...(obj.etag ? { etag: obj.etag } : {}) });
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

  /**
   * What a backup holds, from the first bytes of its manifest (format 2: one
   * small ranged GET; the tree shows it without downloading anything else).
   * Undefined for format 1, whose manifest is inside the archive.
   */
  async summary(ref: BackupRef, o: { signal?: AbortSignal } = {}): Promise<ManifestHeader | undefined> {
    if (ref.format !== 2) return undefined;
    try {
      return await this.manifests.header(ref, o);
    } catch (e) {
      throw this.wrap(e, o.signal, { key: ref.key });
    }
  }

  /**
   * A backup, ready to plan a restore from. Format 1: downloaded into a temp
   * folder and every entry verified. Format 2: its manifest, strictly
   * checked; file contents are read (and verified) from the packs when
   * restored. Nothing outside the temp folder is written.
   */
  async fetch(key: string, o: CallOptions & { etag?: string } = {}): Promise<FetchedBackup> {
    throwIfAborted(o.signal);
    const ref = parseBackupKey(this.profile.rootPath, key);
    if (ref?.format === 2) {
      try {
        testPause('download');
        const manifest = await this.manifests.load({ key, etag: o.etag }, { signal: o.signal });
        testPause('verify');
        await checkOwnGitignores(manifest, (files) => readFromPacks(this.store, this.profile.rootPath, manifest, files, { kind: 'memory' }, { signal: o.signal }));
        return { key, format: 2, manifest, dispose: async () => undefined };
      } catch (e) {
        throw this.wrap(e, o.signal, { key });
      }
    }
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
      await checkOwnGitignores(manifest, (files) => readZipFiles(archiveFile, new Set(files.map((f) => f.path)), { signal: o.signal }));
      return { key, format: 1, archiveFile, manifest, dispose };
    } catch (e) {
      await dispose().catch(() => undefined);
      throw this.wrap(e, o.signal, { key });
    }
  }

  /** What a restore of a fetched backup into `targets` (archive prefix -> folder) would do. */
  async plan(fetched: Pick<FetchedBackup, 'archiveFile' | 'manifest'>, targets: Record<string, string>): Promise<RestorePlan> {
    try {
      return await planRestore(fetched.archiveFile ?? '', fetched.manifest, targets);
    } catch (e) {
      throw this.wrap(e, undefined);
    }
  }

  /**
   * Applies a plan; overwritten files go to a safety snapshot first (see
   * `undo`). Files that run code (`runsCode` in the plan) are left out unless
   * `includeCodeFiles` says the user explicitly asked for them. One restore
   * per target folder at a time (`Busy` otherwise).
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
      result = await applyRestore(plan, {
        signal: o.signal,
        onProgress,
        includeCodeFiles: o.includeCodeFiles === true,
        ...(snapshotRoot ? { snapshotRoot } : {}),
        ...(plan.manifest.format === 2 ? { stage: this.packStager(plan.manifest) } : {}),
      });
    } catch (e) {
      throw this.wrap(e, o.signal);
    }
    await this.pruneAfter(result, o);
    return result;
  }

  /** Format 2's staging: each selected file read from the packs, checked, then created. */
  private packStager(manifest: Manifest): Stager {
    return async (select, so) => {
      const wanted = manifest.files.filter((f) => select(f.path) !== undefined);
      await readFromPacks(this.store, this.profile.rootPath, manifest, wanted, { kind: 'file', dest: (f) => select(f.path), setMeta: so.setMeta, modeOf: (f, umask) => restoredMode(f.mode, umask) }, so);
    };
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

  /** The app data of a fetched backup, read into memory (it is small) and checked file by file. */
  async readAppData(fetched: Pick<FetchedBackup, 'archiveFile' | 'manifest'>, o: CallOptions = {}): Promise<AppDataContent> {
    try {
      if (fetched.manifest.format !== 2) return await readAppData(fetched.archiveFile ?? '', { signal: o.signal });
      const prefix = `${APPDATA_PREFIX}/`;
      const wanted = fetched.manifest.files.filter((f) => f.path.startsWith(prefix) && f.size <= MAX_FILE_BYTES);
      const read = await readFromPacks(this.store, this.profile.rootPath, fetched.manifest, wanted, { kind: 'memory' }, o);
      return appDataContentOf(new Map([...read].map(([p, data]) => [p.slice(prefix.length), data])));
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
      const content = o.content ?? (await this.readAppData(fetched, o));
      return await planAppDataRestore(fetched.archiveFile ?? '', fetched.manifest, userDir, choice, { ignoredSettings: o.ignoredSettings, content, signal: o.signal });
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

  /** Downloads and fully checks a backup (every file against its manifest), writing nothing; returns its manifest. */
  async verify(key: string, o: CallOptions = {}): Promise<Manifest> {
    const fetched = await this.fetch(key, o);
    try {
      if (fetched.format === 2) {
        await readFromPacks(this.store, this.profile.rootPath, fetched.manifest, fetched.manifest.files, { kind: 'check' }, { signal: o.signal, onProgress: throttleProgress(o.onProgress) });
      }
      return fetched.manifest;
    } catch (e) {
      throw this.wrap(e, o.signal, { key });
    } finally {
      await fetched.dispose();
    }
  }

  /**
   * Saves the backup as one zip at `file` (written to a temp name beside it,
   * then renamed: never half a file): format 1's archive as stored, format 2's
   * files assembled from the packs, each checked on the way.
   */
  async download(key: string, file: string, o: CallOptions = {}): Promise<void> {
    throwIfAborted(o.signal);
    const progress = throttleProgress(o.onProgress);
    try {
      if (parseBackupKey(this.profile.rootPath, key)?.format === 2) {
        const manifest = await this.manifests.load({ key }, { signal: o.signal });
        await assembleZip(this.store, this.profile.rootPath, manifest, file, { signal: o.signal, onProgress: progress });
        return;
      }
      await this.store.download(key, file, {
        signal: o.signal,
        onProgress: (done, total) => progress({ phase: 'download', bytesDone: done, bytesTotal: total || done, filesDone: 0, filesTotal: 0 }),
      });
    } catch (e) {
      throw this.wrap(e, o.signal, { key });
    }
  }

  /**
   * Deletes one backup; a key that does not exist is a `NotFound` error.
   * Then frees the packs no other backup references, unless another machine
   * is busy with the bucket (then the next clean-up frees them).
   */
  /** Deletes a backup; format 2 then frees the packs no backup uses any more, unless `collect` is false (a batch collects once, at its end). */
  async delete(key: string, o: { signal?: AbortSignal; collect?: boolean } = {}): Promise<{ gc?: GcResult }> {
    throwIfAborted(o.signal);
    try {
      // DeleteObject succeeds on a missing key, so ask first to tell the user the truth.
      const head = await this.store.head(key, { signal: o.signal });
      if (!head) throw notFound(key);
      await this.store.delete(key, { signal: o.signal });
      if (parseBackupKey(this.profile.rootPath, key)?.format !== 2 || o.collect === false) return {};
      // The backup is gone either way; a clean-up that cannot run now frees the space later.
      const gc = await this.collectGarbage({ signal: o.signal }).catch((e: unknown) => {
        if (isCancelled(e)) throw e;
        this.log.warn(`clean-up after deleting ${key} did not run: ${e instanceof Error ? e.message : String(e)}`);
        return { ran: false, deletedPacks: 0, freedBytes: 0, keptPacks: 0 };
      });
      return { gc };
    } catch (e) {
      throw this.wrap(e, o.signal, { key });
    }
  }

  /** Deletes the packs no backup references (or, `dryRun`, says what that would free). */
  async collectGarbage(o: { signal?: AbortSignal; dryRun?: boolean } = {}): Promise<GcResult> {
    try {
      return await collectGarbage(this.store, this.manifests, { ...this.options.lock, host: this.hostname, signal: o.signal, dryRun: o.dryRun, log: this.log, logger: this.log });
    } catch (e) {
      throw this.wrap(e, o.signal);
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
