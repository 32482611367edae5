import { openArchive } from '../archive/openArchive';
import { isAppDataFile, LEFT_OUT_SETTINGS_FILE } from '../format/appDataLayout';
import { archivePathProblem } from '../util/paths';
import { APPDATA_CATEGORIES, APPDATA_PREFIX, type AppDataCategory, type ExtensionEntry, type ProfileEntry } from './categories';
import { MAX_FILE_BYTES } from './userFiles';

/** The app data of a downloaded backup, read into memory (it is small). */
export interface AppDataContent {
  /** Path relative to `appdata/` -> content. */
  files: Map<string, Buffer>;
  extensions: ExtensionEntry[];
  profiles: ProfileEntry[];
  /** The categories the backup holds something for. */
  categories: AppDataCategory[];
  /** Per settings file (relative to `appdata/`): the settings the backup left out because they look like secrets (names only). */
  leftOutSettings: Record<string, string[]>;
}

export function categoryOf(rel: string): AppDataCategory | undefined {
  if (rel === 'extensions.json') return 'extensions';
  if (rel === 'profiles.json' || rel.startsWith('profiles/')) return 'profiles';
  if (rel === 'settings.json') return 'settings';
  if (rel === 'keybindings.json') return 'keybindings';
  if (rel === 'tasks.json') return 'tasks';
  if (rel.startsWith('snippets/')) return 'snippets';
  return undefined;
}

/** Reads every `appdata/` entry of a verified archive (each checked against the manifest again while read). */
export async function readAppData(archiveFile: string, o: { signal?: AbortSignal } = {}): Promise<AppDataContent> {
  const a = await openArchive(archiveFile, { signal: o.signal });
  const files = new Map<string, Buffer>();
  try {
    for (const e of a.entries) {
      if (!e.name.startsWith(`${APPDATA_PREFIX}/`)) continue;
      // Only the files an app data backup takes (the manifest check refuses others; this keeps them out regardless).
      if (e.size > MAX_FILE_BYTES || !isAppDataFile(e.name.slice(APPDATA_PREFIX.length + 1))) continue;
      const chunks: Buffer[] = [];
      await a.read(e, (c) => void chunks.push(Buffer.from(c)), o.signal);
      files.set(e.name.slice(APPDATA_PREFIX.length + 1), Buffer.concat(chunks));
    }
  } finally {
    await a.close();
  }
  return appDataContentOf(files);
}

/** App data files (paths relative to `appdata/`) as the restore sees them: contents, extension and profile lists, categories. */
export function appDataContentOf(files: Map<string, Buffer>): AppDataContent {
  const json = <T>(rel: string, fallback: T): T => {
    const b = files.get(rel);
    if (!b) return fallback;
    try {
      return JSON.parse(b.toString('utf8')) as T;
    } catch {
      return fallback;
    }
  };
  const extensions = json<unknown[]>('extensions.json', [])
    .filter((x): x is ExtensionEntry => !!x && typeof (x as ExtensionEntry).id === 'string')
    .map((x) => ({ id: x.id, version: String(x.version ?? ''), enabled: x.enabled !== false }));
  const profiles = json<unknown[]>('profiles.json', []).filter(
    (x): x is ProfileEntry => !!x && typeof (x as ProfileEntry).id === 'string' && archivePathProblem((x as ProfileEntry).id) === undefined,
  );
  const cats = new Set<AppDataCategory>();
  for (const rel of files.keys()) {
    const c = categoryOf(rel);
    if (c) cats.add(c);
  }
  return { files, extensions, profiles, categories: APPDATA_CATEGORIES.filter((c) => cats.has(c)), leftOutSettings: leftOutSettingsOf(json<unknown>(LEFT_OUT_SETTINGS_FILE, {})) };
}

/** The record of left-out settings, as plain names: anything else in it is dropped (it comes from the archive). */
function leftOutSettingsOf(raw: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return out;
  for (const [file, names] of Object.entries(raw as Record<string, unknown>)) {
    if (categoryOf(file) === undefined || !file.endsWith('settings.json') || !Array.isArray(names)) continue;
    const list = names.filter((n): n is string => typeof n === 'string' && n !== '' && n.length <= 256).slice(0, 1000);
    if (list.length > 0) out[file] = list;
  }
  return out;
}
