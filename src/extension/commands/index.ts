import * as vscode from 'vscode';
import type { AutoWhat } from '../../core/schedule/autoSchedule';
import type { AppDataTestOptions } from '../host/userData';
import { backUpAppData } from './backUpAppData';
import { backUpEverything } from './backUpEverything';
import { backUpWorkspace } from './backUpWorkspace';
import { copyS3Uri } from './copyS3Uri';
import { deleteBackup } from './deleteBackup';
import { downloadBackup } from './downloadBackup';
import { openSettings } from './openSettings';
import { pinBackup } from './pinBackup';
import { prune } from './pruneBackups';
import { refresh } from './refresh';
import { registerCommand } from './registerCommand';
import { restoreAppData } from './restoreAppData';
import { restoreBackup, restoreBackupItem } from './restoreBackup';
import { compareWithBackup } from './compareWithBackup';
import { compareWithCurrent } from './compareWithCurrent';
import { findInBackups } from './findInBackups';
import { verifyBackup } from './verifyBackup';
import type { Services } from './services';
import { registerDetailsDocuments, showBackupDetails } from './showBackupDetails';
import { setPassphrase } from './setPassphrase';
import { showLog } from './showLog';
import { testConnection } from './testConnection';
import { undoLastRestore } from './undoLastRestore';

/** Registers every command of the extension, each through the one error-handling wrapper. */
export function registerCommands(s: Services): vscode.Disposable[] {
  const on = (id: string, handler: (...args: any[]) => Promise<unknown>): vscode.Disposable => registerCommand(s, id, handler);
  // Test mode may name another user folder (a second "machine"); see userDirFor.
  const opts = (o: unknown): AppDataTestOptions | undefined => (o && typeof o === 'object' ? (o as AppDataTestOptions) : undefined);
  // Manual backups spin the status bar and record their result there (see AutoBackup.trackManual).
  const tracked = <T>(what: AutoWhat, work: () => Promise<T>): Promise<T> => (s.auto ? s.auto.trackManual(what, work) : work());
  return [
    on('s3Backup.backUpWorkspace', () => tracked('workspace', () => backUpWorkspace(s))),
    on('s3Backup.restoreBackup', (node?: unknown) => restoreBackup(s, node)),
    on('s3Backup.deleteBackup', (node?: unknown, selection?: unknown) => deleteBackup(s, node, selection)),
    on('s3Backup.downloadBackup', (node?: unknown) => downloadBackup(s, node)),
    on('s3Backup.showBackupDetails', (node?: unknown) => showBackupDetails(s, node)),
    on('s3Backup.copyS3Uri', (node?: unknown, selection?: unknown) => copyS3Uri(s, node, selection)),
    on('s3Backup.refresh', () => refresh(s)),
    on('s3Backup.openSettings', () => openSettings(s)),
    on('s3Backup.testConnection', () => testConnection(s)),
    on('s3Backup.showLog', () => showLog(s)),
    on('s3Backup.setPassphrase', () => setPassphrase(s)),
    // Internal: the tree's "Load More…" node.
    on('s3Backup.loadMore', async (host: unknown) => {
      if (typeof host === 'string') s.tree.loadMore(host);
    }),
    on('s3Backup.backUpAppData', (o?: unknown) => tracked('appData', () => backUpAppData(s, opts(o)))),
    on('s3Backup.backUpEverything', (o?: unknown) => tracked('everything', () => backUpEverything(s, opts(o)))),
    on('s3Backup.restoreAppData', (node?: unknown, o?: unknown) => restoreAppData(s, node, opts(o))),
    on('s3Backup.undoLastRestore', () => undoLastRestore(s)),
    // Looking inside a backup (issue 14).
    on('s3Backup.verifyBackup', (node?: unknown) => verifyBackup(s, node)),
    on('s3Backup.compareWithCurrent', (node?: unknown) => compareWithCurrent(s, node)),
    on('s3Backup.compareWithBackup', (uri?: unknown) => compareWithBackup(s, uri)),
    on('s3Backup.restoreBackupItem', (node?: unknown) => restoreBackupItem(s, node)),
    on('s3Backup.findInBackups', (uri?: unknown) => findInBackups(s, uri)),
    // Internal: the "Load More…" node of a big folder inside a backup.
    on('s3Backup.loadMoreEntries', async (id: unknown) => {
      if (typeof id === 'string') s.tree.loadMoreEntries(id);
    }),
    on('s3Backup.pinBackup', (node?: unknown) => pinBackup(s, node, true)),
    on('s3Backup.unpinBackup', (node?: unknown) => pinBackup(s, node, false)),
    on('s3Backup.prune', () => prune(s)),
    registerDetailsDocuments(),
  ];
}
