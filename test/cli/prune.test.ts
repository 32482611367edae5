// `s3-backup prune`, `pin`, `unpin` and `backup --keep-*` as users run them:
// the bundle as a process against the real server, two machines in one bucket.
import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cli, cliS3Env, ensureCliBundle } from '../helpers/cliProcess';
import { createTestBucket, requireS3Server, type TestBucket } from '../helpers/s3';

describe('s3-backup prune (real process, real S3)', function () {
  this.timeout(180_000);
  let bucket: TestBucket;
  let work: string;
  let env: Record<string, string>;
  let src: string;
  const mine: string[] = [];
  let theirs: string;

  const backup = async (e: Record<string, string>, extra: string[] = []): Promise<{ key: string; stderr: string }> => {
    fs.writeFileSync(path.join(src, 'data.bin'), crypto.randomBytes(30_000));
    const r = await cli(['backup', src, ...extra], e);
    assert.strictEqual(r.code, 0, r.stderr);
    return { key: r.stdout.trim(), stderr: r.stderr };
  };
  const keys = async (): Promise<string[]> => (await bucket.listObjects('cli/prune/')).map((o) => o.key).filter((k) => /\.json\.gz$/.test(k) && !k.includes('/pins/')).sort();

  before(async function () {
    ensureCliBundle();
    requireS3Server();
    bucket = await createTestBucket('cli-prune');
    env = { ...cliS3Env(bucket.bucket, 'cli/prune'), S3_BACKUP_HOSTNAME: 'laptop' };
    work = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-cli-prune-'));
    env.HOME = path.join(work, 'home');
    fs.mkdirSync(env.HOME);
    src = path.join(work, 'project');
    fs.mkdirSync(src);
    for (let i = 0; i < 3; i++) mine.push((await backup(env)).key);
    theirs = (await backup({ ...env, S3_BACKUP_HOSTNAME: 'desktop' })).key;
  });

  after(async () => {
    await bucket?.cleanup();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('pin marks a backup; a bad key is one sentence', async () => {
    const r = await cli(['pin', mine[0]], env);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.strictEqual(r.stderr.trim(), `Pinned ${mine[0]}: retention and prune keep it.`);
    const bad = await cli(['pin', 'cli/prune/nothing.zip'], env);
    assert.strictEqual(bad.code, 1);
    assert.strictEqual(bad.stderr, 'Error: The backup "cli/prune/nothing.zip" does not exist in the bucket.\nHint: Refresh the list of backups.\n');
  });

  it('prune --dry-run prints the plan for every machine and deletes nothing', async () => {
    const before = await bucket.listObjects('cli/prune/');
    const r = await cli(['prune', '--dry-run', '--keep-last', '1'], env);
    assert.strictEqual(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^Policy: keep last 1; days, weeks and months in this machine's time zone \(UTC[+-]\d\d:\d\d\)\.$/);
    assert.ok(lines.includes('desktop: 0 of 1 backup go'), r.stdout);
    assert.ok(lines.some((l) => /^laptop: 1 of 3 backups go, freeing \d/.test(l)), r.stdout);
    assert.ok(lines.some((l) => l.startsWith('  go  ') && l.includes(mine[1])), r.stdout);
    assert.ok(lines.some((l) => l.startsWith('  keep') && l.includes(mine[0]) && l.endsWith('(pinned)')), r.stdout);
    assert.ok(lines.some((l) => l.startsWith('  keep') && l.includes(mine[2]) && l.endsWith('(last 1)')), r.stdout);
    assert.match(r.stderr, /^Dry run: 1 backup goes \(3 kept, 1 of them pinned\), freeing .+\. Nothing was deleted\.\n$/);
    assert.deepStrictEqual(await bucket.listObjects('cli/prune/'), before);

    const json = await cli(['prune', '--dry-run', '--keep-last', '1', '--json'], env);
    assert.strictEqual(json.code, 0, json.stderr);
    const plan = JSON.parse(json.stdout) as { forget: { key: string }[]; freedBytes: number; dryRun: boolean; policy: Record<string, number> };
    assert.deepStrictEqual(plan.forget.map((f) => f.key), [mine[1]]);
    assert.deepStrictEqual(plan.policy, { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 });
    assert.ok(plan.freedBytes > 30_000, String(plan.freedBytes));
    assert.strictEqual(plan.dryRun, true);
  });

  it('a bad --keep-* value is bad usage', async () => {
    const r = await cli(['prune', '--keep-daily', 'seven'], env);
    assert.strictEqual(r.code, 2);
    assert.strictEqual(r.stderr.trim(), '--keep-daily takes a whole number (0 turns the rule off), not "seven".');
  });

  it('prune without --dry-run deletes what the plan said, the pinned one stays', async () => {
    const r = await cli(['prune', '--keep-last', '1'], env);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /Pruned 1 backup, freed .+\./);
    assert.deepStrictEqual(await keys(), [mine[0], mine[2], theirs].sort());
  });

  it('backup --keep-last applies retention to this machine\'s backups of the folder only', async () => {
    await cli(['unpin', mine[0]], env);
    const r = await backup(env, ['--keep-last', '1']);
    assert.match(r.stderr, /Retention \(keep last 1\): deleted 2 older backups of this machine, freed .+\./);
    assert.deepStrictEqual(await keys(), [r.key, theirs].sort());
  });
});
