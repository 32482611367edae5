import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { APPDATA_CATEGORIES, DEFAULT_IGNORED_SETTINGS, type AppDataCategory, type ExtensionEntry } from '../../core/appData/categories';
import type { AppDataSelection } from '../../core/engine';
import { BackupError } from '../../core/util/engineErrors';

export interface AppDataConfig {
  categories: AppDataCategory[];
  ignoredSettings: string[];
  /** `s3Backup.appData.includeSecretSettings`: back up settings that look like secrets too (default false). */
  includeSecretSettings: boolean;
}

/** `s3Backup.appData.*`, typed; unknown categories are dropped, an unset list means the defaults. */
export function readAppDataConfig(): AppDataConfig {
  const c = vscode.workspace.getConfiguration('s3Backup.appData');
  const cats = c.get<unknown>('categories');
  const ignored = c.get<unknown>('ignoredSettings');
  return {
    categories: Array.isArray(cats) ? APPDATA_CATEGORIES.filter((k) => cats.includes(k)) : [...APPDATA_CATEGORIES],
    ignoredSettings: Array.isArray(ignored) ? ignored.filter((p): p is string => typeof p === 'string' && p.trim() !== '') : [...DEFAULT_IGNORED_SETTINGS],
    includeSecretSettings: c.get<unknown>('includeSecretSettings') === true,
  };
}

/**
 * The `User` folder of this VS Code's user data: `globalStorageUri` is
 * `<user-data-dir>/User/globalStorage/<publisher.name>` in desktop VS Code,
 * VSCodium and code-server, so it is two levels up. Throws where app data is
 * not on this computer's file system (VS Code for the Web).
 */
export function userDirFromContext(context: vscode.ExtensionContext): string {
  const uri = context.globalStorageUri;
  const dir = path.dirname(path.dirname(uri.fsPath));
  if (uri.scheme !== 'file' || path.basename(path.dirname(uri.fsPath)) !== 'globalStorage') {
    throw new BackupError('NotFound', `The VS Code user folder cannot be found from ${uri.toString()}.`, 'App data can only be backed up where VS Code keeps it on disk.', {
      params: { path: uri.toString(), reason: 'userDir' },
    });
  }
  return dir;
}

interface InstalledRecord {
  identifier?: { id?: string };
  version?: string;
}

/**
 * The extensions the user installed (built-ins left out), with their
 * version. `vscode.extensions.all` lists only enabled ones; the extension
 * folders' own `extensions.json` (VS Code 1.74+) adds the disabled ones.
 */
export function installedExtensions(): ExtensionEntry[] {
  const out = new Map<string, ExtensionEntry>();
  const dirs = new Set<string>();
  for (const ext of vscode.extensions.all) {
    const pkg = ext.packageJSON as { isBuiltin?: boolean; isUnderDevelopment?: boolean; version?: string };
    if (pkg.isBuiltin || ext.id.startsWith('vscode.')) continue;
    out.set(ext.id.toLowerCase(), { id: ext.id, version: String(pkg.version ?? ''), enabled: true });
    if (!pkg.isUnderDevelopment) dirs.add(path.dirname(ext.extensionPath));
  }
  for (const dir of dirs) {
    let list: InstalledRecord[];
    try {
      list = JSON.parse(fs.readFileSync(path.join(dir, 'extensions.json'), 'utf8')) as InstalledRecord[];
    } catch {
      continue;
    }
    if (!Array.isArray(list)) continue;
    for (const r of list) {
      const id = r?.identifier?.id;
      if (typeof id !== 'string' || out.has(id.toLowerCase())) continue;
      out.set(id.toLowerCase(), { id, version: String(r.version ?? ''), enabled: false });
    }
  }
  return [...out.values()];
}

/** Test mode only: another user folder stands in for this machine's (a second "machine"). */
export interface AppDataTestOptions {
  userDir?: string;
}

/** The user folder to work on: this VS Code's, or in Test mode the one a test names. */
export function userDirFor(context: vscode.ExtensionContext, o?: AppDataTestOptions): string {
  if (o?.userDir && context.extensionMode === vscode.ExtensionMode.Test) return o.userDir;
  return userDirFromContext(context);
}

/** What "Back Up App Data" takes, per `s3Backup.appData.*`. */
export function appDataSelection(context: vscode.ExtensionContext, o?: AppDataTestOptions): AppDataSelection {
  const cfg = readAppDataConfig();
  return {
    userDir: userDirFor(context, o),
    categories: cfg.categories,
    ignoredSettings: cfg.ignoredSettings,
    includeSecretSettings: cfg.includeSecretSettings,
    extensions: cfg.categories.includes('extensions') ? installedExtensions() : undefined,
  };
}
