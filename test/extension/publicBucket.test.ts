// The confirm-before-backup decision of the private-bucket check, in the real
// extension host against the real S3 server: a public bucket asks once per
// bucket + root path, a "no" stops the backup, a "yes" holds until the state
// found changes.
import * as assert from 'assert';
import * as crypto from 'crypto';
import type { TestApi } from '../../src/extension/extension';
import { backupDecision, confirmBackupTarget, RECHECK_MS } from '../../src/extension/commands/gateBackup';
import type { ExposureRecord } from '../../src/extension/host/exposureMemory';
import type { TestBucket } from '../helpers/s3';
import { getApi, requireS3Server, ScriptedPrompts } from './helpers';

describe('private-bucket check: confirm before a backup', function () {
  this.timeout(120_000);
  let api: TestApi;
  let tb: TestBucket | undefined;
  let sdk: typeof import('@aws-sdk/client-s3');
  let prompts: ScriptedPrompts;
  const rootPath = `public/${crypto.randomBytes(3).toString('hex')}`;

  before(async () => {
    requireS3Server();
    api = await getApi();
    const s3 = require('../helpers/s3') as typeof import('../helpers/s3');
    sdk = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
    tb = await s3.createTestBucket('public');
    await tb.putObject(`${rootPath}/20260101-000000.000_host_workspace_abc.json.gz`, 'x');
  });

  beforeEach(() => {
    prompts = new ScriptedPrompts(api.prompts);
  });
  afterEach(() => prompts.dispose());

  after(async () => {
    await tb?.client.send(new sdk.DeleteBucketPolicyCommand({ Bucket: tb.bucket })).catch(() => undefined);
    await tb?.cleanup();
  });

  const rec = (found: string, o: Partial<ExposureRecord> = {}): ExposureRecord => ({ found, unknown: [], checkedAt: 1_000_000, ...o });

  it('decides: check when never or long ago checked, ask when public and not confirmed, go otherwise', () => {
    const now = 1_000_000 + 1000;
    assert.strictEqual(backupDecision(undefined, false, now), 'check');
    assert.strictEqual(backupDecision(rec('list+read'), false, 1_000_000 + RECHECK_MS + 1), 'check');
    assert.strictEqual(backupDecision(rec(''), false, now), 'go');
    assert.strictEqual(backupDecision(rec('list+read'), false, now), 'ask');
    assert.strictEqual(backupDecision(rec('list+read', { confirmed: 'list+read' }), false, now), 'go');
    assert.strictEqual(backupDecision(rec('list+read+policy', { confirmed: 'list+read' }), false, now), 'ask');
    assert.strictEqual(backupDecision(rec('list+read'), true, now), 'go', 'encrypted backups do not ask');
    assert.strictEqual(backupDecision(undefined, true, now), 'go');
  });

  it('a public bucket: "no" stops, "Back Up Anyway" goes and is remembered, a new state asks again', async () => {
    const profile = { ...tb!.profileAt(rootPath) };
    const engine = await api.engineHost.engineFor(profile);
    const policy = (actions: string[]): string =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: '*', Action: actions, Resource: [`arn:aws:s3:::${tb!.bucket}`, `arn:aws:s3:::${tb!.bucket}/*`] }],
      });
    await tb!.client.send(new sdk.PutBucketPolicyCommand({ Bucket: tb!.bucket, Policy: policy(['s3:GetObject']) }));

    // Never checked: the gate checks, finds it public and asks; dismissed: no backup.
    assert.strictEqual(await confirmBackupTarget(api.services, engine), false);
    assert.strictEqual(prompts.shown.length, 1);
    const asked = prompts.shown[0];
    assert.strictEqual(asked.kind, 'warning');
    assert.strictEqual(asked.options.modal, true);
    assert.match(asked.message, /Anyone can read this bucket without keys\. Back up to bucket .+ anyway\?/);
    assert.match(String(asked.options.detail), /downloaded an object under the root path/);
    assert.deepStrictEqual(asked.items, ['How to Fix', 'Back Up Anyway'], 'the safe choice is the default button');
    assert.strictEqual(api.services.exposure.get(profile)?.found, 'read+policy');

    // Yes, once: remembered for this bucket and root path.
    prompts.onMessage = (m) => (m.items.includes('Back Up Anyway') ? 'Back Up Anyway' : undefined);
    assert.strictEqual(await confirmBackupTarget(api.services, engine), true);
    assert.strictEqual(api.services.exposure.get(profile)?.confirmed, 'read+policy');
    assert.strictEqual(await confirmBackupTarget(api.services, engine), true);
    assert.strictEqual(prompts.shown.length, 2, 'asked once, not again');

    // Another root path of the same bucket is another target: asked again.
    const elsewhere = await api.engineHost.engineFor({ ...profile, rootPath: `${rootPath}-other` });
    prompts.onMessage = () => undefined;
    assert.strictEqual(await confirmBackupTarget(api.services, elsewhere), false);
    assert.strictEqual(prompts.shown.length, 3);

    // The state changes (now listable too): the old "yes" no longer holds.
    await tb!.client.send(new sdk.PutBucketPolicyCommand({ Bucket: tb!.bucket, Policy: policy(['s3:GetObject', 's3:ListBucket']) }));
    await api.services.exposure.record(profile, await engine.checkAnonymousAccess());
    assert.strictEqual(await confirmBackupTarget(api.services, engine), false);
    assert.strictEqual(prompts.shown.length, 4);

    // Private again: no question at all.
    await tb!.client.send(new sdk.DeleteBucketPolicyCommand({ Bucket: tb!.bucket }));
    await api.services.exposure.record(profile, await engine.checkAnonymousAccess());
    assert.strictEqual(await confirmBackupTarget(api.services, engine), true);
    assert.strictEqual(prompts.shown.length, 4);
    engine.dispose();
    elsewhere.dispose();
  });
});
