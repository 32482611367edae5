// Format 2 manifests planted in the bucket by someone with write access: a
// normal-looking `.json.gz` key among real backups, pointing into real
// packs. Each is refused with one plain sentence before anything is written,
// or, when only the content lies, fails while staging and leaves the target
// as it was.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { BackupEngine } from '../../src/core/engine';
import { makeBackupKey } from '../../src/core/format/backupKeys';
import { compressManifest, type Manifest, type ManifestFile } from '../../src/core/format/manifest';
import { S3Store } from '../../src/core/storage/s3Store';
import { BackupError, type ErrorCode } from '../../src/core/util/engineErrors';
import { createTestBucket, requireS3Server, type TestBucket } from '../helpers/s3';
import { listTree } from '../helpers/tree';

const ROOT = 'team/backups';

describe('hostile format-2 manifests planted in the bucket (real S3, through the engine)', function () {
  this.timeout(180_000);
  let bucket: TestBucket;
  let engine: BackupEngine;
  let tmp: string;
  let real: Manifest;
  let n = 0;

  before(async () => {
    requireS3Server();
    bucket = await createTestBucket('hostile2');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-hostile2-'));
    engine = new BackupEngine(bucket.profileAt(ROOT), { tmpDir: path.join(tmp, 'downloads'), snapshotRoot: path.join(tmp, 'snapshots'), hostname: 'dev-laptop' });
    const src = path.join(tmp, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'a.txt'), 'the real a\n');
    fs.writeFileSync(path.join(src, 'b.txt'), 'the real b, a little longer\n');
    const key = (await engine.backup({ kind: 'workspace', folders: [{ name: 'app', path: src }] })).key;
    const fetched = await engine.fetch(key);
    real = fetched.manifest;
    await fetched.dispose();
    assert.strictEqual(real.format, 2);
    assert.strictEqual(real.files.length, 2);
  });
  after(async () => {
    engine?.dispose();
    await bucket?.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** A copy of the real manifest, changed by `edit`. */
  function variant(edit: (m: Manifest & Record<string, unknown>) => void): Manifest {
    const m = structuredClone(real) as Manifest & Record<string, unknown>;
    edit(m);
    return m;
  }
  const fileOf = (m: Manifest, name: string): ManifestFile => m.files.find((f) => f.path === `workspace/app/${name}`)!;

  async function plant(body: Buffer): Promise<string> {
    const key = makeBackupKey(ROOT, { time: new Date(Date.UTC(2026, 10, 1, 9, 0, n++)), host: 'dev-laptop', kind: 'workspace' });
    await bucket.putObject(key, body);
    assert.ok((await engine.listAll()).some((b) => b.key === key), 'listed among the real backups');
    return key;
  }

  async function target(): Promise<{ dir: string; before: Awaited<ReturnType<typeof listTree>> }> {
    const dir = path.join(tmp, `target${n++}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'a.txt'), 'mine\n');
    return { dir, before: await listTree(dir) };
  }

  /** Restoring `key` fails with `code` and `message`, in one sentence, and changes nothing in the target. */
  async function refused(key: string, code: ErrorCode, message: RegExp): Promise<void> {
    const t = await target();
    let caught: unknown;
    try {
      const fetched = await engine.fetch(key);
      try {
        await engine.apply(await engine.plan(fetched, { 'workspace/app': t.dir }), { includeCodeFiles: true });
      } finally {
        await fetched.dispose();
      }
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof BackupError, `restored: ${String(caught)}`);
    assert.strictEqual(caught.code, code, caught.message);
    assert.match(caught.message, message);
    assert.ok(!caught.message.includes('\n') && caught.hint, `${caught.message} / ${caught.hint}`);
    assert.deepStrictEqual(await listTree(t.dir), t.before, 'the target changed');
    assert.ok(!fs.existsSync(path.join(tmp, 'evil.txt')) && !fs.existsSync('/tmp/s3b-pwned'));
  }

  it('the real manifest, planted again, restores (the harness can succeed)', async () => {
    const key = await plant(await compressManifest(real));
    const t = await target();
    const fetched = await engine.fetch(key);
    await engine.apply(await engine.plan(fetched, { 'workspace/app': t.dir }));
    await fetched.dispose();
    assert.strictEqual(fs.readFileSync(path.join(t.dir, 'a.txt'), 'utf8'), 'the real a\n');
  });

  for (const [what, p] of [
    ['a path leaving the folder', 'workspace/app/../../evil.txt'],
    ['an absolute path', '/tmp/s3b-pwned'],
    ['a .git/config', 'workspace/app/.git/config'],
    ['a backslash path', 'workspace/app/..\\..\\evil.txt'],
  ] as const) {
    it(`a file with ${what} is refused before anything is read from the packs`, async () => {
      const key = await plant(await compressManifest(variant((m) => (fileOf(m, 'b.txt').path = p))));
      await refused(key, 'UnsafeArchive', /./);
    });
  }

  it('a folder or a link named .git is refused like a file', async () => {
    await refused(await plant(await compressManifest(variant((m) => (m.dirs = [{ path: 'workspace/app/.git', mtime: real.created, mode: 0o755 }])))), 'UnsafeArchive', /\.git/);
    await refused(await plant(await compressManifest(variant((m) => (m.links = [{ path: 'workspace/app/.git', target: 'x', mtime: real.created }])))), 'UnsafeArchive', /\.git/);
  });

  it('totals that do not match the file list are refused', async () => {
    await refused(await plant(await compressManifest(variant((m) => (m.totals = { files: 2, bytes: 1 })))), 'Integrity', /totals/);
  });

  it('a piece in a pack the manifest does not list is refused', async () => {
    await refused(await plant(await compressManifest(variant((m) => (fileOf(m, 'a.txt').refs![0][0] = 7)))), 'Integrity', /a\.txt/);
  });

  it("a file pointing at another file's bytes (same size, other checksum) fails while staging; the target is untouched", async () => {
    // Same pack, b's data at a's size: the crc32 and then the sha256 disagree.
    const key = await plant(await compressManifest(variant((m) => {
      const a = fileOf(m, 'a.txt');
      const b = fileOf(m, 'b.txt');
      a.refs = [[b.refs![0][0], b.refs![0][1], a.refs![0][2], a.refs![0][3], a.refs![0][4], a.refs![0][5]]];
    })));
    await refused(key, 'Integrity', /a\.txt/);
  });

  it('a checksum that lies fails while staging; the target is untouched', async () => {
    await refused(await plant(await compressManifest(variant((m) => (fileOf(m, 'a.txt').sha256 = 'f'.repeat(64))))), 'Integrity', /a\.txt/);
  });

  it('a pack that is listed but missing from the bucket is named; the target is untouched', async () => {
    const key = await plant(await compressManifest(variant((m) => (m.packs = [...m.packs!.slice(0, -1), '0'.repeat(m.packs!.at(-1)!.length)]))));
    await refused(key, 'Integrity', /^The backup is incomplete: its data file ".*packs\/00\/0{32}\.zip" is missing from the bucket\.$/);
  });

  it('a manifest from a newer version asks for an update', async () => {
    await refused(await plant(await compressManifest(variant((m) => (m.format = 3 as 2)))), 'Integrity', /newer version/);
  });

  it('a gzip bomb is not inflated past the cap', async () => {
    // 600 MiB of spaces inside a valid-looking JSON object: about 600 KB gzip'd.
    const gz = zlib.createGzip({ level: 1 });
    const chunks: Buffer[] = [];
    gz.on('data', (c: Buffer) => chunks.push(c));
    const done = new Promise((r) => gz.on('end', r));
    gz.write('{"format":2,"pad":"');
    const spaces = Buffer.alloc(16 * 1024 * 1024, 0x20);
    for (let i = 0; i < 600 / 16; i++) gz.write(spaces);
    gz.end('"}');
    await done;
    const key = await plant(Buffer.concat(chunks));
    const before = process.memoryUsage().rss;
    await refused(key, 'Integrity', /not valid JSON/);
    assert.ok(process.memoryUsage().rss - before < 1024 * 1024 * 1024, 'the bomb was inflated whole');
  });

  it('garbage where a manifest should be is refused in one sentence, by the tree summary too', async () => {
    const key = await plant(Buffer.from('<html>not a manifest</html>'));
    await refused(key, 'Integrity', /manifest/);
    const ref = (await engine.listAll()).find((b) => b.key === key)!;
    await assert.rejects(engine.summary(ref), (e: unknown) => e instanceof BackupError && e.code === 'Integrity' && !e.message.includes('\n'));
  });

  it('an object far larger than any manifest is not read into memory', async () => {
    const key = await plant(Buffer.alloc(4096, 1));
    const store = new S3Store(bucket.profileAt(ROOT));
    await assert.rejects(store.getBuffer(key, { maxBytes: 1024 }), (e: unknown) => e instanceof BackupError && e.code === 'UnsafeArchive' && /larger than any backup object/.test(e.message));
    assert.strictEqual((await store.getBuffer(key, { maxBytes: 4096 })).length, 4096);

  });
});
