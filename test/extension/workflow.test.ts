import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as vscode from 'vscode';
import type { BackupNode, MachineNode } from '../../src/extension/tree/nodes';
import type { BackupResult, ConnectionReport } from '../../src/core/engine';
import type { RestoreResult } from '../../src/core/restore/applyRestore';
import type { TestApi } from '../../src/extension/extension';
import { formatBytes } from '../../src/extension/ui/format';
import type { TestBucket } from '../helpers/s3';
import { extensionLogFiles, getApi, ScriptedPrompts, type ShownMessage, treeDigest, userSettingsFile, waitFor, writeFixture, requireS3Server } from './helpers';

const CONFIGURED = 's3Backup.configured';
const SETTINGS = ['endpoint', 'region', 'bucket', 'rootPath', 'addressingStyle'];

// The whole path a user takes, in order, against the real S3 server named by
// S3_TEST_*: configure, back up, restore elsewhere, undo, delete; plus the
// unconfigured state and a wrong secret.
describe('S3 Backup in VS Code (real S3 server)', function () {
  let api: TestApi;
  let bucket: TestBucket | undefined;
  let prompts: ScriptedPrompts;
  let workspaceDir: string;
  let fixtureDir: string;
  const fixtureName = `s3b-fixture-${crypto.randomBytes(3).toString('hex')}`;
  const rootPath = `integration/${crypto.randomBytes(3).toString('hex')}`;
  const tmpDirs: string[] = [];
  let backup: BackupResult | undefined;
  let restoreTarget: string;
  let env: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };

  before(async function () {
    requireS3Server();
    api = await getApi();
    // Loaded only now: the activation test checks that nothing loaded the SDK before.
    const s3 = require('../helpers/s3') as typeof import('../helpers/s3');
    env = s3.s3TestEnv();
    bucket = await s3.createTestBucket('integration');
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder && folder.uri.scheme === 'file', 'the tests need a workspace folder on disk');
    workspaceDir = folder.uri.fsPath;
    fixtureDir = path.join(workspaceDir, fixtureName);
    writeFixture(fixtureDir);
  });

  beforeEach(() => {
    prompts = new ScriptedPrompts(api.prompts);
  });

  afterEach(() => {
    prompts?.dispose();
  });

  after(async () => {
    if (!api) return;
    await clearSettings();
    if (fixtureDir) fs.rmSync(fixtureDir, { recursive: true, force: true });
    for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
    await bucket?.cleanup();
  });

  async function clearSettings(): Promise<void> {
    const c = vscode.workspace.getConfiguration('s3Backup');
    for (const k of SETTINGS) await c.update(k, undefined, vscode.ConfigurationTarget.Global);
    await api.secrets.clear();
  }

  function tmpDir(name: string): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), `s3b-${name}-`));
    tmpDirs.push(d);
    return d;
  }

  async function rootNodes(): Promise<MachineNode[]> {
    await api.tree.refresh();
    return api.tree.getChildren() as MachineNode[];
  }

  async function findNode(key: string): Promise<BackupNode | undefined> {
    for (const m of await rootNodes()) {
      const n = (api.tree.getChildren(m) as BackupNode[]).find((c) => c.id === key);
      if (n) return n;
    }
    return undefined;
  }

  it('unconfigured: the context key is false and the tree is empty, so the welcome shows', async () => {
    await clearSettings();
    await api.tree.refresh();
    assert.strictEqual(api.tree.contextKeys.get(CONFIGURED), false);
    assert.deepStrictEqual(api.tree.getChildren(), []);

    await vscode.commands.executeCommand('s3Backup.testConnection');
    const [error] = prompts.errors();
    assert.ok(error, 'no error message was shown');
    assert.match(error, /not configured/);
  });

  it('saving the settings page puts both keys in SecretStorage and not in settings.json', async () => {
    const panel = (await vscode.commands.executeCommand('s3Backup.openSettings')) as
      | { handleMessage(m: unknown): Promise<boolean>; dispose(): void }
      | undefined;
    assert.ok(panel, 's3Backup.openSettings returned no panel');
    try {
      // The very message the webview posts on Save.
      const handled = await panel.handleMessage({
        type: 'save',
        values: { endpoint: env.endpoint, region: env.region, bucket: bucket!.bucket, accessKeyId: env.accessKeyId, rootPath, addressingStyle: 'auto' },
        secretAccessKey: env.secretAccessKey,
      });
      assert.strictEqual(handled, true, 'the panel refused the save message');
    } finally {
      panel.dispose();
    }

    const stored = await api.secrets.get();
    assert.strictEqual(stored.accessKeyId, env.accessKeyId);
    assert.strictEqual(stored.secretAccessKey, env.secretAccessKey);

    const file = userSettingsFile(api.services.context);
    const text = await waitFor(`${file} to hold the bucket`, () => {
      const t = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      return t.includes(bucket!.bucket) ? t : undefined;
    });
    assert.ok(!text.includes(env.secretAccessKey), 'the secret access key is in settings.json');
    assert.ok(!text.includes(env.accessKeyId), 'the access key id is in settings.json');
    const inspected = JSON.stringify(vscode.workspace.getConfiguration('s3Backup'));
    assert.ok(!inspected.includes(env.secretAccessKey) && !inspected.includes(env.accessKeyId), 'a key is readable as a setting');

    await waitFor('the configured context key', async () => {
      await api.tree.refresh();
      return api.tree.contextKeys.get(CONFIGURED) === true;
    });
  });

  it('a wrong secret shows the plain message and never reaches the log', async () => {
    const wrong = `Wrong${crypto.randomBytes(12).toString('hex')}Secret`;
    await api.secrets.store({ secretAccessKey: wrong });
    try {
      const report = (await vscode.commands.executeCommand('s3Backup.testConnection')) as ConnectionReport | undefined;
      assert.ok(report && !report.ok, 'the connection test passed with a wrong secret');
      const error = await prompts.waitForMessage(/secret access key was rejected/);
      assert.strictEqual(error.kind, 'error');
      assert.ok(error.items.includes('Show Log'), `actions: ${error.items.join(', ')}`);
      assert.ok(!error.message.includes(wrong));

      const captured = api.log.captured ?? [];
      assert.ok(captured.some((l) => l.includes('SignatureMismatch')), 'the failure was not logged');
      for (const secret of [wrong, env.secretAccessKey]) {
        assert.ok(!captured.some((l) => l.includes(secret)), 'a secret reached the log');
      }
      const files = extensionLogFiles(api.services.context);
      console.log(`[workflow] log files: ${files.join(', ') || '(none found under logUri)'}`);
      for (const f of files) {
        const text = await waitFor(`${f} to be written`, () => {
          const t = fs.readFileSync(f, 'utf8');
          return t.includes('SignatureMismatch') ? t : undefined;
        }, 10_000);
        assert.ok(!text.includes(wrong) && !text.includes(env.secretAccessKey), `a secret is in ${f}`);
      }

      // The same face when a backup meets the wrong secret, and nothing is left in the bucket.
      const before = (await bucket!.listObjects()).length;
      await vscode.commands.executeCommand('s3Backup.backUpWorkspace');
      assert.match(prompts.errors().at(-1) ?? '', /secret access key was rejected/);
      assert.strictEqual((await bucket!.listObjects()).length, before, 'a failed backup left an object');
      assert.ok(!(api.log.captured ?? []).some((l) => l.includes(wrong)), 'the secret reached the log');
    } finally {
      await api.secrets.store({ secretAccessKey: env.secretAccessKey });
    }
  });

  it('Back Up Workspace lists the new backup under this machine, first, and reveals it', async () => {
    prompts.onMessage = (m) => (m.items.includes('Reveal in Tree') ? 'Reveal in Tree' : undefined);
    backup = (await vscode.commands.executeCommand('s3Backup.backUpWorkspace')) as BackupResult | undefined;
    assert.deepStrictEqual(prompts.errors(), []);
    assert.ok(backup, 'the backup command returned nothing');
    const said = await prompts.waitForMessage(new RegExp(`^Backed up ${backup!.files} files \\(`));
    // The files' size (not the manifest object's); a first backup uploads everything, so no "rest" sentence.
    assert.strictEqual(said.message, `Backed up ${backup!.files} files (${formatBytes(backup!.bytes)}).`);
    assert.ok(said.items.includes('Reveal in Tree'));

    const machines = await rootNodes();
    assert.ok(machines.length >= 1, 'the tree shows no machine');
    assert.strictEqual(machines[0].thisMachine, true, 'this machine is not first');
    const node = (api.tree.getChildren(machines[0]) as BackupNode[]).find((n) => n.id === backup!.key);
    assert.ok(node, `${backup.key} is not under this machine`);
    assert.strictEqual(node.contextValue, 'backup');
    assert.match(String(node.description), /workspace/);

    const objects = await bucket!.listObjects();
    assert.ok(objects.some((o) => o.key === backup!.key), 'the object is not in the bucket');
    assert.ok(backup.key.startsWith(`${rootPath}/`), `key ${backup.key} is not under the root path`);

    // "Reveal in Tree" opens the view with the new backup selected.
    const treeView = api.services.treeView;
    await waitFor('the new backup to be revealed and selected', () => treeView.visible && treeView.selection.some((n) => n.id === backup!.key), 15_000);
  });

  it('the minute tick renews the ages of the rows in place, never the whole tree', async () => {
    assert.ok(backup, 'needs the backup of the previous test');
    const node = api.tree.findBackupNode(backup!.key);
    assert.ok(node, `${backup!.key} is not in the tree`);
    const now = Date.now();
    api.tree.updateAges(now);
    const fired: unknown[] = [];
    const sub = api.tree.onDidChangeTreeData((e) => fired.push(e));
    try {
      api.tree.updateAges(now);
      assert.deepStrictEqual(fired, [], 'no row reads differently, so nothing is refreshed');
      api.tree.updateAges(now + 3 * 3600_000);
      // The whole tree (an undefined event) would make VS Code fetch every row anew: a right-click's
      // command in that moment finds no row.
      assert.strictEqual(fired.length, 1, `events: ${fired.length}`);
      const rows = fired[0] as BackupNode[];
      assert.ok(Array.isArray(rows) && rows.includes(node), 'the event names the rows that changed');
      assert.match(String(api.tree.getTreeItem(node).label), /3 hours ago/);
    } finally {
      sub.dispose();
      api.tree.updateAges(Date.now());
    }
  });

  it('Restore (from the palette) into another folder gives identical files', async () => {
    assert.ok(backup, 'needs the backup of the previous test');
    restoreTarget = tmpDir('restore');
    prompts.onQuickPick = (items) => items.find((i) => (i as { ref?: { key: string } }).ref?.key === backup!.key);
    let modals = 0;
    prompts.onMessage = (m) => {
      if (!m.options.modal) return undefined;
      modals++;
      return modals === 1 ? 'Restore into Another Folder...' : 'Restore';
    };
    prompts.onOpenDialog = () => [vscode.Uri.file(restoreTarget)];

    const result = (await vscode.commands.executeCommand('s3Backup.restoreBackup')) as RestoreResult | undefined;
    assert.deepStrictEqual(prompts.errors(), []);
    assert.ok(result, `the restore returned nothing; questions asked: ${JSON.stringify(prompts.shown.map((m) => m.message))}`);

    const pick = prompts.picks[0];
    assert.ok(pick, 'the palette run did not ask which backup');
    assert.strictEqual(pick.items[0].kind, vscode.QuickPickItemKind.Separator);
    assert.match(pick.items[0].label, /this machine/);

    const plan = prompts.shown.filter((m) => m.options.modal);
    assert.strictEqual(plan.length, 2, 'the plan was not shown before and after choosing the folder');
    // The question names the folder; the detail has the full path.
    assert.match(plan[1].message, new RegExp(`into ${escapeRe(path.basename(restoreTarget))}\\?$`));
    assert.ok((plan[1].options.detail ?? '').includes(restoreTarget), plan[1].options.detail);
    assert.match(plan[1].options.detail ?? '', new RegExp(`^${backup.files} new, 0 overwritten, 0 unchanged`));
    assert.ok(plan[1].items.includes('Show Files'));

    assert.deepStrictEqual(treeDigest(path.join(restoreTarget, fixtureName)), treeDigest(fixtureDir));
  });

  it('restoring over changed files, then Undo, puts the changed files back', async () => {
    assert.ok(restoreTarget, 'needs the restore of the previous test');
    const changed = path.join(restoreTarget, fixtureName, 'src', 'index.ts');
    const added = path.join(restoreTarget, fixtureName, 'local-only.txt');
    fs.writeFileSync(changed, 'changed here\n');
    fs.writeFileSync(added, 'only here\n');
    const beforeRestore = treeDigest(path.join(restoreTarget, fixtureName));

    const node = await findNode(backup!.key);
    assert.ok(node);
    let modals = 0;
    let releaseUndo: (answer: string) => void = () => undefined;
    const undoClicked = new Promise<string>((r) => (releaseUndo = r));
    prompts.onMessage = (m) => {
      if (m.options.modal) {
        modals++;
        // The first plan targets the workspace folder of the same name: go elsewhere, look at the files, restore.
        return modals === 1 ? 'Restore into Another Folder...' : modals === 2 ? 'Show Files' : 'Restore';
      }
      if (m.items.includes('Undo')) return undoClicked;
      return undefined;
    };
    prompts.onQuickPick = () => undefined; // the file list: look, then Escape
    prompts.onOpenDialog = () => [vscode.Uri.file(restoreTarget)];

    await vscode.commands.executeCommand('s3Backup.restoreBackup', node);
    assert.deepStrictEqual(prompts.errors(), []);
    const files = prompts.picks[0];
    assert.ok(files, 'Show Files showed no list');
    const overwritten = files.items.find((i) => i.label === `${fixtureName}/src/index.ts` || i.label.endsWith('src/index.ts'));
    assert.ok(overwritten, `src/index.ts is not in the list: ${files.items.map((i) => i.label).join(', ')}`);
    assert.strictEqual(overwritten.description, 'Overwritten');
    const lastPlan = prompts.shown.filter((m) => m.options.modal).at(-1)!;
    assert.match(lastPlan.options.detail ?? '', /0 new, 1 overwritten/);

    // Restored: the backup's content is back, the local-only file kept.
    assert.deepStrictEqual(treeDigest(path.join(restoreTarget, fixtureName)), new Map([...treeDigest(fixtureDir), ['local-only.txt', beforeRestore.get('local-only.txt')!]]));

    releaseUndo('Undo');
    await prompts.waitForMessage(/^The restore was undone: 1 file put back, 0 new files removed\.$/);
    assert.deepStrictEqual(prompts.errors(), []);
    assert.deepStrictEqual(treeDigest(path.join(restoreTarget, fixtureName)), beforeRestore);
    assert.strictEqual(fs.readFileSync(changed, 'utf8'), 'changed here\n');
  });

  it('Download saves the .zip; Details shows the manifest; Copy S3 URI copies s3://bucket/key', async () => {
    const node = await findNode(backup!.key);
    assert.ok(node);
    const file = path.join(tmpDir('download'), 'backup.zip');
    prompts.onSaveDialog = () => vscode.Uri.file(file);
    const saved = await vscode.commands.executeCommand('s3Backup.downloadBackup', node);
    assert.strictEqual(saved, file);
    assert.ok(fs.readFileSync(file).subarray(0, 2).equals(Buffer.from('PK')), 'not a zip');
    const listing = spawnSync('unzip', ['-Z1', file], { encoding: 'utf8' });
    assert.strictEqual(listing.status, 0, listing.stderr);
    assert.strictEqual(listing.stdout.trim().split('\n').filter((n) => !n.endsWith('/')).length, backup!.files, 'every file of the backup is in the zip');

    const manifest = (await vscode.commands.executeCommand('s3Backup.showBackupDetails', node)) as { totals: { files: number } } | undefined;
    assert.strictEqual(manifest?.totals.files, backup!.files);
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 's3-backup-details');
    assert.ok(doc && doc.getText().includes(backup!.key) && doc.getText().includes(`${fixtureName}/src/index.ts`), 'the details document');
    assert.ok(!/\d{4}-\d\d-\d\dT\d\d:/.test(doc.getText()), 'the details show local times, not ISO ones');
    // Rendered, not shown as Markdown source.
    const tab = await waitFor('the Markdown preview', () => {
      const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      return input instanceof vscode.TabInputWebview && /markdown\.preview/.test(input.viewType) ? input : undefined;
    });
    assert.ok(tab);
    assert.strictEqual(vscode.window.activeTextEditor?.document.uri.scheme === 's3-backup-details', false, 'the Markdown source is open instead');
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    const tip = ((await findNode(backup!.key))!.tooltip as vscode.MarkdownString).value;
    assert.match(tip, new RegExp(`Files: ${backup!.files}`), 'the tooltip has no file count');
    // Format 2: the object is the manifest, so the size shown is read from its header on hover.
    const fresh = (await findNode(backup!.key))!;
    assert.strictEqual(fresh.ref.format, 2);
    assert.doesNotMatch((fresh.tooltip as vscode.MarkdownString).value, /Size:/, 'the manifest size is shown as the backup size');
    await api.tree.resolveTreeItem(fresh, fresh, new vscode.CancellationTokenSource().token);
    const resolved = (fresh.tooltip as vscode.MarkdownString).value;
    assert.ok(/Size: /.test(resolved) && resolved.includes(`${backup!.bytes.toLocaleString('en-US')} bytes`), resolved);
    assert.match(resolved, /Uploaded by this backup: /, resolved);

    await vscode.commands.executeCommand('s3Backup.copyS3Uri', node, [node]);
    assert.strictEqual(await vscode.env.clipboard.readText(), `s3://${bucket!.bucket}/${backup!.key}`);
    assert.deepStrictEqual(prompts.errors(), []);
  });

  it('Download into a folder without the room says so, writes nothing and offers Restore into a Folder', async () => {
    const node = await findNode(backup!.key);
    assert.ok(node);
    const dir = tmpDir('download-full');
    const file = path.join(dir, 'backup.zip');
    prompts.onSaveDialog = () => vscode.Uri.file(file);
    // The one fault injected: the file system reports 1 MiB free where the zip would go.
    const realStatfs = fs.promises.statfs;
    (fs.promises as { statfs: unknown }).statfs = async (p: fs.PathLike, o?: fs.StatFsOptions) => {
      const real = await realStatfs(p, o as never);
      return path.resolve(String(p)) === dir ? { ...real, bavail: Math.floor((1024 * 1024) / Number(real.bsize)) } : real;
    };
    const offered: ShownMessage[] = [];
    let folderAsked = false;
    prompts.onMessage = (m) => {
      offered.push(m);
      return m.items.includes('Restore into a Folder...') ? 'Restore into a Folder...' : undefined;
    };
    prompts.onOpenDialog = () => {
      folderAsked = true;
      return undefined; // the user cancels at the folder choice
    };
    try {
      const saved = await vscode.commands.executeCommand('s3Backup.downloadBackup', node);
      assert.strictEqual(saved, undefined);
    } finally {
      (fs.promises as { statfs: unknown }).statfs = realStatfs;
      prompts.onMessage = () => undefined;
      prompts.onOpenDialog = () => undefined;
    }
    const error = offered.find((m) => m.kind === 'error');
    assert.ok(error, `no error shown: ${JSON.stringify(offered)}`);
    assert.match(error.message, /^The backup \(.+\) does not fit in the free space of .+\. Free some space, or restore the backup into a folder instead\.$/);
    assert.deepStrictEqual(error.items, ['Restore into a Folder...']);
    assert.ok(folderAsked, 'choosing "Restore into a Folder..." did not ask for the folder');
    assert.deepStrictEqual(fs.readdirSync(dir), [], 'a partial download was left behind');
  });

  it('backing up the unchanged workspace again uploads only its manifest, and says so', async () => {
    prompts.onMessage = () => undefined;
    const again = (await vscode.commands.executeCommand('s3Backup.backUpWorkspace')) as BackupResult | undefined;
    assert.ok(again);
    try {
      assert.deepStrictEqual(prompts.errors(), []);
      assert.strictEqual(again.added.files, 0, 'an unchanged file was uploaded again');
      const said = await prompts.waitForMessage(new RegExp(`^Backed up ${again.files} files .*Uploaded`));
      assert.strictEqual(
        said.message,
        `Backed up ${again.files} files (${formatBytes(again.bytes)}). Uploaded ${formatBytes(again.uploaded)}; the rest was in the bucket already.`,
      );
      assert.ok(again.uploaded < again.bytes, `uploaded ${again.uploaded} of ${again.bytes}`);
    } finally {
      await (await api.engineHost.getEngine()).delete(again.key);
      await api.tree.refresh();
    }
  });

  it('Delete (confirmed) removes the backup from the tree and the bucket', async () => {
    const node = await findNode(backup!.key);
    assert.ok(node);
    // Escape first: nothing is deleted. The first row, the active one, is Cancel, so Enter deletes nothing either.
    prompts.onQuickPick = () => undefined;
    assert.strictEqual(await vscode.commands.executeCommand('s3Backup.deleteBackup', node, [node]), undefined);
    let confirm: { items: readonly vscode.QuickPickItem[]; options: vscode.QuickPickOptions } | undefined;
    prompts.onQuickPick = (items, options) => {
      confirm = { items, options };
      return items.find((i) => /Delete/.test(i.label));
    };
    const deleted = await vscode.commands.executeCommand('s3Backup.deleteBackup', node, [node]);
    assert.deepStrictEqual(prompts.errors(), []);
    assert.deepStrictEqual(deleted, [backup!.key]);
    assert.ok(confirm, 'no confirmation');
    assert.deepStrictEqual(confirm.items.map((i) => i.label), ['Cancel', '$(trash) Delete'], 'Cancel comes first, so it is what Enter picks');
    // One backup is named by its local date and time and its machine, in the singular.
    const { formatDateTime } = require('../../src/extension/ui/format') as typeof import('../../src/extension/ui/format');
    const { sanitizeHost } = require('../../src/core/format/backupKeys') as typeof import('../../src/core/format/backupKeys');
    assert.strictEqual(confirm.options.title, `Delete the backup from ${formatDateTime(new Date(backup!.time))} (${sanitizeHost(api.engineHost.hostname)})?`);
    assert.strictEqual(confirm.options.placeHolder, 'It is removed from the bucket for good; this cannot be undone.');

    assert.strictEqual(await findNode(backup!.key), undefined, 'still in the tree');
    const objects = await bucket!.listObjects();
    assert.ok(!objects.some((o) => o.key === backup!.key), 'still in the bucket');
    assert.strictEqual(api.tree.contextKeys.get('s3Backup.empty'), true);
  });
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
