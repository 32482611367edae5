import * as vscode from 'vscode';
import { formatAge, formatBytes, formatDateTime } from '../ui/format';
import { backupsHolding, type Holder } from './backupFiles';
import { openDiff } from './compareWithCurrent';
import type { Services } from './services';

interface HolderItem extends vscode.QuickPickItem {
  holder: Holder;
}

/** The workspace file a command was run on: the editor's tab or context menu hands its URI, the palette means the active editor. */
export function fileArg(arg: unknown): vscode.Uri | undefined {
  const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
  return uri?.scheme === 'file' ? uri : undefined;
}

/** Asks which of the backups holding it, newest first; undefined when none does or the user dismissed the pick. */
export async function pickHolder(s: Services, holders: Holder[], placeHolder: string): Promise<Holder | undefined> {
  const items: HolderItem[] = holders.map((h) => ({
    label: formatDateTime(h.ref.time),
    description: `${formatAge(h.ref.time)} · ${h.ref.host} · ${formatBytes(h.entry.size)}`,
    detail: h.path,
    holder: h,
  }));
  return (await s.prompts.quickPick(items, { placeHolder, matchOnDescription: true, matchOnDetail: true }))?.holder;
}

/** Finds the backups that hold this file, in a cancellable progress notification. */
export function findHolders(s: Services, what: Parameters<typeof backupsHolding>[1], label: string): Thenable<Holder[]> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Looking for {0} in the backups', label), cancellable: true }, (_p, token) => {
    const ac = new AbortController();
    const sub = token.onCancellationRequested(() => ac.abort());
    return backupsHolding(s, what, ac.signal).finally(() => sub.dispose());
  });
}

/** "Compare with Backup...": the open file against the same file in a backup the user picks (newest first). */
export async function compareWithBackup(s: Services, arg: unknown): Promise<Holder | undefined> {
  const file = fileArg(arg);
  if (!file) {
    void s.prompts.showInformationMessage(vscode.l10n.t('Open a file of the workspace first.'), {});
    return undefined;
  }
  const label = vscode.workspace.asRelativePath(file);
  const holders = await findHolders(s, { file }, label);
  if (holders.length === 0) {
    void s.prompts.showInformationMessage(vscode.l10n.t('No backup holds {0}.', label), {});
    return undefined;
  }
  const h = await pickHolder(s, holders, vscode.l10n.t('Compare {0} with the copy in which backup?', label));
  if (!h) return undefined;
  await openDiff(h.ref, h.path, file);
  return h;
}
