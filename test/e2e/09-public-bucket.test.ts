// Step 9: the private-bucket check. The bucket is made public-read with a
// bucket policy (as a careless console click would); Test Connection on the
// settings page shows the warning with what it means and how to fix it, the
// tree shows it above the backups, and Back Up Workspace asks before it
// uploads (Cancel: nothing is written). The policy removed, Test Connection
// again: the warning is gone from the page and the tree.
// Screenshot: public-bucket-warning.png (copied to docs/images when S3B_DOCS_IMAGES=1).
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from '../harness/paths';
import { s3TestEnv } from '../helpers/s3';
import { detectProvider } from '../../src/webview/providers';
import {
  assert,
  bucket,
  clickSettingsButton,
  dialog,
  machine,
  openS3BackupView,
  runFromPalette,
  settingsFrame,
  settingsStatus,
  shot,
  step,
  until,
  type Machine,
} from './world';

const sdk = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');

const WARNING = 'Anyone can read this bucket without keys.';

async function docsShot(m: Machine, name: string): Promise<void> {
  const file = await shot(m, name);
  if (process.env.S3B_DOCS_IMAGES === '1') fs.copyFileSync(file, path.join(REPO_ROOT, 'docs', 'images', `${name}.png`));
}

describe('Step 9: a public bucket is found and said so', () => {
  it(
    'warns on the settings page and in the tree, asks before a backup, and clears once private again',
    step('09-public-bucket', async () => {
      const a = await machine('A');
      const tb = await bucket();
      const publicPolicy = JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: '*', Action: ['s3:GetObject', 's3:ListBucket'], Resource: [`arn:aws:s3:::${tb.bucket}`, `arn:aws:s3:::${tb.bucket}/*`] },
        ],
      });
      await tb.client.send(new sdk.PutBucketPolicyCommand({ Bucket: tb.bucket, Policy: publicPolicy }));
      try {
        await runFromPalette(a, 'S3 Backup: Open Settings', 'S3 Backup: Open Settings');
        const frame = await settingsFrame(a);
        assert.ok(await frame.locator('#exposure').isHidden(), 'no warning before a check found anything');
        await clickSettingsButton(frame, 'Test Connection');
        await settingsStatus(frame, /anyone can read this bucket without keys/);
        const box = frame.locator('#public-warning');
        await box.waitFor({ state: 'visible', timeout: 10000 });
        const text = await box.innerText();
        assert.ok(text.includes(WARNING), text);
        assert.match(text, /can download your backups/);
        assert.match(text, /listed the backups/, 'the unsigned LIST was answered');
        assert.match(text, /downloaded an object/, 'the unsigned GET was answered');
        assert.match(text, /bucket policy makes the bucket public/);
        // An endpoint that names no provider (RGW on a random port) lists every provider's fix; one
        // that does (Ceph's default port 7480, MinIO's 9000) lists that provider's only.
        const all = ['Block Public Access', 'r2.dev', 'Alibaba OSS', 'Private Read/Write', 'mc anonymous set none', 'Ceph: delete the bucket policy'];
        const named = detectProvider(s3TestEnv().endpoint).id;
        const expected = named === 'other' ? all : named === 'ceph' ? ['Ceph: delete the bucket policy'] : named === 'minio' ? ['mc anonymous set none'] : all;
        for (const fix of expected) assert.ok(text.includes(fix), `the fix "${fix}" is missing: ${text}`);
        if (expected.length === 1) assert.ok(!text.includes('Block Public Access'), `only the named provider's fix is shown: ${text}`);
        assert.ok(await frame.locator('#cleartext-warning').isHidden(), 'the loopback endpoint is not flagged as cleartext');
        await frame.locator('h1').scrollIntoViewIfNeeded();
        await docsShot(a, 'public-bucket-warning');

        // The tree says it too, above the backups.
        await openS3BackupView(a);
        const treeWarning = a.page.locator('.sidebar .monaco-list-row', { hasText: WARNING });
        await treeWarning.waitFor({ state: 'visible', timeout: 30000 });
        await shot(a, '09b-tree-warning');

        // A backup asks first; Cancel writes nothing.
        const before = (await tb.listObjects()).length;
        await runFromPalette(a, 'S3 Backup: Back Up Workspace', 'S3 Backup: Back Up Workspace');
        const modal = await dialog(a);
        const question = await modal.innerText();
        assert.ok(question.includes(WARNING) && question.includes('anyway'), question);
        assert.ok(await modal.getByRole('button', { name: 'Back Up Anyway', exact: true }).isVisible(), 'no "Back Up Anyway"');
        await shot(a, '09c-backup-asks');
        await modal.getByRole('button', { name: 'Cancel', exact: true }).click();
        await modal.waitFor({ state: 'hidden', timeout: 10000 });
        await a.page.waitForTimeout(1000);
        assert.strictEqual((await tb.listObjects()).length, before, 'the cancelled backup wrote something');

        // Private again: the next test finds nothing and both warnings go.
        await tb.client.send(new sdk.DeleteBucketPolicyCommand({ Bucket: tb.bucket }));
        await runFromPalette(a, 'S3 Backup: Open Settings', 'S3 Backup: Open Settings');
        const again = await settingsFrame(a);
        await clickSettingsButton(again, 'Test Connection');
        await settingsStatus(again, /Connection works: the bucket was reached/);
        await again.locator('#exposure').waitFor({ state: 'hidden', timeout: 10000 });
        await until('the tree warning to go', async () => (await treeWarning.count()) === 0);
        await shot(a, '09d-private-again');
      } finally {
        await tb.client.send(new sdk.DeleteBucketPolicyCommand({ Bucket: tb.bucket })).catch(() => undefined);
      }
    }),
  );
});
