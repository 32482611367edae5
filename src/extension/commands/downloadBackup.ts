import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { folderName, formatDateTime } from '../ui/format';
import type { Services } from './services';
import { backupFromArgs } from './pickBackup';
import { withEngineProgress } from '../ui/engineProgress';

/** Saves a backup's .zip where the user says. */
export async function downloadBackup(s: Services, arg?: unknown): Promise<string | undefined> {
  const ref = await backupFromArgs(s, arg, vscode.l10n.t('Choose a backup to download'));
  if (!ref) return undefined;
  const target = await s.prompts.showSaveDialog({
    defaultUri: vscode.Uri.file(path.join(os.homedir(), path.posix.basename(ref.key))),
    filters: { [vscode.l10n.t('Zip archives')]: ['zip'] },
    saveLabel: vscode.l10n.t('Download'),
    title: vscode.l10n.t('Download Backup'),
  });
  if (!target) return undefined;
  if (target.scheme !== 'file') throw new vscode.CancellationError();
  const engine = await s.engineHost.getEngine();
  await withEngineProgress(vscode.l10n.t('Downloading the backup from {0}', formatDateTime(ref.time)), ['download'], (call) =>
    engine.download(ref.key, target.fsPath, call),
  );
  s.log.for('download').info(`${ref.key} -> ${target.fsPath}`);
  void s.prompts.showInformationMessage(vscode.l10n.t('Downloaded the backup to {0}.', folderName(target.fsPath)), {});
  return target.fsPath;
}
