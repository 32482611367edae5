import type * as vscode from 'vscode';
import type { BackupsProvider } from '../tree/backupsProvider';
import type { BackupsNode } from '../tree/nodes';
import type { EngineHost } from '../host/engineHost';
import type { Log } from '../ui/extensionLog';
import type { Prompts } from '../ui/prompts';
import type { SecretStore } from '../host/secrets';
import type { AutoWhat } from '../../core/schedule/autoSchedule';

/**
 * What the extension is made of, built once in `activate()` and handed to the
 * commands and the settings panel (`SettingsPanel.show(context, services)`).
 */
export interface Services {
  context: vscode.ExtensionContext;
  log: Log;
  secrets: SecretStore;
  engineHost: EngineHost;
  prompts: Prompts;
  tree: BackupsProvider;
  treeView: vscode.TreeView<BackupsNode>;
  /** Automatic backups and the status bar's record of every backup (`AutoBackup`, set right after the rest is built). */
  auto?: BackupTracker;
}

/** What the commands tell the automatic backups: a manual backup runs (and how it ended), a restore wrote into folders. */
export interface BackupTracker {
  trackManual<T>(what: AutoWhat, work: () => Promise<T>): Promise<T>;
  recordRestore(paths: readonly string[]): Promise<void>;
}
