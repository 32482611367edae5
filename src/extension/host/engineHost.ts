import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { affectsConfig, readConfig, writeConnectionSettings, type S3BackupConfig } from './config';
import type { BackupEngine, CleanupReport, FinishResult, RestoreSummary, UndoResult } from '../../core/engine';
import { BackupError } from '../../core/util/engineErrors';
import { sanitizeHost } from '../../core/format/backupKeys';
import { normalizeProfile, type Profile, type ProfileInput } from '../../core/storage/profile';
import { engineBundles, loadInTurns, outcomeLine } from './engineLoad';
import type { Log } from '../ui/extensionLog';
import type { SecretStore } from './secrets';

type EngineModule = typeof import('../../core/index');

export interface EngineHostOptions {
  secrets: SecretStore;
  log: Log;
  /** `context.globalStorageUri.fsPath`: safety snapshots and temp downloads live below it. */
  storageDir: string;
  /**
   * Settles when the keys are in place (npm start imports its sandbox keys
   * after activation); everything that reads the keys waits for it first, so
   * a command run right after the window opens sees them. Must never reject.
   */
  ready?: PromiseLike<unknown>;
}

/**
 * Builds the `BackupEngine` from the settings and the stored keys on first
 * use, and again after either changes. The engine module (and with it the AWS
 * SDK and the zip code) is only `require`d here, so activation loads neither.
 */
export class EngineHost implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  /** Fires when the settings or the stored keys change; the cached engine is gone by then. */
  readonly onDidChange = this.emitter.event;
  private readonly subs: vscode.Disposable[] = [];
  private cached: { id: string; engine: BackupEngine } | undefined;
  private engineModule: EngineModule | undefined;
  private moduleLoad: Promise<void> | undefined;
  private sdkLoad: Promise<void> | undefined;
  /**
   * The host name backups of this machine carry in their keys. S3_BACKUP_HOSTNAME
   * overrides it, for machines that share a host name and for tests that play two machines.
   */
  readonly hostname = process.env.S3_BACKUP_HOSTNAME?.trim() || os.hostname();
  readonly snapshotRoot: string;
  readonly tmpDir: string;

  constructor(private readonly o: EngineHostOptions) {
    this.snapshotRoot = path.join(o.storageDir, 'snapshots');
    this.tmpDir = path.join(o.storageDir, 'tmp');
    this.subs.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (affectsConfig(e)) this.changed('settings');
      }),
      o.secrets.onDidChange(() => this.changed('keys')),
    );
  }

  /** Whether the engine module has been loaded (tests check activation leaves it unloaded). */
  get engineLoaded(): boolean {
    return this.engineModule !== undefined;
  }

  /** Resolves once the keys are in place (see `EngineHostOptions.ready`). */
  async whenReady(): Promise<void> {
    await this.o.ready;
  }

  /** The settings plus the stored keys, as the engine's `normalizeProfile` takes them. */
  async profileInput(config?: S3BackupConfig): Promise<ProfileInput> {
    await this.whenReady();
    config ??= readConfig();
    const keys = await this.o.secrets.get();
    this.o.log.addSecrets(keys.secretAccessKey);
    return {
      endpoint: config.endpoint,
      region: config.region,
      bucket: config.bucket,
      rootPath: config.rootPath,
      addressingStyle: config.addressingStyle,
      accessKeyId: keys.accessKeyId,
      secretAccessKey: keys.secretAccessKey,
    };
  }

  /** Whether the user has entered a connection (endpoint, bucket and both keys); it may still be invalid. */
  async isConfigured(): Promise<boolean> {
    const i = await this.profileInput();
    return !!(i.endpoint && i.bucket && i.accessKeyId && i.secretAccessKey);
  }

  /** The normalized profile, or a `BackupError` (code `InvalidProfile`) saying what is missing or wrong. */
  async profile(input?: ProfileInput): Promise<Profile> {
    const i = input ?? (await this.profileInput());
    if (!input && !(i.endpoint || i.bucket || i.accessKeyId || i.secretAccessKey)) {
      throw new BackupError('InvalidProfile', 'S3 storage is not configured yet.', 'Open the S3 Backup settings and enter the endpoint, bucket and keys.', {
        params: { reason: 'notConfigured' },
      });
    }
    const r = normalizeProfile(i, { requireCredentials: true });
    if (!r.ok) {
      const fields = r.errors.map((e) => e.field).join(', ');
      throw new BackupError('InvalidProfile', r.errors[0].message, 'Open the S3 Backup settings to correct it.', {
        params: { reason: 'invalid', fields, field: r.errors[0].field, fieldCode: r.errors[0].code },
      });
    }
    return r.profile;
  }

  /** The engine for the saved settings and keys, built on first use and cached until they change. */
  async getEngine(): Promise<BackupEngine> {
    const profile = await this.profile();
    const passphrase = await this.o.secrets.getPassphrase();
    this.o.log.addSecrets(passphrase);
    const id = JSON.stringify([profile, passphrase ?? null]);
    await this.loadEngine();
    // Checked after the load's turns: a call that came meanwhile may have built this engine already.
    if (this.cached?.id !== id) {
      this.cached = { id, engine: this.createEngine(profile, passphrase) };
      this.o.log.info(`[host] engine ready for bucket ${profile.bucket} at ${profile.endpoint}`);
    }
    return this.cached.engine;
  }

  /**
   * An engine for values not saved yet (the settings page's Test Connection).
   * Throws `InvalidProfile` when they do not normalize.
   */
  async engineFor(input: ProfileInput): Promise<BackupEngine> {
    this.o.log.addSecrets(input.secretAccessKey);
    const profile = await this.profile(input);
    await this.loadEngine();
    return this.createEngine(profile);
  }

  /**
   * Saves a connection: the non-secret values to the user settings, the keys
   * to SecretStorage. A key left `undefined` stays as stored; '' deletes it.
   * This is the one function the settings page saves through.
   */
  async saveProfile(input: ProfileInput): Promise<void> {
    this.o.log.addSecrets(input.secretAccessKey);
    const style = input.addressingStyle;
    await writeConnectionSettings({
      endpoint: input.endpoint,
      region: input.region,
      bucket: input.bucket,
      rootPath: input.rootPath,
      addressingStyle: style === 'path' || style === 'virtual' || style === 'auto' ? style : undefined,
    });
    await this.o.secrets.store({ accessKeyId: input.accessKeyId, secretAccessKey: input.secretAccessKey });
    this.o.log.info('[host] settings saved');
  }

  /** Whether a backup's host (as parsed from its key) is this machine. */
  isThisMachine(host: string): boolean {
    return host.toLowerCase() === sanitizeHost(this.hostname).toLowerCase();
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
    this.emitter.dispose();
  }

  /**
   * Puts back what a restore changed, from its safety snapshot. Needs no
   * bucket: it works after the settings changed, or when there are none.
   */
  async undo(snapshotDir: string): Promise<UndoResult> {
    await this.loadEngine(false);
    return this.engine().BackupEngine.undo(snapshotDir);
  }

  /** Whether any undo record exists: a look at one folder, without loading the engine. */
  async hasSnapshots(): Promise<boolean> {
    return (await fs.promises.readdir(this.snapshotRoot).catch(() => [])).length > 0;
  }

  /** The restores made from this VS Code (their undo records live in its global storage, so they survive a reload), newest first. */
  async listRestores(): Promise<RestoreSummary[]> {
    await this.loadEngine(false);
    return this.engine().BackupEngine.listRestores(this.snapshotRoot);
  }

  /** Completes an interrupted restore from its staged files. */
  async finishRestore(snapshotDir: string): Promise<FinishResult> {
    await this.loadEngine(false);
    return this.engine().BackupEngine.finishRestore(snapshotDir);
  }

  /** Removes what crashed restores and downloads left behind in the global storage and in `folders`. */
  async cleanUp(folders: readonly string[]): Promise<CleanupReport> {
    await this.loadEngine(false);
    return this.engine().BackupEngine.cleanUp({ snapshotRoot: this.snapshotRoot, tmpDir: this.tmpDir, folders });
  }

  /**
   * The engine module, loaded on first use. This is the one place the face
   * reaches the engine at run time: esbuild.js turns this require into one of
   * dist/engine.js, so activation evaluates neither the AWS SDK nor the archiver.
   */
  private engine(): EngineModule {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    this.engineModule ??= require('../../core/index') as EngineModule;
    return this.engineModule;
  }

  /**
   * Loads the engine module, and with `sdk` the AWS SDK, if they are not yet:
   * in turns of the shared event loop, compiled on a worker thread
   * (engineLoad.ts). Undo records need no SDK: loading it for them would cost
   * memory a session that never lists a bucket does not need.
   */
  private loadEngine(sdk = true): Promise<void> {
    if (!sdk) return (this.moduleLoad ??= this.loadInTurns(false));
    if (!this.sdkLoad) {
      // The SDK after the module when that is loading or loaded, else both in one load.
      this.sdkLoad = this.moduleLoad ? this.moduleLoad.then(() => this.loadInTurns(true)) : this.loadInTurns(true);
      this.moduleLoad ??= this.sdkLoad;
    }
    return this.sdkLoad;
  }

  private loadInTurns(sdk: boolean): Promise<void> {
    // The bundles next to this one; not there in a file-by-file build, which loads them the usual way.
    const files = engineBundles(__dirname, { engine: !this.engineModule, sdk });
    const loaded = loadInTurns(
      () => this.engine(),
      (m) => (sdk ? m.BackupEngine.sdkSteps() : []),
      { files, onOutcome: (...o) => this.o.log.info(`[host] ${outcomeLine(...o)}`) },
    );
    // A load that failed is tried again at the next need.
    loaded.catch(() => {
      this.moduleLoad = undefined;
      this.sdkLoad = undefined;
    });
    return loaded.then(() => undefined);
  }

  private createEngine(profile: Profile, passphrase?: string): BackupEngine {
    this.o.log.addSecrets(profile.secretAccessKey);
    return new (this.engine().BackupEngine)(profile, {
      logger: this.o.log,
      hostname: this.hostname,
      tmpDir: this.tmpDir,
      snapshotRoot: this.snapshotRoot,
      ...(passphrase ? { passphrase } : {}),
    });
  }

  /** Whether an encryption passphrase is stored (without handing it out). */
  async hasPassphrase(): Promise<boolean> {
    return !!(await this.o.secrets.getPassphrase());
  }

  /** Stores the encryption passphrase in SecretStorage ('' removes it); the next engine uses it. */
  async setPassphrase(passphrase: string): Promise<void> {
    this.o.log.addSecrets(passphrase);
    await this.o.secrets.storePassphrase(passphrase);
    this.changed('passphrase');
  }

  private changed(what: string): void {
    this.cached = undefined;
    this.o.log.debug(`[host] ${what} changed`);
    this.emitter.fire();
  }
}
