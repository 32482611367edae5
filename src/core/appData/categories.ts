// The parts of app data, as names and constants: light enough for the VS Code face to import.

/** What app data is made of; each is backed up and restored on its own. */
export type AppDataCategory = 'settings' | 'keybindings' | 'snippets' | 'tasks' | 'profiles' | 'extensions';
export const APPDATA_CATEGORIES: readonly AppDataCategory[] = ['settings', 'keybindings', 'snippets', 'tasks', 'profiles', 'extensions'];
export const APPDATA_PREFIX = 'appdata';

/** One installed extension, as listed in `appdata/extensions.json`. */
export interface ExtensionEntry {
  id: string;
  version: string;
  enabled: boolean;
}

/** A VS Code profile other than the default one: `<User>/profiles/<id>/`. */
export interface ProfileEntry {
  id: string;
  name: string;
}

/**
 * Machine-specific settings left out of backups and never overwritten by a
 * restore (the face reads the user's list from `s3Backup.appData.ignoredSettings`).
 * `*` matches any run of characters, dots included.
 */
export const DEFAULT_IGNORED_SETTINGS: readonly string[] = [
  'window.zoomLevel',
  'terminal.integrated.shell.*',
  'terminal.integrated.shellArgs.*',
  'terminal.integrated.defaultProfile.*',
  'terminal.integrated.profiles.*',
  'terminal.integrated.automationProfile.*',
  'terminal.integrated.cwd',
  'terminal.external.*',
  'remote.SSH.*',
  'python.defaultInterpreterPath',
  'python.pythonPath',
  'python.condaPath',
  'python.venvPath',
  'http.proxy',
  'http.proxyAuthorization',
  'http.noProxy',
  'git.path',
  'go.goroot',
  'go.gopath',
  'java.home',
  'java.jdt.ls.java.home',
  'java.configuration.runtimes',
  '*.executablePath',
  '*.path',
];

/** The backup's extensions that are not installed here (ids compare without regard to case). */
export function missingExtensions(backup: readonly ExtensionEntry[], installedIds: Iterable<string>): ExtensionEntry[] {
  const have = new Set([...installedIds].map((i) => i.toLowerCase()));
  return backup.filter((e) => !have.has(e.id.toLowerCase()));
}
