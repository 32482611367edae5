import * as vscode from 'vscode';
import { readRestoreRetention } from '../host/config';
import { EditorWatch } from '../ui/editorSync';
import { folderName, formatCount, formatDateTime } from '../ui/format';
import { chooseRestoreParts, restoreAppDataFetched } from './restoreAppData';
import { targetsInFolder, targetsOnFolders, workspacePrefixes } from '../../core/restore/targets';
import type { BackupEngine, FetchedBackup } from '../../core/engine';
import type { BackupRef } from '../../core/format/backupKeys';
import type { RestoreResult } from '../../core/restore/applyRestore';
import type { RestoreAction, RestorePlan } from '../../core/restore/planRestore';
import type { Services } from './services';
import { fetchForRestore } from './fetchBackup';
import { backupFromArgs } from './pickBackup';
import { withEngineProgress } from '../ui/engineProgress';
import { runGuarded } from './registerCommand';
import { codeFilesToWrite } from '../../core/restore/codeFileItems';
import { printable } from '../../core/util/printable';
import { runUndo, updateUndoContext } from './undoLastRestore';
import { BackupFileNode, BackupFolderNode } from '../tree/nodes';
import { openDiff } from './compareWithCurrent';

/**
 * Restore: download and verify, show the plan (new / overwritten / unchanged,
 * with the file list on demand), then write and offer Undo, which puts the
 * safety snapshot back.
 */
export async function restoreBackup(s: Services, arg?: unknown, o: { ref?: BackupRef; intoFolder?: boolean; only?: string } = {}): Promise<RestoreResult | undefined> {
  const ref = o.ref ?? (await backupFromArgs(s, arg, vscode.l10n.t('Choose a backup to restore')));
  if (!ref) return undefined;
  const engine = await s.engineHost.getEngine();
  const fetched = await fetchForRestore(s, engine, ref);
  try {
    s.tree.noteFiles(ref.key, fetched.manifest.totals.files);
    const only = o.only;
    // One file or folder: only the backed-up folder holding it needs a place to land.
    const prefixes = workspacePrefixes(fetched.manifest).filter((p) => only === undefined || only === p || only.startsWith(`${p}/`));
    if (only === undefined && fetched.manifest.sources.includes('appdata')) {
      // App data (kind appdata or full) has its own flow; a full backup asks which parts.
      const parts = await chooseRestoreParts(s, fetched.manifest);
      if (!parts) return undefined;
      if (parts.appData) await restoreAppDataFetched(s, engine, fetched, ref);
      if (!parts.workspace) return undefined;
    }
    if (prefixes.length === 0) {
      void s.prompts.showInformationMessage(vscode.l10n.t('This backup holds no workspace folders to restore.'), {});
      return undefined;
    }
    const open = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => ({ name: f.name, path: f.uri.fsPath }));
    let targets = o.intoFolder ? undefined : targetsOnFolders(prefixes, open);
    if (!targets) {
      targets = await pickTargets(s, prefixes);
      if (!targets) return undefined;
    }
    const plan = await confirmPlan(s, engine, fetched, ref, targets, only);
    if (!plan) return undefined;
    const includeCodeFiles = await askCodeFiles(s, plan);
    if (includeCodeFiles === undefined) return undefined;

    const folders = [...new Set(Object.values(plan.targets))];
    const watch = await EditorWatch.start(folders, s.prompts, s.log.for('restore'));
    const result = await withEngineProgress(vscode.l10n.t('Restoring the backup from {0}', formatDateTime(ref.time)), ['write'], (call) =>
      engine.apply(plan, { ...call, includeCodeFiles, retention: readRestoreRetention() }),
    );
    s.log.for('restore').info(`${ref.key}: ${result.written} files written${result.snapshotDir ? `, snapshot ${result.snapshotDir}` : ''}`);
    await watch.sync('restore');
    await s.auto?.recordRestore(folders).catch(() => undefined);
    await updateUndoContext(s).catch(() => undefined);
    offerUndo(s, result, { folders, targets: plan.targets });
    return result;
  } finally {
    await fetched.dispose();
  }
}

/** A folder the user picks: one archived folder goes right into it, several into sub-folders by name. */
async function pickTargets(s: Services, prefixes: string[]): Promise<Record<string, string> | undefined> {
  const picked = await s.prompts.showOpenDialog({
    canSelectFiles: false,
    canSelectFolders: true,
    canSelectMany: false,
    openLabel: vscode.l10n.t('Restore Here'),
    title: vscode.l10n.t('Restore into Another Folder'),
  });
  const dir = picked?.[0];
  if (!dir) return undefined;
  if (dir.scheme !== 'file') throw new vscode.CancellationError();
  return targetsInFolder(prefixes, dir.fsPath);
}

/** Shows the plan until the user restores (returns the plan) or cancels. */
async function confirmPlan(
  s: Services,
  engine: BackupEngine,
  fetched: FetchedBackup,
  ref: BackupRef,
  initial: Record<string, string>,
  only?: string,
): Promise<RestorePlan | undefined> {
  const restore = vscode.l10n.t('Restore');
  const another = vscode.l10n.t('Restore into Another Folder...');
  const showFiles = vscode.l10n.t('Show Files');
  let targets = initial;
  for (;;) {
    const plan = await engine.plan(fetched, targets, only === undefined ? {} : { only });
    const c = plan.counts;
    // The title names the folders; the detail has their full paths.
    const dirs = [...new Set(Object.values(targets))];
    const message =
      only === undefined
        ? vscode.l10n.t('Restore the backup from {0} into {1}?', formatDateTime(ref.time), dirs.map(folderName).join(', '))
        : vscode.l10n.t('Restore "{0}" from the backup of {1} into {2}?', printable(only.split('/').slice(1).join('/')), formatDateTime(ref.time), dirs.map(folderName).join(', '));
    const counts = vscode.l10n.t(
      '{0} new, {1} overwritten, {2} unchanged. Files that exist only here are kept. Overwritten files are saved first, so the restore can be undone.',
      formatCount(c.create),
      formatCount(c.overwrite),
      formatCount(c.unchanged),
    );
    const detail = [counts, linksLeftOut(plan), dirs.join('\n')].filter(Boolean).join('\n\n');
    const ask = c.overwrite > 0 ? 'showWarningMessage' : 'showInformationMessage';
    const choice = await s.prompts[ask](message, { modal: true, detail }, restore, another, showFiles);
    if (choice === restore) return plan;
    if (choice === showFiles) {
      await showPlanFiles(s, plan, ref);
    } else if (choice === another) {
      const picked = await pickTargets(s, Object.keys(targets));
      if (picked) targets = picked;
    } else {
      return undefined;
    }
  }
}

/**
 * Files that make VS Code or other tools run code by themselves (tasks,
 * launch configurations, workspace settings, git hooks, .envrc, ...) need a
 * second, explicit yes; the first answer leaves them out. Undefined: cancel.
 */
async function askCodeFiles(s: Services, plan: RestorePlan): Promise<boolean | undefined> {
  const files = codeFilesToWrite(plan.items);
  if (files.length === 0) return false;
  const leaveOut = vscode.l10n.t('Leave Them Out');
  const include = vscode.l10n.t('Restore Them Too');
  const listed = files.slice(0, 10).map((f) => printable(f.relPath));
  if (files.length > 10) listed.push(vscode.l10n.t('and {0} more', formatCount(files.length - 10)));
  const message =
    files.length === 1
      ? vscode.l10n.t('The backup holds 1 file that can make VS Code or other tools run programs by themselves. Restore it too?')
      : vscode.l10n.t('The backup holds {0} files that can make VS Code or other tools run programs by themselves. Restore them too?', formatCount(files.length));
  const detail = vscode.l10n.t(
    '{0}\n\nSuch files run programs when the folder opens, on a commit, or when a terminal or package manager starts. Restore them only if you made this backup yourself and trust everyone who can write to the bucket. Left out, the files here stay as they are.',
    listed.join('\n'),
  );
  const choice = await s.prompts.showWarningMessage(message, { modal: true, detail }, leaveOut, include);
  if (choice === include) return true;
  return choice === leaveOut ? false : undefined;
}

/** Links of the backup that point outside the restored folder: never recreated, so the user hears of them before the restore. */
function linksLeftOut(plan: RestorePlan): string | undefined {
  const n = plan.skippedLinks?.length ?? 0;
  if (n === 0) return undefined;
  return n === 1
    ? vscode.l10n.t('1 symbolic link points outside the restored folder and is left out.')
    : vscode.l10n.t('{0} symbolic links point outside the restored folder and are left out.', formatCount(n));
}

interface PlanFileItem extends vscode.QuickPickItem {
  /** An overwritten file: picking it opens the diff of the backup's copy against it. */
  compare?: { archivePath: string; targetPath: string };
}

/** The plan's files, grouped by what will happen to them; an overwritten file picked opens its diff (format 2, read from the packs). */
async function showPlanFiles(s: Services, plan: RestorePlan, ref: BackupRef): Promise<void> {
  const groups: Array<[RestoreAction, string]> = [
    ['create', vscode.l10n.t('New')],
    ['overwrite', vscode.l10n.t('Overwritten')],
    ['unchanged', vscode.l10n.t('Unchanged')],
    ['onlyLocal', vscode.l10n.t('Only here (kept)')],
  ];
  const items: PlanFileItem[] = [];
  const runsCode = vscode.l10n.t('runs code: asked separately');
  const canCompare = plan.manifest.format === 2;
  for (const [action, label] of groups) {
    const list = plan.items.filter((i) => i.action === action);
    if (list.length === 0) continue;
    items.push({ label: `${label} (${formatCount(list.length)})`, kind: vscode.QuickPickItemKind.Separator });
    for (const i of list) {
      const code = codeFilesToWrite([i]).length > 0;
      const compare = canCompare && action === 'overwrite' ? { archivePath: i.archivePath, targetPath: i.targetPath } : undefined;
      items.push({ label: printable(i.relPath), description: code ? `${label}, ${runsCode}` : label, detail: printable(i.targetPath), ...(compare ? { compare } : {}) });
    }
  }
  const links = (plan.links ?? []).filter((l) => l.action !== 'unchanged');
  if (links.length > 0) {
    items.push({ label: `${vscode.l10n.t('Links')} (${formatCount(links.length)})`, kind: vscode.QuickPickItemKind.Separator });
    for (const l of links) items.push({ label: printable(l.relPath), description: `→ ${printable(l.target)}`, detail: printable(l.targetPath) });
  }
  const skipped = plan.skippedLinks ?? [];
  if (skipped.length > 0) {
    const label = vscode.l10n.t('Left out (points outside the folder)');
    items.push({ label: `${label} (${formatCount(skipped.length)})`, kind: vscode.QuickPickItemKind.Separator });
    for (const l of skipped) items.push({ label: printable(l.archivePath), description: `→ ${printable(l.target)}` });
  }
  const placeHolder = canCompare && plan.counts.overwrite > 0 ? vscode.l10n.t('Pick an overwritten file to compare it with the backup, or press Escape to go back') : vscode.l10n.t('Press Escape to go back');
  const picked = await s.prompts.quickPick(items, { title: vscode.l10n.t('Files in the restore'), placeHolder, matchOnDetail: true });
  // The diff opens behind the plan, which comes back for the answer; not as a preview, which the restore's editor sync would replace.
  if (picked?.compare) await openDiff(ref, picked.compare.archivePath, vscode.Uri.file(picked.compare.targetPath), { preview: false });
}

/** "Restore Only This..." on a file or folder of a backup: the same plan, safety snapshot and undo as a whole restore. */
export async function restoreBackupItem(s: Services, arg: unknown): Promise<RestoreResult | undefined> {
  if (!(arg instanceof BackupFileNode || arg instanceof BackupFolderNode) || !arg.entry.path.startsWith('workspace/')) return undefined;
  return restoreBackup(s, undefined, { ref: arg.ref, only: arg.entry.path });
}

function offerUndo(s: Services, result: RestoreResult, restored: { folders: string[]; targets: Record<string, string> }): void {
  const where = restored.folders.map(folderName).join(', ');
  const message =
    result.written === 1
      ? vscode.l10n.t('Restored 1 file into {0}.', where)
      : vscode.l10n.t('Restored {0} files into {1}.', formatCount(result.written), where);
  if (!result.snapshotDir) {
    void s.prompts.showInformationMessage(message, {});
    return;
  }
  const snapshotDir = result.snapshotDir;
  const undo = vscode.l10n.t('Undo');
  void s.prompts.showInformationMessage(message, {}, undo).then((choice) => {
    if (choice === undo) void runGuarded(s, 'undoRestore', () => runUndo(s, { snapshotDir, ...restored }));
  });
}
