import type * as vscode from 'vscode';
import type { BackupsProvider } from '../tree/backupsProvider';
import type { BackupsNode } from '../tree/nodes';
import type { EngineHost } from '../host/engineHost';
import type { Log } from '../ui/extensionLog';
import type { Prompts } from '../ui/prompts';
import type { SecretStore } from '../host/secrets';
import type { ExposureMemory } from '../host/exposureMemory';
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
  /** What the private-bucket check found per bucket and root path (globalState). */
  exposure: ExposureMemory;
  /** Automatic backups and the status bar's record of every backup (`AutoBackup`, set right after the rest is built). */
  auto?: BackupTracker;
}

/** What the commands tell the automatic backups: a manual backup runs (and how it ended), a restore wrote into folders. */
export interface BackupTracker {
  trackManual<T>(what: AutoWhat, work: () => Promise<T>): Promise<T>;
  recordRestore(paths: readonly string[]): Promise<void>;
}

/**
 * Whether new backups are encrypted: a passphrase is stored (the engine then
 * seals every manifest and pack), so a public bucket shows strangers only
 * object names and sizes and no longer stops a backup (gateBackup.ts).
 */
export async function encryptionIsOn(s: Services): Promise<boolean> {
  return (await s.secrets.getPassphrase()) !== undefined;
}
