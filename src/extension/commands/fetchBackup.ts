import * as vscode from 'vscode';
import type { BackupEngine, FetchedBackup } from '../../core/engine';
import type { BackupRef } from '../../core/format/backupKeys';
import { formatDateTime } from '../ui/format';
import { withEngineProgress } from '../ui/engineProgress';
import type { Services } from './services';

/**
 * Downloads and checks a backup for a restore. In an encrypted bucket, a
 * plain backup made before encryption was turned on is read only after the
 * user's explicit yes (a modal): nothing proves who made it.
 */
export async function fetchForRestore(s: Services, engine: BackupEngine, ref: BackupRef): Promise<FetchedBackup> {
  const title = vscode.l10n.t('Downloading the backup from {0}', formatDateTime(ref.time));
  const fetch = (allowPlain: boolean): Thenable<FetchedBackup> =>
    withEngineProgress(title, ['download'], (call) => engine.fetch(ref.key, { ...call, allowPlain, ...(ref.lastModified ? { lastModified: ref.lastModified } : {}) }));
  try {
    return await fetch(false);
  } catch (e) {
    const err = e as { code?: unknown; params?: Record<string, unknown> } | undefined;
    if (err?.code !== 'PlainBackup' || err.params?.reason !== 'older') throw e;
    const restore = vscode.l10n.t('Restore Anyway');
    const choice = await s.prompts.showWarningMessage(
      vscode.l10n.t('This backup is not encrypted: it was made before encryption was turned on, so nothing proves it is yours.'),
      { modal: true, detail: vscode.l10n.t('Restore it only if you made it.') },
      restore,
    );
    if (choice !== restore) throw new vscode.CancellationError();
    return fetch(true);
  }
}
