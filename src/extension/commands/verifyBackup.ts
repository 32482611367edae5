import * as vscode from 'vscode';
import { formatBytes, formatCount, formatDateTime } from '../ui/format';
import { withEngineProgress } from '../ui/engineProgress';
import { backupFromArgs } from './pickBackup';
import type { Services } from './services';

/** "Verify Backup": every file of the backup read and checked against its manifest, nothing written (the CLI's `verify`). */
export async function verifyBackup(s: Services, arg?: unknown): Promise<{ files: number; bytes: number } | undefined> {
  const ref = await backupFromArgs(s, arg, vscode.l10n.t('Choose a backup to verify'));
  if (!ref) return undefined;
  const engine = await s.engineHost.getEngine();
  const manifest = await withEngineProgress(vscode.l10n.t('Verifying the backup from {0}', formatDateTime(ref.time)), ['download', 'verify'], (call) => engine.verify(ref.key, call));
  const { files, bytes } = manifest.totals;
  s.tree.noteFiles(ref.key, files);
  s.log.for('verify').info(`${ref.key}: ${files} files, ${bytes} bytes intact`);
  void s.prompts.showInformationMessage(
    vscode.l10n.t('The backup from {0} is intact: all {1} files ({2}) match its manifest.', formatDateTime(ref.time), formatCount(files), formatBytes(bytes)),
    {},
  );
  return { files, bytes };
}
