import * as vscode from 'vscode';
import { APPDATA_PREFIX } from '../../core/appData/categories';
import type { FinishResult, RestoreSummary, UndoResult } from '../../core/engine';
import { EditorWatch } from '../ui/editorSync';
import { folderName, formatCount, formatDateTime, formatUndone } from '../ui/format';
import { runGuarded } from './registerCommand';
import type { Services } from './services';

/** The context key that enables "Undo Last Restore" (palette and the view's … menu). */
const CAN_UNDO_KEY = 's3Backup.canUndo';

/** What a restore's undo needs to know about it. */
export type UndoTarget = Pick<RestoreSummary, 'snapshotDir' | 'folders' | 'targets'>;

/** Restores "Undo Last Restore" can act on, newest first. */
function undoable(list: RestoreSummary[]): RestoreSummary[] {
  return list.filter((r) => r.state === 'complete' || r.state === 'interrupted');
}

/**
 * Sets `s3Backup.canUndo` from the undo records in the global storage (so it
 * holds after a window reload); resolves with its value. Loads the engine
 * only when there is a record at all.
 */
export async function updateUndoContext(s: Services, list?: RestoreSummary[]): Promise<boolean> {
  const can = list ? undoable(list).length > 0 : (await s.engineHost.hasSnapshots()) && undoable(await s.engineHost.listRestores()).length > 0;
  await vscode.commands.executeCommand('setContext', CAN_UNDO_KEY, can);
  return can;
}

/**
 * Undoes one restore with a progress notification, brings open editors in
 * line with the disk, and says what was put back (app data: with "Reload Window").
 */
export async function runUndo(s: Services, r: UndoTarget): Promise<UndoResult> {
  const log = s.log.for('restore');
  const watch = await EditorWatch.start(r.folders, s.prompts, log);
  const done = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Undoing the restore…') }, () => s.engineHost.undo(r.snapshotDir));
  log.info(`undo ${r.snapshotDir}: ${done.restored} restored, ${done.removed} removed`);
  await watch.sync('undo');
  await updateUndoContext(s).catch(() => undefined);
  if (APPDATA_PREFIX in r.targets) {
    const reload = vscode.l10n.t('Reload Window');
    void s.prompts.showInformationMessage(vscode.l10n.t('The app data restore was undone: {0}.', formatUndone(done.restored, done.removed)), {}, reload).then((c) => {
      if (c === reload) void vscode.commands.executeCommand('workbench.action.reloadWindow');
    });
  } else {
    void s.prompts.showInformationMessage(vscode.l10n.t('The restore was undone: {0}.', formatUndone(done.restored, done.removed)), {});
  }
  return done;
}

/**
 * "Undo Last Restore": the newest restore that can be undone, after a
 * confirmation that names it (an interrupted one: Complete or Roll Back).
 * Works after a reload: the undo records live in the global storage.
 */
export async function undoLastRestore(s: Services): Promise<UndoResult | undefined> {
  const list = await s.engineHost.listRestores();
  await updateUndoContext(s, list);
  const last = undoable(list)[0];
  if (!last) {
    void s.prompts.showInformationMessage(vscode.l10n.t('There is no restore to undo.'), {});
    return undefined;
  }
  if (last.state === 'interrupted') {
    // An interrupted restore may also be completed: the same question as after a crash.
    await offerInterrupted(s, last);
    return undefined;
  }
  const undo = vscode.l10n.t('Undo Restore');
  // The folder's name in the question; its full path below, where a long one does not hide the question.
  const message = vscode.l10n.t('Undo the restore of {0} into {1}?', formatDateTime(new Date(last.time)), folderNames(last.folders));
  const detail = `${vscode.l10n.t(
    'It created {0} files and replaced {1}: the files it created are removed and the replaced ones get their earlier content back. Files changed since the restore are kept as they are.',
    formatCount(last.newFiles),
    formatCount(last.replacedFiles),
  )}\n\n${last.folders.join('\n')}`;
  if ((await s.prompts.showWarningMessage(message, { modal: true, detail }, undo)) !== undo) return undefined;
  return runUndo(s, last);
}

/** One notification for one interrupted restore: Complete (when its staged files are there), Roll Back, or Later. */
export async function offerInterrupted(s: Services, r: RestoreSummary): Promise<void> {
  const complete = vscode.l10n.t('Complete');
  const rollBack = vscode.l10n.t('Roll Back');
  const later = vscode.l10n.t('Later');
  const where = folderNames(r.folders);
  const when = formatDateTime(new Date(r.time));
  s.log.for('recovery').info(`interrupted restore into ${r.folders.join(', ')} (${r.snapshotDir})`);
  const message = r.canFinish
    ? vscode.l10n.t('The restore of {0} into {1} was interrupted. Complete it, or roll the folder back to how it was before?', when, where)
    : vscode.l10n.t('The restore of {0} into {1} was interrupted, and its prepared files are gone. Roll the folder back to how it was before?', when, where);
  const choice = await s.prompts.showWarningMessage(message, {}, ...(r.canFinish ? [complete] : []), rollBack, later);
  if (choice === rollBack) await runGuarded(s, 'rollBackRestore', () => runUndo(s, r));
  else if (choice === complete) await runGuarded(s, 'completeRestore', () => runFinish(s, r));
}

/** Completes an interrupted restore, then brings open editors in line with the disk. */
async function runFinish(s: Services, r: RestoreSummary): Promise<FinishResult> {
  const watch = await EditorWatch.start(r.folders, s.prompts, s.log.for('restore'));
  const done = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Completing the restore…') }, () =>
    s.engineHost.finishRestore(r.snapshotDir),
  );
  s.log.for('restore').info(`finish ${r.snapshotDir}: ${done.written} written, ${done.kept} kept`);
  await watch.sync('restore');
  await updateUndoContext(s).catch(() => undefined);
  const where = folderNames(r.folders);
  const written = done.written === 1 ? vscode.l10n.t('The restore into {0} is complete: 1 more file written.', where) : vscode.l10n.t('The restore into {0} is complete: {1} more files written.', where, formatCount(done.written));
  const kept =
    done.kept === 0 ? '' : done.kept === 1 ? vscode.l10n.t('1 file changed since the interruption was kept as it is.') : vscode.l10n.t('{0} files changed since the interruption were kept as they are.', formatCount(done.kept));
  void s.prompts.showInformationMessage(kept ? `${written} ${kept}` : written, {});
  return done;
}

/** Folders as their names, the way every message names them ("app, web"). */
function folderNames(folders: readonly string[]): string {
  return folders.map(folderName).join(', ');
}
