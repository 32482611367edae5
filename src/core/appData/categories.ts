// The parts of app data, as names and constants: light enough for the VS Code face to import.

/** What app data is made of; each is backed up and restored on its own. */
export type AppDataCategory = 'settings' | 'keybindings' | 'snippets' | 'tasks' | 'profiles' | 'extensions';
export const APPDATA_CATEGORIES: readonly AppDataCategory[] = ['settings', 'keybindings', 'snippets', 'tasks', 'profiles', 'extensions'];
export { APPDATA_PREFIX } from '../format/appDataLayout';

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

/**
 * Settings a backup never carries, whatever `s3Backup.appData.ignoredSettings`
 * says: they name programs that VS Code or an extension runs, give terminals
 * their environment or commands, or turn a security check off, so a planted
 * backup could use them to run code or weaken this machine. This extension's
 * own settings are here too: a backup must not change where backups go or
 * what they leave out. Matched at any depth (`"git": {"path": ...}` is
 * git.path), in either direction (left out of backups, never restored).
 */
export const ALWAYS_IGNORED_SETTINGS: readonly string[] = [
  's3Backup.*',
  '*Path', // git.path, python.defaultInterpreterPath, typescript.tsserver.nodePath, C_Cpp.default.compilerPath, ... (any case)
  '*.path',
  '*.executablePath',
  '*compilerPath',
  '*Executable', // debug.javascript.defaultRuntimeExecutable, ...
  'typescript.tsdk',
  'terminal.integrated.env.*',
  'terminal.integrated.shell.*',
  'terminal.integrated.shellArgs.*',
  'terminal.integrated.profiles.*',
  'terminal.integrated.defaultProfile.*',
  'terminal.integrated.automationProfile.*',
  'terminal.integrated.autoReplies', // types text into terminals by itself
  'terminal.external.*',
  'go.goroot',
  'go.alternateTools',
  'java.home',
  'java.jdt.ls.java.home',
  'java.configuration.runtimes',
  'code-runner.executorMap*',
  'mcp', // MCP servers: programs VS Code starts
  'mcp.*',
  'chat.mcp.*',
  'security.*', // workspace trust, UNC hosts
  'task.allowAutomaticTasks',
  'http.*', // proxies and certificate checks (http.proxyStrictSSL)
];

/** The patterns a backup or restore applies: the user's machine-specific ones and those it always applies. */
export function effectiveIgnoredSettings(userPatterns: readonly string[]): string[] {
  return [...userPatterns, ...ALWAYS_IGNORED_SETTINGS];
}

/** The backup's extensions that are not installed here (ids compare without regard to case). */
export function missingExtensions(backup: readonly ExtensionEntry[], installedIds: Iterable<string>): ExtensionEntry[] {
  const have = new Set([...installedIds].map((i) => i.toLowerCase()));
  return backup.filter((e) => !have.has(e.id.toLowerCase()));
}
