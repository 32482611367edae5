// The CLI on an encrypted repository, as a real process: the passphrase from
// S3_BACKUP_PASSPHRASE or typed at a prompt on a terminal (a real pty), never
// a flag and never printed; decrypt writes a plain zip; change-passphrase.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CLI, cli, cliS3Env, ensureCliBundle } from '../helpers/cliProcess';
import { createTestBucket, requireS3Server, type TestBucket } from '../helpers/s3';
import { digestTree } from '../helpers/tree';

const PASSPHRASE = 'cli passphrase Zk4-unique';

/** Runs the CLI on a pseudo-terminal (python's pty), typing `typed` once it asks for a passphrase. */
function onTerminal(args: string[], env: Record<string, string>, typed: string): { code: number; output: string } {
  const script = `
import os, pty, sys, json, select
args = json.loads(sys.argv[1]); typed = sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(args[0], args, os.environ)
out = b''; sent = False
while True:
    r, _, _ = select.select([fd], [], [], 60)
    if not r: break
    try: d = os.read(fd, 4096)
    except OSError: break
    if not d: break
    out += d
    if not sent and b'Passphrase: ' in out:
        os.write(fd, typed.encode() + b'\\r'); sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode('utf8', 'replace'))
sys.exit(os.WEXITSTATUS(status))
`;
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[k]) base[k] = process.env[k]!;
  const r = spawnSync('python3', ['-c', script, JSON.stringify([process.execPath, CLI, ...args]), typed], { env: { ...base, ...env }, encoding: 'utf8', timeout: 90_000 });
  return { code: r.status ?? -1, output: r.stdout + r.stderr };
}

describe('s3-backup CLI on an encrypted repository (real process)', function () {
  this.timeout(180_000);
  let bucket: TestBucket;
  let work: string;
  let env: Record<string, string>;
  let src: string;
  let key: string;
  const outputs: string[] = [];

  before(async () => {
    requireS3Server();
    ensureCliBundle();
    bucket = await createTestBucket('cli-enc');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-cli-enc-'));
    env = { ...cliS3Env(bucket.bucket, 'enc'), S3_BACKUP_DEBUG: '1' };
    src = path.join(work, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'a.txt'), 'secret source code\n');
    fs.writeFileSync(path.join(src, 'b.bin'), Buffer.alloc(200_000, 3));
  });

  after(async () => {
    for (const o of outputs) assert.ok(!o.includes(PASSPHRASE), 'the passphrase never appears in the output');
    await bucket?.cleanup();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const run = async (args: string[], extra: Record<string, string> = {}) => {
    const r = await cli(args, { ...env, ...extra });
    outputs.push(r.stdout + r.stderr);
    return r;
  };

  it('backs up and restores with S3_BACKUP_PASSPHRASE; the objects are sealed', async () => {
    const b = await run(['backup', src], { S3_BACKUP_PASSPHRASE: PASSPHRASE });
    assert.strictEqual(b.code, 0, b.stderr);
    key = b.stdout.trim();
    const objects = await bucket.listObjects('enc/');
    assert.ok(objects.some((o) => o.key.startsWith('enc/keys/')));
    for (const o of objects.filter((x) => !x.key.startsWith('enc/keys/'))) {
      assert.strictEqual((await bucket.getObject(o.key)).subarray(0, 6).toString('latin1'), 'S3BENC', o.key);
    }
    const dest = path.join(work, 'r1');
    const r = await run(['restore', key, dest], { S3_BACKUP_PASSPHRASE: PASSPHRASE });
    assert.strictEqual(r.code, 0, r.stderr);
    assert.deepStrictEqual(digestTree(dest), digestTree(src));
    const l = await run(['list'], { S3_BACKUP_PASSPHRASE: PASSPHRASE });
    assert.strictEqual(l.code, 0);
    assert.ok(l.stdout.includes(key));
    const v = await run(['verify', key], { S3_BACKUP_PASSPHRASE: PASSPHRASE });
    assert.strictEqual(v.code, 0, v.stderr);
  });

  it('without a passphrase and no terminal: one sentence naming S3_BACKUP_PASSPHRASE; a wrong one: one sentence; nothing written', async () => {
    const dest = path.join(work, 'r2');
    const none = await run(['restore', key, dest, '--yes']);
    assert.strictEqual(none.code, 1);
    assert.match(none.stderr, /This repository is encrypted, and no passphrase was given\.\nHint: .*S3_BACKUP_PASSPHRASE/);
    const wrong = await run(['restore', key, dest, '--yes'], { S3_BACKUP_PASSPHRASE: 'wrong passphrase' });
    assert.strictEqual(wrong.code, 1);
    assert.match(wrong.stderr, /The passphrase does not open this repository's key\./);
    assert.deepStrictEqual(digestTree(dest), {});
  });

  it('refuses the passphrase as a flag without echoing it', async () => {
    for (const args of [['list', '--passphrase', PASSPHRASE], [`--passphrase=${PASSPHRASE}`, 'list']]) {
      const r = await run(args);
      assert.strictEqual(r.code, 2);
      assert.match(r.stderr, /passphrase is never accepted as a command-line flag/);
    }
  });

  it('asks for the passphrase on a terminal, without echoing it, and runs the command', () => {
    const dest = path.join(work, 'r3');
    const r = onTerminal(['restore', key, dest, '--yes'], env, PASSPHRASE);
    outputs.push(r.output);
    assert.strictEqual(r.code, 0, r.output);
    assert.match(r.output, /This repository is encrypted\. Passphrase: /);
    assert.deepStrictEqual(digestTree(dest), digestTree(src));
  });

  it('decrypt writes the plain zip of a pack and of a backup', async () => {
    const pack = (await bucket.listObjects('enc/packs/'))[0].key;
    const zip = path.join(work, 'pack.zip');
    const d = await run(['decrypt', pack, zip], { S3_BACKUP_PASSPHRASE: PASSPHRASE });
    assert.strictEqual(d.code, 0, d.stderr);
    const t = spawnSync('unzip', ['-l', zip], { encoding: 'utf8' });
    assert.strictEqual(t.status, 0, t.stderr);
    assert.match(t.stdout, /workspace\/src\/a\.txt/);
    const whole = path.join(work, 'backup.zip');
    assert.strictEqual((await run(['decrypt', key, whole], { S3_BACKUP_PASSPHRASE: PASSPHRASE })).code, 0);
    const x = spawnSync('unzip', ['-p', whole, 'workspace/src/a.txt'], { encoding: 'utf8' });
    assert.strictEqual(x.stdout, 'secret source code\n');
    const again = await run(['decrypt', pack, zip], { S3_BACKUP_PASSPHRASE: PASSPHRASE });
    assert.strictEqual(again.code, 1, 'an existing file is not replaced without --force');
  });

  it('change-passphrase: the new one opens the old backup, the old one no longer does', async () => {
    const next = `${PASSPHRASE} new`;
    const c = await run(['change-passphrase'], { S3_BACKUP_PASSPHRASE: PASSPHRASE, S3_BACKUP_NEW_PASSPHRASE: next });
    assert.strictEqual(c.code, 0, c.stderr);
    assert.strictEqual((await run(['verify', key], { S3_BACKUP_PASSPHRASE: next })).code, 0);
    const old = await run(['verify', key], { S3_BACKUP_PASSPHRASE: PASSPHRASE });
    assert.strictEqual(old.code, 1);
    assert.match(old.stderr, /does not open/);
  });
});
