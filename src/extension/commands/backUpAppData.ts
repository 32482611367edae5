import * as vscode from 'vscode';
import type { BackupResult } from '../../core/engine';
import { readRetention } from '../host/config';
import { appDataSelection, type AppDataTestOptions } from '../host/userData';
import { withEngineProgress } from '../ui/engineProgress';
import { leftOutSettingNames } from '../../core/format/appDataLayout';
import { reportBackup } from './backupResult';
import type { Services } from './services';
import { confirmBackupTarget } from './gateBackup';

/** Backs up the VS Code set-up (the categories in `s3Backup.appData.categories`). */
export async function backUpAppData(s: Services, o?: AppDataTestOptions): Promise<BackupResult | undefined> {
  const selection = appDataSelection(s.context, o);
  const engine = await s.engineHost.getEngine();
  if (!(await confirmBackupTarget(s, engine))) return undefined;
  let leftOut: string[] = [];
  const result = await withEngineProgress(vscode.l10n.t('Backing up the app data'), ['upload'], async (call) => {
    const extra = await engine.collectAppData(selection, call);
    leftOut = leftOutSettingNames(extra);
    return extra.length > 0 ? engine.backup({ kind: 'appdata', folders: [], extra, retention: readRetention() }, call) : undefined;
  });
  if (!result) {
    void s.prompts.showInformationMessage(vscode.l10n.t('There is no app data to back up: check the setting s3Backup.appData.categories.'), {});
    return undefined;
  }
  return reportBackup(s, result, leftOut);
}
