import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { applyEdits, modify, parse } from 'jsonc-parser';
import type { BackupNode } from '../../src/extension/tree/nodes';
import type { AppDataRestoreOutcome } from '../../src/extension/commands/restoreAppData';
import type { BackupResult } from '../../src/core/engine';
import type { TestApi } from '../../src/extension/extension';
import type { TestBucket } from '../helpers/s3';
import { clearConnection, EXTENSION_ID, getApi, ScriptedPrompts, userSettingsFile, waitFor, requireS3Server } from './helpers';
import { readTextTree } from '../helpers/tree';

const B_SETTINGS = `{
\t// machine B: keep this comment
\t"editor.fontSize": 11,
\t"window.zoomLevel": -1, // B's own screen
\t/* only B has this */
\t"files.autoSave": "afterDelay"
}
`;
const B_KEYBINDINGS = '[\n\t// B binding\n\t{ "key": "f5", "command": "b.run" }\n]\n';

type QuickPickHandler = (items: readonly vscode.QuickPickItem[], options: vscode.QuickPickOptions) => vscode.QuickPickItem[] | vscode.QuickPickItem | undefined;


// Machine A is this code-server's own user folder; machine B is a second
// user folder the restore is pointed at (Test mode only), so one extension
// host plays both computers against the real S3 server.
describe('appData: VS Code set-up across machines (real S3 server)', function () {
  let api: TestApi;
  let bucket: TestBucket | undefined;
  let prompts: ScriptedPrompts;
  let userA: string;
  let machineB: string;
  let userB: string;
  let appBackup: BackupResult | undefined;
  let fullBackup: BackupResult | undefined;
  const saved = new Map<string, string | undefined>();
  const snippetName = `s3b-test-${crypto.randomBytes(3).toString('hex')}.code-snippets`;
  let env: { accessKeyId: string; secretAccessKey: string };
  let onPick: QuickPickHandler;

  before(async function () {
    requireS3Server();
    api = await getApi();
    const s3 = require('../helpers/s3') as typeof import('../helpers/s3');
    const e = s3.s3TestEnv();
    env = e;
    bucket = await s3.createTestBucket('appdata');
    await api.engineHost.saveProfile({
      endpoint: e.endpoint,
      region: e.region,
      bucket: bucket.bucket,
      rootPath: `appdata/${crypto.randomBytes(3).toString('hex')}`,
      accessKeyId: e.accessKeyId,
      secretAccessKey: e.secretAccessKey,
    });
    await waitFor('the tree to see the settings', async () => (await api.tree.updateConfigured()) === true);

    // Machine A's set-up: a setting to carry over, a machine-specific one, a keybinding, a snippet.
    userA = path.dirname(userSettingsFile(api.services.context));
    for (const f of ['settings.json', 'keybindings.json', `snippets/${snippetName}`]) {
      const p = path.join(userA, f);
      saved.set(p, fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : undefined);
    }
    // Written as a user would (the web workbench does not register window.zoomLevel, so no config API).
    const settingsFile = path.join(userA, 'settings.json');
    let text = fs.readFileSync(settingsFile, 'utf8');
    for (const [k, v] of [['editor.fontSize', 17], ['editor.wordWrap', 'on'], ['window.zoomLevel', 2], ['http.proxy', 'http://proxy.machine-a:3128']] as const) {
      text = applyEdits(text, modify(text, [k], v, { formattingOptions: { insertSpaces: false, tabSize: 4 } }));
    }
    fs.writeFileSync(settingsFile, text);
    fs.writeFileSync(path.join(userA, 'keybindings.json'), '[\n\t{ "key": "ctrl+alt+9", "command": "s3Backup.refresh" }\n]\n');
    fs.mkdirSync(path.join(userA, 'snippets'), { recursive: true });
    fs.writeFileSync(path.join(userA, 'snippets', snippetName), '{ "s3b": { "prefix": "s3b", "body": ["from machine A"] } }\n');

    machineB = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-machine-b-'));
    userB = path.join(machineB, 'User');
    fs.mkdirSync(userB, { recursive: true });
    fs.writeFileSync(path.join(userB, 'settings.json'), B_SETTINGS);
    fs.writeFileSync(path.join(userB, 'keybindings.json'), B_KEYBINDINGS);
  });

  beforeEach(() => {
    prompts = new ScriptedPrompts(api.prompts);
    onPick = () => undefined;
    // Several picks answer with more than one item: answer both kinds of pick here.
    prompts.answerPicks((items, options) => onPick(items, options));
  });

  afterEach(() => prompts?.dispose());

  after(async () => {
    if (!api) return;
    for (const [p, body] of saved) {
      if (body === undefined) fs.rmSync(p, { force: true });
      else if (!p.endsWith('settings.json')) fs.writeFileSync(p, body);
    }
    // settings.json: drop only what this suite added, so other suites' values stay.
    const sf = path.join(userA, 'settings.json');
    let text = fs.readFileSync(sf, 'utf8');
    for (const k of ['editor.fontSize', 'editor.wordWrap', 'window.zoomLevel', 'http.proxy']) text = applyEdits(text, modify(text, [k], undefined, { formattingOptions: { insertSpaces: false, tabSize: 4 } }));
    fs.writeFileSync(sf, text);
    await clearConnection(api);
    if (machineB) fs.rmSync(machineB, { recursive: true, force: true });
    await bucket?.cleanup();
  });

  async function nodeFor(key: string): Promise<BackupNode> {
    await api.tree.refresh();
    return waitFor(`the tree node of ${key}`, () => api.tree.findBackupNode(key));
  }

  it('finds the user folder and the installed extensions (no built-ins) in code-server', async () => {
    const { userDirFromContext, installedExtensions } = require('../../src/extension/host/userData') as typeof import('../../src/extension/host/userData');
    const dir = userDirFromContext(api.services.context);
    assert.strictEqual(path.basename(dir), 'User');
    assert.strictEqual(dir, userA);
    assert.ok(fs.existsSync(path.join(dir, 'settings.json')), `${dir}/settings.json exists`);
    await waitFor('settings.json to hold editor.fontSize 17', () => fs.readFileSync(path.join(dir, 'settings.json'), 'utf8').includes('"editor.fontSize": 17'));

    const list = installedExtensions();
    const builtins = vscode.extensions.all.filter((x) => (x.packageJSON as { isBuiltin?: boolean }).isBuiltin);
    assert.ok(builtins.length > 10, 'code-server has built-in extensions');
    for (const b of builtins) assert.ok(!list.some((e) => e.id.toLowerCase() === b.id.toLowerCase()), `${b.id} is built in`);
    const me = list.find((e) => e.id === EXTENSION_ID);
    assert.ok(me, `${EXTENSION_ID} is listed: ${JSON.stringify(list)}`);
    assert.strictEqual(me.version, vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON.version);
    assert.strictEqual(me.enabled, true);
  });

  let workspaceOnlyKey: string | undefined;

  it('"Restore App Data..." from the palette says so plainly when only workspace backups exist', async () => {
    const engine = await api.engineHost.getEngine();
    const folder = vscode.workspace.workspaceFolders![0];
    workspaceOnlyKey = (await engine.backup({ kind: 'workspace', folders: [{ name: folder.name, path: folder.uri.fsPath }] })).key;
    await nodeFor(workspaceOnlyKey);
    const r = await vscode.commands.executeCommand('s3Backup.restoreAppData');
    assert.strictEqual(r, undefined);
    assert.deepStrictEqual(prompts.errors(), []);
    assert.deepStrictEqual(prompts.picks, [], 'no pick of workspace-only backups');
    await prompts.waitForMessage(/^There are no backups with app data in the bucket yet\. Make one with "Back Up App Data" or "Back Up Everything"\.$/);
  });

  it('"Back Up App Data" on A: an appdata backup without the machine-specific keys, shown as such in the tree', async () => {
    appBackup = (await vscode.commands.executeCommand('s3Backup.backUpAppData')) as BackupResult | undefined;
    assert.deepStrictEqual(prompts.errors(), []);
    assert.ok(appBackup, 'the command returned no backup');
    assert.strictEqual(appBackup.kind, 'appdata');
    const paths = appBackup.manifest.files.map((f) => f.path);
    for (const p of ['appdata/settings.json', 'appdata/keybindings.json', `appdata/snippets/${snippetName}`, 'appdata/extensions.json']) {
      assert.ok(paths.includes(p), `${p} in ${JSON.stringify(paths)}`);
    }
    assert.ok(!paths.some((p) => p.startsWith('workspace/')), 'no workspace files');
    const engine = await api.engineHost.getEngine();
    const fetched = await engine.fetch(appBackup.key);
    try {
      const content = await engine.readAppData(fetched);
      const archived = parse(content.files.get('settings.json')!.toString('utf8'));
      assert.strictEqual(archived['editor.fontSize'], 17);
      assert.strictEqual(archived['window.zoomLevel'], undefined, 'machine-specific keys stay out');
      assert.strictEqual(archived['http.proxy'], undefined, 'machine-specific keys stay out');
      assert.ok(content.extensions.some((x) => x.id === EXTENSION_ID));
    } finally {
      await fetched.dispose();
    }
    const node = await nodeFor(appBackup.key);
    assert.match(String(node.description), /app data/);
    await prompts.waitForMessage(/^Backed up \d+ files/);
  });

  it('restores A onto B: merge keeps B\'s keys and comments, the set-up arrives, undo restores B', async () => {
    assert.ok(appBackup, 'needs the backup of the previous test');
    const before = readTextTree(userB);
    onPick = (items, options) => {
      if (/Restore App Data/.test(options.title ?? '')) return items.filter((i) => ['Settings', 'Keybindings', 'Snippets', 'Extensions'].includes(i.label));
      if (/^Settings \(\d\/\d\)$/.test(options.title ?? '')) return items.find((i) => i.label === 'Merge');
      if (/^(Keybindings|Snippets) \(\d\/\d\)$/.test(options.title ?? '')) return items.find((i) => i.label === 'Add');
      return undefined;
    };
    prompts.onMessage = (m) => (m.options.modal && m.items.includes('Restore') ? 'Restore' : undefined);
    const outcome = (await vscode.commands.executeCommand('s3Backup.restoreAppData', await nodeFor(appBackup.key), { userDir: userB })) as AppDataRestoreOutcome | undefined;
    assert.deepStrictEqual(prompts.errors(), []);
    assert.ok(outcome, 'the restore returned nothing');
    const preview = prompts.picks.find((p) => /Restore App Data/.test(p.options.title ?? ''))!;
    assert.deepStrictEqual(
      preview.items.map((i) => i.label),
      ['Settings', 'Keybindings', 'Snippets', 'Extensions'],
      'the categories the backup holds',
    );
    assert.match(String(preview.items[0].description), /new, \d+ changed, \d+ only here/);
    // What would change here starts checked; the extensions (the same on both) do not.
    assert.deepStrictEqual(
      preview.items.map((i) => [i.label, !!i.picked]),
      [['Settings', true], ['Keybindings', true], ['Snippets', true], ['Extensions', false]],
    );
    // Every picker of the flow has a title with its step: categories, then settings and keybindings
    // (B has both); no question for snippets, which B has none of, so nothing to merge.
    const titles = prompts.picks.map((p) => p.options.title);
    assert.deepStrictEqual(titles.slice(-3), [`${preview.options.title}`, 'Settings (2/3)', 'Keybindings (3/3)']);
    assert.match(String(preview.options.title), /^Restore App Data from .+ \(1\/3\)$/);
    assert.deepStrictEqual(outcome.missingExtensions, [], 'both "machines" have the same extensions');
    const done = await prompts.waitForMessage(/^Restored 3 app data files\. Reload the window to use them everywhere\.$/);
    assert.deepStrictEqual(done.items, ['Reload Window', 'Undo']);

    const settingsText = fs.readFileSync(path.join(userB, 'settings.json'), 'utf8');
    const s = parse(settingsText);
    assert.strictEqual(s['editor.fontSize'], 17, "A's value wins");
    assert.strictEqual(s['editor.wordWrap'], 'on', "A's setting arrives");
    assert.strictEqual(s['files.autoSave'], 'afterDelay', "B's own key stays");
    assert.strictEqual(s['window.zoomLevel'], -1, 'the machine-specific key stays B\'s');
    for (const comment of ['// machine B: keep this comment', "// B's own screen", '/* only B has this */']) assert.ok(settingsText.includes(comment), `${comment} kept`);
    const keys = parse(fs.readFileSync(path.join(userB, 'keybindings.json'), 'utf8')) as Array<{ command: string }>;
    assert.deepStrictEqual(keys.map((k) => k.command), ['b.run', 's3Backup.refresh']);
    assert.ok(fs.readFileSync(path.join(userB, 'keybindings.json'), 'utf8').includes('// B binding'));
    assert.strictEqual(fs.readFileSync(path.join(userB, 'snippets', snippetName), 'utf8'), fs.readFileSync(path.join(userA, 'snippets', snippetName), 'utf8'));
    assert.ok(!fs.existsSync(path.join(userB, 'tasks.json')));
    assert.deepStrictEqual(Object.keys(readTextTree(userB)).filter((k) => k.endsWith('.tmp')), []);

    // Undo through the engine here; the next test uses the message's Undo button.
    const { BackupEngine } = require('../../src/core/engine') as typeof import('../../src/core/engine');
    const undone = await BackupEngine.undo(outcome.snapshotDir!);
    assert.deepStrictEqual(undone, { restored: 2, removed: 1 });
    assert.deepStrictEqual(readTextTree(userB), before, 'B is as it was');
    assert.ok(!fs.existsSync(path.join(userB, 'snippets')), 'the snippets folder the restore made is gone');
  });

  it('the Undo button of the restore message puts B back', async () => {
    assert.ok(appBackup);
    const before = readTextTree(userB);
    onPick = (items, options) => {
      if (/Restore App Data/.test(options.title ?? '')) return items.filter((i) => i.label === 'Settings');
      if (/^Settings \(\d\/\d\)$/.test(options.title ?? '')) return items.find((i) => i.label === 'Replace');
      return undefined;
    };
    // The user presses Undo only once the test has looked at the restored files.
    let pressUndo!: () => void;
    const undoPressed = new Promise<string>((resolve) => (pressUndo = () => resolve('Undo')));
    prompts.onMessage = (m) => (m.options.modal ? 'Restore' : /^Restored/.test(m.message) ? undoPressed : undefined);
    await vscode.commands.executeCommand('s3Backup.restoreAppData', await nodeFor(appBackup.key), { userDir: userB });
    const s = parse(fs.readFileSync(path.join(userB, 'settings.json'), 'utf8'));
    assert.strictEqual(s['files.autoSave'], undefined, 'replace drops keys only B had');
    assert.strictEqual(s['window.zoomLevel'], -1, 'replace keeps the machine-specific key');
    assert.strictEqual(s['editor.fontSize'], 17);
    await prompts.waitForMessage(/^Restored 1 app data file\. Reload the window to use them everywhere\.$/);
    pressUndo();
    await prompts.waitForMessage(/^The app data restore was undone: 1 file put back, 0 new files removed\.$/);
    assert.deepStrictEqual(prompts.errors(), []);
    assert.deepStrictEqual(readTextTree(userB), before);
  });

  it('"Back Up Everything": one full archive, and no stored key is in it', async () => {
    fullBackup = (await vscode.commands.executeCommand('s3Backup.backUpEverything')) as BackupResult | undefined;
    assert.deepStrictEqual(prompts.errors(), []);
    assert.ok(fullBackup);
    assert.strictEqual(fullBackup.kind, 'full');
    const paths = fullBackup.manifest.files.map((f) => f.path);
    assert.ok(paths.some((p) => p.startsWith('workspace/')) && paths.includes('appdata/settings.json'), JSON.stringify(paths));
    assert.match(String((await nodeFor(fullBackup.key)).description), /workspace and app data/);

    const stored = await api.secrets.get();
    assert.strictEqual(stored.secretAccessKey, env.secretAccessKey, 'the key is stored');
    const engine = await api.engineHost.getEngine();
    const file = path.join(machineB, 'full.zip');
    await engine.download(fullBackup.key, file);
    const raw = fs.readFileSync(file);
    // Every entry of the downloaded zip, read with a reader of its own (yauzl).
    const yauzl = require('yauzl') as typeof import('yauzl');
    const texts: Array<[string, Buffer]> = [['(raw archive)', raw]];
    await new Promise<void>((resolve, reject) => {
      yauzl.open(file, { lazyEntries: true }, (err, zip) => {
        if (err || !zip) return reject(err);
        zip.on('entry', (e: import('yauzl').Entry) => {
          if (e.fileName.endsWith('/')) return zip.readEntry();
          zip.openReadStream(e, (er, stream) => {
            if (er || !stream) return reject(er);
            const chunks: Buffer[] = [];
            stream.on('data', (c: Buffer) => chunks.push(c));
            stream.on('end', () => {
              texts.push([e.fileName, Buffer.concat(chunks)]);
              zip.readEntry();
            });
          });
        });
        zip.on('end', () => resolve());
        zip.readEntry();
      });
    });
    assert.ok(texts.length > 4);
    for (const secret of [env.secretAccessKey, env.accessKeyId]) {
      for (const [name, body] of texts) {
        for (const form of [secret, Buffer.from(secret).toString('base64')]) {
          assert.ok(!body.includes(form), `a stored key is in ${name}`);
        }
      }
    }
    // The scan can fail: the key would be found if a file held it.
    assert.ok(Buffer.from(`x${env.secretAccessKey}x`).includes(env.secretAccessKey));
  });

  it('restoring a full backup asks for workspace, app data or both; missing extensions are offered, never removed', async () => {
    // A backup from a "machine" with an extension this one lacks.
    const { collectAppData } = require('../../src/core/appData/collectAppData') as typeof import('../../src/core/appData/collectAppData');
    const { installedExtensions } = require('../../src/extension/host/userData') as typeof import('../../src/extension/host/userData');
    const engine = await api.engineHost.getEngine();
    const extra = await collectAppData(userA, {
      extensions: [...installedExtensions(), { id: 'example.not-installed-here', version: '1.2.3', enabled: true }],
    });
    const folder = vscode.workspace.workspaceFolders![0];
    const full = await engine.backup({ kind: 'full', folders: [{ name: folder.name, path: folder.uri.fsPath }], extra });

    let installPick: readonly vscode.QuickPickItem[] | undefined;
    onPick = (items, options) => {
      if (options.title === 'Restore a Full Backup') return items.find((i) => i.label === 'App Data Only');
      if (/Restore App Data/.test(options.title ?? '')) return items.filter((i) => i.label === 'Extensions');
      if (/^Install Extensions/.test(options.title ?? '')) {
        installPick = items;
        return undefined; // the user installs nothing
      }
      return undefined;
    };
    const before = vscode.extensions.all.map((x) => x.id).sort();
    await vscode.commands.executeCommand('s3Backup.restoreBackup', await nodeFor(full.key));
    assert.deepStrictEqual(prompts.errors(), []);
    const parts = prompts.picks.find((p) => p.options.title === 'Restore a Full Backup');
    assert.ok(parts, 'the parts were offered');
    assert.deepStrictEqual(parts.items.map((i) => i.label), ['Workspace and App Data', 'Workspace Only', 'App Data Only']);
    assert.ok(installPick, 'the missing extensions were offered');
    assert.deepStrictEqual(installPick.map((i) => i.label), ['example.not-installed-here']);
    assert.strictEqual(installPick[0].picked, true);
    // Nothing was written (only extensions chosen), nothing about the workspace was asked, nothing uninstalled.
    await prompts.waitForMessage(/already matches the backup/);
    assert.ok(!prompts.shown.some((m) => /Restore the backup from .* into/.test(m.message)), 'no workspace restore');
    assert.deepStrictEqual(vscode.extensions.all.map((x) => x.id).sort(), before);
  });

  it('"Restore App Data..." from the palette offers only app data and full backups', async () => {
    assert.ok(appBackup && fullBackup && workspaceOnlyKey, 'needs the backups of the previous tests');
    onPick = () => undefined; // look, then Escape
    const r = await vscode.commands.executeCommand('s3Backup.restoreAppData');
    assert.strictEqual(r, undefined);
    assert.deepStrictEqual(prompts.errors(), []);
    const pick = prompts.picks.find((p) => p.options.placeHolder === 'Choose a backup with app data to restore');
    assert.ok(pick, 'the backups were offered');
    const keys = pick.items.filter((i) => i.kind !== vscode.QuickPickItemKind.Separator).map((i) => i.detail!);
    const { parseBackupKey } = require('../../src/core/format/backupKeys') as typeof import('../../src/core/format/backupKeys');
    const { rootPath } = (await api.engineHost.getEngine()).profile;
    assert.deepStrictEqual([...new Set(keys.map((k) => parseBackupKey(rootPath, k)?.kind))].sort(), ['appdata', 'full']);
    for (const k of [appBackup.key, fullBackup.key]) assert.ok(keys.includes(k), `${k} is offered`);
    assert.ok(!keys.includes(workspaceOnlyKey), 'the workspace-only backup is not offered');
  });
});
