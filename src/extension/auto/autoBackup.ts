// Automatic backups: when (core/schedule/autoSchedule.ts decides, from the
// state every window shares in global storage), who (the one window that
// gets the target's lock), whether (nothing changed since the last backup of
// this machine and kind: no backup), and what happens on failure (three
// tries with growing waits, then one notification). It never opens a
// progress notification and never takes focus: the status bar shows it.
// Manual backups go through `trackManual`, so the status bar knows of them too.
import * as crypto from 'crypto';
import * as path from 'path';
import * as vscode from 'vscode';
import type { BackupRequest, BackupResult } from '../../core/engine';
import { isTransient, nextRun, RETRY_DELAYS_MS, type AutoWhat } from '../../core/schedule/autoSchedule';
import { isCancelled } from '../../core/util/engineErrors';
import { throttleProgress, type Progress } from '../../core/util/progress';
import { backupFolder } from '../commands/backUpWorkspace';
import type { BackupTracker, Services } from '../commands/services';
import { appDataSelection, userDirFor } from '../host/userData';
import { describeError, errorText } from '../ui/errorFace';
import { AUTO_SECTION, readAutoBackupSettings, turnOnAutoBackup, type AutoBackupSettings } from './autoSettings';
import { AutoStateFile, type AutoStateData, type TargetResults } from './autoState';
import type { Clock } from './clock';
import { REFRESH_MS, ScheduleLocks, type HeldLock } from './scheduleLock';

/** A lock held by another window, or a manual backup running here: look again after this long. */
const BUSY_RETRY_MS = 60_000;
const TRIES = RETRY_DELAYS_MS.length + 1;
const OFFERED_KEY = 's3Backup.autoBackup.offered';

/** What one automatic backup covers; `id` keys its schedule, lock and results. */
export interface AutoTarget {
  id: string;
  what: AutoWhat;
  folders: readonly vscode.WorkspaceFolder[];
  /** Where a restore would make a backup now unwelcome: the folders, and the user folder for app data. */
  restorePaths: string[];
}

/** What the status bar shows. */
export interface AutoStatus {
  running: boolean;
  /** While running: files done / total, when known. */
  progress?: { done: number; total: number };
  results: TargetResults;
  /** The next automatic backup (ms), when one is scheduled. */
  next?: number;
  settings: AutoBackupSettings;
}

export interface AutoBackupOptions {
  clock: Clock;
  /** `<globalStorage>/auto-backup`: the state file and the locks. */
  dir: string;
}

/** Where the shared state and the locks live: the extension's global storage, which every window of this VS Code shares. */
export function autoBackupDir(context: vscode.ExtensionContext): string {
  return path.join(context.globalStorageUri.fsPath, 'auto-backup');
}

export class AutoBackup implements BackupTracker, vscode.Disposable {
  private readonly subs: vscode.Disposable[] = [];
  private watchers: vscode.Disposable[] = [];
  private timer: vscode.Disposable | undefined;
  private readonly emitter = new vscode.EventEmitter<void>();
  /** Something the status bar shows changed. */
  readonly onDidChange = this.emitter.event;
  readonly state: AutoStateFile;
  private readonly locks: ScheduleLocks;
  private readonly startedAt: number;
  private running = 0;
  private progress: { done: number; total: number } | undefined;
  private next: number | undefined;
  private generation = 0;
  private disposed = false;
  private changeQueued = false;
  private lastChangeSeen = 0;
  /** Tests pause the live instance so only their own instances (with a test clock) act. */
  paused = false;
  /** The last scheduled run's outcome, for tests and the log. */
  lastRun: 'backedUp' | 'unchanged' | 'failed' | 'cancelled' | undefined;

  constructor(
    private readonly s: Services,
    private readonly o: AutoBackupOptions,
  ) {
    this.startedAt = o.clock.now();
    this.state = new AutoStateFile(o.dir);
    this.locks = new ScheduleLocks(o.dir);
  }

  private get log() {
    return this.s.log.for('auto');
  }

  /** Starts following the settings, the connection and the workspace; schedules the first run. */
  start(): this {
    this.subs.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (!e.affectsConfiguration(AUTO_SECTION)) return;
        this.rewatch();
        void this.reschedule();
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => {
        this.rewatch();
        void this.reschedule();
      }),
      this.s.engineHost.onDidChange(() => void this.reschedule()),
    );
    this.rewatch();
    void this.reschedule();
    return this;
  }

  dispose(): void {
    this.disposed = true;
    this.timer?.dispose();
    for (const d of [...this.subs, ...this.watchers]) d.dispose();
    this.emitter.dispose();
  }

  /** When the next automatic backup (or the next try) is due, ms; undefined when none is scheduled. */
  get nextAt(): number | undefined {
    return this.next;
  }

  /** The target of the current settings and workspace. */
  target(what: AutoWhat = readAutoBackupSettings().what): AutoTarget {
    const folders = what === 'appData' ? [] : (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
    const paths = folders.map((f) => f.uri.fsPath);
    const digest = crypto.createHash('sha256').update(JSON.stringify([...paths].sort())).digest('hex').slice(0, 16);
    const userDir = userDirFor(this.s.context);
    return {
      id: what === 'appData' ? 'appData' : `${what}-${digest}`,
      what,
      folders,
      restorePaths: [...paths, ...(what === 'workspace' ? [] : [userDir])],
    };
  }

  /** For the status bar: the newest results of this window's targets, and what runs next. */
  async status(): Promise<AutoStatus> {
    const data = await this.state.read();
    const results: TargetResults = {};
    for (const what of ['workspace', 'everything', 'appData'] as const) {
      const r = data.results[this.target(what).id];
      if (!r) continue;
      for (const k of ['lastSuccess', 'lastFailure', 'lastUnchanged'] as const) {
        if (r[k] && (!results[k] || r[k].time > results[k].time)) results[k] = r[k];
      }
    }
    return { running: this.running > 0, progress: this.progress, results, next: this.next, settings: readAutoBackupSettings() };
  }

  // ---- scheduling ----------------------------------------------------------

  /** Recomputes when the next automatic backup is due and sets the timer. */
  async reschedule(): Promise<void> {
    const gen = ++this.generation;
    this.timer?.dispose();
    this.timer = undefined;
    const settings = readAutoBackupSettings();
    let next: number | undefined;
    if (!this.disposed && !this.paused && settings.mode !== 'off' && (vscode.workspace.workspaceFolders?.length || settings.what !== 'workspace')) {
      const configured = await this.s.engineHost.isConfigured().catch(() => false);
      const data = await this.state.read();
      if (gen !== this.generation || this.disposed) return;
      if (configured) next = this.nextOf(data, this.target(settings.what), settings);
    }
    this.next = next;
    if (next !== undefined) this.timer = this.o.clock.setTimer(() => void this.tick(), next - this.o.clock.now());
    this.emitter.fire();
  }

  private nextOf(data: AutoStateData, t: AutoTarget, settings: AutoBackupSettings): number | undefined {
    const restoredAt = Math.max(...t.restorePaths.map((p) => data.restores[p] ?? -Infinity));
    return nextRun(data.schedule[t.id] ?? {}, settings, this.o.clock.now(), { startedAt: this.startedAt, ...(Number.isFinite(restoredAt) ? { restoredAt } : {}) });
  }

  private later(ms: number): void {
    this.timer?.dispose();
    this.next = this.o.clock.now() + ms;
    this.timer = this.o.clock.setTimer(() => void this.reschedule(), ms);
  }

  /** The timer fired: take the lock, look again under it (another window may have just run it), run. */
  private async tick(): Promise<void> {
    if (this.disposed || this.paused) return;
    if (this.running > 0) return this.later(BUSY_RETRY_MS);
    const settings = readAutoBackupSettings();
    const t = this.target(settings.what);
    let lock: HeldLock | undefined;
    try {
      lock = await this.locks.tryAcquire(t.id);
    } catch (e) {
      this.log.warn(`could not take the automatic backup lock: ${String(e)}`);
    }
    if (!lock) {
      this.log.info(`${t.id}: another window is running this automatic backup`);
      return this.later(BUSY_RETRY_MS);
    }
    try {
      const data = await this.state.read();
      const due = this.nextOf(data, t, settings);
      if (due === undefined || due > this.o.clock.now()) {
        this.log.info(`${t.id}: another window has just run this automatic backup`);
        return;
      }
      await this.state.update((d) => ((d.schedule[t.id] ??= {}).lastAttempt = this.o.clock.now()));
      await this.runWithRetries(t, lock);
    } catch (e) {
      this.log.warn(`automatic backup: ${String(e)}`);
    } finally {
      await lock.release().catch(() => undefined);
      await this.reschedule();
    }
  }

  /** Backs up now (the notification's "Retry"), under the target's lock, with the same rules. */
  async runNow(what?: AutoWhat): Promise<void> {
    const t = this.target(what);
    const lock = await this.locks.tryAcquire(t.id);
    if (!lock) {
      this.log.info(`${t.id}: another window is running this automatic backup`);
      return;
    }
    try {
      await this.state.update((d) => ((d.schedule[t.id] ??= {}).lastAttempt = this.o.clock.now()));
      await this.runWithRetries(t, lock);
    } finally {
      await lock.release().catch(() => undefined);
      await this.reschedule();
    }
  }

  private async runWithRetries(t: AutoTarget, lock: HeldLock): Promise<void> {
    this.begin();
    // Real time: the lock is about live processes, not about the schedule's clock.
    const refresher = setInterval(() => void lock.refresh().catch(() => undefined), REFRESH_MS);
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.backupOnce(t);
          return;
        } catch (e) {
          if (isCancelled(e)) {
            this.lastRun = 'cancelled';
            return;
          }
          const face = describeError(e);
          this.log.warn(`${t.id}: automatic backup, try ${attempt} of ${TRIES}, failed: ${face.code}: ${e instanceof Error ? e.message : String(e)}`);
          if (attempt >= TRIES || !isTransient(face.code)) {
            await this.fail(t, errorText(face));
            return;
          }
          await this.wait(RETRY_DELAYS_MS[attempt - 1]);
          if (this.disposed) return;
        }
      }
    } finally {
      clearInterval(refresher);
      this.end();
    }
  }

  /** The wait before the next try: a timer of its own, which no reschedule cancels (dispose ends it). */
  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.next = this.o.clock.now() + ms;
      this.emitter.fire();
      const timer = this.o.clock.setTimer(() => {
        this.subs.splice(this.subs.indexOf(stop), 1);
        resolve();
      }, ms);
      const stop = { dispose: () => (timer.dispose(), resolve()) };
      this.subs.push(stop);
    });
  }

  /** One try: nothing changed -> no backup; otherwise a backup, progress in the status bar. */
  private async backupOnce(t: AutoTarget): Promise<void> {
    const engine = await this.s.engineHost.getEngine();
    const req = this.request(t);
    const check = await engine.hasChanges(req);
    const now = this.o.clock.now();
    if (!check.changed) {
      this.log.info(`${t.id}: nothing changed since ${check.previous?.key ?? 'the last backup'}: no automatic backup`);
      await this.state.update((d) => ((d.results[t.id] ??= {}).lastUnchanged = { time: now, ...(check.previous ? { key: check.previous.key } : {}) }));
      this.lastRun = 'unchanged';
      return;
    }
    this.log.info(`${t.id}: automatic backup (${check.reason}${check.path ? `: ${check.path}` : ''})`);
    const onProgress = throttleProgress((p: Progress) => {
      if (p.phase !== 'upload' || p.filesTotal === 0) return;
      this.progress = { done: p.filesDone, total: p.filesTotal };
      this.emitter.fire();
    }, 500);
    const result = await engine.backup(req, { onProgress });
    await this.recordSuccess(t.id, result);
    this.lastRun = 'backedUp';
    this.log.info(`${result.key}: automatic ${result.kind} backup, ${result.files} files, ${result.size} bytes`);
    this.s.tree.noteFiles(result.key, result.files);
    await this.s.tree.refresh().catch(() => undefined);
  }

  private request(t: AutoTarget): BackupRequest {
    const folders = t.folders.map(backupFolder);
    const appData = t.what === 'workspace' ? undefined : appDataSelection(this.s.context);
    const kind = t.what === 'workspace' ? 'workspace' : t.what === 'appData' || folders.length === 0 ? 'appdata' : 'full';
    return { kind, folders, ...(appData ? { appData } : {}) };
  }

  /** After the last try: one notification (not one per try), with Retry and Show Log; it takes no focus. */
  private async fail(t: AutoTarget, message: string): Promise<void> {
    this.lastRun = 'failed';
    await this.state.update((d) => ((d.results[t.id] ??= {}).lastFailure = { time: this.o.clock.now(), message }));
    const retry = vscode.l10n.t('Retry');
    const showLog = vscode.l10n.t('Show Log');
    void this.s.prompts.showWarningMessage(vscode.l10n.t('The automatic backup failed: {0}', message), {}, retry, showLog).then((choice) => {
      if (choice === retry) void this.runNow(t.what);
      else if (choice === showLog) void vscode.commands.executeCommand('s3Backup.showLog');
    });
  }

  private async recordSuccess(id: string, result: BackupResult): Promise<void> {
    await this.state.update((d) => {
      const r = (d.results[id] ??= {});
      r.lastSuccess = { time: this.o.clock.now(), key: result.key };
      delete r.lastFailure;
    });
  }

  private begin(): void {
    this.running++;
    this.emitter.fire();
  }

  private end(): void {
    this.running--;
    if (this.running === 0) this.progress = undefined;
    this.emitter.fire();
  }

  // ---- manual backups and restores -----------------------------------------

  /**
   * Runs a manual backup command: the status bar spins meanwhile and records
   * its result; a manual backup of the target also restarts its interval.
   * The first successful one offers automatic backups (once).
   */
  async trackManual<T>(what: AutoWhat, work: () => Promise<T>): Promise<T> {
    const id = this.target(what).id;
    this.begin();
    try {
      const r = await work();
      if (isBackupResult(r)) {
        await this.recordSuccess(id, r);
        await this.state.update((d) => ((d.schedule[id] ??= {}).lastAttempt = this.o.clock.now()));
        void this.offerAutoBackup(what);
      }
      return r;
    } catch (e) {
      if (!isCancelled(e)) await this.state.update((d) => ((d.results[id] ??= {}).lastFailure = { time: this.o.clock.now(), message: errorText(describeError(e)) })).catch(() => undefined);
      throw e;
    } finally {
      this.end();
      void this.reschedule();
    }
  }

  /** The restore commands call this: no automatic backup of these folders for a while (RESTORE_GRACE_MS). */
  async recordRestore(paths: readonly string[]): Promise<void> {
    const now = this.o.clock.now();
    await this.state.update((d) => {
      for (const p of paths) d.restores[p] = now;
    });
    await this.reschedule();
  }

  /** Once, after the first successful manual backup while automatic backups are off. */
  private async offerAutoBackup(what: AutoWhat): Promise<void> {
    const g = this.s.context.globalState;
    if (g.get<boolean>(OFFERED_KEY) || readAutoBackupSettings().mode !== 'off') return;
    await g.update(OFFERED_KEY, true);
    const turnOn = vscode.l10n.t('Turn On Automatic Backups');
    const choice = await this.s.prompts.showInformationMessage(
      vscode.l10n.t('Back up automatically? S3 Backup can back up every hour, only when something changed, without interrupting you.'),
      {},
      turnOn,
    );
    if (choice !== turnOn) return;
    await turnOnAutoBackup('hourly', what);
    void this.s.prompts.showInformationMessage(vscode.l10n.t('Automatic backups are on: every hour. The settings under "S3 Backup: Auto Backup" change when and what.'), {});
  }

  // ---- "after changes" -----------------------------------------------------

  /** Watches saves, creates and deletes in the workspace, and edits of the app data files: only in "after changes" mode. */
  private rewatch(): void {
    for (const d of this.watchers) d.dispose();
    this.watchers = [];
    const settings = readAutoBackupSettings();
    if (settings.mode !== 'afterChanges' || this.disposed) return;
    const t = this.target(settings.what);
    const changed = (): void => this.noteChange(t.id);
    if (t.what !== 'appData') {
      const inWorkspace = (uri: vscode.Uri): boolean => uri.scheme === 'file' && t.folders.some((f) => vscode.workspace.getWorkspaceFolder(uri)?.uri.toString() === f.uri.toString());
      this.watchers.push(vscode.workspace.onDidSaveTextDocument((doc) => inWorkspace(doc.uri) && changed()));
      for (const f of t.folders) {
        // Saves come through onDidSaveTextDocument; the watcher adds what other programs create and delete.
        const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(f, '**/*'), false, true, false);
        this.watchers.push(w, w.onDidCreate(changed), w.onDidDelete(changed));
      }
    }
    if (t.what !== 'workspace') {
      const userDir = vscode.Uri.file(userDirFor(this.s.context));
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(userDir, '{settings.json,keybindings.json,tasks.json,snippets/**}'));
      this.watchers.push(w, w.onDidCreate(changed), w.onDidChange(changed), w.onDidDelete(changed));
    }
  }

  /** A change: remember it (coalesced: a checkout of a thousand files is one write) and restart the idle timer. */
  noteChange(id: string): void {
    this.lastChangeSeen = this.o.clock.now();
    if (this.changeQueued) return;
    this.changeQueued = true;
    void Promise.resolve()
      .then(async () => {
        this.changeQueued = false;
        const time = this.lastChangeSeen;
        await this.state.update((d) => ((d.schedule[id] ??= {}).lastChange = time));
        await this.reschedule();
      })
      .catch((e: unknown) => this.log.warn(`could not record a change: ${String(e)}`));
  }
}

function isBackupResult(r: unknown): r is BackupResult {
  return typeof r === 'object' && r !== null && typeof (r as BackupResult).key === 'string' && typeof (r as BackupResult).manifest === 'object';
}
