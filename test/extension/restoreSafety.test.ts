// A restore you can trust, in the real extension host: hostile backups
// planted in the real bucket under normal-looking keys are refused or defused
// (app data: planted profile files, nested git.path, s3Backup.* itself), the
// settings that look like secrets stay out of app data backups and the
// restore says which, and files that run code need a second, explicit yes.
import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import * as vscode from 'vscode';
import { applyEdits, modify, parse } from 'jsonc-parser';
import type { BackupNode } from '../../src/extension/tree/nodes';
import type { AppDataRestoreOutcome } from '../../src/extension/commands/restoreAppData';
import type { BackupResult } from '../../src/core/engine';
import type { RestoreResult } from '../../src/core/restore/applyRestore';
import type { TestApi } from '../../src/extension/extension';
import type { TestBucket } from '../helpers/s3';
import { clearConnection, getApi, ScriptedPrompts, userSettingsFile, waitFor, requireS3Server } from './helpers';
import { readTextTree } from '../helpers/tree';

type QuickPickHandler = (items: readonly vscode.QuickPickItem[], options: vscode.QuickPickOptions) => vscode.QuickPickItem[] | vscode.QuickPickItem | undefined;

describe('restore you can trust (real S3 server, planted backups)', function () {
  let api: TestApi;
  let bucket: TestBucket | undefined;
  let prompts: ScriptedPrompts;
  let rootPath: string;
  let machineB: string;
  let userB: string;
  let onPick: QuickPickHandler;
  let settingsFile: string;
  let savedSettings: string;
  const B_SETTINGS = '{\n\t// B\n\t"editor.fontSize": 11,\n\t"git.path": "/usr/bin/git",\n\t"myext.apiToken": "b-own-value",\n\t"s3Backup.appData.ignoredSettings": ["window.zoomLevel"]\n}\n';

  before(async function () {
    requireS3Server();
    api = await getApi();
    const s3 = require('../helpers/s3') as typeof import('../helpers/s3');
    const e = s3.s3TestEnv();
    bucket = await s3.createTestBucket('trust');
    rootPath = `trust/${crypto.randomBytes(3).toString('hex')}`;
    await api.engineHost.saveProfile({ endpoint: e.endpoint, region: e.region, bucket: bucket.bucket, rootPath, accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey });
    await waitFor('the tree to see the settings', async () => (await api.tree.updateConfigured()) === true);
    settingsFile = userSettingsFile(api.services.context);
    savedSettings = fs.readFileSync(settingsFile, 'utf8');
    machineB = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-trust-b-'));
    userB = path.join(machineB, 'User');
  });

  beforeEach(() => {
    fs.rmSync(userB, { recursive: true, force: true });
    fs.mkdirSync(userB, { recursive: true });
    fs.writeFileSync(path.join(userB, 'settings.json'), B_SETTINGS);
    prompts = new ScriptedPrompts(api.prompts);
    onPick = () => undefined;
    // Several picks answer with more than one item: answer both kinds of pick here.
    prompts.answerPicks((items, options) => onPick(items, options));
  });

  afterEach(() => prompts?.dispose());

  after(async () => {
    if (!api) return;
    if (savedSettings !== undefined) fs.writeFileSync(settingsFile, savedSettings);
    await clearConnection(api);
    if (machineB) fs.rmSync(machineB, { recursive: true, force: true });
    await bucket?.cleanup();
  });

  async function nodeFor(key: string): Promise<BackupNode> {
    await api.tree.refresh();
    return waitFor(`the tree node of ${key}`, () => api.tree.findBackupNode(key));
  }

  /** Writes an archive of these entries (manifest made by our writer, so it verifies) and plants it under a normal-looking key. */
  async function plant(kind: 'appdata' | 'workspace', entries: Record<string, string>): Promise<string> {
    const { writeArchive } = require('../helpers/v1/archiveWriter') as typeof import('../helpers/v1/archiveWriter');
    const { makeBackupKey } = require('../../src/core/format/backupKeys') as typeof import('../../src/core/format/backupKeys');
    const sources = Object.entries(entries).map(([archivePath, body]) => ({ archivePath, data: Buffer.from(body), size: Buffer.byteLength(body), mtimeMs: Date.now(), mode: 0o644 }));
    const prefixes = [...new Set(sources.map((s) => s.archivePath.split('/').slice(0, s.archivePath.startsWith('workspace/') ? 2 : 1).join('/')))];
    const a = writeArchive(sources, { kind, hostname: 'dev-laptop', platform: 'linux', created: new Date().toISOString(), sources: prefixes, toolVersion: '0.1.0' });
    const file = path.join(machineB, `planted-${crypto.randomBytes(3).toString('hex')}.zip`);
    await Promise.all([pipeline(a.stream, fs.createWriteStream(file)), a.done]);
    const key = makeBackupKey(rootPath, { time: new Date(), host: 'dev-laptop', kind, format: 1 });
    await bucket!.putObject(key, fs.readFileSync(file));
    fs.rmSync(file);
    return key;
  }

  // The pickers' titles carry their step: "Restore App Data from … (1/2)", then "Settings (2/2)".
  const restoreSettings = (mode: 'Merge' | 'Replace'): QuickPickHandler => (items, options) => {
    if (/^Restore App Data from .+ \(1\/\d\)$/.test(options.title ?? '')) return items.filter((i) => i.label === 'Settings' || i.label === 'Profiles');
    if (/^Settings \(\d\/\d\)$/.test(options.title ?? '')) return items.find((i) => i.label === mode);
    return undefined;
  };

  /**
   * B has settings of its own, so the restore asks Merge or Replace: the
   * pickers of the flow were the categories, then that question (a pick the
   * test did not expect would have cancelled the restore).
   */
  function assertAskedSettingsMode(): void {
    assert.deepStrictEqual(
      prompts.picks.map((p) => p.options.title?.replace(/^Restore App Data from .+ (\(\d\/\d\))$/, 'Restore App Data from … $1')),
      ['Restore App Data from … (1/2)', 'Settings (2/2)'],
      'the categories, then Merge or Replace',
    );
    assert.deepStrictEqual(prompts.picks[1].items.map((i) => i.label), ['Merge', 'Replace']);
  }

  it('a backup holding a file in a profile\'s globalStorage is refused: nothing is written', async () => {
    const key = await plant('appdata', {
      'appdata/settings.json': '{ "editor.fontSize": 30 }\n',
      'appdata/profiles/1a2b3c/settings.json': '{}\n',
      'appdata/profiles/1a2b3c/globalStorage/ms-python.python/bin/python': '#!/bin/sh\ntouch /tmp/s3b-pwned\n',
    });
    const before = readTextTree(userB);
    onPick = restoreSettings('Merge');
    prompts.onMessage = (m) => (m.options.modal ? 'Restore' : undefined);
    const r = await vscode.commands.executeCommand('s3Backup.restoreAppData', await nodeFor(key), { userDir: userB });
    assert.strictEqual(r, undefined);
    const err = await prompts.waitForMessage(/which a backup made by S3 Backup never holds/);
    assert.strictEqual(err.kind, 'error');
    assert.match(err.message, /^The backup holds "appdata\/profiles\/1a2b3c\/globalStorage\/ms-python\.python\/bin\/python", which a backup made by S3 Backup never holds, so nothing was written\. Do not restore this backup/);
    assert.deepStrictEqual(prompts.picks, [], 'refused before anything was offered');
    assert.deepStrictEqual(readTextTree(userB), before);
  });

  for (const mode of ['Merge', 'Replace'] as const) {
    it(`${mode}: a nested git.path, s3Backup.* and settings that run programs in a backup do not reach this machine`, async () => {
      const key = await plant('appdata', {
        'appdata/settings.json': JSON.stringify({
          'editor.fontSize': 19,
          git: { path: '/tmp/evil/git', enabled: true },
          's3Backup.appData.ignoredSettings': [],
          s3Backup: { rootPath: 'attacker/elsewhere' },
          terminal: { 'integrated.env.linux': { LD_PRELOAD: '/tmp/evil.so' } },
          'typescript.tsdk': '/tmp/evil/tsserver',
          'security.workspace.trust.enabled': false,
          'task.allowAutomaticTasks': 'on',
          '[python]': { python: { defaultInterpreterPath: '/tmp/evil/python' } },
        }),
      });
      onPick = restoreSettings(mode);
      prompts.onMessage = (m) => (m.options.modal ? 'Restore' : undefined);
      const outcome = (await vscode.commands.executeCommand('s3Backup.restoreAppData', await nodeFor(key), { userDir: userB })) as AppDataRestoreOutcome | undefined;
      assert.deepStrictEqual(prompts.errors(), []);
      assertAskedSettingsMode();
      assert.ok(outcome?.written === 1, 'settings.json was restored');
      const text = fs.readFileSync(path.join(userB, 'settings.json'), 'utf8');
      const v = parse(text);
      // The mode asked for is the one used: merge keeps B's comments and keys only B has, replace does not.
      assert.strictEqual(text.includes('// B'), mode === 'Merge', text);
      assert.strictEqual(v['myext.apiToken'], mode === 'Merge' ? 'b-own-value' : undefined, text);
      assert.strictEqual(v['editor.fontSize'], 19, 'an ordinary setting arrives');
      assert.strictEqual(v['git.path'], '/usr/bin/git', "B's git stays");
      assert.strictEqual(v.git?.path, undefined, 'the nested git.path did not get through');
      assert.deepStrictEqual(v['s3Backup.appData.ignoredSettings'], ['window.zoomLevel'], "B's own s3Backup settings stay");
      assert.strictEqual(v.s3Backup, undefined);
      assert.ok(!text.includes('/tmp/evil') && !text.includes('attacker'), text);
      for (const k of ['typescript.tsdk', 'security.workspace.trust.enabled', 'task.allowAutomaticTasks']) assert.strictEqual(v[k], undefined, k);
    });
  }

  it('Back Up App Data leaves secret-looking settings out; the restore says which, and B keeps its own', async () => {
    // A's settings as a user would have them, with a token in them.
    let text = fs.readFileSync(settingsFile, 'utf8');
    for (const [k, val] of [['editor.fontSize', 16], ['myext.apiToken', 'a-token-that-must-stay-home'], ['myext.env', { API_KEY: 'a-key-that-must-stay-home' }], ['terminal.integrated.env.linux', { TOKEN: 'an-env-that-must-stay-home' }]] as const) {
      text = applyEdits(text, modify(text, [k], val, { formattingOptions: { insertSpaces: false, tabSize: 4 } }));
    }
    // Written as a user would; the backup reads the file itself.
    fs.writeFileSync(settingsFile, text);

    const backup = (await vscode.commands.executeCommand('s3Backup.backUpAppData')) as BackupResult | undefined;
    assert.deepStrictEqual(prompts.errors(), []);
    assert.ok(backup, 'no backup');
    await prompts.waitForMessage(/^Backed up \d+ files \([^)]*\)\. 2 settings that look like secrets were left out \(s3Backup\.appData\.includeSecretSettings includes them\)\.$/);
    const engine = await api.engineHost.getEngine();
    const file = path.join(machineB, 'a.zip');
    await engine.download(backup.key, file);
    const raw = fs.readFileSync(file);
    for (const secret of ['a-token-that-must-stay-home', 'a-key-that-must-stay-home', 'an-env-that-must-stay-home']) assert.ok(!raw.includes(secret), 'a secret-looking value went into the backup');
    const fetched = await engine.fetch(backup.key);
    try {
      const content = await engine.readAppData(fetched);
      // terminal.integrated.env.* is never backed up at all (always ignored), so it is not listed as left out.
      assert.deepStrictEqual(content.leftOutSettings, { 'settings.json': ['myext.apiToken', 'myext.env.API_KEY'] });
    } finally {
      await fetched.dispose();
    }

    onPick = restoreSettings('Replace');
    prompts.onMessage = (m) => (m.options.modal ? 'Restore' : undefined);
    const outcome = (await vscode.commands.executeCommand('s3Backup.restoreAppData', await nodeFor(backup.key), { userDir: userB })) as AppDataRestoreOutcome | undefined;
    assert.deepStrictEqual(prompts.errors(), []);
    assertAskedSettingsMode();
    assert.ok(outcome);
    const sentence = '2 settings that look like secrets are not in the backup and stay as they are here: myext.apiToken, myext.env.API_KEY.';
    const plan = prompts.shown.find((m) => m.options.modal)!;
    // The confirmation's detail: what it writes, then the sentence; the full path of the user folder on a line of its own last.
    const paragraphs = plan.options.detail?.split('\n\n') ?? [];
    assert.strictEqual(paragraphs.length, 2, plan.options.detail);
    assert.ok(paragraphs[0].endsWith(sentence), plan.options.detail);
    assert.strictEqual(paragraphs[1], userB);
    const done = await prompts.waitForMessage(/^Restored 1 app data file\./);
    assert.ok(done.message.endsWith(sentence), done.message);
    const v = parse(fs.readFileSync(path.join(userB, 'settings.json'), 'utf8'));
    assert.strictEqual(v['editor.fontSize'], 16);
    assert.strictEqual(v['myext.apiToken'], 'b-own-value', 'Replace keeps B\'s own value of a left-out setting');

    // Asked for, they are backed up.
    await vscode.workspace.getConfiguration('s3Backup.appData').update('includeSecretSettings', true, vscode.ConfigurationTarget.Global);
    try {
      const withSecrets = (await vscode.commands.executeCommand('s3Backup.backUpAppData')) as BackupResult | undefined;
      assert.ok(withSecrets);
      const said = prompts.shown.filter((m) => /^Backed up/.test(m.message)).at(-1)!;
      assert.ok(!said.message.includes('left out'), said.message);
      await engine.download(withSecrets.key, path.join(machineB, 'b.zip'));
      const f2 = await engine.fetch(withSecrets.key);
      try {
        const c2 = await engine.readAppData(f2);
        assert.deepStrictEqual(c2.leftOutSettings, {});
        assert.strictEqual(parse(c2.files.get('settings.json')!.toString('utf8'))['myext.apiToken'], 'a-token-that-must-stay-home');
      } finally {
        await f2.dispose();
      }
    } finally {
      await vscode.workspace.getConfiguration('s3Backup.appData').update('includeSecretSettings', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  it('a workspace backup with files that run code asks a second question; the first answer leaves them out', async () => {
    const tasks = JSON.stringify({ version: '2.0.0', tasks: [{ label: 'x', type: 'shell', command: 'touch /tmp/s3b-pwned', runOptions: { runOn: 'folderOpen' } }] });
    const key = await plant('workspace', { 'workspace/app/src/index.ts': 'export {};\n', 'workspace/app/.vscode/tasks.json': tasks, 'workspace/app/.envrc': 'touch /tmp/s3b-pwned\n' });
    const target = path.join(machineB, 'restored');
    fs.mkdirSync(target);
    const run = async (second: string | undefined): Promise<RestoreResult | undefined> => {
      prompts.shown.length = 0;
      let modals = 0;
      prompts.onMessage = (m) => {
        if (!m.options.modal) return undefined;
        modals++;
        return modals === 1 ? 'Restore into Another Folder...' : modals === 2 ? 'Restore' : second;
      };
      prompts.onOpenDialog = () => [vscode.Uri.file(target)];
      return (await vscode.commands.executeCommand('s3Backup.restoreBackup', await nodeFor(key))) as RestoreResult | undefined;
    };

    const left = await run('Leave Them Out');
    assert.deepStrictEqual(prompts.errors(), []);
    const question = prompts.shown.filter((m) => m.options.modal)[2];
    assert.ok(question, 'no second question');
    assert.strictEqual(question.message, 'The backup holds 2 files that can make VS Code or other tools run programs by themselves. Restore them too?');
    assert.deepStrictEqual(question.items, ['Leave Them Out', 'Restore Them Too']);
    assert.ok(question.options.detail?.startsWith('.vscode/tasks.json\n.envrc\n\n'), question.options.detail);
    assert.strictEqual(left?.written, 1);
    assert.deepStrictEqual(Object.keys(readTextTree(target)), ['src/index.ts']);

    const cancelled = await run(undefined);
    assert.strictEqual(cancelled, undefined, 'dismissing the question restores nothing');
    assert.deepStrictEqual(Object.keys(readTextTree(target)), ['src/index.ts']);

    const all = await run('Restore Them Too');
    assert.strictEqual(all?.written, 2);
    assert.strictEqual(fs.readFileSync(path.join(target, '.vscode', 'tasks.json'), 'utf8'), tasks);
    assert.ok(fs.existsSync(path.join(target, '.envrc')));
  });
});
