import * as vscode from 'vscode';
import { formatDateTime } from '../ui/format';
import { backupFromArgs } from './pickBackup';
import type { Services } from './services';

/**
 * Pins (or unpins) the backup the command was run on, or one picked from the
 * palette. A pin is a marker object in the bucket, so every machine's tree,
 * retention and prune see it.
 */
export async function pinBackup(s: Services, arg: unknown, pinned: boolean): Promise<boolean> {
  const ref = await backupFromArgs(s, arg, pinned ? vscode.l10n.t('Choose a backup to pin') : vscode.l10n.t('Choose a backup to unpin'));
  if (!ref) return false;
  const engine = await s.engineHost.getEngine();
  await engine.pin(ref.key, pinned);
  s.log.for('pin').info(`${pinned ? 'pinned' : 'unpinned'} ${ref.key}`);
  await s.tree.refresh();
  vscode.window.setStatusBarMessage(
    pinned ? vscode.l10n.t('Pinned the backup from {0}: retention and prune keep it.', formatDateTime(ref.time)) : vscode.l10n.t('Unpinned the backup from {0}.', formatDateTime(ref.time)),
    5000,
  );
  return true;
}
