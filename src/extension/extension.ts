import * as vscode from 'vscode';
import { BackupsProvider, VIEW_CONTAINER_ID, VIEW_ID } from './tree/backupsProvider';
import type { BackupsNode } from './tree/nodes';
import { registerCommands } from './commands';
import { scheduleRecoveryCheck } from './commands/recoverRestores';
import { EngineHost } from './host/engineHost';
import { BackupFileSystem } from './browse/backupFileSystem';
import { Log } from './ui/extensionLog';
import { createPrompts, type Prompts } from './ui/prompts';
import { importSandboxCredentials, type SandboxImport } from './host/sandbox';
import { SecretStore } from './host/secrets';
import { ExposureMemory } from './host/exposureMemory';
import type { Services } from './commands/services';
import { AutoBackup, autoBackupDir, type AutoBackupOptions } from './auto/autoBackup';
import { realClock } from './auto/clock';
import { BackupStatusItem } from './auto/statusItem';

/** Handed to integration tests (ExtensionMode.Test only) so they can drive the extension. */
export interface TestApi {
  services: Services;
  /** The prompt seam: replace its functions to answer questions and record messages. */
  prompts: Prompts;
  tree: BackupsProvider;
  engineHost: EngineHost;
  secrets: SecretStore;
  log: Log;
  /** How long `activate()` took, in milliseconds. */
  activationMs: number;
  /** The sandbox key import started by activation (npm start): what it did. */
  sandbox: Promise<SandboxImport>;
  /** The window's automatic backups (tests pause it and make their own with a test clock). */
  auto: AutoBackup;
  statusItem: BackupStatusItem;
  /** Another scheduler on the same services, with the tests' clock and state folder (not started, not disposed by the extension). */
  createAutoBackup(o: AutoBackupOptions): AutoBackup;
}

/** Wires the extension together; the engine (AWS SDK, zip writer and reader) loads on first use, not here. */
export function activate(context: vscode.ExtensionContext): TestApi | undefined {
  const started = performance.now();
  const testMode = context.extensionMode === vscode.ExtensionMode.Test;
  const log = new Log({ capture: testMode });
  const secrets = new SecretStore(context.secrets);
  // `npm start` only (env var + loopback endpoint); resolves at once for real users.
  // Not awaited here: the engine host makes every reader of the keys wait for it.
  const sandbox = importSandboxCredentials(secrets, log.for('sandbox'));
  const engineHost = new EngineHost({ secrets, log, storageDir: context.globalStorageUri.fsPath, ready: sandbox });
  const tree = new BackupsProvider(engineHost, log.for('tree'));
  const treeView = vscode.window.createTreeView<BackupsNode>(VIEW_ID, { treeDataProvider: tree, canSelectMany: true, showCollapseAll: true });
  const prompts = createPrompts();
  const exposure = new ExposureMemory(context.globalState);
  tree.showExposure(exposure);
  const services: Services = { context, log, secrets, engineHost, prompts, tree, treeView, exposure };
  const auto = (services.auto = new AutoBackup(services, { clock: realClock, dir: autoBackupDir(context) }));
  const statusItem = new BackupStatusItem(services, auto, realClock);
  context.subscriptions.push(log, secrets, engineHost, tree, treeView, exposure, auto, statusItem, ...registerCommands(services));
  // Files inside backups, read-only (s3backup:/...): opened, compared, never written.
  context.subscriptions.push(BackupFileSystem.register(engineHost, log.for('browse')));
  auto.start();
  // Interrupted restores from a crash are offered a moment after start-up, not during activation.
  context.subscriptions.push(scheduleRecoveryCheck(services));

  // The sandbox opens on the S3 Backup view, ready for "Back Up Workspace".
  void sandbox.then((r) => r !== 'none' && vscode.commands.executeCommand(`workbench.view.extension.${VIEW_CONTAINER_ID}`));
  // The welcome view depends on it; reading two secrets is quick and not awaited.
  void tree.updateConfigured().catch((e: unknown) => log.warn(`[extension] could not read the settings: ${String(e)}`));

  const activationMs = performance.now() - started;
  log.info(`[extension] activated in ${activationMs.toFixed(1)} ms`);
  const createAutoBackup = (o: AutoBackupOptions): AutoBackup => new AutoBackup(services, o);
  return testMode ? { services, prompts, tree, engineHost, secrets, log, activationMs, sandbox, auto, statusItem, createAutoBackup } : undefined;
}

export function deactivate(): void {
  // Everything is in context.subscriptions.
}
