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
  const c = vscode.workspace.getConfiguration(CONFIG_SECTION);
  const count = (key: string, fallback: number): number => {
    const v = c.get<unknown>(key);
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : fallback;
  };
  return { keep: count('restore.keepSnapshots', 10), days: count('restore.keepSnapshotDays', 0) };
}

/** Whether a configuration change touches our settings. */
export function affectsConfig(e: vscode.ConfigurationChangeEvent): boolean {
  return e.affectsConfiguration(CONFIG_SECTION);
}
