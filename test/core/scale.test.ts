// No ceiling (issue 12): more files than a plain zip holds, and one file of
// 5 GiB (sparse here, so the test needs no 5 GiB of writes to set up), back
// up and restore exactly; packs stay plain zips, the big file in pieces
// (`<name>.part001` ...) that `cat` puts together again.
import * as assert from 'assert';
import { createHash } from 'crypto';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BackupEngine } from '../../src/core/engine';
import { createTestBucket, requireS3Server, type TestBucket } from '../helpers/s3';

const GiB = 1024 ** 3;

describe('backups without a ceiling (real S3)', function () {
  this.timeout(20 * 60_000);
  let bucket: TestBucket;
  let work: string;

  before(async () => {
    requireS3Server();
    bucket = await createTestBucket('scale');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-scale-'));
  });

  after(async () => {
    await bucket?.cleanup();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const engineAt = (root: string): BackupEngine =>
    new BackupEngine(bucket.profileAt(root), { hostname: 'scale-host', tmpDir: path.join(work, 'tmp'), snapshotRoot: path.join(work, 'snapshots') });

  it('70,000 files back up into packs of at most 20,000 entries and restore exactly', async () => {
    const src = path.join(work, 'many', 'app');
    const N = 70_000;
    // The last 10,000 repeat the content of the first: twins many hash waves apart are stored once.
    const UNIQUE = 60_000;
    for (let d = 0; d < 70; d++) fs.mkdirSync(path.join(src, `d${d}`), { recursive: true });
    const expected = new Map<string, string>();
    for (let i = 0; i < N; i++) {
      const rel = `d${i % 70}/f${i}.txt`;
      const body = `file ${i % UNIQUE}\n`;
      fs.writeFileSync(path.join(src, rel), body);
      expected.set(rel, body);
    }
    const engine = engineAt('many');
    const phases: string[] = [];
    const done: Record<string, number> = {};
    const res = await engine.backup(
      { kind: 'workspace', folders: [{ name: 'app', path: src }] },
      {
        onProgress: (p) => {
          if (phases[phases.length - 1] !== p.phase) phases.push(p.phase);
          // Hashing and packing overlap in waves; what the listener sees still only counts up.
          assert.ok(p.filesDone >= (done[p.phase] ?? 0), `${p.phase} went back from ${done[p.phase]} to ${p.filesDone}`);
          assert.ok(p.filesDone <= p.filesTotal, `${p.phase}: ${p.filesDone} of ${p.filesTotal}`);
          done[p.phase] = p.filesDone;
        },
      },
    );
    assert.deepStrictEqual(phases, ['scan', 'hash', 'upload'], 'one phase after the other, none shown twice');
    assert.strictEqual(done.hash, N);
    assert.strictEqual(res.files, N);
    assert.strictEqual(res.added.files, UNIQUE, 'each content once');
    assert.ok(res.added.packs >= Math.ceil(UNIQUE / 20_000), `${res.added.packs} packs`);
    const pack = (await bucket.listObjects('many/packs/'))[0];
    const file = path.join(work, 'one-pack.zip');
    fs.writeFileSync(file, await bucket.getObject(pack.key));
    const t = spawnSync('unzip', ['-tq', file], { encoding: 'utf8' });
    assert.strictEqual(t.status, 0, t.stdout + t.stderr);
    assert.ok(!/zip64/i.test(spawnSync('unzip', ['-Zv', file], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout.slice(0, 4000)), 'a pack is a plain zip');

    const dest = path.join(work, 'many-restored');
    const fetched = await engine.fetch(res.key);
    const result = await engine.apply(await engine.plan(fetched, { 'workspace/app': dest }));
    assert.strictEqual(result.written, N);
    let seen = 0;
    for (const [rel, body] of expected) {
      assert.strictEqual(fs.readFileSync(path.join(dest, rel), 'utf8'), body, rel);
      seen++;
    }
    assert.strictEqual(seen, N);
  });

  it('a 5 GiB file is stored in pieces across packs and restores with the same content', async () => {
    const src = path.join(work, 'big', 'app');
    fs.mkdirSync(src, { recursive: true });
    const big = path.join(src, 'disk.img');
    fs.closeSync(fs.openSync(big, 'w'));
    fs.truncateSync(big, 5 * GiB);
    // A few non-zero bytes where pieces meet, so a piece in the wrong place shows.
    const marks = [0, 128 * 1024 * 1024 - 1, 128 * 1024 * 1024, 3 * GiB + 12345, 5 * GiB - 1];
    const fd = fs.openSync(big, 'r+');
    marks.forEach((at, i) => fs.writeSync(fd, Buffer.from([i + 1]), 0, 1, at));
    fs.closeSync(fd);
    fs.writeFileSync(path.join(src, 'small.txt'), 'beside the big one\n');

    const engine = engineAt('big');
    const res = await engine.backup({ kind: 'workspace', folders: [{ name: 'app', path: src }] });
    const entry = res.manifest.files.find((f) => f.path === 'workspace/app/disk.img')!;
    assert.strictEqual(entry.size, 5 * GiB);
    assert.strictEqual(entry.refs!.length, 40, 'pieces of 128 MiB');
    const pack = (await bucket.listObjects('big/packs/')).find((o) => o.key.endsWith(`${res.manifest.packs![entry.refs![0][0]]}.zip`))!;
    fs.writeFileSync(path.join(work, 'big-pack.zip'), await bucket.getObject(pack.key));
    const names = spawnSync('unzip', ['-Z1', path.join(work, 'big-pack.zip')], { encoding: 'utf8' }).stdout.trim().split('\n');
    assert.ok(names.includes('workspace/app/disk.img.part001') && names.includes('workspace/app/disk.img.part040'), names.slice(0, 5).join(', '));

    const dest = path.join(work, 'big-restored');
    const fetched = await engine.fetch(res.key);
    await engine.apply(await engine.plan(fetched, { 'workspace/app': dest }));
    const restored = path.join(dest, 'disk.img');
    assert.strictEqual(fs.statSync(restored).size, 5 * GiB);
    const rfd = fs.openSync(restored, 'r');
    const b = Buffer.alloc(1);
    marks.forEach((at, i) => {
      fs.readSync(rfd, b, 0, 1, at);
      assert.strictEqual(b[0], i + 1, `byte at ${at}`);
    });
    fs.closeSync(rfd);
    // The restore checked the whole file's sha256 before renaming it into place; this is the small one.
    assert.strictEqual(createHash('sha256').update(fs.readFileSync(path.join(dest, 'small.txt'))).digest('hex'), createHash('sha256').update('beside the big one\n').digest('hex'));
    fs.rmSync(dest, { recursive: true, force: true });
  });
});
