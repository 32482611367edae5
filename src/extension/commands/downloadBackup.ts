import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { folderName, formatDateTime } from '../ui/format';
import type { Services } from './services';
import { backupFromArgs } from './pickBackup';
import { withEngineProgress } from '../ui/engineProgress';
import { describeError, errorText } from '../ui/errorFace';
import { restoreBackup } from './restoreBackup';

/** Saves a backup's .zip where the user says. */
export async function downloadBackup(s: Services, arg?: unknown): Promise<string | undefined> {
  const ref = await backupFromArgs(s, arg, vscode.l10n.t('Choose a backup to download'));
  if (!ref) return undefined;
  const target = await s.prompts.showSaveDialog({
    // Format 2's key names its manifest (`.json.gz`); what is saved is a zip either way.
    defaultUri: vscode.Uri.file(path.join(os.homedir(), path.posix.basename(ref.key).replace(/\.json\.gz$/, '.zip'))),
    filters: { [vscode.l10n.t('Zip archives')]: ['zip'] },
    saveLabel: vscode.l10n.t('Download'),
    title: vscode.l10n.t('Download Backup'),
  });
  if (!target) return undefined;
  if (target.scheme !== 'file') throw new vscode.CancellationError();
  const engine = await s.engineHost.getEngine();
  try {
    await withEngineProgress(vscode.l10n.t('Downloading the backup from {0}', formatDateTime(ref.time)), ['download'], (call) =>
      engine.download(ref.key, target.fsPath, call),
    );
  } catch (e) {
    const face = describeError(e);
    if (face.code !== 'TooLarge') throw e;
    // Too big for the free space: a restore into a folder needs no zip beside the files.
    const intoFolder = vscode.l10n.t('Restore into a Folder...');
    const choice = await s.prompts.showErrorMessage(errorText(face), {}, intoFolder);
    if (choice === intoFolder) await restoreBackup(s, undefined, { ref, intoFolder: true });
    return undefined;
  }
  s.log.for('download').info(`${ref.key} -> ${target.fsPath}`);
  void s.prompts.showInformationMessage(vscode.l10n.t('Downloaded the backup to {0}.', folderName(target.fsPath)), {});
  return target.fsPath;
}
