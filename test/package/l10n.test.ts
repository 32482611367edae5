// The translations, checked in plain Node: every language has exactly the
// English keys, the same placeholders, codicons and command links per key; and
// l10n/bundle.l10n.json is what `npm run l10n` exports from src (a
// vscode.l10n.t string added without re-exporting fails here).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { getL10nJson } from '@vscode/l10n-dev';

const ROOT = path.resolve(__dirname, '..', '..', '..');
import { LANGUAGES } from './languages';

type Bundle = Record<string, string>;

function readJson(rel: string): Bundle {
  const raw = JSON.parse(fs.readFileSync(path.join(ROOT, rel), 'utf8')) as Record<string, unknown>;
  const out: Bundle = {};
  for (const [k, v] of Object.entries(raw)) {
    // The export writes { message, comment } for strings with a comment.
    out[k] = typeof v === 'string' ? v : String((v as { message?: unknown }).message ?? '');
  }
  return out;
}

/** What a translation must carry over unchanged: {0} placeholders, $(codicons), command: links and `code`. */
export function markers(s: string): { placeholders: string[]; codicons: string[]; commands: string[] } {
  const all = (re: RegExp): string[] => [...s.matchAll(re)].map((m) => m[0]).sort();
  return {
    placeholders: all(/\{\d+\}/g),
    codicons: all(/\$\([a-z0-9~-]+\)/g),
    commands: all(/\(command:[^)\s]+\)/g),
  };
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out.sort();
}

function checkLanguage(english: Bundle, translated: Bundle, file: string): string[] {
  const problems: string[] = [];
  for (const k of Object.keys(english)) if (!(k in translated)) problems.push(`${file}: missing "${k}"`);
  for (const k of Object.keys(translated)) if (!(k in english)) problems.push(`${file}: extra "${k}"`);
  for (const [k, t] of Object.entries(translated)) {
    if (!(k in english)) continue;
    if (t.trim() === '') problems.push(`${file}: empty translation of "${k}"`);
    const want = markers(english[k]);
    const got = markers(t);
    for (const m of ['placeholders', 'codicons', 'commands'] as const) {
      if (want[m].join(' ') !== got[m].join(' ')) problems.push(`${file}: "${k}" has ${m} [${got[m].join(' ')}], English has [${want[m].join(' ')}]`);
    }
  }
  return problems;
}

describe('translations', function () {
  this.timeout(60000);
  it('bundle.l10n.json is exactly what `npm run l10n` exports from src', async () => {
    const files = tsFiles(path.join(ROOT, 'src')).map((f) => ({ extension: '.ts', contents: fs.readFileSync(f, 'utf8') }));
    const exported = await getL10nJson(files);
    const fromSource = Object.keys(exported).sort();
    const inBundle = Object.keys(readJson('l10n/bundle.l10n.json')).sort();
    assert.ok(fromSource.length > 100, `the export found only ${fromSource.length} strings: the check would prove nothing`);
    const missing = fromSource.filter((k) => !inBundle.includes(k));
    const stale = inBundle.filter((k) => !fromSource.includes(k));
    assert.deepStrictEqual({ missing, stale }, { missing: [], stale: [] }, 'run `npm run l10n`, then translate the new keys');
  });

  it('every package.json %key% is in package.nls.json, and every key there is used', () => {
    const manifest = fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8');
    const used = [...new Set([...manifest.matchAll(/"%([^%"]+)%"/g)].map((m) => m[1]))].sort();
    const defined = Object.keys(readJson('package.nls.json')).sort();
    assert.deepStrictEqual(
      { undefinedKeys: used.filter((k) => !defined.includes(k)), unusedKeys: defined.filter((k) => !used.includes(k)) },
      { undefinedKeys: [], unusedKeys: [] },
    );
  });

  for (const lang of LANGUAGES) {
    it(`${lang}: the same keys, placeholders, codicons and command links as English`, () => {
      const problems = [
        ...checkLanguage(readJson('l10n/bundle.l10n.json'), readJson(`l10n/bundle.l10n.${lang}.json`), `bundle.l10n.${lang}.json`),
        ...checkLanguage(readJson('package.nls.json'), readJson(`package.nls.${lang}.json`), `package.nls.${lang}.json`),
      ];
      assert.deepStrictEqual(problems, []);
    });
  }

  it('the check itself fails on a missing key, an extra key and a changed placeholder', () => {
    const en = { 'Backed up {0} files.': 'Backed up {0} files.', '[Open](command:s3Backup.openSettings)': '[Open](command:s3Backup.openSettings)' };
    assert.deepStrictEqual(checkLanguage(en, { ...en }, 'x'), []);
    const bad = { 'Backed up {0} files.': 'Sauvegardé {1} fichiers.', 'Other': 'Autre' };
    const problems = checkLanguage(en, bad, 'x').join('\n');
    assert.match(problems, /missing "\[Open\]/);
    assert.match(problems, /extra "Other"/);
    assert.match(problems, /placeholders \[\{1\}\], English has \[\{0\}\]/);
    assert.match(checkLanguage(en, { ...en, '[Open](command:s3Backup.openSettings)': '[Ouvrir](command:s3Backup.refresh)' }, 'x').join('\n'), /commands/);
  });
});
