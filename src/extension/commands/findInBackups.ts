import * as vscode from 'vscode';
import { backupUri } from '../browse/backupUri';
import { fileArg, findHolders, pickHolder } from './compareWithBackup';
import type { Holder } from './backupFiles';
import type { Services } from './services';

/** "Find in Backups...": a path (the active file's by default), the backups holding it, newest first; opens the chosen copy. */
export async function findInBackups(s: Services, arg?: unknown): Promise<Holder | undefined> {
  const active = fileArg(arg);
  const typed = await s.prompts.inputBox({
    title: vscode.l10n.t('Find in Backups'),
    prompt: vscode.l10n.t('A path relative to the workspace folder, e.g. src/index.ts'),
    value: active ? vscode.workspace.asRelativePath(active, false) : '',
    validateInput: (v) => (v.trim() === '' ? vscode.l10n.t('Enter a path.') : undefined),
  });
  const rel = typed?.trim().replace(/\\/g, '/');
  if (!rel) return undefined;
  const holders = await findHolders(s, { rel }, rel);
  if (holders.length === 0) {
    void s.prompts.showInformationMessage(vscode.l10n.t('No backup holds {0}.', rel), {});
    return undefined;
  }
  const h = await pickHolder(s, holders, vscode.l10n.t('{0}: open the copy of which backup?', rel));
  if (!h) return undefined;
  await vscode.commands.executeCommand('vscode.open', backupUri(h.ref.key, h.path), { preview: true });
  return h;
}
