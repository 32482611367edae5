import * as vscode from 'vscode';
import { isCancelled } from '../../core/util/engineErrors';
import type { AnonymousAccess } from '../../core/engine';
import type { ExposureRecord } from '../host/exposureMemory';
import { exposureDetail, exposureTitle, publicWarning } from '../ui/exposureText';
import { encryptionIsOn, type Services } from './services';

/** A check older than this is made again before a backup: a bucket's policy can change at any time. */
export const RECHECK_MS = 60 * 60 * 1000;

type Target = { endpoint: string; bucket: string; rootPath: string };

/** What a backup does about the private-bucket check: go on, check first, or ask the user. */
export function backupDecision(rec: ExposureRecord | undefined, encrypted: boolean, now = Date.now()): 'go' | 'check' | 'ask' {
  if (encrypted) return 'go';
  if (!rec || now - rec.checkedAt > RECHECK_MS) return 'check';
  return rec.found && rec.confirmed !== rec.found ? 'ask' : 'go';
}

/**
 * Before a backup: when strangers can read the bucket (and the backups are
 * not encrypted), the backup goes on only after the user says so, once per
 * bucket + root path and per state found. A check that cannot run does not
 * stop the backup: the backup itself then says what is wrong.
 * Resolves true to go on.
 */
export async function confirmBackupTarget(
  s: Services,
  engine: { profile: Target; checkAnonymousAccess(o: { signal?: AbortSignal }): Promise<AnonymousAccess> },
): Promise<boolean> {
  const target = engine.profile;
  let rec = s.exposure.get(target);
  const encrypted = await encryptionIsOn(s);
  let decision = backupDecision(rec, encrypted);
  if (decision === 'check') {
    try {
      rec = await s.exposure.record(target, await engine.checkAnonymousAccess({}));
    } catch (e) {
      if (isCancelled(e)) throw e;
      s.log.for('backup').warn(`the private-bucket check did not run: ${e instanceof Error ? e.message : String(e)}`);
    }
    decision = rec && Date.now() - rec.checkedAt <= RECHECK_MS ? backupDecision(rec, encrypted) : 'go';
  }
  if (decision !== 'ask' || !rec) return true;
  const w = publicWarning(rec.found, target.endpoint);
  if (!w) return true;
  const anyway = vscode.l10n.t('Back Up Anyway');
  const howToFix = vscode.l10n.t('How to Fix');
  const choice = await s.prompts.showWarningMessage(
    vscode.l10n.t('{0} Back up to bucket {1} anyway?', exposureTitle(), target.bucket),
    { modal: true, detail: exposureDetail(w) },
    // The safe choice first: it is the dialog's default button.
    howToFix,
    anyway,
  );
  if (choice === anyway) {
    await s.exposure.confirm(target);
    s.log.for('backup').info(`backing up to a bucket readable without keys (${rec.found}), as the user confirmed`);
    return true;
  }
  if (choice === howToFix) void vscode.commands.executeCommand('s3Backup.openSettings');
  return false;
}
