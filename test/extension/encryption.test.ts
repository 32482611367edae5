// The passphrase in the real extension host: "computer B" meets an encrypted
// bucket, is asked once in a password box, and the work runs; the passphrase
// stays in SecretStorage (not in settings.json, not in the log); a wrong
// stored one is asked again; Set Encryption Passphrase stores a new one and
// rewraps the bucket's key, so the old backups stay readable.
import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { BackupResult } from '../../src/core/engine';
import { fetchForRestore } from '../../src/extension/commands/fetchBackup';
import { runGuarded } from '../../src/extension/commands/registerCommand';
import type { TestApi } from '../../src/extension/extension';
import type { BackupNode, MachineNode } from '../../src/extension/tree/nodes';
import type { TestBucket } from '../helpers/s3';
import { clearConnection, extensionLogFiles, getApi, requireS3Server, ScriptedPrompts, userSettingsFile, waitFor } from './helpers';

const PASSPHRASE = 'ext passphrase 9Hq-unique';

describe('encryption passphrase (real S3 server, real extension host)', function () {
  let api: TestApi;
  let bucket: TestBucket | undefined;
  let prompts: ScriptedPrompts;
  let backup: BackupResult;
  let plainBackup: BackupResult;
  let work: string;

  before(async function () {
    requireS3Server();
    api = await getApi();
    const s3 = require('../helpers/s3') as typeof import('../helpers/s3');
    const { BackupEngine } = require('../../src/core/engine') as typeof import('../../src/core/engine');
    const e = s3.s3TestEnv();
    bucket = await s3.createTestBucket('ext-enc');
    const rootPath = `enc/${crypto.randomBytes(3).toString('hex')}`;
    work = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-ext-enc-'));
    fs.writeFileSync(path.join(work, 'a.txt'), 'made on computer A\n');
    // Computer A: a plain backup, then (S3 times have whole seconds) an encrypted one made with the passphrase.
    const plain = new BackupEngine(bucket.profileAt(rootPath), { hostname: 'computer-a' });
    plainBackup = await plain.backup({ kind: 'workspace', folders: [{ name: 'app', path: work }] });
    plain.dispose();
    await new Promise((r) => setTimeout(r, 1500));
    const a = new BackupEngine(bucket.profileAt(rootPath), { passphrase: PASSPHRASE, hostname: 'computer-a', scrypt: { N: 2 ** 12, r: 8, p: 1 } });
    backup = await a.backup({ kind: 'workspace', folders: [{ name: 'app', path: work }] });
    a.dispose();
    // Computer B: this extension host, connected, without a passphrase.
    await api.engineHost.setPassphrase('');
    await api.engineHost.saveProfile({ endpoint: e.endpoint, region: e.region, bucket: bucket.bucket, rootPath, accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey });
    await waitFor('the tree to see the settings', async () => (await api.tree.updateConfigured()) === true);
  });

  beforeEach(() => {
    prompts = new ScriptedPrompts(api.prompts);
  });
  afterEach(() => prompts?.dispose());

  after(async () => {
    await api?.engineHost.setPassphrase('');
    if (api) await clearConnection(api);
    await bucket?.cleanup();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const fetchEncrypted = () => runGuarded(api.services, 'test.fetch', async () => (await (await api.engineHost.getEngine()).fetch(backup.key)).encrypted);

  it('asks once for the passphrase in a password box, keeps it in SecretStorage, and the work runs', async () => {
    prompts.onInputBox = () => PASSPHRASE;
    assert.strictEqual(await fetchEncrypted(), true);
    assert.strictEqual(prompts.inputs.length, 1);
    assert.strictEqual(prompts.inputs[0].password, true);
    assert.match(prompts.inputs[0].prompt ?? '', /encrypted/);
    assert.deepStrictEqual(prompts.errors(), []);
    assert.strictEqual(await api.secrets.getPassphrase(), PASSPHRASE);
    // Kept: the next time nobody asks.
    assert.strictEqual(await fetchEncrypted(), true);
    assert.strictEqual(prompts.inputs.length, 1);
  });

  it('the tree marks the encrypted backup with a lock and says which is plain, without a hover', async () => {
    await api.tree.refresh();
    const machines = api.tree.getChildren() as MachineNode[];
    // The extension's own classes (this test bundle has copies): told apart by their fields, not instanceof.
    const machine = machines.find((m) => Array.isArray(m.refs) && m.refs.some((r) => r.key === backup.key));
    assert.ok(machine, 'computer A is listed');
    const rows = (api.tree.getChildren(machine) as BackupNode[]).filter((n) => n.contextValue === 'backup');
    const row = (key: string) => rows.find((n) => n.ref.key === key)!;
    // The rows' headers are read in the background once the rows are shown; nothing hovers here.
    const said = (key: string): string => row(key).accessibilityInformation?.label ?? '';
    await waitFor('both rows to be marked', () => /encrypted$/.test(said(backup.key)) && /encrypted$/.test(said(plainBackup.key)));
    const icon = (key: string): string => (row(key).iconPath as { id?: string }).id ?? '';
    assert.strictEqual(icon(backup.key), 'lock', 'the encrypted backup has the lock');
    assert.strictEqual(icon(plainBackup.key), 'archive', 'the plain one its kind\'s icon');
    assert.match(said(backup.key), /, encrypted$/);
    assert.match(said(plainBackup.key), /, not encrypted$/);
  });

  it('a wrong stored passphrase is asked again; a cancelled box ends in one plain sentence', async () => {
    await api.engineHost.setPassphrase('not the right one');
    prompts.onInputBox = () => undefined;
    assert.strictEqual(await fetchEncrypted(), undefined);
    assert.match(prompts.inputs[0].prompt ?? '', /does not open/);
    await waitFor('the error', () => prompts.errors().find((m) => /^The passphrase does not open this bucket's encryption key\./.test(m)));
    prompts.onInputBox = () => PASSPHRASE;
    assert.strictEqual(await fetchEncrypted(), true);
  });

  it('Set Encryption Passphrase rewraps the key: the old backup opens with the new passphrase only', async () => {
    const next = `${PASSPHRASE} changed`;
    prompts.onInputBox = () => next;
    assert.strictEqual(await vscode.commands.executeCommand('s3Backup.setPassphrase'), true);
    assert.strictEqual(prompts.inputs.length, 2, 'typed twice');
    assert.ok(prompts.inputs.every((o) => o.password === true));
    assert.strictEqual(await api.secrets.getPassphrase(), next);
    assert.strictEqual(await fetchEncrypted(), true);
    const keys = await bucket!.listObjects(`${backup.key.slice(0, backup.key.lastIndexOf('/'))}/keys/`);
    assert.strictEqual(keys.length, 1, 'the old key object is gone');
  });

  it('an older plain backup is read only after the modal yes', async () => {
    const engine = await api.engineHost.getEngine();
    const ref = (await engine.listAll()).find((r) => r.key === plainBackup.key)!;
    prompts.onMessage = () => undefined;
    await assert.rejects(() => fetchForRestore(api.services, engine, ref), (e: unknown) => e instanceof vscode.CancellationError);
    const modal = prompts.shown.find((m) => m.options.modal);
    assert.ok(modal && /not encrypted: it was made before encryption was turned on/.test(modal.message), 'asked in a modal');
    prompts.onMessage = (m) => (m.options.modal ? 'Restore Anyway' : undefined);
    const fetched = await fetchForRestore(api.services, engine, ref);
    assert.strictEqual(fetched.encrypted, false);
    assert.ok(fetched.manifest.files.some((f) => f.path === 'workspace/app/a.txt'));
  });

  it('the passphrase is in no settings file and no log line', () => {
    const settings = fs.readFileSync(userSettingsFile(api.services.context), 'utf8');
    assert.ok(!settings.includes(PASSPHRASE));
    const logs = extensionLogFiles(api.services.context);
    for (const f of logs) assert.ok(!fs.readFileSync(f, 'utf8').includes(PASSPHRASE), f);
  });
});
