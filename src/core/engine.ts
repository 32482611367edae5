import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pipeline } from 'stream/promises';
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
import type { Manifest, ManifestAdded, ManifestFile } from './format/manifest';
import { ManifestIndex, type BrowseEntry } from './format/manifestIndex';
import { RepositoryCrypto } from './crypto/repositoryCrypto';
import { decryptWholeStream } from './crypto/chunkCipher';
import { sealedName } from './crypto/sealedObjects';
import type { ScryptParams } from './crypto/repoKey';
import { parsePackKey } from './format/packKeys';
import { yieldIfDue } from './util/timeSlice';
import type { PackSource } from './archive/packReader';
import { collectGarbage, type GcResult } from './repository/collectGarbage';
import { ManifestStore, type ManifestSummary } from './repository/manifestStore';
import { listPins, pinKey, setPin } from './repository/pins';
import { isPolicyOff, type PolicyOptions, type RetentionPolicy } from './retention/policy';
import { executePrune, planPrune, type PruneDeps, type PrunePlan, type PruneResult } from './retention/prune';
import { applyRestore, type RestoreResult, type Stager } from './restore/applyRestore';
import { finishRestore, type FinishResult } from './restore/finishRestore';
import { planRestore, type RestorePlan } from './restore/planRestore';
import { cleanUpLeftovers, listRestores, pruneSnapshots, TEMP_OWNER_FILE, type CleanupReport, type RestoreSummary } from './restore/recovery';
import { restoredMode } from './restore/restoredMode';
import { checkOwnGitignores } from './restore/selectionCheck';
import { undoSnapshot, type UndoResult } from './restore/snapshot';
import type { Profile } from './storage/profile';
import { S3Store, sdkSteps, type ConnectionReport, type ConnectionStep } from './storage/s3Store';
import { printable } from './util/printable';
import type { AnonymousAccess } from './storage/anonymousAccess';
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
  /** The calendar of the retention rules (tests); default: this machine's local time zone. */
  retentionCalendar?: PolicyOptions;
  /**
   * The repository's passphrase (never logged, never stored by the engine).
   * Set: new backups are encrypted (the first one makes the key), and only
   * backups made with the repository's key are restored (see
   * crypto/repositoryCrypto.ts). Unset: an encrypted repository is refused
   * with 'PassphraseNeeded'.
   */
  passphrase?: string;
  /** scrypt parameters for new key objects (tests use cheaper ones); the default is crypto/repoKey.ts's. */
  scrypt?: ScryptParams;
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
  /** Applied after the backup succeeded, to this machine's backups of the same kind and folders only (see `prune`). */
  retention?: RetentionPolicy;
}

/** What retention after a backup did; a failure there never fails the backup. */
export interface RetentionOutcome {
  deleted: string[];
  freedBytes: number;
  /** Why it did not run or stopped (another prune running, a dead server); logged too. */
  error?: BackupError;
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
  /** When the request asked for retention. */
  retention?: RetentionOutcome;
};

export type { PrunePlan, PruneResult, RetentionPolicy };

export interface FetchedBackup {
  key: string;
  format: 1 | 2;
  /** Made with the repository's key (format 2 in an encrypted repository). */
  encrypted: boolean;
  /** Format 1: the verified archive, in a temp folder of its own. Format 2 reads from the packs on demand. */
  archiveFile?: string;
  manifest: Manifest;
  /** Removes the temp folder; safe to call twice. */
  dispose(): Promise<void>;
}

export type { ConnectionReport, ConnectionStep };
export type { BrowseEntry };
export type { AccessCheck, AnonymousAccess } from './storage/anonymousAccess';

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
  /** The repository's encryption (a no-op without a passphrase, except that it refuses an encrypted repository). */
  readonly crypto: RepositoryCrypto;
  private readonly log: Logger;
  private readonly hostname: string;
  private readonly tmpDir: string;
  private readonly snapshotRoot: string | undefined;
  private readonly wrap: ReturnType<typeof wrapWith>;
  private readonly options: BackupEngineOptions;
  /** Format-1 archives opened by `browse`/`readFile` (at most one). */
  private readonly browsing = new Map<string, Promise<FetchedBackup>>();

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
    this.wrap = wrapWith(profile, o.passphrase);
    this.options = o;
    this.crypto = new RepositoryCrypto(this.store, profile.rootPath, o.passphrase, { scrypt: o.scrypt });
    this.manifests = new ManifestStore(this.store, o.cacheDir, this.log, this.crypto);
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
      // The repository's key is looked up while the folders are scanned (runBackup).
      const sealing = this.crypto.forBackup(signal).then((key) => (key ? this.crypto.sealing(this.store, key) : undefined));
      const r = await runBackup(
        {
          store: this.store,
          manifests: this.manifests,
          log: this.log,
          hostname: this.hostname,
          packLimits: this.options.packLimits,
          lock: this.options.lock,
          beforeCommit: this.options.beforeCommit,
          sealing,
        },
        { kind: req.kind, folders, extra, selection },
        { signal, onProgress: streaming },
      );
      const { files, bytes } = r.manifest.totals;
      progress({ phase: 'upload', bytesDone: bytes, bytesTotal: bytes, filesDone: files, filesTotal: files });
      const retention = req.retention ? await this.retainAfter(r.ref, r.manifest, req.retention, signal) : undefined;
      return { ...r.ref, files, bytes, added: r.stored.added, uploaded: r.uploaded, unchanged: r.stored.unchanged, skipped: r.skipped, manifest: r.manifest, ...(retention ? { retention } : {}) };
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
    const [page, pins] = await Promise.all([this.listPage(o), this.pins(o)]);
    return { ...page, backups: withPins(page.backups, pins) };
  }

  private async listPage(o: { signal?: AbortSignal; pageSize?: number; continuationToken?: string }): Promise<ListPage> {
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
    const pins = this.pins(o);
    pins.catch(() => undefined);
    const all: BackupRef[] = [];
    let token: string | undefined;
    do {
      const page = await this.listPage({ signal: o.signal, continuationToken: token });
      all.push(...page.backups);
      token = page.nextToken;
    } while (token);
    return newestFirst(withPins(all, await pins));
  }

  /** The keys of the pinned backups (one listing of `<root>/pins/`). */
  async pins(o: { signal?: AbortSignal } = {}): Promise<Set<string>> {
    try {
      return await listPins(this.store, o);
    } catch (e) {
      throw this.wrap(e, o.signal);
    }
  }

  /** Pins a backup (retention and prune never delete it) or unpins it; every machine sees it at its next listing. */
  async pin(key: string, pinned: boolean, o: { signal?: AbortSignal } = {}): Promise<void> {
    throwIfAborted(o.signal);
    try {
      if (pinned && !(await this.store.head(key, { signal: o.signal }))) throw notFound(key);
      await setPin(this.store, key, pinned, { host: this.hostname, signal: o.signal });
      this.log.info(`${pinned ? 'pinned' : 'unpinned'} ${key}`);
    } catch (e) {
      throw this.wrap(e, o.signal, { key });
    }
  }

  /**
   * What `policy` forgets of every machine's backups (grouped by machine,
   * kind and folders, as restic's `forget`), and what deleting them frees,
   * counted from the manifests' pack references. Changes nothing.
   */
  async planPrune(policy: RetentionPolicy, o: { signal?: AbortSignal } = {}): Promise<PrunePlan> {
    try {
      return await planPrune(this.pruneDeps(), policy, { signal: o.signal, measure: true });
    } catch (e) {
      throw this.wrap(e, o.signal);
    }
  }

  /**
   * Deletes what a plan forgets (and the policy, asked again under the
   * prune lock, still forgets), then frees the packs no kept backup uses.
   * Another prune on the bucket: 'Busy', nothing deleted.
   */
  async prune(plan: PrunePlan, o: CallOptions = {}): Promise<PruneResult> {
    try {
      return await executePrune(this.pruneDeps(), plan, { signal: o.signal, onProgress: throttleProgress(o.onProgress) });
    } catch (e) {
      throw this.wrap(e, o.signal);
    }
  }

  private pruneDeps(): PruneDeps {
    return { store: this.store, manifests: this.manifests, log: this.log, host: this.hostname, lock: this.options.lock, policyOptions: this.options.retentionCalendar };
  }

  /** Retention after a backup: this machine's backups of its kind and folders only; a failure is logged and returned, never thrown. */
  private async retainAfter(ref: BackupRef, manifest: Manifest, policy: RetentionPolicy, signal?: AbortSignal): Promise<RetentionOutcome> {
    if (isPolicyOff(policy)) return { deleted: [], freedBytes: 0 };
    try {
      const folders = manifest.folders && manifest.folders.length > 0 ? manifest.folders.map((f) => f.path) : manifest.sources;
      const deps = this.pruneDeps();
      const plan = await planPrune(deps, policy, { scope: { host: ref.host, kind: ref.kind, folders }, measure: false, signal });
      if (plan.forget.length === 0) return { deleted: [], freedBytes: 0 };
      const r = await executePrune(deps, plan, { signal });
      this.log.info(`retention: deleted ${r.deleted.length} older backups of this machine, freed ${r.freedBytes} bytes`);
      return { deleted: r.deleted, freedBytes: r.freedBytes };
    } catch (e) {
      const err = this.wrap(e, signal);
      this.log.warn(`retention after the backup did not run: ${err.code}: ${err.message}`);
      return { deleted: [], freedBytes: 0, error: err };
    }
  }

  /**
   * What a backup holds, from the first bytes of its manifest (format 2: one
   * small ranged GET; the tree shows it without downloading anything else).
   * Undefined for format 1, whose manifest is inside the archive.
   */
  async summary(ref: BackupRef, o: { signal?: AbortSignal } = {}): Promise<ManifestSummary | undefined> {
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
  async fetch(key: string, o: CallOptions & { etag?: string; lastModified?: Date; allowPlain?: boolean } = {}): Promise<FetchedBackup> {
    throwIfAborted(o.signal);
    const ref = parseBackupKey(this.profile.rootPath, key);
    if (ref?.format === 2) {
      try {
        testPause('download');
        const manifest = await this.manifests.load({ key, etag: o.etag, lastModified: o.lastModified }, { signal: o.signal, allowPlain: o.allowPlain });
        testPause('verify');
        const src = await this.packSource(manifest, o.signal);
        await checkOwnGitignores(manifest, (files) => readFromPacks(src, this.profile.rootPath, manifest, files, { kind: 'memory' }, { signal: o.signal }));
        return { key, format: 2, encrypted: this.manifests.isEncrypted(manifest), manifest, dispose: async () => undefined };
      } catch (e) {
        throw this.wrap(e, o.signal, { key });
      }
    }
    if (this.crypto.enabled) {
      // A format-1 archive is never encrypted: judged as a plain backup.
      try {
        await this.crypto.admitPlain({ key, lastModified: o.lastModified }, { signal: o.signal, allowPlain: o.allowPlain });
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
      return { key, format: 1, encrypted: false, archiveFile, manifest, dispose };
    } catch (e) {
      await dispose().catch(() => undefined);
      throw this.wrap(e, o.signal, { key });
    }
  }

  /** What a restore of a fetched backup into `targets` (archive prefix -> folder) would do; `only` (an archive path) limits it to one file or folder. */
  async plan(fetched: Pick<FetchedBackup, 'archiveFile' | 'manifest'>, targets: Record<string, string>, o: { only?: string } = {}): Promise<RestorePlan> {
    try {
      return await planRestore(fetched.archiveFile ?? '', fetched.manifest, targets, o);
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
      const wanted: ManifestFile[] = [];
      for (let i = 0; i < manifest.files.length; i++) {
        if (i % 1024 === 0) await yieldIfDue();
        if (select(manifest.files[i].path) !== undefined) wanted.push(manifest.files[i]);
      }
      await readFromPacks(await this.packSource(manifest, so.signal), this.profile.rootPath, manifest, wanted, { kind: 'file', dest: (f) => select(f.path), setMeta: so.setMeta, modeOf: (f, umask) => restoredMode(f.mode, umask) }, so);
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

  /** Loads the AWS SDK without a request, one step per `next()`, for a shared event loop (see `sdkSteps` in storage/s3Store.ts). */
  static sdkSteps(): Generator<void, void> {
    return sdkSteps();
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
      const read = await readFromPacks(await this.packSource(fetched.manifest, o.signal), this.profile.rootPath, fetched.manifest, wanted, { kind: 'memory' }, o);
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

  /**
   * The folders, files and links directly in folder `dir` of a backup ('' =
   * its top), from its manifest: format 2 reads only the (cached) manifest;
   * format 1 downloads and verifies its archive once (see `browsed`).
   * `NotFound` when the backup has no such folder.
   */
  async browse(key: string, dir: string, o: { signal?: AbortSignal } = {}): Promise<BrowseEntry[]> {
    try {
      const list = (await this.browsed(key, o.signal)).index.list(dir);
      if (!list) throw entryNotFound(key, dir);
      return list;
    } catch (e) {
      throw this.wrap(e, o.signal, { key });
    }
  }

  /** What archive path `p` is in a backup (file, folder or link); undefined when the backup has nothing there. */
  async stat(key: string, p: string, o: { signal?: AbortSignal } = {}): Promise<BrowseEntry | undefined> {
    try {
      return (await this.browsed(key, o.signal)).index.stat(p);
    } catch (e) {
      throw this.wrap(e, o.signal, { key });
    }
  }

  /**
   * One file of a backup, in memory: format 2 reads just its entry with a
   * ranged GET; either way it is checked against the manifest (size, crc32,
   * sha256) before it is returned, 'Integrity' otherwise.
   */
  async readFile(key: string, p: string, o: CallOptions = {}): Promise<Buffer> {
    try {
      const { fetched, index } = await this.browsed(key, o.signal);
      const f = index.file(p);
      if (!f) throw entryNotFound(key, p);
      const read = fetched.format === 2
        ? await readFromPacks(await this.packSource(fetched.manifest, o.signal), this.profile.rootPath, fetched.manifest, [f], { kind: 'memory' }, { signal: o.signal, onProgress: throttleProgress(o.onProgress) })
        : await readZipFiles(fetched.archiveFile ?? '', new Set([f.path]), { signal: o.signal });
      const data = read.get(f.path);
      if (!data) throw entryNotFound(key, p);
      return data;
    } catch (e) {
      throw this.wrap(e, o.signal, { key });
    }
  }

  /** A backup opened for browsing: format 2 its cached manifest; format 1 its verified archive, the last one kept until `dispose`. */
  private async browsed(key: string, signal?: AbortSignal): Promise<{ fetched: FetchedBackup; index: ManifestIndex }> {
    const ref = parseBackupKey(this.profile.rootPath, key);
    if (!ref) throw notFound(key);
    if (ref.format === 2) {
      const manifest = await this.manifests.load({ key }, { signal });
      return { fetched: { key, format: 2, encrypted: this.manifests.isEncrypted(manifest), manifest, dispose: async () => undefined }, index: ManifestIndex.of(manifest) };
    }
    let p = this.browsing.get(key);
    if (!p) {
      for (const [k, old] of this.browsing) {
        this.browsing.delete(k);
        void old.then((f) => f.dispose(), () => undefined);
      }
      p = this.fetch(key, { signal });
      p.catch(() => this.browsing.delete(key));
      this.browsing.set(key, p);
    }
    const fetched = await p;
    return { fetched, index: ManifestIndex.of(fetched.manifest) };
  }

  /** Downloads and fully checks a backup (every file against its manifest), writing nothing; returns its manifest. */
  async verify(key: string, o: CallOptions & { allowPlain?: boolean } = {}): Promise<Manifest> {
    const fetched = await this.fetch(key, o);
    try {
      if (fetched.format === 2) {
        await readFromPacks(await this.packSource(fetched.manifest, o.signal), this.profile.rootPath, fetched.manifest, fetched.manifest.files, { kind: 'check' }, { signal: o.signal, onProgress: throttleProgress(o.onProgress) });
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
  async download(key: string, file: string, o: CallOptions & { allowPlain?: boolean } = {}): Promise<void> {
    throwIfAborted(o.signal);
    const progress = throttleProgress(o.onProgress);
    try {
      if (parseBackupKey(this.profile.rootPath, key)?.format === 2) {
        const manifest = await this.manifests.load({ key }, { signal: o.signal, allowPlain: o.allowPlain });
        await assembleZip(await this.packSource(manifest, o.signal), this.profile.rootPath, manifest, file, { signal: o.signal, onProgress: progress });
        return;
      }
      if (this.crypto.enabled) await this.crypto.admitPlain({ key }, { signal: o.signal, allowPlain: o.allowPlain });
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
      // A pin of a backup that is gone means nothing; leave no marker behind.
      if (parseBackupKey(this.profile.rootPath, key)) await this.store.delete(pinKey(this.profile.rootPath, key), { signal: o.signal }).catch(() => undefined);
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

  /**
   * Writes the plaintext of an encrypted object of the repository to
   * `file` (through a temp name, never half a file): a backup as one plain
   * zip (as `download`), a pack as the plain zip it holds. Every chunk is
   * authenticated on the way; a bad one leaves no file.
   */
  async decrypt(key: string, file: string, o: CallOptions = {}): Promise<void> {
    throwIfAborted(o.signal);
    if (parseBackupKey(this.profile.rootPath, key)) return this.download(key, file, o);
    try {
      if (!parsePackKey(this.profile.rootPath, key)) {
        throw new BackupError('NotFound', `"${key}" is neither a backup nor a data file of this repository.`, 'Name a backup (s3-backup list) or a pack under packs/.', { params: { key } });
      }
      const keys = await this.crypto.requireKey(o.signal);
      const head = await this.store.head(key, { signal: o.signal });
      if (!head) throw notFound(key);
      const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.part`);
      try {
        const body = await this.store.getRangeStream(key, 0, Math.max(0, head.size - 1), { signal: o.signal });
        await pipeline(body, decryptWholeStream(keys, sealedName(this.profile.rootPath, key)), fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600 }), { signal: o.signal });
        await fs.promises.rename(tmp, file);
      } catch (e) {
        await fs.promises.rm(tmp, { force: true });
        throw e;
      }
    } catch (e) {
      throw this.wrap(e, o.signal, { key });
    }
  }

  /**
   * Whether the root path is encrypted (has a key object), and whether the
   * passphrase given opens it ('WrongPassphrase' otherwise). The face asks
   * for a passphrase when `encrypted` and none is set.
   */
  async encryption(o: { signal?: AbortSignal } = {}): Promise<{ encrypted: boolean; passphrase: boolean }> {
    try {
      const encrypted = await this.crypto.hasKey(o.signal);
      if (encrypted && this.crypto.enabled) await this.crypto.opened(o.signal);
      return { encrypted, passphrase: this.crypto.enabled };
    } catch (e) {
      throw this.wrap(e, o.signal);
    }
  }

  /** Wraps the repository's key with a new passphrase; no backup is uploaded again, the old passphrase stops working. */
  async changePassphrase(next: string, o: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      await this.crypto.changePassphrase(next, o.signal);
    } catch (e) {
      throw this.wrap(e, o.signal);
    }
  }

  /** The source a manifest's packs are read from (opened with the key when it was encrypted). */
  private packSource(manifest: Manifest, signal?: AbortSignal): Promise<PackSource> {
    return this.crypto.packSource(this.store, this.manifests.isEncrypted(manifest), signal);
  }

  /** Bucket reachable, then write, read back and delete a probe object under the root path. */
  async testConnection(o: { signal?: AbortSignal } = {}): Promise<ConnectionReport> {
    return this.store.testConnection({ signal: o.signal });
  }

  /**
   * Whether strangers can list or read the backups (an unsigned LIST and GET,
   * the bucket's policy status and ACL); writes nothing. Throws only `CancelledError`.
   */
  async checkAnonymousAccess(o: { signal?: AbortSignal } = {}): Promise<AnonymousAccess> {
    return this.store.checkAnonymousAccess({ signal: o.signal });
  }

  /** Closes the S3 connections; the engine must not be used afterwards. */
  dispose(): void {
    for (const p of this.browsing.values()) void p.then((f) => f.dispose(), () => undefined);
    this.browsing.clear();
    this.store.destroy();
  }

  private prefix(): string {
    return backupPrefix(this.profile.rootPath);
  }
}

function notFound(key: string): BackupError {
  return new BackupError('NotFound', `The backup "${key}" does not exist in the bucket.`, 'Refresh the list of backups.', { params: { key } });
}

function entryNotFound(key: string, p: string): BackupError {
  return new BackupError('NotFound', `The backup "${key}" holds nothing at "${printable(p)}".`, 'Refresh the view; pick another backup.', { params: { key, entry: printable(p), reason: 'entry' } });
}

function wrapWith(profile: Profile, passphrase: string | undefined) {
  return (e: unknown, signal: AbortSignal | undefined, ctx?: { key?: string }): BackupError => {
    if (e instanceof CancelledError) return e;
    if (signal?.aborted || isCancelled(e)) return new CancelledError(e);
    if (e instanceof BackupError) return e;
    return toBackupError(e, { bucket: profile.bucket, endpoint: profile.endpoint, key: ctx?.key, secrets: [profile.secretAccessKey, passphrase] });
  };
}

function withPins(refs: BackupRef[], pins: ReadonlySet<string>): BackupRef[] {
  return refs.map((r) => (pins.has(r.key) ? { ...r, pinned: true } : r));
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
