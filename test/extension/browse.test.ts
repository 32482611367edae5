import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { BackupEngine } from '../../src/core/engine';
import { packKey } from '../../src/core/format/packKeys';
import type { TestApi } from '../../src/extension/extension';
import type { BackupFileNode, BackupFolderNode, BackupNode, BackupsNode } from '../../src/extension/tree/nodes';
import type { TestBucket } from '../helpers/s3';
import { getApi, requireS3Server, ScriptedPrompts, waitFor } from './helpers';

// Looking inside a backup from VS Code, against the real S3 server: the tree
// expands a backup from its manifest, the read-only file system serves its
// files (and refuses a tampered one), the diff editor compares a backed-up
// file with the current one, Verify, Find in Backups, and restoring one file
// with the plan's diff and Undo.
describe('browsing a backup (real S3 server)', function () {
  let api: TestApi;
  let bucket: TestBucket | undefined;
  let prompts: ScriptedPrompts;
  let engine: BackupEngine;
  let key: string;
  let ws: vscode.WorkspaceFolder;
  let source: string;
  const fx = `s3b-browse-${crypto.randomBytes(3).toString('hex')}`;
  const rootPath = `browse/${crypto.randomBytes(3).toString('hex')}`;
  const local = (rel: string): string => path.join(ws.uri.fsPath, fx, ...rel.split('/'));
  const archive = (rel: string): string => `workspace/${ws.name}/${fx}/${rel}`;
  const uriOf = (rel: string): vscode.Uri => vscode.Uri.from({ scheme: 's3backup', path: `/${key.slice(key.lastIndexOf('/') + 1)}/${archive(rel)}` });
  const binary = crypto.randomBytes(50_000);

  before(async function () {
    requireS3Server();
    api = await getApi();
    const s3 = require('../helpers/s3') as typeof import('../helpers/s3');
    const env = s3.s3TestEnv();
    bucket = await s3.createTestBucket('browse-ext');
    ws = vscode.workspace.workspaceFolders![0];
    // The backup: a folder named like the open one, so its files land on the workspace.
    source = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-browse-src-'));
    const files: Record<string, string | Buffer> = { 'notes.txt': 'from the backup\n', 'keep.txt': 'backup keep\n', 'sub/data.bin': binary, 'tamper.txt': 'to be tampered with\n' };
    // One page of a folder's entries and one more.
    for (let i = 0; i <= 500; i++) files[`many/f${String(i).padStart(3, '0')}.txt`] = `${i}\n`;
    for (const [rel, body] of Object.entries(files)) {
      const p = path.join(source, fx, ...rel.split('/'));
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, body);
    }
    fs.mkdirSync(local(''), { recursive: true });
    fs.writeFileSync(local('notes.txt'), 'current\n');
    fs.writeFileSync(local('keep.txt'), 'local keep\n');
    await api.engineHost.saveProfile({ endpoint: env.endpoint, region: env.region, bucket: bucket.bucket, rootPath, accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey });
    engine = await api.engineHost.getEngine();
    key = (await engine.backup({ kind: 'workspace', folders: [{ name: ws.name, path: source }] })).key;
    await api.tree.refresh();
  });

  beforeEach(() => {
    prompts = new ScriptedPrompts(api.prompts);
  });

  afterEach(async () => {
    prompts?.dispose();
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  after(async () => {
    if (!api) return;
    await api.engineHost.saveProfile({ endpoint: '', region: '', bucket: '', rootPath: '', accessKeyId: '', secretAccessKey: '' });
    fs.rmSync(source, { recursive: true, force: true });
    fs.rmSync(path.join(ws.uri.fsPath, fx), { recursive: true, force: true });
    await bucket?.cleanup();
  });

  async function children(node: BackupsNode): Promise<BackupsNode[]> {
    return await api.tree.getChildren(node);
  }

  /** The tree node of `rel` under the backup, expanding folder by folder. */
  async function nodeOf(rel: string): Promise<BackupFileNode | BackupFolderNode> {
    const backup = api.tree.findBackupNode(key);
    assert.ok(backup, 'the backup is in the tree');
    let node: BackupsNode = backup;
    for (const name of [ws.name, fx, ...rel.split('/')]) {
      const next: BackupsNode | undefined = (await children(node)).find((c) => c.label === name);
      assert.ok(next, `${name} under ${String(node.label)}: ${(await children(node)).map((c) => c.label).join(', ')}`);
      node = next;
    }
    return node as BackupFileNode | BackupFolderNode;
  }

  function activeDiff(): vscode.TabInputTextDiff | undefined {
    const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    return input instanceof vscode.TabInputTextDiff ? input : undefined;
  }

  it('a backup expands lazily into its folders and files, with size and age, from the manifest alone', async () => {
    const backup = api.tree.findBackupNode(key) as BackupNode;
    assert.strictEqual(backup.collapsibleState, vscode.TreeItemCollapsibleState.Collapsed);
    const top = await children(backup);
    assert.deepStrictEqual(top.map((n) => [n.label, n.contextValue]), [[ws.name, 'backupFolder']]);
    const folder = await nodeOf('sub');
    assert.strictEqual(folder.contextValue, 'backupFolder');
    const [file] = (await children(folder)) as BackupFileNode[];
    assert.strictEqual(file.label, 'data.bin');
    assert.strictEqual(file.contextValue, 'backupFile');
    assert.match(String(file.description), /^48\.8 KB · /);
    assert.strictEqual(file.command?.command, 'vscode.open');
    assert.strictEqual(String(file.command?.arguments?.[0]), String(uriOf('sub/data.bin')));
    assert.strictEqual(api.tree.getParent(file), folder, 'getParent walks back up (reveal)');
  });

  it('a big folder shows 500 entries, then "Load More…" shows the rest', async () => {
    const many = await nodeOf('many');
    const first = await children(many);
    assert.strictEqual(first.length, 501, '500 entries and the "Load More…" node');
    const more = first[500];
    assert.strictEqual(more.label, 'Load More…');
    assert.strictEqual(more.description, '500 of 501');
    await vscode.commands.executeCommand(more.command!.command, ...(more.command!.arguments ?? []));
    const all = await children(many);
    assert.strictEqual(all.length, 501);
    assert.strictEqual(all[500].label, 'f500.txt');
  });

  it('the read-only file system: stat, readDirectory, readFile (binary intact), writes refused', async () => {
    const st = await vscode.workspace.fs.stat(uriOf('notes.txt'));
    assert.strictEqual(st.type, vscode.FileType.File);
    assert.strictEqual(st.size, 'from the backup\n'.length);
    assert.strictEqual(st.permissions, vscode.FilePermission.Readonly);
    assert.strictEqual((await vscode.workspace.fs.stat(uriOf('sub'))).type, vscode.FileType.Directory);
    const dir = await vscode.workspace.fs.readDirectory(uriOf(''));
    assert.deepStrictEqual(dir, [['many', vscode.FileType.Directory], ['sub', vscode.FileType.Directory], ['keep.txt', vscode.FileType.File], ['notes.txt', vscode.FileType.File], ['tamper.txt', vscode.FileType.File]]);
    assert.ok(Buffer.from(await vscode.workspace.fs.readFile(uriOf('sub/data.bin'))).equals(binary));
    await assert.rejects(Promise.resolve(vscode.workspace.fs.stat(uriOf('missing.txt'))), (e: vscode.FileSystemError) => e.code === 'FileNotFound');
    await assert.rejects(Promise.resolve(vscode.workspace.fs.writeFile(uriOf('notes.txt'), Buffer.from('x'))), 'a backup cannot be written');
    const doc = await vscode.workspace.openTextDocument(uriOf('notes.txt'));
    assert.strictEqual(doc.getText(), 'from the backup\n');
  });

  it('a file whose entry was tampered with in the pack is refused with one plain sentence; Verify finds it too', async () => {
    const verified = (await vscode.commands.executeCommand('s3Backup.verifyBackup', api.tree.findBackupNode(key))) as { files: number } | undefined;
    assert.strictEqual(verified?.files, 505);
    assert.match((await prompts.waitForMessage(/is intact/)).message, /all 505 files/);

    const manifest = await engine.manifests.load({ key });
    const f = manifest.files.find((x) => x.path === archive('tamper.txt'))!;
    const [pack, offset] = f.refs![0];
    const pk = packKey(rootPath, manifest.packs![pack]);
    const original = await bucket!.getObject(pk);
    const bad = Buffer.from(original);
    bad[offset] ^= 0x01;
    await bucket!.putObject(pk, bad);
    try {
      await assert.rejects(Promise.resolve(vscode.workspace.fs.readFile(uriOf('tamper.txt'))), (e: Error) => /damaged/.test(e.message));
      assert.strictEqual(Buffer.from(await vscode.workspace.fs.readFile(uriOf('notes.txt'))).toString(), 'from the backup\n', 'the other files still open');
      await vscode.commands.executeCommand('s3Backup.verifyBackup', api.tree.findBackupNode(key));
      assert.match(prompts.errors().join('\n'), /damaged/);
    } finally {
      await bucket!.putObject(pk, original);
    }
  });

  it('"Compare with Current" opens the diff editor: the backup\'s copy against the workspace file', async () => {
    const node = (await nodeOf('notes.txt')) as BackupFileNode;
    await vscode.commands.executeCommand('s3Backup.compareWithCurrent', node);
    const diff = await waitFor('the diff editor', () => activeDiff());
    assert.strictEqual(String(diff.original), String(uriOf('notes.txt')));
    assert.strictEqual(diff.modified.fsPath, local('notes.txt'));
    assert.match(vscode.window.tabGroups.activeTabGroup.activeTab!.label, /notes\.txt \(backup of .+\) ↔ current/);
  });

  it('"Compare with Backup..." on the open file lists the backups holding it and opens the diff', async () => {
    await vscode.window.showTextDocument(vscode.Uri.file(local('notes.txt')));
    prompts.onQuickPick = (items) => items[0];
    await vscode.commands.executeCommand('s3Backup.compareWithBackup');
    assert.strictEqual(prompts.picks.length, 1);
    assert.deepStrictEqual(prompts.picks[0].items.map((i) => i.detail), [archive('notes.txt')]);
    const diff = await waitFor('the diff editor', () => activeDiff());
    assert.strictEqual(String(diff.original), String(uriOf('notes.txt')));
    assert.strictEqual(diff.modified.fsPath, local('notes.txt'));
  });

  it('"Find in Backups..." finds a path and opens the backup\'s copy; a path no backup holds says so', async () => {
    prompts.onInputBox = () => `${fx}/keep.txt`;
    prompts.onQuickPick = (items) => items[0];
    await vscode.commands.executeCommand('s3Backup.findInBackups');
    const tab = await waitFor('the opened copy', () => {
      const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      return input instanceof vscode.TabInputText && input.uri.scheme === 's3backup' ? input : undefined;
    });
    assert.strictEqual(String(tab.uri), String(uriOf('keep.txt')));
    prompts.onInputBox = () => `${fx}/nothing-here.txt`;
    await vscode.commands.executeCommand('s3Backup.findInBackups');
    await prompts.waitForMessage(/No backup holds/);
  });

  it('restores just one file: the plan names it, "Show Files" diffs it, the rest stays, and Undo puts it back', async () => {
    const node = (await nodeOf('notes.txt')) as BackupFileNode;
    let plans = 0;
    let release!: () => void;
    const undoClicked = new Promise<void>((r) => (release = r));
    prompts.onQuickPick = (items) => items.find((i) => (i as { compare?: unknown }).compare);
    prompts.onMessage = (m) => {
      if (/^Restore "/.test(m.message)) return ++plans === 1 ? 'Show Files' : 'Restore';
      if (/^Restored 1 file/.test(m.message)) return undoClicked.then(() => 'Undo');
      return undefined;
    };
    const result = (await vscode.commands.executeCommand('s3Backup.restoreBackupItem', node)) as { written: number } | undefined;
    assert.strictEqual(result?.written, 1);
    const plan = prompts.shown.find((m) => /^Restore "/.test(m.message))!;
    assert.match(plan.message, new RegExp(`^Restore "${ws.name}/${fx}/notes\\.txt" from the backup of `));
    assert.match(String(plan.options.detail), /^0 new, 1 overwritten, 0 unchanged/);
    const listed = prompts.picks[0].items.filter((i) => i.kind !== vscode.QuickPickItemKind.Separator).map((i) => i.label);
    assert.ok(listed.includes(`${fx}/notes.txt`) && !listed.includes(`${fx}/keep.txt`), listed.join(', '));
    const diff = vscode.window.tabGroups.all.flatMap((g) => g.tabs).map((t) => t.input).find((i): i is vscode.TabInputTextDiff => i instanceof vscode.TabInputTextDiff);
    assert.ok(diff, '"Show Files" opened the diff of the overwritten file');
    assert.strictEqual(String(diff.original), String(uriOf('notes.txt')));
    assert.strictEqual(diff.modified.fsPath, local('notes.txt'));
    assert.strictEqual(fs.readFileSync(local('notes.txt'), 'utf8'), 'from the backup\n', 'the file was restored');
    assert.strictEqual(fs.readFileSync(local('keep.txt'), 'utf8'), 'local keep\n', 'only the chosen file was restored');
    release();
    await waitFor('the undo', () => fs.readFileSync(local('notes.txt'), 'utf8') === 'current\n');
    await prompts.waitForMessage(/The restore was undone/);
  });

  it('without settings, a backup file says that S3 storage is not configured', async () => {
    await api.engineHost.saveProfile({ endpoint: '', region: '', bucket: '', rootPath: '', accessKeyId: '', secretAccessKey: '' });
    await assert.rejects(Promise.resolve(vscode.workspace.fs.readFile(uriOf('notes.txt'))), (e: Error) => /not configured/.test(e.message));
  });
});
