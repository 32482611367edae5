import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import { parse } from 'jsonc-parser';
import { applyAppDataRestore } from '../../src/core/appData/applyAppDataRestore';
import { DEFAULT_IGNORED_SETTINGS, missingExtensions } from '../../src/core/appData/categories';
import { collectAppData } from '../../src/core/appData/collectAppData';
import { planAppDataRestore } from '../../src/core/appData/planAppDataRestore';
import { readAppData } from '../../src/core/appData/readAppData';
import { addKeybindings, mergeSettings, replaceSettings, stripIgnoredSettings } from '../../src/core/appData/settingsMerge';
import { verifyArchive } from '../../src/core/archive/verifyArchive';
import { writeArchive, type ArchiveSource } from '../helpers/v1/archiveWriter';
import { BackupError } from '../../src/core/util/engineErrors';
import type { ManifestMeta } from '../../src/core/format/manifest';
import { undoSnapshot as undoRestore } from '../../src/core/restore/snapshot';
import { readTextTree } from '../helpers/tree';

const META: ManifestMeta = {
  kind: 'appdata',
  hostname: 'machine-a',
  platform: process.platform,
  created: '2026-01-02T03:04:05.678Z',
  sources: ['appdata'],
  toolVersion: '0.0.0-test',
};

const A_SETTINGS = `// machine A's settings
{
\t// the font everyone should get
\t"editor.fontSize": 15,
\t"editor.tabSize": 2,
\t"window.zoomLevel": 3,
\t"terminal.integrated.shell.linux": "/opt/a/zsh",
\t"terminal.integrated.defaultProfile.linux": "zsh-a",
\t"git.path": "/opt/a/git",
\t"http.proxy": "http://user:proxy-secret@proxy.a:3128",
\t"[python]": {
\t\t"editor.insertSpaces": true,
\t\t"python.defaultInterpreterPath": "/opt/a/python"
\t},
\t"workbench.colorTheme": "Solarized Dark",
}
`;

const B_SETTINGS = `{
\t// B: keep this comment
\t"editor.fontSize": 11,
\t"window.zoomLevel": -1, // B's screen
\t"git.path": "/usr/bin/git",
\t/* B only */
\t"files.autoSave": "afterDelay"
}
`;

function write(root: string, files: Record<string, string>): void {
  for (const [rel, body] of Object.entries(files)) {
    const p = path.join(root, ...rel.split('/'));
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, body);
  }
}


async function archiveOf(file: string, sources: ArchiveSource[]) {
  const a = writeArchive(sources, META);
  await Promise.all([pipeline(a.stream, fs.createWriteStream(file)), a.done]);
  return verifyArchive(file);
}

describe('app data (core)', function () {
  this.timeout(60_000);
  let tmp: string;
  let userA: string;
  let userB: string;
  let archive: string;

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-appdata-'));
    userA = path.join(tmp, 'A', 'User');
    userB = path.join(tmp, 'B', 'User');
    archive = path.join(tmp, 'a.zip');
    write(userA, {
      'settings.json': A_SETTINGS,
      'keybindings.json': '// A keys\n[\n\t{ "key": "ctrl+alt+k", "command": "editor.action.copyLinesDownAction" },\n\t{ "key": "ctrl+b", "command": "-workbench.action.toggleSidebarVisibility" }\n]\n',
      'snippets/typescript.json': '{ "log": { "prefix": "log", "body": ["console.log($1)"] } }\n',
      'snippets/global.code-snippets': '{ "hdr": { "prefix": "hdr", "body": ["// header"] } }\n',
      'tasks.json': '{ "version": "2.0.0", "tasks": [] }\n',
      'profiles/7a1b2c/settings.json': '{ "editor.fontSize": 20, "window.zoomLevel": 5 }\n',
      'profiles/7a1b2c/keybindings.json': '[]\n',
      'globalStorage/storage.json': JSON.stringify({ userDataProfiles: [{ location: '7a1b2c', name: 'Writing' }] }),
      'globalStorage/someone.else/state.json': '{"token":"do-not-take"}',
      'workspaceStorage/x/state.vscdb': 'nope',
    });
    write(userB, {
      'settings.json': B_SETTINGS,
      'keybindings.json': '[\n\t// B binding\n\t{ "key": "ctrl+b", "command": "-workbench.action.toggleSidebarVisibility" },\n\t{ "key": "f5", "command": "b.run" }\n]\n',
      'snippets/typescript.json': '{\n\t"mine": { "prefix": "mine", "body": ["B"] },\n\t"log": { "prefix": "log", "body": ["B log"] }\n}\n',
    });
  });

  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('collects only the app data, with ignored keys left out and comments kept', async () => {
    const sources = await collectAppData(userA, {
      extensions: [
        { id: 'ms-python.python', version: '2025.1.0', enabled: true },
        { id: 'esbenp.prettier-vscode', version: '11.0.0', enabled: false },
      ],
    });
    const paths = sources.map((s) => s.archivePath).sort();
    assert.deepStrictEqual(paths, [
      'appdata/extensions.json',
      'appdata/keybindings.json',
      'appdata/profiles.json',
      'appdata/profiles/7a1b2c/keybindings.json',
      'appdata/profiles/7a1b2c/settings.json',
      'appdata/settings.json',
      'appdata/snippets/global.code-snippets',
      'appdata/snippets/typescript.json',
      'appdata/tasks.json',
    ]);
    const byPath = new Map(sources.map((s) => [s.archivePath, s.data!.toString('utf8')]));
    const settings = byPath.get('appdata/settings.json')!;
    for (const gone of ['window.zoomLevel', 'terminal.integrated', 'git.path', 'proxy-secret', '/opt/a/python']) {
      assert.ok(!settings.includes(gone), `${gone} must not be archived:\n${settings}`);
    }
    assert.match(settings, /\/\/ the font everyone should get/);
    assert.deepStrictEqual(parse(settings), { 'editor.fontSize': 15, 'editor.tabSize': 2, '[python]': { 'editor.insertSpaces': true }, 'workbench.colorTheme': 'Solarized Dark' });
    assert.ok(!byPath.get('appdata/profiles/7a1b2c/settings.json')!.includes('zoomLevel'));
    assert.deepStrictEqual(JSON.parse(byPath.get('appdata/profiles.json')!), [{ id: '7a1b2c', name: 'Writing' }]);
    assert.deepStrictEqual(JSON.parse(byPath.get('appdata/extensions.json')!).map((e: { id: string }) => e.id), ['esbenp.prettier-vscode', 'ms-python.python']);
    for (const s of sources) assert.strictEqual(s.size, s.data!.length);

    const only = await collectAppData(userA, { categories: ['keybindings', 'snippets'], extensions: [{ id: 'x.y', version: '1', enabled: true }] });
    assert.deepStrictEqual(only.map((s) => s.archivePath).sort(), ['appdata/keybindings.json', 'appdata/snippets/global.code-snippets', 'appdata/snippets/typescript.json']);
  });

  it('merge: the backup\'s keys win, local-only keys, comments and ignored keys stay', () => {
    const backup = stripIgnoredSettings(A_SETTINGS, DEFAULT_IGNORED_SETTINGS);
    const r = mergeSettings(B_SETTINGS, backup, DEFAULT_IGNORED_SETTINGS);
    const v = parse(r.text);
    assert.strictEqual(v['editor.fontSize'], 15, 'backup wins');
    assert.strictEqual(v['editor.tabSize'], 2, 'backup adds');
    assert.strictEqual(v['files.autoSave'], 'afterDelay', 'local-only kept');
    assert.strictEqual(v['window.zoomLevel'], -1, 'ignored key untouched');
    assert.strictEqual(v['git.path'], '/usr/bin/git', 'ignored key untouched');
    assert.deepStrictEqual(v['[python]'], { 'editor.insertSpaces': true });
    for (const c of ['// B: keep this comment', "// B's screen", '/* B only */']) assert.ok(r.text.includes(c), `comment ${c} kept:\n${r.text}`);
    assert.deepStrictEqual(r.summary, { added: 3, changed: 1, localOnly: 3, ignoredKept: 0 });

    // Even a backup that holds ignored keys (made with a shorter list) cannot overwrite them here.
    const raw = mergeSettings(B_SETTINGS, A_SETTINGS, DEFAULT_IGNORED_SETTINGS);
    const rv = parse(raw.text);
    assert.strictEqual(rv['window.zoomLevel'], -1);
    assert.strictEqual(rv['git.path'], '/usr/bin/git');
    assert.strictEqual(rv['http.proxy'], undefined);
    assert.strictEqual(rv['terminal.integrated.shell.linux'], undefined);
    assert.deepStrictEqual(rv['[python]'], { 'editor.insertSpaces': true });
  });

  it('replace: the backup\'s file, but ignored keys keep their local values', () => {
    const r = replaceSettings(B_SETTINGS, A_SETTINGS, DEFAULT_IGNORED_SETTINGS);
    const v = parse(r.text);
    assert.strictEqual(v['files.autoSave'], undefined, 'local-only dropped');
    assert.strictEqual(v['editor.fontSize'], 15);
    assert.strictEqual(v['window.zoomLevel'], -1);
    assert.strictEqual(v['git.path'], '/usr/bin/git');
    assert.strictEqual(v['http.proxy'], undefined);
    assert.ok(r.text.includes('// the font everyone should get'));
  });

  it('keybindings: add appends only new bindings and keeps comments', () => {
    const r = addKeybindings(fs.readFileSync(path.join(userB, 'keybindings.json'), 'utf8'), fs.readFileSync(path.join(userA, 'keybindings.json'), 'utf8'));
    assert.strictEqual(r.added, 1);
    const v = parse(r.text) as Array<{ key: string; command: string }>;
    assert.deepStrictEqual(v.map((b) => b.command), ['-workbench.action.toggleSidebarVisibility', 'b.run', 'editor.action.copyLinesDownAction']);
    assert.ok(r.text.includes('// B binding'));
  });

  it('restores A onto B atomically with an undo copy, and undo puts B back', async () => {
    const manifest = await archiveOf(archive, await collectAppData(userA, { extensions: [{ id: 'a.only', version: '1.0.0', enabled: true }] }));
    const content = await readAppData(archive);
    assert.deepStrictEqual(content.categories, ['settings', 'keybindings', 'snippets', 'tasks', 'profiles', 'extensions']);
    const before = readTextTree(userB);

    const plan = await planAppDataRestore(archive, manifest, userB, { settings: 'merge', keybindings: 'add', snippets: 'add', tasks: 'replace' });
    const by = new Map(plan.changes.map((c) => [c.relPath, c]));
    assert.strictEqual(by.get('settings.json')!.action, 'overwrite');
    assert.strictEqual(by.get('tasks.json')!.action, 'create');
    assert.strictEqual(by.get('snippets/global.code-snippets')!.action, 'create');
    assert.strictEqual(by.get('snippets/typescript.json')!.added, 0, 'a snippet of the same name stays B\'s');
    assert.strictEqual(by.get('snippets/typescript.json')!.action, 'unchanged');
    assert.ok(!by.has('profiles/7a1b2c/settings.json'), 'profiles were not chosen');
    assert.deepStrictEqual(missingExtensions(plan.extensions, ['A.Only']), []);
    assert.deepStrictEqual(missingExtensions(plan.extensions, ['b.other']).map((e) => e.id), ['a.only']);

    const snapshots = path.join(tmp, 'snapshots');
    const result = await applyAppDataRestore(plan, { snapshotRoot: snapshots });
    assert.strictEqual(result.written, 4);
    const after = readTextTree(userB);
    const v = parse(after['settings.json']);
    assert.strictEqual(v['editor.fontSize'], 15);
    assert.strictEqual(v['files.autoSave'], 'afterDelay');
    assert.strictEqual(v['window.zoomLevel'], -1);
    assert.ok(after['settings.json'].includes('// B: keep this comment'));
    assert.strictEqual(after['tasks.json'], '{ "version": "2.0.0", "tasks": [] }\n');
    assert.strictEqual((parse(after['keybindings.json']) as unknown[]).length, 3);
    assert.deepStrictEqual(Object.keys(after).filter((k) => k.includes('.tmp')), [], 'no temp file left');

    const undone = await undoRestore(result.snapshotDir!);
    assert.deepStrictEqual(undone, { restored: 2, removed: 2 });
    assert.deepStrictEqual(readTextTree(userB), before);
    // A second undo changes nothing.
    assert.deepStrictEqual(await undoRestore(result.snapshotDir!), { restored: 0, removed: 0 });
  });

  it('replace modes and profiles; a link to settings.json stays a link', async () => {
    const dotfiles = path.join(tmp, 'dotfiles');
    write(dotfiles, { 'vscode-settings.json': B_SETTINGS });
    fs.rmSync(path.join(userB, 'settings.json'));
    fs.symlinkSync(path.join(dotfiles, 'vscode-settings.json'), path.join(userB, 'settings.json'));
    const manifest = await archiveOf(archive, await collectAppData(userA));
    const plan = await planAppDataRestore(archive, manifest, userB, { settings: 'replace', keybindings: 'replace', snippets: 'replace', profiles: 'replace' });
    const result = await applyAppDataRestore(plan, { snapshotRoot: path.join(tmp, 'snapshots') });
    assert.ok(fs.lstatSync(path.join(userB, 'settings.json')).isSymbolicLink(), 'still a link');
    const v = parse(fs.readFileSync(path.join(dotfiles, 'vscode-settings.json'), 'utf8'));
    assert.strictEqual(v['files.autoSave'], undefined);
    assert.strictEqual(v['window.zoomLevel'], -1);
    assert.strictEqual(fs.readFileSync(path.join(userB, 'keybindings.json'), 'utf8'), fs.readFileSync(path.join(userA, 'keybindings.json'), 'utf8'));
    assert.strictEqual(fs.readFileSync(path.join(userB, 'snippets/typescript.json'), 'utf8'), fs.readFileSync(path.join(userA, 'snippets/typescript.json'), 'utf8'));
    assert.deepStrictEqual(parse(fs.readFileSync(path.join(userB, 'profiles/7a1b2c/settings.json'), 'utf8')), { 'editor.fontSize': 20 });
    await undoRestore(result.snapshotDir!);
    assert.strictEqual(fs.readFileSync(path.join(dotfiles, 'vscode-settings.json'), 'utf8'), B_SETTINGS);
    assert.ok(!fs.existsSync(path.join(userB, 'profiles')), 'folders the restore made are gone');
  });

  it('refuses to apply when a target changed since the plan', async () => {
    const manifest = await archiveOf(archive, await collectAppData(userA));
    const plan = await planAppDataRestore(archive, manifest, userB, { settings: 'merge' });
    fs.appendFileSync(path.join(userB, 'settings.json'), '\n');
    await assert.rejects(applyAppDataRestore(plan, { snapshotRoot: path.join(tmp, 'snapshots') }), (e: unknown) => e instanceof BackupError && e.code === 'SourceChanged');
    assert.strictEqual(fs.readFileSync(path.join(userB, 'settings.json'), 'utf8'), B_SETTINGS + '\n');
  });

  it('refuses to merge into a settings.json it cannot parse', async () => {
    fs.writeFileSync(path.join(userB, 'settings.json'), '{ "a": ');
    const manifest = await archiveOf(archive, await collectAppData(userA));
    await assert.rejects(planAppDataRestore(archive, manifest, userB, { settings: 'merge' }), (e: unknown) => e instanceof BackupError && e.code === 'Io');
  });
});
