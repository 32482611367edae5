import * as vscode from 'vscode';
import type { AddressingStyle } from '../../core/storage/profile';

const CONFIG_SECTION = 's3Backup';

/**
 * The non-secret settings under `s3Backup.*` that hold for the whole window. The
 * keys live in SecretStorage (see secrets.ts); the excludes are per folder (see
 * `workspaceExcludes`).
 */
export interface S3BackupConfig {
  endpoint: string;
  region: string;
  bucket: string;
  rootPath: string;
  addressingStyle: AddressingStyle;
}

/** The settings a connection is made of, as written by the settings panel. */
export type ConnectionSettings = S3BackupConfig;

const ADDRESSING: readonly AddressingStyle[] = ['auto', 'path', 'virtual'];

/** Reads the window-wide `s3Backup.*` settings, typed, with defaults for missing or malformed values. */
export function readConfig(): S3BackupConfig {
  const c = vscode.workspace.getConfiguration(CONFIG_SECTION);
  const str = (key: string): string => {
    const v = c.get<unknown>(key);
    return typeof v === 'string' ? v.trim() : '';
  };
  const style = str('addressingStyle') as AddressingStyle;
  return {
    endpoint: str('endpoint'),
    region: str('region'),
    bucket: str('bucket'),
    rootPath: str('rootPath'),
    addressingStyle: ADDRESSING.includes(style) ? style : 'auto',
  };
}

/**
 * `s3Backup.workspace.excludes` for one workspace folder. The setting is
 * resource-scoped: each folder of a multi-root workspace may have its own list in
 * its .vscode/settings.json, and only a read with the folder's URI as scope sees
 * it (VS Code warns about a read without one).
 */
export function workspaceExcludes(folder: vscode.Uri): string[] {
  const v = vscode.workspace.getConfiguration(CONFIG_SECTION, folder).get<unknown>('workspace.excludes');
  return Array.isArray(v) ? v.filter((e): e is string => typeof e === 'string' && e.trim() !== '') : [];
}

/**
 * Writes the connection settings to the user settings (global), so one
 * configuration serves every workspace. A value left `undefined` is kept; an
 * empty string removes it.
 */
export async function writeConnectionSettings(values: Partial<ConnectionSettings>): Promise<void> {
  const c = vscode.workspace.getConfiguration(CONFIG_SECTION);
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const v = value.trim();
    // Defaults are removed rather than written, so settings.json holds only what the user chose.
    const clear = v === '' || (key === 'addressingStyle' && v === 'auto');
    await c.update(key, clear ? undefined : v, vscode.ConfigurationTarget.Global);
  }
}

/** How many undo records a restore keeps (`s3Backup.restore.*`; 0 = no limit), as the engine's `SnapshotRetention`. */
export function readRestoreRetention(): { keep: number; days: number } {
  const count = countSetting(vscode.workspace.getConfiguration(CONFIG_SECTION));
  return { keep: count('restore.keepSnapshots', 10), days: count('restore.keepSnapshotDays', 0) };
}

/**
 * `s3Backup.retention.*` (0 turns a rule off; all 0: no backup is ever
 * deleted), the engine's `RetentionPolicy`. One root path per window, so
 * this is the policy of that root path.
 */
export function readRetention(): { keepLast: number; keepDaily: number; keepWeekly: number; keepMonthly: number } {
  const count = countSetting(vscode.workspace.getConfiguration(CONFIG_SECTION));
  return { keepLast: count('retention.keepLast', 10), keepDaily: count('retention.keepDaily', 7), keepWeekly: count('retention.keepWeekly', 4), keepMonthly: count('retention.keepMonthly', 0) };
}

/** A reader of whole-number settings: a missing, negative or non-number value is the fallback. */
function countSetting(c: vscode.WorkspaceConfiguration): (key: string, fallback: number) => number {
  return (key, fallback) => {
    const v = c.get<unknown>(key);
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.min(Math.floor(v), 100_000) : fallback;
  };
}

/** Whether a configuration change touches our settings. */
export function affectsConfig(e: vscode.ConfigurationChangeEvent): boolean {
  return e.affectsConfiguration(CONFIG_SECTION);
}
