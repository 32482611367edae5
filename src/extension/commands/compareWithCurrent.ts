import * as path from 'path';
import * as vscode from 'vscode';
import type { BackupRef } from '../../core/format/backupKeys';
import { printable } from '../../core/util/printable';
import { backupUri } from '../browse/backupUri';
import { BackupFileNode } from '../tree/nodes';
import { formatDateTime } from '../ui/format';
import { currentFileOf } from './backupFiles';
import type { Services } from './services';

/** The diff editor: the file as the backup holds it (read-only, left) against `current` (right, editable). */
export async function openDiff(ref: BackupRef, archivePath: string, current: vscode.Uri, o: { preview?: boolean } = {}): Promise<void> {
  const name = printable(path.posix.basename(archivePath));
  const title = vscode.l10n.t('{0} (backup of {1}) ↔ current', name, formatDateTime(ref.time));
  await vscode.commands.executeCommand('vscode.diff', backupUri(ref.key, archivePath), current, title, { preview: o.preview ?? true });
}

/** "Compare with Current" on a file of a backup: against the workspace file a restore would overwrite. */
export async function compareWithCurrent(s: Services, arg: unknown): Promise<vscode.Uri | undefined> {
  if (!(arg instanceof BackupFileNode)) return undefined;
  const engine = await s.engineHost.getEngine();
  const current = await currentFileOf(engine, arg.ref.key, arg.entry.path);
  if (!current) {
    void s.prompts.showInformationMessage(vscode.l10n.t('The folder of "{0}" is not open in this window, so there is no current file to compare with.', printable(arg.entry.path)), {});
    return undefined;
  }
  const exists = await vscode.workspace.fs.stat(current).then(
    () => true,
    () => false,
  );
  if (!exists) {
    void s.prompts.showInformationMessage(vscode.l10n.t('"{0}" does not exist in the workspace any more.', vscode.workspace.asRelativePath(current)), {});
    return undefined;
  }
  await openDiff(arg.ref, arg.entry.path, current);
  return current;
}
