import * as vscode from 'vscode';
import { formatBytes, formatCount, formatDateTime } from '../ui/format';
import type { Services } from './services';
import { pickBackup, selectedRefs } from './pickBackup';
import { withEngineProgress } from '../ui/engineProgress';

/** Deletes the selected backups (or one picked from the palette) after a modal confirmation. */
export async function deleteBackup(s: Services, arg?: unknown, selection?: unknown): Promise<string[] | undefined> {
  let refs = selectedRefs(arg, selection);
  if (!refs) {
    const one = await pickBackup(s, vscode.l10n.t('Choose a backup to delete'));
    if (!one) return undefined;
    refs = [one];
  }
  const one = refs.length === 1 ? refs[0] : undefined;
  const message = one
    ? vscode.l10n.t('Delete the backup from {0} ({1})?', formatDateTime(one.time), one.host)
    : vscode.l10n.t('Delete {0} backups?', formatCount(refs.length));
  const detail = one
    ? vscode.l10n.t('It is removed from the bucket for good; this cannot be undone.')
    : vscode.l10n.t('They are removed from the bucket for good; this cannot be undone.');
  // Not a modal: a modal focuses its first button, which would be Delete, so Enter
  // would delete. Here Cancel is the first and active row; Escape or a click elsewhere cancels too.
  const items: Array<vscode.QuickPickItem & { remove: boolean }> = [
    { label: vscode.l10n.t('Cancel'), remove: false },
    { label: `$(trash) ${vscode.l10n.t('Delete')}`, detail, remove: true },
  ];
  const choice = await s.prompts.quickPick(items, { title: message, placeHolder: detail });
  if (!choice?.remove) return undefined;

  const engine = await s.engineHost.getEngine();
  const list = refs;
  const deleted: string[] = [];
  let freed = 0;
  try {
    await withEngineProgress(refs.length === 1 ? vscode.l10n.t('Deleting the backup') : vscode.l10n.t('Deleting {0} backups', formatCount(refs.length)), [], async ({ signal }) => {
      for (const [i, ref] of list.entries()) {
        // Format 2 packs shared with other backups are freed once, after the last one.
        const { gc } = await engine.delete(ref.key, { signal, collect: i === list.length - 1 || !list.slice(i + 1).some((r) => r.format === 2) });
        freed += gc?.freedBytes ?? 0;
        deleted.push(ref.key);
        s.log.for('delete').info(`deleted ${ref.key}`);
      }
    });
  } finally {
    if (deleted.length > 0) await s.tree.refresh();
  }
  const done = deleted.length === 1 ? vscode.l10n.t('Deleted 1 backup.') : vscode.l10n.t('Deleted {0} backups.', formatCount(deleted.length));
  vscode.window.setStatusBarMessage(freed > 0 ? `${done} ${vscode.l10n.t('{0} freed in the bucket.', formatBytes(freed))}` : done, 5000);
  return deleted;
}
