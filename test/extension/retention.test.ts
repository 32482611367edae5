import * as assert from 'assert';
import * as crypto from 'crypto';
import * as os from 'os';
import * as vscode from 'vscode';
import { makeBackupKey, sanitizeHost } from '../../src/core/format/backupKeys';
import type { TestApi } from '../../src/extension/extension';
import type { BackupNode, MachineNode } from '../../src/extension/tree/nodes';
import type { TestBucket } from '../helpers/s3';
import { getApi, requireS3Server, ScriptedPrompts, waitFor } from './helpers';

// Pin / Unpin from the tree and "S3 Backup: Prune..." in a real extension
// host against the real server: the plan is shown before anything goes,
// Cancel deletes nothing, Delete prunes every machine as the settings say,
// and a pinned backup stays.
describe('pin and prune (real S3 server)', function () {
  let api: TestApi;
  let bucket: TestBucket | undefined;
  let prompts: ScriptedPrompts | undefined;
  const rootPath = `prune/${crypto.randomBytes(3).toString('hex')}`;
  const hostname = process.env.S3_BACKUP_HOSTNAME?.trim() || os.hostname();
  const thisHost = sanitizeHost(hostname);
  const mine: string[] = [];
  const theirs: string[] = [];
  const retention = vscode.workspace.getConfiguration('s3Backup.retention');

  const keys = async (): Promise<string[]> => (await bucket!.listObjects(`${rootPath}/`)).map((o) => o.key).filter((k) => k.endsWith('.zip') && !k.includes('/pins/')).sort();
  const ownNodes = (): BackupNode[] => {
    const machine = (api.tree.getChildren() as MachineNode[]).find((m) => m.host === thisHost)!;
    return api.tree.getChildren(machine) as BackupNode[];
  };

  before(async function () {
    requireS3Server();
    api = await getApi();
    const s3 = require('../helpers/s3') as typeof import('../helpers/s3');
    const env = s3.s3TestEnv();
    bucket = await s3.createTestBucket('prune-ext');
    const t0 = Date.UTC(2026, 0, 10, 12, 0, 0);
    // Format-1 objects: a prune deletes them whole, so what it frees is their size.
    for (let i = 0; i < 3; i++) mine.push(makeBackupKey(rootPath, { time: new Date(t0 - i * 86400_000), host: hostname, kind: 'workspace', format: 1 }));
    for (let i = 0; i < 2; i++) theirs.push(makeBackupKey(rootPath, { time: new Date(t0 - i * 3600_000), host: 'other-desk', kind: 'workspace', format: 1 }));
    await bucket.putMany([...mine, ...theirs], 'x'.repeat(1000));
    await retention.update('keepLast', 1, vscode.ConfigurationTarget.Global);
    await retention.update('keepDaily', 0, vscode.ConfigurationTarget.Global);
    await retention.update('keepWeekly', 0, vscode.ConfigurationTarget.Global);
    await api.engineHost.saveProfile({ endpoint: env.endpoint, region: env.region, bucket: bucket.bucket, rootPath, accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey });
  });

  afterEach(() => prompts?.dispose());

  after(async () => {
    for (const k of ['keepLast', 'keepDaily', 'keepWeekly']) await retention.update(k, undefined, vscode.ConfigurationTarget.Global);
    if (api) await api.engineHost.saveProfile({ endpoint: '', region: '', bucket: '', rootPath: '', accessKeyId: '', secretAccessKey: '' });
    await bucket?.cleanup();
  });

  it('Pin Backup marks the backup in the bucket and in the tree; its menu offers Unpin', async () => {
    await api.tree.refresh();
    const oldest = ownNodes().find((n) => n.id === mine[2])!;
    assert.strictEqual(oldest.contextValue, 'backup');
    await vscode.commands.executeCommand('s3Backup.pinBackup', oldest);
    assert.ok((await bucket!.listObjects(`${rootPath}/pins/`)).some((o) => o.key.endsWith(mine[2].slice(rootPath.length + 1))), 'the marker is in the bucket');
    const pinned = await waitFor('the pinned row', () => ownNodes().find((n) => n.id === mine[2] && n.contextValue === 'backup.pinned'));
    assert.match(String(pinned.description), / · pinned$/);
    assert.strictEqual((pinned.iconPath as vscode.ThemeIcon).id, 'pinned');
    assert.match((pinned.tooltip as vscode.MarkdownString).value, /Pinned: yes: retention and prune keep it/);
  });

  it('Prune... shows the plan of every machine; Cancel deletes nothing', async () => {
    prompts = new ScriptedPrompts(api.prompts);
    prompts.answerPicks((items) => items[0]);
    const before = await keys();
    await vscode.commands.executeCommand('s3Backup.prune');
    const pick = prompts.picks[0];
    assert.ok(pick, 'the plan was shown');
    assert.strictEqual(pick.options.title, 'Prune: 2 backups of 2 machines go, 2 KB freed');
    const labels = pick.items.map((i) => i.label);
    assert.strictEqual(labels[0], 'Cancel', 'Cancel is the first, active row');
    assert.strictEqual(labels[1], '$(trash) Delete 2 Backups');
    assert.ok(labels.includes(`${thisHost} (this machine): 1 go, 1,000 B freed`), labels.join(' | '));
    assert.ok(labels.includes('other-desk: 1 go, 1,000 B freed'), labels.join(' | '));
    assert.strictEqual(pick.items.filter((i) => i.label.startsWith('$(circle-slash)')).length, 2);
    assert.deepStrictEqual(await keys(), before, 'nothing deleted');
    assert.deepStrictEqual(prompts.errors(), []);
  });

  it('Prune... then Delete prunes as s3Backup.retention says; the pinned backup stays', async () => {
    prompts = new ScriptedPrompts(api.prompts);
    prompts.answerPicks((items) => items[1]);
    await vscode.commands.executeCommand('s3Backup.prune');
    const done = await prompts.waitForMessage(/^Pruned /);
    assert.strictEqual(done.message, 'Pruned 2 backups. 2 KB freed in the bucket.');
    assert.deepStrictEqual(await keys(), [mine[0], mine[2], theirs[0]].sort());
    assert.deepStrictEqual(ownNodes().map((n) => n.id), [mine[0], mine[2]], 'the tree shows what is left');
    // Nothing more to prune: said so, no pick.
    await vscode.commands.executeCommand('s3Backup.prune');
    await prompts.waitForMessage(/^Nothing to prune: the retention settings keep all 3 backups\.$/);
    assert.strictEqual(prompts.picks.length, 1);
  });

  it('Unpin Backup removes the marker; the backup goes at the next prune', async () => {
    const pinned = ownNodes().find((n) => n.id === mine[2])!;
    await vscode.commands.executeCommand('s3Backup.unpinBackup', pinned);
    assert.deepStrictEqual(await bucket!.listObjects(`${rootPath}/pins/`), []);
    await waitFor('the unpinned row', () => ownNodes().find((n) => n.id === mine[2] && n.contextValue === 'backup'));
    prompts = new ScriptedPrompts(api.prompts);
    prompts.answerPicks((items) => items[1]);
    await vscode.commands.executeCommand('s3Backup.prune');
    await prompts.waitForMessage(/^Pruned 1 backup\./);
    assert.deepStrictEqual(await keys(), [mine[0], theirs[0]].sort());
  });
});
