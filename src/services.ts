import type * as vscode from 'vscode';
import type { BackupsProvider } from './backups/backupsProvider';
import type { BackupsNode } from './backups/nodes';
import type { EngineHost } from './engineHost';
import type { Log } from './log';
import type { Prompts } from './prompts';
import type { SecretStore } from './secrets';

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
}
