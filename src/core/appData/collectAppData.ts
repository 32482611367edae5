import * as fs from 'fs';
import * as path from 'path';
import type { ArchiveSource } from '../archive/entries';
import { BackupError, throwIfAborted } from '../util/engineErrors';
import { archivePathProblem } from '../util/paths';
import { LEFT_OUT_SETTINGS_FILE } from '../format/appDataLayout';
import { APPDATA_CATEGORIES, APPDATA_PREFIX, DEFAULT_IGNORED_SETTINGS, effectiveIgnoredSettings, type AppDataCategory, type ExtensionEntry, type ProfileEntry } from './categories';
import { stripSecretSettings } from './secretSettings';
import { stripIgnoredSettings } from './settingsMerge';
import { readIfFile } from './userFiles';

export interface CollectAppDataOptions {
  categories?: readonly AppDataCategory[];
  /** Setting keys (globs with `*`) kept out of the archive. */
  ignoredSettings?: readonly string[];
  /** The installed extensions; only VS Code knows them, so the caller lists them. */
  extensions?: readonly ExtensionEntry[];
  /** Keep settings that look like secrets (default: left out, their names recorded in `appdata/left-out-settings.json`). */
  includeSecretSettings?: boolean;
  signal?: AbortSignal;
}

async function walkFiles(dir: string, rel = ''): Promise<string[]> {
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(path.join(dir, rel), { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw e;
  }
  const out: string[] = [];
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walkFiles(dir, r)));
    else if (e.isFile() && archivePathProblem(r) === undefined) out.push(r);
  }
  return out.sort();
}

/** The profiles VS Code knows (from `<User>/globalStorage/storage.json`), other than the default one. */
async function listProfiles(userDir: string): Promise<ProfileEntry[]> {
  const file = await readIfFile(path.join(userDir, 'globalStorage', 'storage.json'));
  let listed: ProfileEntry[] = [];
  if (file) {
    try {
      const doc = JSON.parse(file.data.toString('utf8')) as { userDataProfiles?: Array<{ location?: unknown; name?: unknown }> };
      listed = (doc.userDataProfiles ?? [])
        .filter((p) => typeof p.location === 'string' && typeof p.name === 'string')
        .map((p) => ({ id: String(p.location).split(/[\\/]/).pop()!, name: String(p.name) }));
    } catch {
      /* VS Code owns this file; a damaged one only costs the profile names */
    }
  }
  const out: ProfileEntry[] = [];
  let dirs: string[] = [];
  try {
    dirs = (await fs.promises.readdir(path.join(userDir, 'profiles'), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    /* no profiles */
  }
  for (const id of dirs.sort()) {
    if (archivePathProblem(id) !== undefined) continue;
    out.push({ id, name: listed.find((p) => p.id === id)?.name ?? id });
  }
  return out;
}

/** The files of one settings set (the default profile is `<User>` itself), relative to its folder. */
async function profileFiles(dir: string, categories: ReadonlySet<AppDataCategory>): Promise<string[]> {
  const out: string[] = [];
  if (categories.has('settings')) out.push('settings.json');
  if (categories.has('keybindings')) out.push('keybindings.json');
  if (categories.has('tasks')) out.push('tasks.json');
  if (categories.has('snippets')) out.push(...(await walkFiles(path.join(dir, 'snippets'))).map((r) => `snippets/${r}`));
  return out;
}

/**
 * The app data of a VS Code user folder (`<user-data-dir>/User`) as archive
 * entries under `appdata/`: settings.json (without the ignored keys),
 * keybindings.json, snippets/**, tasks.json, profiles/<id>/... with
 * profiles.json naming them, and extensions.json from the caller's list.
 * Settings that look like secrets are left out unless `includeSecretSettings`,
 * and their names (never their values) listed in left-out-settings.json.
 * Missing files are simply absent. Nothing is read outside `userDir`.
 */
export async function collectAppData(userDir: string, o: CollectAppDataOptions = {}): Promise<ArchiveSource[]> {
  const categories = new Set(o.categories ?? APPDATA_CATEGORIES);
  const patterns = effectiveIgnoredSettings(o.ignoredSettings ?? DEFAULT_IGNORED_SETTINGS);
  const out: ArchiveSource[] = [];
  const leftOut: Record<string, string[]> = {};
  const add = (archivePath: string, data: Buffer, st?: fs.Stats): void => {
    out.push({ archivePath, data, size: data.length, mtimeMs: st?.mtimeMs ?? Date.now(), mode: st ? (st.mode & 0o777) | 0o600 : 0o644 });
  };
  const addSet = async (dir: string, prefix: string): Promise<void> => {
    for (const rel of await profileFiles(dir, categories)) {
      throwIfAborted(o.signal);
      let f: Awaited<ReturnType<typeof readIfFile>>;
      try {
        f = await readIfFile(path.join(dir, ...rel.split('/')));
      } catch (e) {
        throw new BackupError('Io', `"${path.join(dir, rel)}" cannot be read.`, 'Check the permissions of the VS Code user folder.', {
          cause: e,
          params: { path: path.join(dir, rel) },
        });
      }
      if (!f) continue;
      let data = f.data;
      if (rel === 'settings.json') {
        const text = data.toString('utf8');
        try {
          let kept = stripIgnoredSettings(text, patterns);
          if (!o.includeSecretSettings) {
            const s = stripSecretSettings(kept);
            kept = s.text;
            if (s.leftOut.length > 0) leftOut[prefix === APPDATA_PREFIX ? rel : `${prefix.slice(APPDATA_PREFIX.length + 1)}/${rel}`] = s.leftOut;
          }
          data = Buffer.from(kept, 'utf8');
        } catch {
          // Never archive a file whose ignored keys could not be told apart: it might hold a machine's secrets.
          continue;
        }
      }
      add(`${prefix}/${rel}`, data, f.st);
    }
  };
  await addSet(userDir, APPDATA_PREFIX);
  if (categories.has('profiles')) {
    const profiles = await listProfiles(userDir);
    for (const p of profiles) {
      await addSet(path.join(userDir, 'profiles', p.id), `${APPDATA_PREFIX}/profiles/${p.id}`);
      const ext = await readIfFile(path.join(userDir, 'profiles', p.id, 'extensions.json')).catch(() => undefined);
      if (ext && categories.has('extensions')) add(`${APPDATA_PREFIX}/profiles/${p.id}/extensions.json`, ext.data, ext.st);
    }
    if (profiles.length > 0) add(`${APPDATA_PREFIX}/profiles.json`, Buffer.from(JSON.stringify(profiles, null, 2) + '\n'));
  }
  if (Object.keys(leftOut).length > 0) add(`${APPDATA_PREFIX}/${LEFT_OUT_SETTINGS_FILE}`, Buffer.from(JSON.stringify(leftOut, null, 2) + '\n'));
  if (categories.has('extensions') && o.extensions) {
    const list = [...o.extensions]
      .filter((e) => typeof e.id === 'string' && e.id !== '')
      .map((e) => ({ id: e.id, version: String(e.version ?? ''), enabled: e.enabled !== false }))
      .sort((a, b) => a.id.localeCompare(b.id));
    add(`${APPDATA_PREFIX}/extensions.json`, Buffer.from(JSON.stringify(list, null, 2) + '\n'));
  }
  return out;
}
