import * as vscode from 'vscode';
import { formatBytes, formatCount } from '../ui/format';
import { workspaceExcludes } from '../host/config';
import type { BackupFolder, BackupResult } from '../../core/engine';
import type { Services } from './services';
import { withEngineProgress } from '../ui/progress';

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
  const names = folders.map((f) => f.name).join(', ');
  const result = await withEngineProgress(vscode.l10n.t('Backing up {0}', names), ['archive'], (call) =>
    engine.backup({ kind: 'workspace', folders: folders.map(backupFolder) }, call),
  );

  const log = s.log.for('backup');
  log.info(`${result.key}: ${result.files} files, ${result.size} bytes`);
  for (const k of result.skipped) log.warn(`skipped ${k.relPath}: ${k.reason}${k.detail ? ` (${k.detail})` : ''}`);
  s.tree.noteFiles(result.key, result.files);
  await s.tree.refresh();

  const reveal = vscode.l10n.t('Reveal in Tree');
  const message = backedUpMessage(result);
  // Not awaited: the command is done; the message may sit in the notification centre.
  void s.prompts.showInformationMessage(message, {}, reveal).then(async (choice) => {
    if (choice !== reveal) return;
    const node = s.tree.findBackupNode(result.key);
    if (node) await s.treeView.reveal(node, { select: true, focus: true, expand: true });
  });
  return result;
}

/** A workspace folder as the engine backs it up, with that folder's own excludes. */
export function backupFolder(f: vscode.WorkspaceFolder): BackupFolder {
  return { name: f.name, path: f.uri.fsPath, excludes: workspaceExcludes(f.uri) };
}

/** "Backed up 1 file (2 KB)." / "Backed up 12 files (3.4 MB); 2 skipped (see the log)." */
export function backedUpMessage(result: Pick<BackupResult, 'files' | 'size' | 'skipped'>): string {
  const size = formatBytes(result.size);
  const skipped = result.skipped.length;
  if (skipped === 0) {
    return result.files === 1 ? vscode.l10n.t('Backed up 1 file ({0}).', size) : vscode.l10n.t('Backed up {0} files ({1}).', formatCount(result.files), size);
  }
  return result.files === 1
    ? vscode.l10n.t('Backed up 1 file ({0}); {1} skipped (see the log).', size, formatCount(skipped))
    : vscode.l10n.t('Backed up {0} files ({1}); {2} skipped (see the log).', formatCount(result.files), size, formatCount(skipped));
}
