import * as fs from 'fs';
import * as path from 'path';
import type { Manifest } from '../format/manifest';
import { BackupError, throwIfAborted } from '../util/engineErrors';
import { sha256Of } from '../util/fileHash';
import { archivePathProblem, resolveInside } from '../util/paths';
import { DEFAULT_IGNORED_SETTINGS, effectiveIgnoredSettings, type AppDataCategory, type ExtensionEntry, type ProfileEntry } from './categories';
import { readAppData, categoryOf, type AppDataContent } from './readAppData';
import { addKeybindings, addSnippets, mergeSettings, replaceSettings, type SettingsMergeSummary } from './settingsMerge';
import { readIfFile } from './userFiles';

/** How each category is restored; a category left out is not touched. */
export interface AppDataRestoreChoice {
  /** 'merge': the backup's keys win, local-only keys and comments stay. 'replace': the backup's file (ignored keys stay local). */
  settings?: 'merge' | 'replace';
  /** 'add': bindings not here yet are appended. 'replace': the backup's file. */
  keybindings?: 'add' | 'replace';
  /** 'add': new snippet files, and snippets missing from files both have. 'replace': the backup's files overwrite same-named ones. */
  snippets?: 'add' | 'replace';
  tasks?: 'replace';
  /** Profile folders' files, restored like the default profile's with the same modes. */
  profiles?: 'replace' | 'add';
}

export type AppDataAction = 'create' | 'overwrite' | 'unchanged';

export interface AppDataChange {
  category: AppDataCategory;
  /** POSIX path relative to the user folder, e.g. `snippets/ts.json`. */
  relPath: string;
  targetPath: string;
  action: AppDataAction;
  /** The content to write. */
  data: Buffer;
  /** sha256 of the local file when planned ('' when absent): apply refuses if it changed since. */
  baseSha256: string;
  /** settings: what the merge or replace does to keys; keybindings/snippets 'add': entries added. */
  settings?: SettingsMergeSummary;
  added?: number;
}

export interface AppDataPlan {
  userDir: string;
  backup: { created: string; hostname: string; kind: string };
  changes: AppDataChange[];
  /** The backup's extension list (the face compares it with what is installed). */
  extensions: ExtensionEntry[];
  profiles: ProfileEntry[];
  counts: Record<AppDataAction, number>;
  /** Per settings file (relative to the user folder): the settings the backup left out because they look like secrets (names only). */
  leftOutSettings: Record<string, string[]>;
}

async function currentTarget(userDir: string, rel: string): Promise<{ targetPath: string; data?: Buffer }> {
  const joined = resolveInside(userDir, rel);
  if (!joined) throw new BackupError('UnsafeArchive', `The backup would write "${rel}" outside the user folder.`, 'Nothing was restored.', { params: { entry: rel, detail: 'path' } });
  let targetPath = joined;
  const st = await fs.promises.lstat(joined).catch(() => undefined);
  if (st?.isSymbolicLink()) {
    // Dotfile set-ups link settings.json elsewhere: write through the link, keep it a link.
    targetPath = await fs.promises.realpath(joined).catch(() => joined);
  }
  if (st?.isDirectory()) {
    throw new BackupError('AlreadyExists', `A folder is in the way of "${rel}" at ${joined}.`, 'Move it away, then try again.', { params: { entry: rel, path: joined } });
  }
  const f = await readIfFile(targetPath).catch(() => undefined);
  return { targetPath, data: f?.data };
}

/**
 * Works out what restoring app data into `userDir` would write, per the
 * user's choice, without writing anything. `ignoredSettings` are the local
 * machine's patterns: those keys keep their local values, as do the
 * settings that always stay local (ALWAYS_IGNORED_SETTINGS) and those the
 * backup left out as secrets.
 */
export async function planAppDataRestore(
  archiveFile: string,
  manifest: Manifest,
  userDir: string,
  choice: AppDataRestoreChoice,
  o: { ignoredSettings?: readonly string[]; content?: AppDataContent; signal?: AbortSignal } = {},
): Promise<AppDataPlan> {
  const content = o.content ?? (await readAppData(archiveFile, { signal: o.signal }));
  const patterns = effectiveIgnoredSettings(o.ignoredSettings ?? DEFAULT_IGNORED_SETTINGS);
  // Settings the backup left out as secrets keep their local values, also on Replace.
  const patternsFor = (rel: string): string[] => [...patterns, ...(content.leftOutSettings[rel] ?? []).filter((n) => !n.includes('*'))];
  const changes: AppDataChange[] = [];
  const plan = async (
    category: AppDataCategory,
    rel: string,
    mode: 'merge' | 'replace' | 'add',
    backup: Buffer,
  ): Promise<void> => {
    const { targetPath, data: local } = await currentTarget(userDir, rel);
    const base = path.posix.basename(rel);
    const dirName = path.posix.basename(path.posix.dirname(rel));
    let data = backup;
    let settings: SettingsMergeSummary | undefined;
    let added: number | undefined;
    const localText = local?.toString('utf8') ?? '';
    const backupText = backup.toString('utf8');
    if (base === 'settings.json' && (dirName === '.' || rel.startsWith('profiles/'))) {
      const r = mode === 'merge' ? mergeSettings(localText, backupText, patternsFor(rel)) : replaceSettings(localText, backupText, patternsFor(rel));
      data = Buffer.from(r.text, 'utf8');
      settings = r.summary;
    } else if (local && mode === 'add' && base === 'keybindings.json') {
      const r = addKeybindings(localText, backupText);
      data = Buffer.from(r.text, 'utf8');
      added = r.added;
    } else if (local && mode === 'add' && rel.includes('snippets/')) {
      try {
        const r = addSnippets(localText, backupText);
        data = Buffer.from(r.text, 'utf8');
        added = r.added;
      } catch {
        data = local; // not a snippets file we understand: leave it
      }
    } else if (local && mode === 'add') {
      data = local;
    }
    const action: AppDataAction = !local ? 'create' : local.equals(data) ? 'unchanged' : 'overwrite';
    changes.push({ category, relPath: rel, targetPath, action, data, baseSha256: local ? sha256Of(local) : '', settings, added });
  };

  for (const [rel, backup] of [...content.files.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    throwIfAborted(o.signal);
    const category = categoryOf(rel);
    if (!category || category === 'extensions' || rel === 'profiles.json') continue;
    if (archivePathProblem(rel) !== undefined) continue;
    if (category === 'profiles') {
      if (!choice.profiles || rel.endsWith('/extensions.json')) continue;
      await plan('profiles', rel, choice.profiles === 'add' ? 'add' : rel.endsWith('/settings.json') ? (choice.settings ?? 'replace') : 'replace', backup);
      continue;
    }
    const mode = choice[category as Exclude<AppDataCategory, 'extensions' | 'profiles'>];
    if (!mode) continue;
    await plan(category, rel, mode, backup);
  }
  const counts: Record<AppDataAction, number> = { create: 0, overwrite: 0, unchanged: 0 };
  for (const c of changes) counts[c.action]++;
  return {
    userDir,
    backup: { created: manifest.created, hostname: manifest.hostname, kind: manifest.kind },
    changes,
    extensions: content.extensions,
    profiles: content.profiles,
    counts,
    leftOutSettings: content.leftOutSettings,
  };
}
