import * as vscode from 'vscode';
import type { BackupResult } from '../../core/engine';
import { formatBytes, formatCount } from '../ui/format';
import type { Services } from './services';

/**
 * After a backup: the log lines, a fresh tree, and a message that offers to
 * reveal the new backup. `leftOutSettings`: the names of the settings left
 * out because they look like secrets (the message says how many).
 */
export async function reportBackup(s: Services, result: BackupResult, leftOutSettings: readonly string[] = []): Promise<BackupResult> {
  const log = s.log.for('backup');
  log.info(`${result.key}: ${result.kind}, ${result.files} files, ${result.size} bytes`);
  if (leftOutSettings.length > 0) log.info(`settings left out because they look like secrets (names only): ${leftOutSettings.join(', ')}`);
  for (const k of result.skipped) log.warn(`skipped ${k.relPath}: ${k.reason}${k.detail ? ` (${k.detail})` : ''}`);
  for (const k of result.retention?.deleted ?? []) log.info(`retention deleted ${k}`);
  if (result.retention?.error) log.warn(`retention did not run: ${result.retention.error.code}: ${result.retention.error.message}`);
  s.tree.noteFiles(result.key, result.files);
  await s.tree.refresh();
  const reveal = vscode.l10n.t('Reveal in Tree');
  // Not awaited: the command is done; the message may sit in the notification centre.
  const message = [backedUpMessage(result), ...leftOutMessage(leftOutSettings.length), ...retentionMessage(result)].join(' ');
  void s.prompts.showInformationMessage(message, {}, reveal).then(async (choice) => {
    if (choice !== reveal) return;
    const node = s.tree.findBackupNode(result.key);
    if (node) await s.treeView.reveal(node, { select: true, focus: true, expand: true });
  });
  return result;
}

/**
 * "Backed up 12 files (3.4 MB)." with the files' size (not the manifest's), then,
 * for an incremental backup, how little of it had to travel.
 */
function backedUpMessage(result: Pick<BackupResult, 'files' | 'bytes' | 'uploaded' | 'added' | 'format' | 'skipped'>): string {
  const size = formatBytes(result.bytes);
  const skipped = result.skipped.length;
  const done =
    skipped === 0
      ? result.files === 1
        ? vscode.l10n.t('Backed up 1 file ({0}).', size)
        : vscode.l10n.t('Backed up {0} files ({1}).', formatCount(result.files), size)
      : result.files === 1
        ? vscode.l10n.t('Backed up 1 file ({0}); {1} skipped (see the log).', size, formatCount(skipped))
        : vscode.l10n.t('Backed up {0} files ({1}); {2} skipped (see the log).', formatCount(result.files), size, formatCount(skipped));
  if (result.format !== 2 || result.added.files >= result.files) return done;
  return `${done} ${vscode.l10n.t('Uploaded {0}; the rest was in the bucket already.', formatBytes(result.uploaded))}`;
}

/** "Removed 2 older backups of this machine (s3Backup.retention)." */
function retentionMessage(result: BackupResult): string[] {
  const n = result.retention?.deleted.length ?? 0;
  if (n === 0) return [];
  return [n === 1 ? vscode.l10n.t('Removed 1 older backup of this machine (s3Backup.retention).') : vscode.l10n.t('Removed {0} older backups of this machine (s3Backup.retention).', formatCount(n))];
}

function leftOutMessage(n: number): string[] {
  if (n === 0) return [];
  return [
    n === 1
      ? vscode.l10n.t('1 setting that looks like a secret was left out (s3Backup.appData.includeSecretSettings includes it).')
      : vscode.l10n.t('{0} settings that look like secrets were left out (s3Backup.appData.includeSecretSettings includes them).', formatCount(n)),
  ];
}
