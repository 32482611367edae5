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
import { refresh } from './refresh';
import { registerCommand } from './registerCommand';
import { restoreAppData } from './restoreAppData';
import { restoreBackup } from './restoreBackup';
import type { Services } from './services';
import { registerDetailsDocuments, showBackupDetails } from './showBackupDetails';
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
    // Internal: the tree's "Load More…" node.
    on('s3Backup.loadMore', async (host: unknown) => {
      if (typeof host === 'string') s.tree.loadMore(host);
    }),
    on('s3Backup.backUpAppData', (o?: unknown) => tracked('appData', () => backUpAppData(s, opts(o)))),
    on('s3Backup.backUpEverything', (o?: unknown) => tracked('everything', () => backUpEverything(s, opts(o)))),
    on('s3Backup.restoreAppData', (node?: unknown, o?: unknown) => restoreAppData(s, node, opts(o))),
    on('s3Backup.undoLastRestore', () => undoLastRestore(s)),
    registerDetailsDocuments(),
  ];
}
