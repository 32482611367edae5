// `s3-backup backup --if-changed` (for cron) against the real server: no new
// backup when nothing changed since this machine's last backup of the folder,
// nor within the grace period after a restore into it; exit 0 either way.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cli, cliS3Env, ensureCliBundle } from '../helpers/cliProcess';
import { createTestBucket, requireS3Server, type TestBucket } from '../helpers/s3';

describe('s3-backup backup --if-changed (real process, real S3)', function () {
  this.timeout(120_000);
  let bucket: TestBucket;
  let work: string;
  let app: string;
  let env: Record<string, string>;
  const backupKeys = async (): Promise<string[]> => (await bucket.listObjects('cron/')).map((o) => o.key).filter((k) => /\.json\.gz$/.test(k));

  before(async function () {
    this.timeout(120_000);
    requireS3Server();
    ensureCliBundle();
    bucket = await createTestBucket('ifchanged');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-ifchanged-'));
    app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'a.txt'), 'one\n');
    env = { ...cliS3Env(bucket.bucket, 'cron'), S3_BACKUP_HOSTNAME: 'cron-box', HOME: work };
  });

  after(async () => {
    fs.rmSync(work, { recursive: true, force: true });
    await bucket?.cleanup();
  });

  it('backs up the first time, then says nothing changed and exits 0 without a new backup', async () => {
    const first = await cli(['backup', app, '--if-changed'], env);
    assert.strictEqual(first.code, 0, first.stderr);
    assert.match(first.stdout.trim(), /^cron\/\S+_cron-box_workspace_\S+\.json\.gz$/);
    const again = await cli(['backup', app, '--if-changed'], env);
    assert.strictEqual(again.code, 0, again.stderr);
    assert.strictEqual(again.stdout, '');
    const lines = again.stderr.trim().split('\n');
    assert.strictEqual(lines.length, 1, again.stderr);
    assert.match(lines[0], new RegExp(`^Nothing changed since ${first.stdout.trim().replace(/[.]/g, '\\.')}: no new backup\\.$`));
    assert.strictEqual((await backupKeys()).length, 1);
  });

  it('backs up again after a change, and always without --if-changed', async () => {
    fs.appendFileSync(path.join(app, 'a.txt'), 'two\n');
    const changed = await cli(['backup', app, '--if-changed', '--json'], env);
    assert.strictEqual(changed.code, 0, changed.stderr);
    assert.ok(JSON.parse(changed.stdout).key);
    const unchanged = await cli(['backup', app, '--if-changed', '--json'], env);
    assert.deepStrictEqual(JSON.parse(unchanged.stdout).backedUp, false);
    assert.strictEqual(JSON.parse(unchanged.stdout).reason, 'unchanged');
    const forced = await cli(['backup', app], env);
    assert.strictEqual(forced.code, 0, forced.stderr);
    assert.strictEqual((await backupKeys()).length, 3);
  });

  it('does not back up a folder restored into within the grace period, though it changed', async () => {
    const [key] = (await backupKeys()).sort();
    const restored = await cli(['restore', key, app, '--yes'], env);
    assert.strictEqual(restored.code, 0, restored.stderr);
    const before = (await backupKeys()).length;
    const r = await cli(['backup', app, '--if-changed'], env);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stderr.trim(), /^Not backed up: .*app was restored at \S+; --if-changed waits \d+ more minutes after a restore\.$/);
    assert.strictEqual((await backupKeys()).length, before);
    // Without --if-changed the backup is the user's explicit wish.
    assert.strictEqual((await cli(['backup', app], env)).code, 0);
    assert.strictEqual((await backupKeys()).length, before + 1);
  });
});
