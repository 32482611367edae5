import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import { verifyArchive } from '../../src/core/archive/verifyArchive';
import { writeArchive } from '../helpers/v1/archiveWriter';
import { BackupError } from '../../src/core/util/engineErrors';
import { parseManifest } from '../../src/core/format/manifest';
import { applyRestore } from '../../src/core/restore/applyRestore';
import { planRestore } from '../../src/core/restore/planRestore';
import { listTree, randomStream } from '../helpers/tree';
import { expectCode } from '../helpers/assertions';

import { build, centralRecord, manifestFor, sha } from '../helpers/hostileArchive';

const GOOD = { name: 'workspace/app/good.txt', data: Buffer.from('a harmless file\n') };

describe('hostile archives are refused with nothing written', function () {
  this.timeout(120_000);
  let tmp: string;
  let n = 0;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-hostile-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** verify -> plan -> apply, the way the engine restores; expects `code` and an untouched disk. */
  async function refused(archive: Buffer, code: string, o: { maxTotalBytes?: number; prepare?: (target: string, outside: string) => void } = {}): Promise<BackupError> {
    const dir = path.join(tmp, `case${n++}`);
    const target = path.join(dir, 'target');
    const outside = path.join(dir, 'outside');
    fs.mkdirSync(target, { recursive: true });
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(target, 'existing.txt'), 'was here before');
    fs.writeFileSync(path.join(outside, 'secret.txt'), 'do not touch');
    o.prepare?.(target, outside);
    const file = path.join(dir, 'backup.zip');
    fs.writeFileSync(file, archive);
    const before = await listTree(dir);
    let caught: unknown;
    try {
      const manifest = await verifyArchive(file, o.maxTotalBytes ? { maxTotalBytes: o.maxTotalBytes } : {});
      const plan = await planRestore(file, manifest, { 'workspace/app': target });
      await applyRestore(plan, { snapshotRoot: path.join(dir, 'snapshots') });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught, 'the restore went through');
    expectCode(code)(caught);
    assert.deepStrictEqual(await listTree(dir), before, 'something was written');
    assert.ok(!fs.existsSync('/tmp/evil.txt'));
    return caught as BackupError;
  }

  const unsafeNames = [
    ['an absolute path', '/tmp/evil.txt'],
    ['a .. segment', '../evil.txt'],
    ['a .. inside the path', 'workspace/app/../../evil.txt'],
    ['a backslash', 'workspace\\app\\..\\..\\evil.txt'],
    ['a drive letter', 'C:/evil.txt'],
    ['a drive-relative path', 'C:evil.txt'],
    ['a NUL', 'workspace/app/evil\0.txt'],
    ['an empty segment', 'workspace//app/evil.txt'],
  ];
  for (const [what, name] of unsafeNames) {
    it(`an entry with ${what}`, async () => {
      const evil = { name, data: Buffer.from('evil') };
      // Listed in the manifest too, or only present in the archive: both refused.
      const e = await refused(await build([GOOD, evil], manifestFor([GOOD, evil])), 'UnsafeArchive');
      assert.ok(e.params.entry !== undefined);
      await refused(await build([GOOD, evil], manifestFor([GOOD])), 'UnsafeArchive');
    });
  }

  it('a symbolic link entry', async () => {
    const link = { name: 'workspace/app/link', data: Buffer.from('/etc/passwd'), unixPermissions: 0o120777 };
    await refused(await build([GOOD, link], manifestFor([GOOD, link])), 'UnsafeArchive');
  });

  it('a path through a symbolic link already in the target', async () => {
    const evil = { name: 'workspace/app/link/evil.txt', data: Buffer.from('evil') };
    const e = await refused(await build([GOOD, evil], manifestFor([GOOD, evil])), 'UnsafeArchive', {
      prepare: (target, outside) => fs.symlinkSync(outside, path.join(target, 'link')),
    });
    assert.match(e.message, /link\/evil\.txt/);
    // Deeper: a link to a folder outside, then folders below it that do not exist yet.
    const deep = { name: 'workspace/app/link/a/b/c.txt', data: Buffer.from('evil') };
    await refused(await build([GOOD, deep], manifestFor([GOOD, deep])), 'UnsafeArchive', {
      prepare: (target, outside) => fs.symlinkSync(outside, path.join(target, 'link')),
    });
  });

  it('a link inside the target that stays inside is fine', async () => {
    const dir = path.join(tmp, 'inner-link');
    const target = path.join(dir, 'target');
    fs.mkdirSync(path.join(target, 'real'), { recursive: true });
    fs.symlinkSync(path.join(target, 'real'), path.join(target, 'alias'));
    const f = { name: 'workspace/app/alias/x.txt', data: Buffer.from('ok') };
    const file = path.join(dir, 'b.zip');
    fs.writeFileSync(file, await build([f], manifestFor([f])));
    const m = await verifyArchive(file);
    await applyRestore(await planRestore(file, m, { 'workspace/app': target }), { snapshotRoot: path.join(dir, 'snap') });
    assert.strictEqual(fs.readFileSync(path.join(target, 'real', 'x.txt'), 'utf8'), 'ok');
  });

  it('duplicate entries', async () => {
    const a = { name: 'workspace/app/a1.txt', data: Buffer.from('first') };
    const b = { name: 'workspace/app/a2.txt', data: Buffer.from('second') };
    const buf = await build([a, b], manifestFor([a, b]));
    // Rename a2 to a1 everywhere (local and central headers; the manifest is deflated).
    let at = -1;
    while ((at = buf.indexOf('workspace/app/a2.txt', at + 1)) !== -1) buf.write('workspace/app/a1.txt', at);
    await refused(buf, 'UnsafeArchive');
  });

  it('a manifest size that lies', async () => {
    const f = { name: 'workspace/app/a.txt', data: Buffer.from('hello world, this is longer') };
    const m = manifestFor([f]);
    (m.files as { size: number }[])[0].size = 5;
    m.totals = { files: 1, bytes: 5 };
    await refused(await build([f], m), 'Integrity');
  });

  it('a zip header size that lies (more data than declared)', async () => {
    const data = Buffer.from('hello world, this is longer than five bytes '.repeat(20));
    const f = { name: 'workspace/app/a.txt', data };
    const m = manifestFor([{ name: f.name, data: data.subarray(0, 5) }]);
    const buf = await build([f], m);
    const c = centralRecord(buf, f.name);
    buf.writeUInt32LE(5, c + 24); // uncompressed size
    await refused(buf, 'Integrity');
  });

  it('a zip bomb beyond the cap', async () => {
    const zeros = Buffer.alloc(16 * 1024 * 1024);
    const f = { name: 'workspace/app/zeros.bin', data: zeros };
    await refused(await build([f], manifestFor([f])), 'UnsafeArchive', { maxTotalBytes: 8 * 1024 * 1024 });
  });

  it('an entry that claims an impossible compression ratio', async () => {
    const f = { name: 'workspace/app/a.txt', data: Buffer.from('tiny') };
    const buf = await build([f], manifestFor([f]));
    buf.writeUInt32LE(0xfffffff0, centralRecord(buf, f.name) + 24);
    await refused(buf, 'UnsafeArchive');
  });

  it('overlapping entries', async () => {
    const a = { name: 'workspace/app/a.txt', data: Buffer.from('aaaa') };
    const b = { name: 'workspace/app/b.txt', data: Buffer.from('bbbb') };
    const buf = await build([a, b], manifestFor([a, b]));
    const ca = centralRecord(buf, a.name);
    buf.writeUInt32LE(buf.readUInt32LE(ca + 42), centralRecord(buf, b.name) + 42);
    await refused(buf, 'UnsafeArchive');
  });

  it('a missing manifest', async () => {
    await refused(await build([GOOD], null), 'Integrity');
  });

  it('a manifest that is not the first entry', async () => {
    await refused(await build([GOOD], manifestFor([GOOD]), { manifestLast: true }), 'Integrity');
  });

  it('malformed manifests', async () => {
    await refused(await build([GOOD], '{"format": 1, "files": ['), 'Integrity');
    await refused(await build([GOOD], { ...manifestFor([GOOD]), files: 'nope' }), 'Integrity');
    await refused(await build([GOOD], { ...manifestFor([GOOD]), format: 99 }), 'Integrity');
    const m = manifestFor([GOOD]);
    (m.files as { sha256: string }[])[0].sha256 = 'xyz';
    await refused(await build([GOOD], m), 'Integrity');
    await refused(await build([GOOD], { ...manifestFor([GOOD]), totals: { files: 1, bytes: 1 } }), 'Integrity');
  });

  it('entries the manifest does not list, and listed files that are missing', async () => {
    const extra = { name: 'workspace/app/extra.txt', data: Buffer.from('x') };
    await refused(await build([GOOD, extra], manifestFor([GOOD])), 'Integrity');
    await refused(await build([GOOD], manifestFor([GOOD, extra])), 'Integrity');
  });

  it('a content that does not match its checksum', async () => {
    const m = manifestFor([GOOD]);
    (m.files as { sha256: string }[])[0].sha256 = sha(Buffer.from('something else'));
    await refused(await build([GOOD], m), 'Integrity');
  });

  describe('damaged archives written by us', () => {
    let good: Buffer;
    let storedAt: number;
    before(async () => {
      const root = path.join(tmp, 'ours');
      fs.mkdirSync(root);
      fs.writeFileSync(path.join(root, 'random.bin'), randomStream(5)(256 * 1024));
      fs.writeFileSync(path.join(root, 'text.txt'), 'some text\n'.repeat(1000));
      const src = ['random.bin', 'text.txt'].map((n) => {
        const st = fs.statSync(path.join(root, n));
        return { archivePath: `workspace/app/${n}`, absPath: path.join(root, n), size: st.size, mtimeMs: st.mtimeMs, mode: 0o644 };
      });
      const a = writeArchive(src, { kind: 'workspace', hostname: 'h', platform: 'linux', created: new Date().toISOString(), sources: ['workspace/app'], toolVersion: '0' });
      const file = path.join(tmp, 'ours.zip');
      await Promise.all([pipeline(a.stream, fs.createWriteStream(file)), a.done]);
      good = fs.readFileSync(file);
      storedAt = good.indexOf('workspace/app/random.bin') + 'workspace/app/random.bin'.length + 1000;
    });

    it('one flipped byte in a stored entry fails verify and restore', async () => {
      const bad = Buffer.from(good);
      bad[storedAt] ^= 0x01;
      const e = await refused(bad, 'Integrity');
      assert.strictEqual(e.params.entry, 'workspace/app/random.bin');
    });

    it('applying a plan over a tampered archive writes nothing (checked again while extracting)', async () => {
      const dir = path.join(tmp, 'tampered');
      const target = path.join(dir, 'target');
      fs.mkdirSync(target, { recursive: true });
      const file = path.join(dir, 'b.zip');
      fs.writeFileSync(file, good);
      const m = await verifyArchive(file);
      const plan = await planRestore(file, m, { 'workspace/app': target });
      const bad = Buffer.from(good);
      bad[storedAt] ^= 0x80;
      fs.writeFileSync(file, bad);
      const before = await listTree(dir);
      await assert.rejects(applyRestore(plan, { snapshotRoot: path.join(dir, 'snap') }), expectCode('Integrity'));
      assert.deepStrictEqual(await listTree(dir), before);
    });

    it('a truncated archive', async () => {
      await refused(good.subarray(0, Math.floor(good.length / 2)), 'Integrity');
      await refused(good.subarray(0, good.length - 1), 'Integrity');
      await refused(Buffer.alloc(0), 'Integrity');
    });

    it('the intact archive restores', async () => {
      const dir = path.join(tmp, 'intact');
      const file = path.join(dir, 'b.zip');
      fs.mkdirSync(dir);
      fs.writeFileSync(file, good);
      const m = await verifyArchive(file);
      assert.deepStrictEqual(m, parseManifest(m ? JSON.stringify(m) : ''));
      const r = await applyRestore(await planRestore(file, m, { 'workspace/app': path.join(dir, 't') }), { snapshotRoot: path.join(dir, 's') });
      assert.strictEqual(r.written, 2);
    });
  });
});
