import * as vscode from 'vscode';
import type { BackupResult } from '../../core/engine';
import { backupFolder } from './backUpWorkspace';
import { readRetention } from '../host/config';
import { appDataSelection, type AppDataTestOptions } from '../host/userData';
import { withEngineProgress } from '../ui/engineProgress';
import { leftOutSettingNames } from '../../core/format/appDataLayout';
import { reportBackup } from './backupResult';
import type { Services } from './services';
import { confirmBackupTarget } from './gateBackup';

/** Backs up the workspace folders and the app data into one backup (kind `full`). */
export async function backUpEverything(s: Services, o?: AppDataTestOptions): Promise<BackupResult | undefined> {
  const selection = appDataSelection(s.context, o);
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
  const engine = await s.engineHost.getEngine();
  if (!(await confirmBackupTarget(s, engine))) return undefined;
  let leftOut: string[] = [];
  const result = await withEngineProgress(vscode.l10n.t('Backing up the workspace and the app data'), ['upload'], async (call) => {
    const extra = await engine.collectAppData(selection, call);
    leftOut = leftOutSettingNames(extra);
    if (folders.length === 0 && extra.length === 0) return undefined;
    const kind = folders.length > 0 && extra.length > 0 ? 'full' : folders.length > 0 ? 'workspace' : 'appdata';
    return engine.backup({ kind, folders: folders.map(backupFolder), extra, retention: readRetention() }, call);
  });
  if (!result) {
    void s.prompts.showInformationMessage(vscode.l10n.t('Open a folder to back it up.'), {});
    return undefined;
  }
  return reportBackup(s, result, leftOut);
}
