import * as assert from 'assert';
import * as crypto from 'crypto';
import * as os from 'os';
import * as vscode from 'vscode';
import type { BackupNode, LoadMoreNode, MachineNode, MessageNode } from '../../src/extension/tree/nodes';
import { makeBackupKey, sanitizeHost } from '../../src/core/format/backupKeys';
import type { TestApi } from '../../src/extension/extension';
import type { TestBucket } from '../helpers/s3';
import { getApi, ScriptedPrompts, requireS3Server } from './helpers';

const PAGE = 50;

// The tree over a bucket filled directly with backup-shaped objects: grouping
// by machine, this machine first, newest first, paging, the palette's pick,
// and the error state.
describe('backup tree (real S3 server)', function () {
  let api: TestApi;
  let bucket: TestBucket | undefined;
  let prompts: ScriptedPrompts | undefined;
  const rootPath = `tree/${crypto.randomBytes(3).toString('hex')}`;
  // The extension's machine name, as EngineHost reads it.
  const hostname = process.env.S3_BACKUP_HOSTNAME?.trim() || os.hostname();
  const thisHost = sanitizeHost(hostname);
  const otherHost = 'other-laptop';
  const mine: string[] = [];
  const others: string[] = [];
  let env: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };

  before(async function () {
    requireS3Server();
    api = await getApi();
    const s3 = require('../helpers/s3') as typeof import('../helpers/s3');
    env = s3.s3TestEnv();
    bucket = await s3.createTestBucket('tree');
    const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);
    // Two of this machine's, one older than every other-laptop backup; 55 of another machine's.
    mine.push(makeBackupKey(rootPath, { time: new Date(t0 - 86400_000), host: hostname, kind: 'workspace', format: 1 }));
    mine.push(makeBackupKey(rootPath, { time: new Date(t0 - 2 * 86400_000), host: hostname, kind: 'full', format: 1 }));
    for (let i = 0; i < PAGE + 5; i++) others.push(makeBackupKey(rootPath, { time: new Date(t0 + i * 60_000), host: otherHost, kind: 'workspace', format: 1 }));
    await bucket.putMany([...mine, ...others, `${rootPath}/not-a-backup.txt`], 'x'.repeat(1000));
    await api.engineHost.saveProfile({ endpoint: env.endpoint, region: env.region, bucket: bucket.bucket, rootPath, accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey });
  });

  afterEach(() => prompts?.dispose());

  after(async () => {
    if (api) {
      await api.engineHost.saveProfile({ endpoint: '', region: '', bucket: '', rootPath: '', accessKeyId: '', secretAccessKey: '' });
    }
    await bucket?.cleanup();
  });

  it('groups by machine, this machine first and marked, newest first, a page at a time', async () => {
    await api.tree.refresh();
    const machines = api.tree.getChildren() as MachineNode[];
    assert.deepStrictEqual(machines.map((m) => m.host), [thisHost, otherHost]);
    assert.strictEqual(machines[0].thisMachine, true);
    assert.strictEqual(machines[0].description, 'this machine');
    assert.strictEqual(machines[0].collapsibleState, vscode.TreeItemCollapsibleState.Expanded);
    assert.strictEqual(machines[1].collapsibleState, vscode.TreeItemCollapsibleState.Collapsed);

    const own = api.tree.getChildren(machines[0]) as BackupNode[];
    assert.deepStrictEqual(own.map((n) => n.id), mine, 'this machine: newest first');
    // Age first, then kind and a short time; the size is in the tooltip.
    assert.match(String(own[0].label), /\bago\b|yesterday|last/);
    assert.match(String(own[0].description), /^workspace · \S/);
    assert.match(String(own[1].description), /^workspace and app data · /);
    assert.ok(!/\bB\b/.test(String(own[0].description)), `no size in the row: ${own[0].description}`);
    const tip = (own[0].tooltip as vscode.MarkdownString).value;
    assert.ok(tip.includes(mine[0]) && tip.includes('this machine'), tip);
    assert.match(tip, /Size: 1,000 B/, tip);
    assert.strictEqual(api.tree.getParent(own[0]), machines[0]);

    const page = api.tree.getChildren(machines[1]);
    assert.strictEqual(page.length, PAGE + 1);
    const more = page[PAGE] as LoadMoreNode;
    assert.strictEqual(more.contextValue, 'loadMore');
    assert.deepStrictEqual(page.slice(0, PAGE).map((n) => n.id), [...others].reverse().slice(0, PAGE));

    await vscode.commands.executeCommand(more.command!.command, ...(more.command!.arguments ?? []));
    const all = api.tree.getChildren(api.tree.getChildren()[1] as MachineNode);
    assert.deepStrictEqual(all.map((n) => n.id), [...others].reverse(), 'after Load More: every backup, newest first');
    assert.strictEqual(api.tree.contextKeys.get('s3Backup.empty'), false);
  });

  it('from the palette, the backup pick lists this machine first, then the others, newest first', async () => {
    prompts = new ScriptedPrompts(api.prompts);
    await vscode.commands.executeCommand('s3Backup.downloadBackup'); // dismissed at the pick
    const pick = prompts.picks[0];
    assert.ok(pick, 'no pick was shown');
    const separators = pick.items.filter((i) => i.kind === vscode.QuickPickItemKind.Separator).map((i) => i.label);
    assert.deepStrictEqual(separators, [`${thisHost} (this machine)`, otherHost]);
    const keys = pick.items.map((i) => (i as { ref?: { key: string } }).ref?.key).filter(Boolean);
    assert.deepStrictEqual(keys, [...mine, ...[...others].reverse()]);
    assert.deepStrictEqual(prompts.errors(), []);
  });

  it('Delete on a multi-selection asks once and removes every selected backup', async () => {
    prompts = new ScriptedPrompts(api.prompts);
    let asked: vscode.QuickPickOptions[] = [];
    prompts.onQuickPick = (items, options) => {
      asked.push(options);
      return items.find((i) => /Delete/.test(i.label));
    };
    await api.tree.refresh();
    const other = api.tree.getChildren()[1] as MachineNode;
    const [a, b] = api.tree.getChildren(other) as BackupNode[];
    const deleted = await vscode.commands.executeCommand('s3Backup.deleteBackup', b, [a, b]);
    assert.deepStrictEqual(prompts.errors(), []);
    assert.deepStrictEqual(deleted, [a.id, b.id]);
    assert.strictEqual(asked.length, 1, 'asked once');
    assert.strictEqual(asked[0].title, 'Delete 2 backups?');
    assert.strictEqual(asked[0].placeHolder, 'They are removed from the bucket for good; this cannot be undone.');
    asked = [];
    const left = new Set((await bucket!.listObjects()).map((o) => o.key));
    assert.ok(!left.has(a.id!) && !left.has(b.id!), 'still in the bucket');
    const ids = api.tree.getChildren(api.tree.getChildren()[1] as MachineNode).map((n) => n.id);
    assert.ok(!ids.includes(a.id) && !ids.includes(b.id), 'still in the tree');
  });

  it('an unreachable server shows the error state with Open Settings and Show Log', async () => {
    const s3 = require('../helpers/s3') as typeof import('../helpers/s3');
    const port = await s3.unusedPort();
    await api.engineHost.saveProfile({ endpoint: `http://127.0.0.1:${port}` });
    try {
      await api.tree.refresh();
      const nodes = api.tree.getChildren() as MessageNode[];
      assert.strictEqual(nodes[0].kind, 'error', `got ${nodes.map((n) => n.label).join(' | ')}`);
      assert.match(String(nodes[0].label), /refused|could not be reached/);
      assert.deepStrictEqual(
        nodes.slice(1).map((n) => n.command?.command),
        ['s3Backup.openSettings', 's3Backup.showLog'],
      );
    } finally {
      await api.engineHost.saveProfile({ endpoint: env.endpoint });
    }
  });
});
