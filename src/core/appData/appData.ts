import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { applyEdits, modify, parse, parseTree, findNodeAtLocation, type FormattingOptions, type ParseError } from 'jsonc-parser';
import { openArchive } from '../archive/openArchive';
import type { ArchiveSource } from '../archive/archiveWriter';
import { BackupError, throwIfAborted } from '../util/engineErrors';
import type { Manifest } from '../format/manifest';
import { archivePathProblem, isInside, resolveInside } from '../util/paths';
import type { RestoreResult } from '../restore/applyRestore';

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

export interface CollectAppDataOptions {
  categories?: readonly AppDataCategory[];
  /** Setting keys (globs with `*`) kept out of the archive. */
  ignoredSettings?: readonly string[];
  /** The installed extensions; only VS Code knows them, so the caller lists them. */
  extensions?: readonly ExtensionEntry[];
  signal?: AbortSignal;
}

const MAX_FILE_BYTES = 16 * 1024 * 1024;

function ignoreMatcher(patterns: readonly string[]): (key: string) => boolean {
  const res = patterns
    .filter((p) => typeof p === 'string' && p.trim() !== '')
    .map((p) => new RegExp('^' + p.trim().split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 'i'));
  return (key) => res.some((re) => re.test(key));
}

/** Whether a setting key matches one of the ignore patterns (`*` matches anything, dots included). */
export function isIgnoredSetting(key: string, patterns: readonly string[]): boolean {
  return ignoreMatcher(patterns)(key);
}

function formattingOf(text: string): FormattingOptions {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const m = /\n([ \t]+)\S/.exec(text);
  if (m && m[1].startsWith('\t')) return { insertSpaces: false, tabSize: 4, eol };
  return { insertSpaces: true, tabSize: m ? Math.min(8, m[1].length) : 4, eol };
}

function parseObject(text: string, what: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  const errors: ParseError[] = [];
  const v = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0 || v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new BackupError('Io', `${what} is not valid JSON with comments.`, 'Fix the file, or choose Replace.', { params: { path: what, reason: 'invalidJson' } });
  }
  return v as Record<string, unknown>;
}

function parseArray(text: string, what: string): unknown[] {
  if (text.trim() === '') return [];
  const errors: ParseError[] = [];
  const v = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0 || !Array.isArray(v)) {
    throw new BackupError('Io', `${what} is not a valid JSON list.`, 'Fix the file, or choose Replace.', { params: { path: what, reason: 'invalidJson' } });
  }
  return v;
}

const isLanguageBlock = (key: string): boolean => /^\[.+\]$/.test(key);

/** The keys of a settings object that the patterns match, as JSON paths (top level and inside `[language]` blocks). */
function ignoredPaths(obj: Record<string, unknown>, ignored: (k: string) => boolean): string[][] {
  const out: string[][] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (isLanguageBlock(k) && v && typeof v === 'object' && !Array.isArray(v)) {
      for (const sub of Object.keys(v as object)) if (ignored(sub)) out.push([k, sub]);
    } else if (ignored(k)) {
      out.push([k]);
    }
  }
  return out;
}

/** settings.json without the ignored keys; comments and layout are kept. */
export function stripIgnoredSettings(text: string, patterns: readonly string[]): string {
  const obj = parseObject(text, 'settings.json');
  const fmt = formattingOf(text);
  let out = text;
  for (const p of ignoredPaths(obj, ignoreMatcher(patterns))) out = applyEdits(out, modify(out, p, undefined, { formattingOptions: fmt }));
  return out;
}

export interface SettingsMergeSummary {
  /** Keys the backup adds here. */
  added: number;
  /** Keys whose value the backup changes. */
  changed: number;
  /** Keys only this machine has (kept by merge, dropped by replace). */
  localOnly: number;
  /** Ignored keys whose local value stays. */
  ignoredKept: number;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * Merges a backup's settings.json into the local one: the backup's keys win
 * (inside `[language]` blocks key by key), keys only here and every comment
 * here are kept, and ignored keys keep their local value whatever the backup says.
 */
export function mergeSettings(localText: string, backupText: string, patterns: readonly string[]): { text: string; summary: SettingsMergeSummary } {
  const ignored = ignoreMatcher(patterns);
  const local = parseObject(localText, 'settings.json');
  const backup = parseObject(backupText, 'settings.json (backup)');
  const summary: SettingsMergeSummary = { added: 0, changed: 0, localOnly: 0, ignoredKept: 0 };
  let text = localText.trim() === '' ? '{\n}\n' : localText;
  const fmt = formattingOf(text);
  const set = (p: string[], v: unknown): void => {
    text = applyEdits(text, modify(text, p, v, { formattingOptions: fmt }));
  };
  for (const [k, v] of Object.entries(backup)) {
    const lv = local[k];
    if (isLanguageBlock(k) && v && typeof v === 'object' && !Array.isArray(v) && lv && typeof lv === 'object' && !Array.isArray(lv)) {
      for (const [sk, sv] of Object.entries(v as Record<string, unknown>)) {
        if (ignored(sk)) continue;
        const lsv = (lv as Record<string, unknown>)[sk];
        if (lsv === undefined) summary.added++;
        else if (!same(lsv, sv)) summary.changed++;
        else continue;
        set([k, sk], sv);
      }
      continue;
    }
    if (ignored(k)) {
      if (lv !== undefined) summary.ignoredKept++;
      continue;
    }
    if (lv === undefined) summary.added++;
    else if (!same(lv, v)) summary.changed++;
    else continue;
    set([k], isLanguageBlock(k) && v && typeof v === 'object' ? stripKeys(v as Record<string, unknown>, ignored) : v);
  }
  for (const k of Object.keys(local)) if (!(k in backup)) summary.localOnly++;
  return { text, summary };
}

function stripKeys(o: Record<string, unknown>, ignored: (k: string) => boolean): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !ignored(k)));
}

/**
 * The backup's settings.json in place of the local one, except that ignored
 * keys keep their local values (a backup made with a shorter ignore list may
 * hold some: they are dropped).
 */
export function replaceSettings(localText: string, backupText: string, patterns: readonly string[]): { text: string; summary: SettingsMergeSummary } {
  const ignored = ignoreMatcher(patterns);
  const local = localText.trim() === '' ? {} : parseObject(localText, 'settings.json');
  const backup = parseObject(backupText, 'settings.json (backup)');
  let text = stripIgnoredSettings(backupText.trim() === '' ? '{\n}\n' : backupText, patterns);
  const fmt = formattingOf(text);
  const summary: SettingsMergeSummary = { added: 0, changed: 0, localOnly: 0, ignoredKept: 0 };
  for (const p of ignoredPaths(local, ignored)) {
    const v = p.length === 1 ? local[p[0]] : (local[p[0]] as Record<string, unknown>)[p[1]];
    if (p.length === 2 && !findNodeAtLocation(parseTree(text)!, [p[0]])) {
      text = applyEdits(text, modify(text, [p[0]], { [p[1]]: v }, { formattingOptions: fmt }));
    } else {
      text = applyEdits(text, modify(text, p, v, { formattingOptions: fmt }));
    }
    summary.ignoredKept++;
  }
  for (const [k, v] of Object.entries(backup)) {
    if (!isLanguageBlock(k) && ignored(k)) continue;
    if (local[k] === undefined) summary.added++;
    else if (!same(local[k], v)) summary.changed++;
  }
  for (const k of Object.keys(local)) if (!(k in backup) && !ignored(k)) summary.localOnly++;
  return { text, summary };
}

const bindingKey = (b: unknown): string => {
  const o = (b ?? {}) as Record<string, unknown>;
  return JSON.stringify([o.key, o.command, o.when ?? null, o.args ?? null]);
};

/** Adds the backup's keybindings that are not here yet at the end of the local list; comments are kept. */
export function addKeybindings(localText: string, backupText: string): { text: string; added: number } {
  const local = parseArray(localText, 'keybindings.json');
  const backup = parseArray(backupText, 'keybindings.json (backup)');
  const have = new Set(local.map(bindingKey));
  let text = localText.trim() === '' ? '[\n]\n' : localText;
  const fmt = formattingOf(text);
  let n = local.length;
  let added = 0;
  for (const b of backup) {
    const k = bindingKey(b);
    if (have.has(k)) continue;
    have.add(k);
    text = applyEdits(text, modify(text, [n++], b, { formattingOptions: fmt, isArrayInsertion: true }));
    added++;
  }
  return { text, added };
}

/** Adds the backup's snippets whose names are not in the local file; the local ones win. */
export function addSnippets(localText: string, backupText: string): { text: string; added: number } {
  const local = parseObject(localText, 'snippets');
  const backup = parseObject(backupText, 'snippets (backup)');
  let text = localText.trim() === '' ? '{\n}\n' : localText;
  const fmt = formattingOf(text);
  let added = 0;
  for (const [k, v] of Object.entries(backup)) {
    if (k in local) continue;
    text = applyEdits(text, modify(text, [k], v, { formattingOptions: fmt }));
    added++;
  }
  return { text, added };
}

async function readIfFile(p: string): Promise<{ data: Buffer; st: fs.Stats } | undefined> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
  if (!st.isFile() || st.size > MAX_FILE_BYTES) return undefined;
  return { data: await fs.promises.readFile(p), st };
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
export async function listProfiles(userDir: string): Promise<ProfileEntry[]> {
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
 * Missing files are simply absent. Nothing is read outside `userDir`.
 */
export async function collectAppData(userDir: string, o: CollectAppDataOptions = {}): Promise<ArchiveSource[]> {
  const categories = new Set(o.categories ?? APPDATA_CATEGORIES);
  const patterns = o.ignoredSettings ?? DEFAULT_IGNORED_SETTINGS;
  const out: ArchiveSource[] = [];
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
          data = Buffer.from(stripIgnoredSettings(text, patterns), 'utf8');
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
  if (categories.has('extensions') && o.extensions) {
    const list = [...o.extensions]
      .filter((e) => typeof e.id === 'string' && e.id !== '')
      .map((e) => ({ id: e.id, version: String(e.version ?? ''), enabled: e.enabled !== false }))
      .sort((a, b) => a.id.localeCompare(b.id));
    add(`${APPDATA_PREFIX}/extensions.json`, Buffer.from(JSON.stringify(list, null, 2) + '\n'));
  }
  return out;
}

/** The app data of a downloaded backup, read into memory (it is small). */
export interface AppDataContent {
  /** Path relative to `appdata/` -> content. */
  files: Map<string, Buffer>;
  extensions: ExtensionEntry[];
  profiles: ProfileEntry[];
  /** The categories the backup holds something for. */
  categories: AppDataCategory[];
}

function categoryOf(rel: string): AppDataCategory | undefined {
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
      if (e.size > MAX_FILE_BYTES) continue;
      const chunks: Buffer[] = [];
      await a.read(e, (c) => void chunks.push(Buffer.from(c)), o.signal);
      files.set(e.name.slice(APPDATA_PREFIX.length + 1), Buffer.concat(chunks));
    }
  } finally {
    await a.close();
  }
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
  return { files, extensions, profiles, categories: APPDATA_CATEGORIES.filter((c) => cats.has(c)) };
}

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
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

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
 * machine's patterns: those keys keep their local values.
 */
export async function planAppDataRestore(
  archiveFile: string,
  manifest: Manifest,
  userDir: string,
  choice: AppDataRestoreChoice,
  o: { ignoredSettings?: readonly string[]; content?: AppDataContent; signal?: AbortSignal } = {},
): Promise<AppDataPlan> {
  const content = o.content ?? (await readAppData(archiveFile, { signal: o.signal }));
  const patterns = o.ignoredSettings ?? DEFAULT_IGNORED_SETTINGS;
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
      const r = mode === 'merge' ? mergeSettings(localText, backupText, patterns) : replaceSettings(localText, backupText, patterns);
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
    changes.push({ category, relPath: rel, targetPath, action, data, baseSha256: local ? sha256(local) : '', settings, added });
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
  };
}

/** The backup's extensions that are not installed here (ids compare without regard to case). */
export function missingExtensions(backup: readonly ExtensionEntry[], installedIds: Iterable<string>): ExtensionEntry[] {
  const have = new Set([...installedIds].map((i) => i.toLowerCase()));
  return backup.filter((e) => !have.has(e.id.toLowerCase()));
}

function timestampName(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

async function writeAtomic(file: string, data: Buffer, mode: number): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.s3b-${randomBytes(4).toString('hex')}.tmp`);
  const fh = await fs.promises.open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}

/**
 * Writes a plan's changes, each atomically (temp file + rename), after
 * copying the files they replace into a safety snapshot
 * (`snapshotRoot/<time>-<id>/snapshot.json`, the format `undoRestore` of
 * restore.ts reads, so `BackupEngine.undo` undoes it). Refuses
 * ('SourceChanged') when a target changed since the plan.
 */
export async function applyAppDataRestore(
  plan: AppDataPlan,
  o: { snapshotRoot?: string; signal?: AbortSignal } = {},
): Promise<RestoreResult> {
  throwIfAborted(o.signal);
  const work = plan.changes.filter((c) => c.action !== 'unchanged');
  if (work.length === 0) return { written: 0 };
  for (const c of work) {
    if (!path.isAbsolute(c.targetPath)) throw new TypeError(`target must be absolute: ${c.targetPath}`);
    const joined = resolveInside(plan.userDir, c.relPath);
    if (!joined) throw new BackupError('UnsafeArchive', `The backup would write "${c.relPath}" outside the user folder.`, 'Nothing was restored.', { params: { entry: c.relPath, detail: 'plan' } });
    const now = await readIfFile(c.targetPath).catch(() => undefined);
    if ((now ? sha256(now.data) : '') !== c.baseSha256) {
      throw new BackupError('SourceChanged', `"${c.targetPath}" changed since the restore was planned.`, 'Start the restore again.', {
        params: { path: c.targetPath, reason: 'targetChanged' },
      });
    }
  }
  const snapshotRoot = o.snapshotRoot ?? path.join(os.tmpdir(), 's3-backup-snapshots');
  const created = new Date();
  const snapshotDir = path.join(snapshotRoot, `${timestampName(created)}-${randomBytes(3).toString('hex')}`);
  const doc = {
    format: 1 as const,
    created: created.toISOString(),
    backup: plan.backup,
    targets: { [APPDATA_PREFIX]: plan.userDir },
    overwritten: [] as Array<{ targetPath: string; restoredSha256: string; kind: 'file'; stored: string; mode: number; mtimeMs: number }>,
    createdFiles: [] as Array<{ targetPath: string; restoredSha256: string }>,
    createdDirs: [] as string[],
    complete: false,
  };
  const saveDoc = async (): Promise<void> => writeAtomic(path.join(snapshotDir, 'snapshot.json'), Buffer.from(JSON.stringify(doc, null, 1)), 0o600);
  const modes = new Map<string, number>();
  try {
    await fs.promises.mkdir(path.join(snapshotDir, 'files'), { recursive: true });
    let n = 0;
    for (const c of work) {
      if (c.action !== 'overwrite') continue;
      const st = await fs.promises.stat(c.targetPath);
      const stored = `files/${n++}`;
      await fs.promises.copyFile(c.targetPath, path.join(snapshotDir, stored));
      modes.set(c.targetPath, st.mode & 0o777);
      doc.overwritten.push({ targetPath: c.targetPath, restoredSha256: sha256(c.data), kind: 'file', stored, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs });
    }
    await saveDoc();
  } catch (e) {
    await fs.promises.rm(snapshotDir, { recursive: true, force: true }).catch(() => undefined);
    throw new BackupError('Io', `The safety copy could not be written to "${snapshotRoot}".`, 'Check the free space, then try again.', { cause: e, params: { path: snapshotRoot } });
  }
  throwIfAborted(o.signal);

  // From here on no cancel: every step is recorded so undo can put it back.
  let written = 0;
  try {
    for (const c of work) {
      const dir = path.dirname(c.targetPath);
      const missing: string[] = [];
      for (let d = dir; !(await fs.promises.lstat(d).catch(() => undefined)); d = path.dirname(d)) {
        if (d === path.dirname(d) || !(d === plan.userDir || isInside(plan.userDir, d))) break;
        missing.unshift(d);
      }
      for (const d of missing) {
        await fs.promises.mkdir(d);
        doc.createdDirs.push(d);
      }
      await writeAtomic(c.targetPath, c.data, modes.get(c.targetPath) ?? 0o644);
      if (c.action === 'create') doc.createdFiles.push({ targetPath: c.targetPath, restoredSha256: sha256(c.data) });
      written++;
    }
    doc.complete = true;
  } catch (e) {
    await saveDoc().catch(() => undefined);
    throw new BackupError('Io', `The restore stopped after ${written} of ${work.length} files; undo puts back what it changed.`, 'Check the permissions of the VS Code user folder.', {
      cause: e,
      params: { snapshotDir, written },
    });
  }
  await saveDoc();
  return { written, snapshotDir };
}
