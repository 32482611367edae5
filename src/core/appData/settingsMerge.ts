import { applyEdits, findNodeAtLocation, modify, parse, parseTree, type FormattingOptions, type ParseError } from 'jsonc-parser';
import { BackupError } from '../util/engineErrors';

/** A matcher for setting keys: `*` matches any run of characters, dots included; case does not matter. */
function ignoreMatcher(patterns: readonly string[]): (key: string) => boolean {
  const res = patterns
    .filter((p) => typeof p === 'string' && p.trim() !== '')
    .map((p) => new RegExp('^' + p.trim().split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 'i'));
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
