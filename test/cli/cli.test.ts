import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { build, manifestFor, normalLookingKey, type Entry } from '../helpers/hostileArchive';
import { CLI, cli, cliS3Env, ensureCliBundle, REPO } from '../helpers/cliProcess';
import { createTestBucket, requireS3Server, s3TestEnv, type TestBucket } from '../helpers/s3';
import { formatBytes } from '../../src/core/util/formatBytes';

/** The fixture's files that the backup below keeps (README.md, src/main.ts, data.bin; debug.log is excluded). */
const SOURCE_BYTES = '# project\n'.length + 'console.log(1);\n'.length * 100 + 100_000;

function readTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(root, p).split(path.sep).join('/')] = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk(root);
  return out;
}

describe('s3-backup CLI (real process)', function () {
  this.timeout(120_000);

  before(function () {
    this.timeout(120_000);
    // The suite tests what users run: the esbuild bundle, built the normal way.
    ensureCliBundle();
  });

  describe('usage', () => {
    it('--help prints usage and exits 0', async () => {
      const r = await cli(['--help']);
      assert.strictEqual(r.code, 0);
      assert.match(r.stdout, /Usage: s3-backup <command>/);
      for (const c of ['test-connection', 'backup', 'list', 'restore', 'verify', 'download', 'delete', 'undo']) assert.ok(r.stdout.includes(c), c);
    });

    it('--version prints the package version', async () => {
      const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
      const r = await cli(['--version']);
      assert.strictEqual(r.code, 0);
      assert.strictEqual(r.stdout.trim(), pkg.version);
    });

    it('starts with a shebang so it runs as the package bin', () => {
      assert.ok(fs.readFileSync(CLI, 'utf8').startsWith('#!/usr/bin/env node\n'));
    });

    const bad: [string, string[], RegExp][] = [
      ['no arguments', [], /Usage/],
      ['an unknown command', ['frobnicate'], /Unknown command "frobnicate"/],
      ['an unknown option', ['list', '--frob'], /Unknown option '--frob'/],
      ['a missing argument', ['restore', 'only-a-key'], /Usage: s3-backup restore/],
      ['too many arguments', ['verify', 'a', 'b'], /Usage: s3-backup verify/],
      ['missing settings', ['list'], /bucket/i],
      ['a wrong addressing style', ['list', '--endpoint', 'http://127.0.0.1:1', '--bucket', 'b', '--access-key-id', 'k', '--addressing-style', 'sideways'], /addressing/i],
    ];
    for (const [what, args, re] of bad) {
      it(`${what} is bad usage: exit 2`, async () => {
        const r = await cli(args, { S3_BACKUP_SECRET_ACCESS_KEY: 'x'.repeat(40) });
        assert.strictEqual(r.code, 2, r.stderr);
        assert.match(r.stdout + r.stderr, re);
      });
    }

    it('refuses the secret as a flag, without echoing it', async () => {
      for (const args of [['list', '--secret-access-key', 'TOPSECRETVALUE123'], ['--secret-access-key=TOPSECRETVALUE123', 'list']]) {
        const r = await cli(args);
        assert.strictEqual(r.code, 2);
        assert.match(r.stderr, /never accepted as a command-line flag/);
        assert.match(r.stderr, /S3_BACKUP_SECRET_ACCESS_KEY/);
        assert.ok(!(r.stdout + r.stderr).includes('TOPSECRETVALUE123'));
      }
    });

    it('reports a missing config file as bad usage', async () => {
      const r = await cli(['list', '--config', '/nonexistent/s3b.json']);
      assert.strictEqual(r.code, 2);
      assert.match(r.stderr, /config file .* does not exist/);
    });
  });

  describe('against a real S3 server', () => {
    let bucket: TestBucket;
    let work: string;
    let env: Record<string, string>;
    let src: string;
    let key: string;

    before(async function () {
      requireS3Server();
      bucket = await createTestBucket('cli');
      env = cliS3Env(bucket.bucket, 'cli/backups');
      work = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-cli-'));
      env.HOME = path.join(work, 'home');
      fs.mkdirSync(env.HOME);
      src = path.join(work, 'project');
      fs.mkdirSync(path.join(src, 'src'), { recursive: true });
      fs.writeFileSync(path.join(src, 'README.md'), '# project\n');
      fs.writeFileSync(path.join(src, 'src', 'main.ts'), 'console.log(1);\n'.repeat(100));
      fs.writeFileSync(path.join(src, 'data.bin'), crypto.randomBytes(100_000));
      fs.writeFileSync(path.join(src, 'debug.log'), 'noise');
    });

    after(async () => {
      await bucket?.cleanup();
      if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it('test-connection exits 0', async () => {
      const r = await cli(['test-connection'], env);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.match(r.stdout, /The connection works/);
    });

    it('test-connection warns on stderr when the bucket is public, and --json says what was found', async () => {
      const sdk = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
      const Policy = JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: '*', Action: ['s3:GetObject', 's3:ListBucket'], Resource: [`arn:aws:s3:::${bucket.bucket}`, `arn:aws:s3:::${bucket.bucket}/*`] }],
      });
      await bucket.client.send(new sdk.PutBucketPolicyCommand({ Bucket: bucket.bucket, Policy }));
      try {
        const r = await cli(['test-connection'], env);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(r.stderr, /warning: anyone can list the backups without keys/);
        assert.match(r.stderr, /warning: anyone can download the backups without keys/);
        assert.match(r.stderr, /hint: make the bucket private\. AWS S3: turn on Block Public Access/);
        const j = await cli(['test-connection', '--json'], env);
        const doc = JSON.parse(j.stdout) as { access: Record<string, unknown>; cleartext: boolean };
        assert.deepStrictEqual(doc.access, { listable: true, readable: true, policyPublic: true, aclPublic: false, unknown: [], exposed: true });
        assert.strictEqual(doc.cleartext, false);
      } finally {
        await bucket.client.send(new sdk.DeleteBucketPolicyCommand({ Bucket: bucket.bucket }));
      }
      const after = await cli(['test-connection'], env);
      assert.strictEqual(after.code, 0, after.stderr);
      assert.ok(!/warning/.test(after.stderr), `no warning once private: ${after.stderr}`);
    });

    it('backup --json prints the new key; --exclude applies', async () => {
      const r = await cli(['backup', src, '--exclude', '*.log', '--json'], env);
      assert.strictEqual(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { key: string; files: number; kind: string; size: number; bytes: number; uploaded: number };
      assert.match(out.key, /^cli\/backups\/\d{8}-\d{6}\.\d{3}_.+_workspace_[0-9a-z]+\.json\.gz$/);
      assert.strictEqual(out.files, 3);
      assert.strictEqual(out.kind, 'workspace');
      assert.strictEqual(out.size, (await bucket.listObjects(out.key))[0].size);
      // The files' size, not the manifest's; the first backup uploads them all (compressed) and its manifest.
      assert.strictEqual(out.bytes, SOURCE_BYTES);
      assert.ok(out.uploaded > out.size && out.uploaded < out.bytes + out.size + 4096, `uploaded ${out.uploaded}`);
      assert.strictEqual(r.stderr, '', 'no progress or warnings when stderr is not a terminal');
      key = out.key;
    });

    it('list --json shows it; plain list prints one line per backup', async () => {
      const r = await cli(['list', '--json'], env);
      assert.strictEqual(r.code, 0, r.stderr);
      const list = JSON.parse(r.stdout) as { key: string; size: number; files: number; bytes: number }[];
      assert.deepStrictEqual(list.map((b) => [b.key, b.files, b.bytes]), [[key, 3, SOURCE_BYTES]]);
      const plain = await cli(['list'], env);
      assert.strictEqual(plain.code, 0);
      assert.strictEqual(plain.stdout.trim().split('\n').length, 1);
      assert.ok(plain.stdout.includes(key));
      assert.ok(plain.stdout.includes(` ${formatBytes(SOURCE_BYTES)} `), `plain list shows the files' size, not the manifest's: ${plain.stdout}`);
      // The AWS SDK's Node version warning (this runs on Node 20 with no flag in the environment) never shows.
      assert.ok(!('AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED' in env), 'the test must run without the flag');
      assert.strictEqual(plain.stderr, '', `list wrote to stderr: ${plain.stderr}`);
    });

    it('restore --dry-run prints the plan and writes nothing', async () => {
      const dest = path.join(work, 'dry');
      const r = await cli(['restore', key, dest, '--dry-run', '--json'], env);
      assert.strictEqual(r.code, 0, r.stderr);
      const plan = JSON.parse(r.stdout) as { counts: Record<string, number>; items: { path: string; action: string }[] };
      assert.deepStrictEqual(plan.counts, { create: 3, overwrite: 0, unchanged: 0, onlyLocal: 0 });
      assert.deepStrictEqual(plan.items.map((i) => i.path).sort(), ['workspace/project/README.md', 'workspace/project/data.bin', 'workspace/project/src/main.ts']);
      assert.ok(!fs.existsSync(dest));
      const plain = await cli(['restore', key, dest, '--dry-run'], env);
      assert.match(plain.stdout, /3 new, 0 overwritten, 0 unchanged, 0 only local/);
    });

    it('restore into a folder with files, without --yes and no terminal, refuses with exit 2 and writes nothing', async () => {
      const dest = path.join(work, 'refused');
      fs.mkdirSync(dest, { recursive: true });
      fs.writeFileSync(path.join(dest, 'mine.txt'), 'mine\n');
      const r = await cli(['restore', key, dest], env, 'y\n');
      assert.strictEqual(r.code, 2);
      assert.match(r.stderr, /--yes/);
      assert.deepStrictEqual(fs.readdirSync(dest), ['mine.txt']);
    });

    it('restore into a new or an empty folder needs no --yes: nothing there can be overwritten', async () => {
      const fresh = path.join(work, 'new-folder', 'project');
      const r = await cli(['restore', key, fresh], env);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, /Restored 3 files into /);
      const empty = path.join(work, 'empty-folder');
      fs.mkdirSync(empty);
      const r2 = await cli(['restore', key, empty], env);
      assert.strictEqual(r2.code, 0, r2.stderr);
      assert.strictEqual(Object.keys(readTree(empty)).length, 3);
    });

    it('restore --yes restores identical files; a second restore over a change can be undone', async () => {
      const dest = path.join(work, 'restored');
      const r = await cli(['restore', key, dest, '--yes'], env);
      assert.strictEqual(r.code, 0, r.stderr);
      const expected = readTree(src);
      delete expected['debug.log'];
      assert.deepStrictEqual(readTree(dest), expected);

      fs.writeFileSync(path.join(dest, 'README.md'), 'local edit\n');
      const again = await cli(['restore', key, dest, '--yes', '--json'], env);
      assert.strictEqual(again.code, 0, again.stderr);
      const res = JSON.parse(again.stdout) as { written: number; snapshotDir: string };
      assert.strictEqual(res.written, 1);
      assert.ok(res.snapshotDir.startsWith(path.join(env.HOME, '.s3-backup', 'snapshots')), res.snapshotDir);
      assert.deepStrictEqual(readTree(dest), expected);

      // Without an argument, undo lists what can be undone, newest first, and changes nothing.
      const list = await cli(['undo'], { HOME: env.HOME });
      assert.strictEqual(list.code, 0, list.stderr);
      // The restores of this test (other tests of the suite restored elsewhere with the same HOME).
      const rows = list.stdout.trim().split('\n').filter((r) => r.includes(` ${dest} `));
      assert.strictEqual(rows.length, 2, list.stdout);
      const esc = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      assert.match(rows[0], new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\S+Z\\s+complete\\s+${esc(dest)}\\s+\\(backup of .+; 0 new, 1 replaced\\)\\s+${esc(res.snapshotDir)}$`));
      assert.match(list.stderr, /s3-backup undo --last/);
      assert.deepStrictEqual(readTree(dest), expected);

      const undo = await cli(['undo', res.snapshotDir], { HOME: env.HOME });
      assert.strictEqual(undo.code, 0, undo.stderr);
      assert.strictEqual(fs.readFileSync(path.join(dest, 'README.md'), 'utf8'), 'local edit\n');
    });

    it('verify exits 0 and names the file count', async () => {
      const r = await cli(['verify', key], env);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.match(r.stdout, /OK: 3 files/);
    });

    it('download saves the backup as one zip that unzip accepts; refuses to overwrite without --force', async () => {
      const file = path.join(work, 'copy.zip');
      const r = await cli(['download', key, file], env);
      assert.strictEqual(r.code, 0, r.stderr);
      const listing = spawnSync('unzip', ['-Z1', file], { encoding: 'utf8' });
      assert.strictEqual(listing.status, 0, listing.stderr);
      assert.deepStrictEqual(listing.stdout.trim().split('\n').sort(), ['workspace/project/README.md', 'workspace/project/data.bin', 'workspace/project/src/main.ts']);
      const again = await cli(['download', key, file], env);
      assert.strictEqual(again.code, 1);
      assert.match(again.stderr, /already exists/);
      assert.strictEqual((await cli(['download', key, file, '--force'], env)).code, 0);
    });

    it('settings come from a --config file, flags override the environment', async () => {
      const t = s3TestEnv();
      const cfg = path.join(work, 's3b.json');
      fs.writeFileSync(cfg, JSON.stringify({ endpoint: t.endpoint, region: t.region, bucket: bucket.bucket, accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey, rootPath: 'cli/backups' }), { mode: 0o600 });
      const r = await cli(['list', '--json', '--config', cfg], {});
      assert.strictEqual(r.code, 0, r.stderr);
      assert.deepStrictEqual((JSON.parse(r.stdout) as { key: string }[]).map((b) => b.key), [key]);
      const other = await cli(['list', '--json', '--root-path', 'elsewhere'], env);
      assert.strictEqual(other.code, 0, other.stderr);
      assert.deepStrictEqual(JSON.parse(other.stdout), []);
    });

    it('a wrong secret exits 1 with one plain sentence and never prints the secret', async () => {
      const wrong = 'WrongSecretValue0123456789abcdefWRONG';
      const r = await cli(['list'], { ...env, S3_BACKUP_SECRET_ACCESS_KEY: wrong });
      assert.strictEqual(r.code, 1);
      assert.strictEqual(r.stdout, '');
      const lines = r.stderr.trim().split('\n');
      assert.match(lines[0], /^Error: The secret access key was rejected by the server\.$/);
      assert.ok(lines.length <= 2, r.stderr);
      for (const s of [wrong, env.S3_BACKUP_SECRET_ACCESS_KEY]) assert.ok(!(r.stdout + r.stderr).includes(s));
      const b = await cli(['backup', src], { ...env, S3_BACKUP_SECRET_ACCESS_KEY: wrong });
      assert.strictEqual(b.code, 1);
      assert.strictEqual(b.stdout, '');
      assert.match(b.stderr, /^Error: The secret access key was rejected by the server\.\n/);
      assert.ok(!b.stderr.includes(wrong));
      const j = await cli(['list', '--json'], { ...env, S3_BACKUP_SECRET_ACCESS_KEY: wrong });
      assert.strictEqual(j.code, 1);
      assert.strictEqual((JSON.parse(j.stderr) as { error: { code: string } }).error.code, 'SignatureMismatch');
      assert.ok(!j.stderr.includes(wrong));
    });

    it('delete removes it; deleting again is a failure (exit 1)', async () => {
      const r = await cli(['delete', key], env);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.deepStrictEqual(await bucket.listObjects('cli/'), []);
      const again = await cli(['delete', key], env);
      assert.strictEqual(again.code, 1);
      assert.match(again.stderr, /^Error: .*does not exist/);
    });

    it('S3_BACKUP_HOSTNAME names the machine in the key and the manifest', async () => {
      const hostEnv = { ...env, S3_BACKUP_ROOT_PATH: 'cli/hosts', S3_BACKUP_HOSTNAME: ' Build Box_2 ' };
      const r = await cli(['backup', src, '--json'], hostEnv);
      assert.strictEqual(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { key: string; host: string };
      assert.match(out.key, /^cli\/hosts\/\d{8}-\d{6}\.\d{3}_Build-Box-2_workspace_[0-9a-z]+\.json\.gz$/);
      assert.strictEqual(out.host, 'Build-Box-2');
      const v = await cli(['verify', out.key, '--json'], hostEnv);
      assert.strictEqual(v.code, 0, v.stderr);
      assert.strictEqual((JSON.parse(v.stdout) as { hostname: string }).hostname, 'Build Box_2');
      await cli(['delete', out.key], hostEnv);
    });

    describe('hostile backups planted in the bucket', () => {
      let planted: Record<string, string>;
      const plant = async (entries: Entry[]): Promise<string> => {
        const k = normalLookingKey('planted/backups');
        await bucket.putObject(k, await build(entries, manifestFor(entries)));
        return k;
      };
      const f = (name: string, body: string): Entry => ({ name: `workspace/app/${name}`, data: Buffer.from(body) });
      before(() => {
        planted = { ...env, S3_BACKUP_ROOT_PATH: 'planted/backups' };
      });

      it('names with control characters are printed escaped: they cannot forge or hide plan lines', async () => {
        const k = await plant([f('x\rnew        /home/me/.bashrc', 'a'), f('y\nnew        /etc/cron.d/evil', 'b'), f('z\x1b[1A\x1b[2K\u202etxt.exe', 'c')]);
        const dest = path.join(work, 'forged');
        const r = await cli(['restore', k, dest, '--dry-run'], planted);
        assert.strictEqual(r.code, 0, r.stderr);
        const lines = r.stdout.split('\n').filter((l) => l !== '');
        assert.strictEqual(lines.length, 4, r.stdout);
        assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/.test(r.stdout + r.stderr), JSON.stringify(r.stdout));
        assert.ok(lines[0].endsWith('/forged/x\\u000dnew        /home/me/.bashrc'), lines[0]);
        assert.ok(lines[1].endsWith('/forged/y\\u000anew        /etc/cron.d/evil'), lines[1]);
        assert.ok(lines[2].endsWith('/forged/z\\u001b[1A\\u001b[2K\\u202etxt.exe'), lines[2]);
        assert.match(lines[3], /^3 new, 0 overwritten/);
      });

      it('a planted .git/config is refused with one plain sentence, nothing written', async () => {
        const k = await plant([f('src/a.ts', 'a'), f('.git/config', '[core]\n\tfsmonitor = "touch /tmp/s3b-pwned"\n')]);
        const dest = path.join(work, 'git-planted');
        const r = await cli(['restore', k, dest, '--yes'], planted);
        assert.strictEqual(r.code, 1);
        assert.strictEqual(r.stderr.split('\n')[0], 'Error: The backup holds "workspace/app/.git/config", which is inside a git repository\'s internals (.git); a backup never holds those.');
        assert.ok(!fs.existsSync(dest));
        const v = await cli(['verify', k], planted);
        assert.strictEqual(v.code, 1);
      });

      it('files that run code are left out, the CLI says how many and which flag restores them', async () => {
        const k = await plant([f('src/a.ts', 'a'), f('.vscode/tasks.json', '{"version":"2.0.0","tasks":[]}'), f('.envrc', 'echo hi\n')]);
        const dest = path.join(work, 'code-files');
        const dry = await cli(['restore', k, dest, '--dry-run', '--json'], planted);
        assert.strictEqual(dry.code, 0, dry.stderr);
        const items = (JSON.parse(dry.stdout) as { items: Array<{ path: string; runsCode?: boolean; restored?: boolean }> }).items;
        assert.deepStrictEqual(items.filter((i) => i.runsCode).map((i) => [i.path, i.restored]), [['workspace/app/.vscode/tasks.json', false], ['workspace/app/.envrc', false]]);

        const r = await cli(['restore', k, dest, '--yes'], planted);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.ok(r.stderr.includes(`new        ${path.join(dest, '.vscode', 'tasks.json')}  (runs code: left out)`), r.stderr);
        const note = 'Left out 2 files that can make tools run code by themselves (.vscode/tasks.json, .envrc); add --include-code-files to restore them too.';
        assert.strictEqual(r.stderr.split('\n').filter((l) => l === note).length, 2, 'said before the question and in the summary');
        assert.match(r.stderr, /Restored 1 file into/);
        assert.deepStrictEqual(Object.keys(readTree(dest)), ['src/a.ts']);

        const all = await cli(['restore', k, dest, '--yes', '--include-code-files'], planted);
        assert.strictEqual(all.code, 0, all.stderr);
        assert.ok(!all.stderr.includes('Left out'), all.stderr);
        assert.match(all.stderr, /\(runs code\)\n/);
        assert.deepStrictEqual(Object.keys(readTree(dest)).sort(), ['.envrc', '.vscode/tasks.json', 'src/a.ts']);
      });

      it('--help lists --include-code-files under restore', async () => {
        const r = await cli(['--help']);
        assert.match(r.stdout, /restore <key> <dir> .*\[--include-code-files\]/);
      });
    });
  });
});
