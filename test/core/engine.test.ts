import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { BackupEngine, uniqueFolderNames } from '../../src/core/engine';
import { BackupError } from '../../src/core/util/engineErrors';
import { makeBackupKey } from '../../src/core/format/backupKeys';
import type { Progress } from '../../src/core/util/progress';
import { createTestBucket, requireS3Server, s3TestEnv, type TestBucket } from '../helpers/s3';
import { MIXED_TREE, listTree, makeTree, type ListedEntry } from '../helpers/tree';

describe('BackupEngine (real S3)', function () {
  this.timeout(180_000);
  let bucket: TestBucket;
  let work: string;
  let engine: BackupEngine;
  const rootPath = 'engine-tests/run';

  before(async function () {
    requireS3Server();
    bucket = await createTestBucket('engine');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-engine-'));
    engine = new BackupEngine(bucket.profileAt(rootPath), {
      hostname: 'test-host',
      tmpDir: path.join(work, 'tmp'),
      snapshotRoot: path.join(work, 'snapshots'),
    });
  });

  after(async () => {
    await bucket?.cleanup();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  describe('round trip', () => {
    let src: string;
    let key: string;

    before(async () => {
      src = path.join(work, 'src', 'app');
      await makeTree(src, { ...MIXED_TREE, bigIncompressible: 20 * 1024 * 1024 });
      const w = (rel: string, data: string) => {
        fs.mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
        fs.writeFileSync(path.join(src, rel), data);
      };
      w('README.md', '# app\n');
      w('node_modules/skip/me.js', 'excluded by default');
      w('.gitignore', 'ignored.log\n');
      w('ignored.log', 'excluded by .gitignore');
    });

    it('backs up a generated tree with progress in every phase', async () => {
      const phases = new Set<string>();
      let last: Progress | undefined;
      const res = await engine.backup(
        { kind: 'workspace', folders: [{ name: 'app', path: src }] },
        { onProgress: (p) => { phases.add(p.phase); last = p; } },
      );
      key = res.key;
      assert.match(key, /^engine-tests\/run\/\d{8}-\d{6}\.\d{3}_test-host_workspace_[0-9a-z]+\.json\.gz$/);
      assert.strictEqual(res.files, countFiles(src));
      assert.strictEqual(res.host, 'test-host');
      assert.strictEqual(res.kind, 'workspace');
      const stored = (await bucket.listObjects(key))[0];
      assert.strictEqual(res.size, stored.size, 'reported size = stored size');
      assert.ok(phases.has('scan') && phases.has('upload'), `phases seen: ${[...phases].join(',')}`);
      assert.ok(last && last.bytesDone > 0);
      assert.ok(res.manifest.sources.includes('workspace/app'));
      assert.ok(res.manifest.files.every((f) => f.path.startsWith('workspace/app/')));
    });

    it('lists it, verifies it and restores it into an empty folder identically', async () => {
      const page = await engine.list();
      assert.ok(page.backups.some((b) => b.key === key));
      const manifest = await engine.verify(key);
      assert.strictEqual(manifest.totals.files, countFiles(src));

      const dest = path.join(work, 'restored-empty');
      const fetched = await engine.fetch(key);
      try {
        const plan = await engine.plan(fetched, { 'workspace/app': dest });
        assert.strictEqual(plan.counts.create, countFiles(src));
        assert.strictEqual(plan.counts.overwrite + plan.counts.unchanged + plan.counts.onlyLocal, 0);
        const result = await engine.apply(plan);
        assert.strictEqual(result.written, countFiles(src));
      } finally {
        await fetched.dispose();
      }
      assert.strictEqual(fetched.archiveFile, undefined, 'format 2 downloads no archive: files come from the packs');
      assert.deepStrictEqual(await listTree(dest), await backedUp(src), 'content, size, mode and mtime identical');
      assert.deepStrictEqual(leftInTmp(work), [], 'no temp files left');
    });

    it('restores over a modified folder: right plan, snapshot of the old files, undo', async () => {
      const dest = path.join(work, 'restored-modified');
      // Only what the backup holds: excluded files would show up as "only local".
      fs.cpSync(src, dest, { recursive: true, filter: (p) => !EXCLUDED.has(path.relative(src, p).split(path.sep).join('/')) && !p.endsWith('node_modules') });
      fs.writeFileSync(path.join(dest, 'README.md'), 'changed locally\n');
      fs.rmSync(path.join(dest, 'empty.txt'));
      fs.writeFileSync(path.join(dest, 'local-only.txt'), 'mine\n');
      const before = readTree(dest);

      const fetched = await engine.fetch(key);
      let snapshotDir: string | undefined;
      try {
        const plan = await engine.plan(fetched, { 'workspace/app': dest });
        const byAction = (a: string) => plan.items.filter((i) => i.action === a).map((i) => i.relPath).sort();
        assert.deepStrictEqual(byAction('overwrite'), ['README.md']);
        assert.deepStrictEqual(byAction('create'), ['empty.txt']);
        assert.deepStrictEqual(byAction('onlyLocal'), ['local-only.txt']);
        assert.strictEqual(plan.counts.unchanged, countFiles(src) - 2);
        const result = await engine.apply(plan);
        assert.strictEqual(result.written, 2);
        snapshotDir = result.snapshotDir;
      } finally {
        await fetched.dispose();
      }
      assert.ok(snapshotDir, 'a snapshot was made');
      assert.ok(snapshotDir.startsWith(path.join(work, 'snapshots')), 'snapshot under the engine snapshotRoot');
      assert.ok(findFileContaining(snapshotDir, 'changed locally\n'), 'snapshot holds the old README.md');
      const expected = readTree(src);
      expected['local-only.txt'] = sha('mine\n');
      assert.deepStrictEqual(readTree(dest), expected);

      const undone = await engine.undo(snapshotDir);
      assert.strictEqual(undone.restored, 1);
      assert.strictEqual(undone.removed, 1);
      assert.deepStrictEqual(readTree(dest), before);
    });

    it('downloads one plain zip of the whole backup, which unzip extracts to the same tree', async () => {
      const file = path.join(work, 'dl', 'copy.zip');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      await engine.download(key, file);
      assert.deepStrictEqual(fs.readdirSync(path.dirname(file)), ['copy.zip'], 'written under a temp name, then renamed');
      const out = path.join(work, 'dl', 'x');
      const r = spawnSync('unzip', ['-q', file, '-d', out], { encoding: 'utf8' });
      assert.strictEqual(r.status, 0, r.stderr);
      assert.deepStrictEqual(readTree(path.join(out, 'workspace', 'app')), readTree(src));
    });
  });

  it('puts duplicate folder names under distinct prefixes', async () => {
    const a = path.join(work, 'dup', 'one', 'app');
    const b = path.join(work, 'dup', 'two', 'app');
    fs.mkdirSync(a, { recursive: true });
    fs.mkdirSync(b, { recursive: true });
    fs.writeFileSync(path.join(a, 'x.txt'), 'a');
    fs.writeFileSync(path.join(b, 'x.txt'), 'b');
    const res = await engine.backup({ kind: 'workspace', folders: [{ name: 'app', path: a }, { name: 'App', path: b }] });
    assert.deepStrictEqual(res.manifest.files.map((f) => f.path).sort(), ['workspace/App-2/x.txt', 'workspace/app/x.txt']);
    await engine.delete(res.key);
  });

  it('makes folder names safe and unique', () => {
    assert.deepStrictEqual(uniqueFolderNames(['app', 'app', 'APP', 'a/b', '..', '', 'con', 'x. ']), [
      'app',
      'app-2',
      'APP-3',
      'a_b',
      'folder',
      'folder-2',
      '_con',
      'x',
    ]);
  });

  it('includes extra appdata entries and refuses extra entries outside appdata/', async () => {
    const dir = path.join(work, 'extra');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'a.txt'), 'a');
    const data = Buffer.from('{"editor.fontSize": 14}');
    const res = await engine.backup({
      kind: 'full',
      folders: [{ name: 'extra', path: dir }],
      extra: [{ archivePath: 'appdata/user/settings.json', data, size: data.length, mtimeMs: Date.now(), mode: 0o644 }],
    });
    assert.deepStrictEqual(res.manifest.files.map((f) => f.path).sort(), ['appdata/user/settings.json', 'workspace/extra/a.txt']);
    assert.strictEqual(res.kind, 'full');
    await engine.delete(res.key);
    await assert.rejects(
      engine.backup({ kind: 'full', folders: [], extra: [{ archivePath: 'workspace/x', data, size: data.length, mtimeMs: 0, mode: 0o644 }] }),
      (e: BackupError) => e instanceof BackupError && e.code === 'UnsafeArchive',
    );
  });

  it('one flipped byte in a stored backup fails verify and restore with nothing written', async () => {
    const dir = path.join(work, 'flip-src');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'random.bin'), crypto.randomBytes(64 * 1024));
    fs.writeFileSync(path.join(dir, 'note.txt'), 'hello\n');
    const res = await engine.backup({ kind: 'workspace', folders: [{ name: 'flip', path: dir }] });
    const packKey = (await bucket.listObjects(`${rootPath}/packs/`)).find((o) => res.manifest.packs?.some((id) => o.key.endsWith(`${id}.zip`)))!.key;
    const raw = await bucket.getObject(packKey);
    // The random file is stored, not deflated: flip a byte in the middle of its data.
    const at = raw.indexOf(fs.readFileSync(path.join(dir, 'random.bin')).subarray(30_000, 30_064));
    assert.ok(at > 0, 'stored data found in the pack');
    raw[at + 10] ^= 0x01;
    await bucket.putObject(packKey, raw);

    await assert.rejects(engine.verify(res.key), (e: BackupError) => e instanceof BackupError && e.code === 'Integrity');
    const dest = path.join(work, 'flip-dest');
    await assert.rejects(
      (async () => {
        const f = await engine.fetch(res.key);
        try {
          await engine.apply(await engine.plan(f, { 'workspace/flip': dest }));
        } finally {
          await f.dispose();
        }
      })(),
      (e: BackupError) => e instanceof BackupError && e.code === 'Integrity',
    );
    assert.ok(!fs.existsSync(dest) || fs.readdirSync(dest).length === 0, 'nothing written');
    assert.deepStrictEqual(leftInTmp(work), [], 'no temp files left');
    await engine.delete(res.key);
  });

  it('cancel mid-upload leaves no object and no pending multipart upload', async () => {
    const dir = path.join(work, 'big');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'big.bin'), crypto.randomBytes(40 * 1024 * 1024));
    const cancelEngine = new BackupEngine(bucket.profileAt('cancel'), { hostname: 'test-host', tmpDir: path.join(work, 'tmp') });
    const controller = new AbortController();
    let uploadSeen = 0;
    const p = cancelEngine.backup(
      { kind: 'workspace', folders: [{ name: 'big', path: dir }] },
      {
        signal: controller.signal,
        onProgress: (pr) => {
          if (pr.phase === 'upload' && pr.bytesDone > 0) {
            uploadSeen = pr.bytesDone;
            if (pr.bytesDone >= 8 * 1024 * 1024) controller.abort();
          }
        },
      },
    );
    await assert.rejects(p, (e: BackupError) => e instanceof BackupError && e.code === 'Cancelled');
    assert.ok(uploadSeen > 0, 'the upload had started');
    // Aborts of multipart uploads are asynchronous on some servers: give it a moment.
    await new Promise((r) => setTimeout(r, 500));
    assert.deepStrictEqual(await bucket.listObjects('cancel/'), []);
    assert.deepStrictEqual(await bucket.listMultipartUploads(), []);
  });

  it('a failure while archiving (unreadable source) leaves nothing in the bucket', async () => {
    const failEngine = new BackupEngine(bucket.profileAt('fail'), { hostname: 'test-host' });
    await assert.rejects(
      failEngine.backup({
        kind: 'full',
        folders: [],
        extra: [{ archivePath: 'appdata/missing.json', absPath: path.join(work, 'does-not-exist'), size: 10, mtimeMs: 0, mode: 0o644 }],
      }),
      (e: unknown) => e instanceof BackupError && e.code === 'SourceChanged',
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.deepStrictEqual(await bucket.listObjects('fail/'), []);
    assert.deepStrictEqual(await bucket.listMultipartUploads(), []);
  });

  it('lists more than 1,000 backups newest first and ignores foreign objects', async () => {
    const root = 'many';
    const start = Date.UTC(2024, 0, 1);
    const keys: string[] = [];
    for (let i = 0; i < 1030; i++) {
      keys.push(makeBackupKey(root, { time: new Date(start + i * 61_000), host: i % 2 ? 'alpha' : 'beta', kind: 'workspace' }));
    }
    const foreign = [`${root}/notes.txt`, `${root}/sub/20240101-000000_x_workspace_abcdef12.zip`, `${root}/20241301-000000_x_workspace_abcdef12.zip`, `${root}-other/20240101-000000_x_workspace_abcdef12.zip`];
    await bucket.putMany([...keys, ...foreign], Buffer.from('x'));
    const listEngine = new BackupEngine(bucket.profileAt(root), { hostname: 'test-host' });

    const all = await listEngine.listAll();
    assert.strictEqual(all.length, 1030);
    assert.deepStrictEqual(all.map((b) => b.key), [...keys].reverse());
    assert.ok(all.every((b) => b.size === 1 && b.kind === 'workspace' && (b.host === 'alpha' || b.host === 'beta')));

    const first = await listEngine.list({ pageSize: 100 });
    assert.strictEqual(first.backups.length, 100);
    assert.ok(first.nextToken, 'a continuation token for the next page');
    assert.deepStrictEqual(first.backups.map((b) => b.key), keys.slice(0, 100).reverse(), 'one page, newest first within it');
    const second = await listEngine.list({ pageSize: 100, continuationToken: first.nextToken });
    assert.strictEqual(second.backups[second.backups.length - 1].key, keys[100]);
  });

  it('delete of a missing key is NotFound; delete removes the object', async () => {
    const missing = makeBackupKey(rootPath, { time: new Date(), host: 'nobody', kind: 'workspace' });
    await assert.rejects(engine.delete(missing), (e: BackupError) => e instanceof BackupError && e.code === 'NotFound');
    const dir = path.join(work, 'del');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'a'), 'a');
    const res = await engine.backup({ kind: 'workspace', folders: [{ name: 'del', path: dir }] });
    await engine.delete(res.key);
    assert.ok(!(await bucket.listObjects(rootPath + '/')).some((o) => o.key === res.key));
    await assert.rejects(engine.verify(res.key), (e: BackupError) => e instanceof BackupError && e.code === 'NotFound');
  });

  it('testConnection passes every step', async () => {
    const report = await engine.testConnection();
    assert.ok(report.ok, JSON.stringify(report.steps.map((s) => [s.step, s.ok, s.error?.code])));
    assert.deepStrictEqual(report.steps.map((s) => s.step), ['bucket', 'write', 'read', 'delete']);
  });

  it('a wrong secret is a SignatureMismatch with no secret in message or params', async () => {
    const p = { ...bucket.profileAt(rootPath), secretAccessKey: 'wrong-secret-value-1234567890' };
    const bad = new BackupEngine(p);
    await assert.rejects(bad.list(), (e: BackupError) => {
      assert.ok(e instanceof BackupError);
      assert.strictEqual(e.code, 'SignatureMismatch');
      const text = `${e.message} ${e.hint ?? ''} ${JSON.stringify(e.params)}`;
      assert.ok(!text.includes(p.secretAccessKey) && !text.includes(s3TestEnv().secretAccessKey));
      return true;
    });
  });
});

// ------------------------------------------------------------------ helpers

function leftInTmp(work: string): string[] {
  const tmp = path.join(work, 'tmp');
  return fs.existsSync(tmp) ? fs.readdirSync(tmp) : [];
}

const EXCLUDED = new Set(['node_modules/skip/me.js', 'ignored.log']);

/** What a restore of `src` must produce: the listing minus what the backup leaves out. */
async function backedUp(src: string): Promise<Record<string, ListedEntry>> {
  const all = await listTree(src);
  for (const k of Object.keys(all)) if (EXCLUDED.has(k) || k === 'node_modules' || k.startsWith('node_modules/')) delete all[k];
  return all;
}

function readTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const rel = path.relative(root, p).split(path.sep).join('/');
        if (!EXCLUDED.has(rel)) out[rel] = sha(fs.readFileSync(p));
      }
    }
  };
  walk(root);
  return out;
}

function countFiles(root: string): number {
  return Object.keys(readTree(root)).length;
}

function sha(data: string | Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

function findFileContaining(dir: string, content: string): boolean {
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && fs.readFileSync(path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name), 'utf8') === content) return true;
  }
  return false;
}
