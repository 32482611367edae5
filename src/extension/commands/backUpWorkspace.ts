import * as vscode from 'vscode';
import { readRetention, workspaceExcludes } from '../host/config';
import type { BackupFolder, BackupResult } from '../../core/engine';
import type { Services } from './services';
import { confirmBackupTarget } from './gateBackup';
import { withEngineProgress } from '../ui/engineProgress';
import { reportBackup } from './backupResult';

/** Backs up the workspace folders (asking which when there are several) and offers to reveal the new backup. */
export async function backUpWorkspace(s: Services): Promise<BackupResult | undefined> {
  const all = vscode.workspace.workspaceFolders ?? [];
  if (all.length === 0) {
    void s.prompts.showInformationMessage(vscode.l10n.t('Open a folder to back it up.'), {});
    return undefined;
  }
  let folders: readonly vscode.WorkspaceFolder[] = all;
  if (all.length > 1) {
    const picked = await s.prompts.quickPickMany(
      all.map((f) => ({ label: f.name, description: f.uri.fsPath, picked: true, folder: f })),
      { title: vscode.l10n.t('Back Up Workspace'), placeHolder: vscode.l10n.t('Choose the folders to back up') },
    );
    if (!picked || picked.length === 0) return undefined;
    folders = picked.map((p) => p.folder);
  }
  const nonLocal = folders.find((f) => f.uri.scheme !== 'file');
  if (nonLocal) {
    void s.prompts.showWarningMessage(vscode.l10n.t('The folder {0} is not on this computer\'s file system and cannot be backed up.', nonLocal.name), {});
    return undefined;
  }

  const engine = await s.engineHost.getEngine();
  if (!(await confirmBackupTarget(s, engine))) return undefined;
  const names = folders.map((f) => f.name).join(', ');
  // The engine reports archiving and uploading as one 'upload' phase.
  const result = await withEngineProgress(vscode.l10n.t('Backing up {0}', names), ['upload'], (call) =>
    engine.backup({ kind: 'workspace', folders: folders.map(backupFolder), retention: readRetention() }, call),
  );

  return reportBackup(s, result);
}

/** A workspace folder as the engine backs it up, with that folder's own excludes (a resource-scoped setting). */
export function backupFolder(f: vscode.WorkspaceFolder): BackupFolder {
  return { name: f.name, path: f.uri.fsPath, excludes: workspaceExcludes(f.uri) };
}
