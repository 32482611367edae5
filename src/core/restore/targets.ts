// Where a backup's folders land on restore: the one rule the CLI and the
// extension share. Plain functions of names and paths; no file system access.
import * as path from 'path';

const WORKSPACE = 'workspace/';

/** The workspace folders a backup holds, as archive prefixes (`workspace/<name>`), sorted. */
export function workspacePrefixes(manifest: { files: readonly { path: string }[]; sources?: readonly string[] }): string[] {
  const prefixes = new Set<string>();
  for (const s of manifest.sources ?? []) {
    const parts = s.split('/');
    if (parts[0] === 'workspace' && parts.length === 2 && parts[1]) prefixes.add(s);
  }
  // Files too: a folder whose source line is missing still has its files restored.
  for (const f of manifest.files) {
    const parts = f.path.split('/');
    if (parts[0] === 'workspace' && parts.length > 2) prefixes.add(`workspace/${parts[1]}`);
  }
  return [...prefixes].sort();
}

/** The folder name a prefix stands for (`workspace/app` -> `app`). */
export function folderName(prefix: string): string {
  return prefix.startsWith(WORKSPACE) ? prefix.slice(WORKSPACE.length) : prefix;
}

/**
 * Restoring into one chosen folder: a backup of one folder lands directly
 * in `dir`; a backup of several lands in `dir/<folder name>` each, so they
 * cannot overwrite one another.
 */
export function targetsInFolder(prefixes: readonly string[], dir: string): Record<string, string> {
  if (prefixes.length === 1) return { [prefixes[0]]: dir };
  return Object.fromEntries(prefixes.map((p) => [p, path.join(dir, folderName(p))]));
}

/**
 * Restoring onto open workspace folders: each backed-up folder onto the open
 * folder of the same name; a backup of one folder onto the only open folder
 * whatever its name. Undefined when some folder has no match (ask the user).
 */
export function targetsOnFolders(prefixes: readonly string[], folders: readonly { name: string; path: string }[]): Record<string, string> | undefined {
  if (prefixes.length === 1 && folders.length === 1) return { [prefixes[0]]: folders[0].path };
  const targets: Record<string, string> = {};
  for (const p of prefixes) {
    const f = folders.find((w) => w.name === folderName(p));
    if (!f) return undefined;
    targets[p] = f.path;
  }
  return prefixes.length > 0 ? targets : undefined;
}
