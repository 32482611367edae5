// The files an app data backup holds under `appdata/`, and nothing else: the
// one list both the backup (appData/collectAppData.ts) and the restore's
// checks use, so a backup holding anything more (an executable planted in a
// profile's globalStorage, say) is recognised as not ours.

export const APPDATA_PREFIX = 'appdata';

/** `appdata/<this>`: the names of the settings a backup left out because they look like secrets (names only). */
export const LEFT_OUT_SETTINGS_FILE = 'left-out-settings.json';

/** The files of one settings set: the default profile is the user folder itself, the others `profiles/<id>/`. */
const SET_FILES: ReadonlySet<string> = new Set(['settings.json', 'keybindings.json', 'tasks.json']);

/** Whether `rel` (relative to one settings set's folder) is a file the backup takes from it. */
function isSetFile(rel: string, inProfile: boolean): boolean {
  if (SET_FILES.has(rel)) return true;
  if (inProfile && rel === 'extensions.json') return true;
  return rel.startsWith('snippets/') && rel.length > 'snippets/'.length;
}

/**
 * Whether `rel` (relative to `appdata/`, POSIX, already a safe archive path)
 * is a file an app data backup holds: settings.json, keybindings.json,
 * tasks.json and snippets/** of the default profile and of each
 * `profiles/<id>/` (plus that profile's extensions.json), profiles.json,
 * extensions.json and the list of left-out settings.
 */
export function isAppDataFile(rel: string): boolean {
  if (rel === 'profiles.json' || rel === 'extensions.json' || rel === LEFT_OUT_SETTINGS_FILE) return true;
  const m = /^profiles\/([^/]+)\/(.+)$/.exec(rel);
  if (m) return isSetFile(m[2], true);
  return isSetFile(rel, false);
}

/**
 * The setting names a backup's app data entries left out as secrets, from
 * the `appdata/left-out-settings.json` entry among them (names only).
 */
export function leftOutSettingNames(entries: readonly { archivePath: string; data?: Buffer }[]): string[] {
  const e = entries.find((x) => x.archivePath === `${APPDATA_PREFIX}/${LEFT_OUT_SETTINGS_FILE}`);
  if (!e?.data) return [];
  try {
    const doc = JSON.parse(e.data.toString('utf8')) as Record<string, unknown>;
    return Object.values(doc).flatMap((v) => (Array.isArray(v) ? v.filter((n): n is string => typeof n === 'string') : []));
  } catch {
    return [];
  }
}
