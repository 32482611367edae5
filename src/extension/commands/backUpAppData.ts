import * as vscode from 'vscode';
import { backedUpMessage, backupFolder } from './backUpWorkspace';
import { withEngineProgress } from '../ui/progress';
import type { BackupResult } from '../../core/engine';
import type { Services } from './services';
import { readAppDataConfig, installedExtensions, userDirFromContext } from '../host/userData';

/** Test mode only: another user folder stands in for this machine's (a second "machine"). */
export interface AppDataTestOptions {
  userDir?: string;
}

/** The user folder to work on: this VS Code's, or in Test mode the one a test names. */
export function userDirFor(s: Services, o?: AppDataTestOptions): string {
  if (o?.userDir && s.context.extensionMode === vscode.ExtensionMode.Test) return o.userDir;
  return userDirFromContext(s.context);
}

async function appDataSources(s: Services, userDir: string) {
  const { collectAppData } = require('../../core/appData/appData') as typeof import('../../core/appData/appData');
  const cfg = readAppDataConfig();
  const sources = await collectAppData(userDir, {
    categories: cfg.categories,
    ignoredSettings: cfg.ignoredSettings,
    extensions: cfg.categories.includes('extensions') ? installedExtensions() : undefined,
  });
  s.log.for('appdata').info(`${userDir}: ${sources.length} files (${cfg.categories.join(', ')})`);
  return sources;
}

/** Backs up the VS Code set-up (the categories in `s3Backup.appData.categories`). */
export async function backUpAppData(s: Services, o?: AppDataTestOptions): Promise<BackupResult | undefined> {
  const userDir = userDirFor(s, o);
  const engine = await s.engineHost.getEngine();
  const extra = await appDataSources(s, userDir);
  if (extra.length === 0) {
    void s.prompts.showInformationMessage(vscode.l10n.t('There is no app data to back up: check the setting s3Backup.appData.categories.'), {});
    return undefined;
  }
  const result = await withEngineProgress(vscode.l10n.t('Backing up the app data'), ['archive', 'upload'], (call) => engine.backup({ kind: 'appdata', folders: [], extra }, call));
  return finished(s, result);
}

/** Backs up the workspace folders and the app data into one archive (kind `full`). */
export async function backUpEverything(s: Services, o?: AppDataTestOptions): Promise<BackupResult | undefined> {
  const userDir = userDirFor(s, o);
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
  const engine = await s.engineHost.getEngine();
  const extra = await appDataSources(s, userDir);
  if (folders.length === 0 && extra.length === 0) {
    void s.prompts.showInformationMessage(vscode.l10n.t('Open a folder to back it up.'), {});
    return undefined;
  }
  const kind = folders.length > 0 && extra.length > 0 ? 'full' : folders.length > 0 ? 'workspace' : 'appdata';
  const result = await withEngineProgress(vscode.l10n.t('Backing up the workspace and the app data'), ['archive', 'upload'], (call) =>
    engine.backup({ kind, folders: folders.map(backupFolder), extra }, call),
  );
  return finished(s, result);
}

async function finished(s: Services, result: BackupResult): Promise<BackupResult> {
  const log = s.log.for('backup');
  log.info(`${result.key}: ${result.kind}, ${result.files} files, ${result.size} bytes`);
  for (const k of result.skipped) log.warn(`skipped ${k.relPath}: ${k.reason}${k.detail ? ` (${k.detail})` : ''}`);
  s.tree.noteFiles(result.key, result.files);
  await s.tree.refresh();
  const reveal = vscode.l10n.t('Reveal in Tree');
  void s.prompts.showInformationMessage(backedUpMessage(result), {}, reveal).then(async (choice) => {
    if (choice !== reveal) return;
    const node = s.tree.findBackupNode(result.key);
    if (node) await s.treeView.reveal(node, { select: true, focus: true, expand: true });
  });
  return result;
}
