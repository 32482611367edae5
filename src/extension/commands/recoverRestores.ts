import * as vscode from 'vscode';
import type { RestoreSummary } from '../../core/engine';
import { runGuarded } from './registerCommand';
import type { Services } from './services';
import { offerInterrupted, updateUndoContext } from './undoLastRestore';

/** How long after activation the check waits: start-up belongs to VS Code and the other extensions. */
const CHECK_DELAY_MS = 3000;

/**
 * After a crash: cleans up what interrupted restores and downloads left
 * behind, sets the "Undo Last Restore" context key, and offers each
 * interrupted restore for completion or rollback. Does nothing heavy when
 * there is no undo record at all (the engine is not even loaded).
 */
export async function checkInterruptedRestores(s: Services): Promise<RestoreSummary[]> {
  if (!(await s.engineHost.hasSnapshots())) {
    await updateUndoContext(s, []);
    return [];
  }
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
  const cleaned = await s.engineHost.cleanUp(folders);
  const log = s.log.for('restore');
  if (cleaned.records + cleaned.staging + cleaned.temp + cleaned.locks > 0) log.info(`cleaned up after earlier runs: ${JSON.stringify(cleaned)}`);
  const list = await s.engineHost.listRestores();
  await updateUndoContext(s, list);
  const interrupted = list.filter((r) => r.state === 'interrupted');
  for (const r of interrupted) await offerInterrupted(s, r);
  return interrupted;
}

/** Runs `checkInterruptedRestores` once, a moment after activation (never during it). */
export function scheduleRecoveryCheck(s: Services): vscode.Disposable {
  const timer = setTimeout(() => void runGuarded(s, 'checkInterruptedRestores', () => checkInterruptedRestores(s)), CHECK_DELAY_MS);
  return new vscode.Disposable(() => clearTimeout(timer));
}
