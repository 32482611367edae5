import * as vscode from 'vscode';
import { AUTO_MODES, AUTO_WHATS, DEFAULT_DAILY_TIME, DEFAULT_IDLE_MINUTES, parseDailyTime, type AutoMode, type AutoWhat, type ScheduleSettings } from '../../core/schedule/autoSchedule';

export const AUTO_SECTION = 's3Backup.autoBackup';

export interface AutoBackupSettings extends ScheduleSettings {
  what: AutoWhat;
}

/**
 * `s3Backup.autoBackup.*`, typed, with defaults for missing or malformed
 * values. Application-scoped: a folder's own .vscode/settings.json must not
 * be able to turn on uploads of this machine's files.
 */
export function readAutoBackupSettings(): AutoBackupSettings {
  const c = vscode.workspace.getConfiguration(AUTO_SECTION);
  const mode = c.get<unknown>('mode');
  const what = c.get<unknown>('what');
  const time = c.get<unknown>('dailyTime');
  const idle = c.get<unknown>('idleMinutes');
  return {
    mode: AUTO_MODES.includes(mode as AutoMode) ? (mode as AutoMode) : 'off',
    what: AUTO_WHATS.includes(what as AutoWhat) ? (what as AutoWhat) : 'workspace',
    dailyTime: typeof time === 'string' && parseDailyTime(time) ? time.trim() : DEFAULT_DAILY_TIME,
    idleMinutes: typeof idle === 'number' && Number.isFinite(idle) && idle >= 1 ? Math.floor(idle) : DEFAULT_IDLE_MINUTES,
  };
}

/** Turns automatic backups on (user settings), as the offer after the first manual backup does. */
export async function turnOnAutoBackup(mode: AutoMode, what: AutoWhat): Promise<void> {
  const c = vscode.workspace.getConfiguration(AUTO_SECTION);
  await c.update('mode', mode, vscode.ConfigurationTarget.Global);
  await c.update('what', what === 'workspace' ? undefined : what, vscode.ConfigurationTarget.Global);
}

/** "every hour", "daily at 09:30", "after 5 idle minutes following a change": for the tooltip and messages. */
export function modeLabel(s: ScheduleSettings): string {
  switch (s.mode) {
    case 'off':
      return vscode.l10n.t('off');
    case 'every15m':
      return vscode.l10n.t('every 15 minutes');
    case 'hourly':
      return vscode.l10n.t('every hour');
    case 'every6h':
      return vscode.l10n.t('every 6 hours');
    case 'daily':
      return vscode.l10n.t('daily at {0}', s.dailyTime);
    case 'afterChanges':
      return s.idleMinutes === 1 ? vscode.l10n.t('after changes, once idle for 1 minute') : vscode.l10n.t('after changes, once idle for {0} minutes', s.idleMinutes);
  }
}
