import { applyEdits, modify, parse, type FormattingOptions, type ParseError } from 'jsonc-parser';
import { BackupError } from '../util/engineErrors';

/**
 * A matcher for setting keys: `*` matches any run of characters, dots
 * included; case does not matter. `a.b.*` also matches `a.b` itself, which
 * as an object (`"a.b": {"c": ...}`) holds the settings the pattern names.
 */
function ignoreMatcher(patterns: readonly string[]): (key: string) => boolean {
  const glob = (p: string): string => p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  const res = patterns
    .filter((p) => typeof p === 'string' && p.trim() !== '')
    .map((p) => p.trim())
    .map((p) => new RegExp(p.endsWith('.*') && p.length > 2 ? `^${glob(p.slice(0, -2))}(\\..*)?$` : `^${glob(p)}$`, 'i'));
  return (key) => res.some((re) => re.test(key));
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

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** A key that can be (part of) a setting name: VS Code splits nested objects' keys on dots into one name. */
const SETTING_NAME = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/;

/** A settings path: property names from the top of settings.json, with array indexes where a value is a list. */
export type SettingPath = (string | number)[];

/**
 * Walks every setting of a settings object the way VS Code names them: a
 * nested object's keys join their parent's with a dot (`"git": {"path": x}`
 * is git.path), and `[language]` blocks start the names again. `visit` gets
 * each name with its JSON path and value, and returns true to stop there
 * (the setting is taken as a whole); otherwise objects are walked further:
 * those under keys that can be part of a setting name, or with `allKeys`
 * every object (values such as files.exclude have keys that are globs).
 */
export function walkSettings(
  obj: Record<string, unknown>,
  visit: (name: string, at: SettingPath, value: unknown) => boolean,
  o: { prefix?: string; at?: SettingPath; allKeys?: boolean } = {},
): void {
  const at = o.at ?? [];
  for (const [k, v] of Object.entries(obj)) {
    const p = [...at, k];
    if (at.length === 0 && isLanguageBlock(k) && isObject(v)) {
      walkSettings(v, visit, { ...o, prefix: '', at: p });
      continue;
    }
    const name = o.prefix ? `${o.prefix}.${k}` : k;
    if (visit(name, p, v)) continue;
    if (isObject(v) && (o.allKeys || SETTING_NAME.test(k))) walkSettings(v, visit, { ...o, prefix: name, at: p });
  }
}

/** The settings of an object that the patterns match, at any depth, as JSON paths. */
function ignoredPaths(obj: Record<string, unknown>, ignored: (k: string) => boolean): SettingPath[] {
  const out: SettingPath[] = [];
  walkSettings(obj, (name, at) => {
    if (!ignored(name)) return false;
    out.push(at);
    return true;
  });
  return out;
}

/** The value at a JSON path, or undefined. */
function valueAt(obj: unknown, p: SettingPath): unknown {
  let v = obj;
  for (const k of p) {
    if (!v || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}

/** `text` with the values at these paths removed; comments and layout are kept. */
export function removePaths(text: string, paths: readonly SettingPath[]): string {
  const fmt = formattingOf(text);
  let out = text;
  // Deepest and last first, so that removing one never moves another (array indexes).
  const ordered = [...paths].sort((a, b) => b.length - a.length || String(b[b.length - 1]).localeCompare(String(a[a.length - 1]), undefined, { numeric: true }));
  for (const p of ordered) out = applyEdits(out, modify(out, p, undefined, { formattingOptions: fmt }));
  return out;
}

/** Sets the value at a JSON path, creating the objects on the way that the text lacks. */
function setAt(text: string, p: SettingPath, v: unknown): string {
  const tree = parse(text) as unknown;
  let i = 0;
  let node = tree;
  while (i < p.length - 1 && isObject((node as Record<string | number, unknown>)?.[p[i]])) {
    node = (node as Record<string | number, unknown>)[p[i]];
    i++;
  }
  let value = v;
  for (let j = p.length - 1; j > i; j--) value = { [p[j]]: value };
  return applyEdits(text, modify(text, p.slice(0, i + 1), value, { formattingOptions: formattingOf(text) }));
}

/** Puts back every ignored setting of `local` into `text` where it differs: ignored settings always keep this machine's values. */
function keepLocalIgnored(text: string, local: Record<string, unknown>, ignored: (k: string) => boolean): { text: string; kept: number } {
  let out = text;
  let kept = 0;
  for (const p of ignoredPaths(local, ignored)) {
    const lv = valueAt(local, p);
    if (!same(valueAt(parse(out), p), lv)) out = setAt(out, p, lv);
    kept++;
  }
  return { text: out, kept };
}

/** settings.json without the ignored keys (at any depth); comments and layout are kept. */
export function stripIgnoredSettings(text: string, patterns: readonly string[]): string {
  const obj = parseObject(text, 'settings.json');
  return removePaths(text, ignoredPaths(obj, ignoreMatcher(patterns)));
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
  const raw = parseObject(backupText, 'settings.json (backup)');
  // Nested ignored settings ("git": {"path": ...}) must not come in with the object that holds them.
  const backup = parseObject(stripIgnoredSettings(backupText, patterns), 'settings.json (backup)');
  const summary: SettingsMergeSummary = { added: 0, changed: 0, localOnly: 0, ignoredKept: 0 };
  for (const p of ignoredPaths(raw, ignored)) if (valueAt(local, p) !== undefined) summary.ignoredKept++;
  let text = localText.trim() === '' ? '{\n}\n' : localText;
  const fmt = formattingOf(text);
  const set = (p: string[], v: unknown): void => {
    text = applyEdits(text, modify(text, p, v, { formattingOptions: fmt }));
  };
  for (const [k, v] of Object.entries(backup)) {
    const lv = local[k];
    if (isLanguageBlock(k) && isObject(v) && isObject(lv)) {
      for (const [sk, sv] of Object.entries(v)) {
        const lsv = lv[sk];
        if (lsv === undefined) summary.added++;
        else if (!same(lsv, sv)) summary.changed++;
        else continue;
        set([k, sk], sv);
      }
      continue;
    }
    if (lv === undefined) summary.added++;
    else if (!same(lv, v)) summary.changed++;
    else continue;
    set([k], v);
  }
  for (const k of Object.keys(local)) if (!(k in backup)) summary.localOnly++;
  // A backup object that replaced a local one took the local ignored settings inside it along: put them back.
  text = keepLocalIgnored(text, local, ignored).text;
  return { text, summary };
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
  const kept = keepLocalIgnored(stripIgnoredSettings(backupText.trim() === '' ? '{\n}\n' : backupText, patterns), local, ignored);
  const summary: SettingsMergeSummary = { added: 0, changed: 0, localOnly: 0, ignoredKept: kept.kept };
  for (const [k, v] of Object.entries(backup)) {
    if (!isLanguageBlock(k) && ignored(k)) continue;
    if (local[k] === undefined) summary.added++;
    else if (!same(local[k], v)) summary.changed++;
  }
  for (const k of Object.keys(local)) if (!(k in backup) && !ignored(k)) summary.localOnly++;
  return { text: kept.text, summary };
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
