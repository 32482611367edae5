// The pack reader against the real server: the download buffers of long
// ranges are reused from range to range (never while a range still needs
// its bytes), short ranges get their own, and every file comes back intact.
import * as assert from 'assert';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readFromPacks, type PackSource } from '../../src/core/archive/packReader';
import { BackupEngine } from '../../src/core/engine';
import { S3Store } from '../../src/core/storage/s3Store';
import { createTestBucket, requireS3Server, type TestBucket } from '../helpers/s3';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const MiB = 1024 * 1024;

describe('pack reader (archive/packReader.ts, real S3)', function () {
  this.timeout(300_000);
  let bucket: TestBucket;
  let work: string;
  const rootPath = 'pr';

  before(async function () {
    requireS3Server();
    bucket = await createTestBucket('packreader');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-packreader-'));
  });
  after(async () => {
    await bucket?.cleanup();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('reads long ranges into a few reused buffers, short ones into their own, and writes every file as it was', async () => {
    const src = path.join(work, 'src');
    fs.mkdirSync(path.join(src, 'big'), { recursive: true });
    fs.mkdirSync(path.join(src, 'small'), { recursive: true });
    const want = new Map<string, string>();
    // Random (stored, not deflated) files over a MiB, each alone in a pack of the 1 MiB limit: one long range each.
    for (let i = 0; i < 12; i++) {
      const data = randomBytes(MiB + 1000 * i);
      fs.writeFileSync(path.join(src, 'big', `b${i}.bin`), data);
      want.set(`workspace/app/big/b${i}.bin`, sha(data));
    }
    for (let i = 0; i < 30; i++) {
      const data = Buffer.from(`small file ${i}\n`.repeat(i + 1));
      fs.writeFileSync(path.join(src, 'small', `s${i}.txt`), data);
      want.set(`workspace/app/small/s${i}.txt`, sha(data));
    }
    const engine = new BackupEngine(bucket.profileAt(rootPath), {
      hostname: 'pr',
      tmpDir: path.join(work, 'tmp'),
      snapshotRoot: path.join(work, 'snapshots'),
      packLimits: { bytes: MiB, entries: 20, uploads: 2 },
    });
    const res = await engine.backup({ kind: 'workspace', folders: [{ name: 'app', path: src }] });
    const fetched = await engine.fetch(res.key);
    const manifest = fetched.manifest;
    assert.ok((manifest.packs ?? []).length >= 12, `${manifest.packs?.length} packs`);

    // The real store, watched: which buffer each range was read into, and whether the bytes came back in it.
    const store = new S3Store(bucket.profileAt(rootPath));
    const reads: { bytes: number; into?: Buffer; inIt: boolean }[] = [];
    const watched: PackSource = {
      getRange: async (key, start, end, o) => {
        const got = await store.getRange(key, start, end, o);
        reads.push({ bytes: end - start + 1, into: o?.into, inIt: o?.into !== undefined && got.buffer === o.into.buffer });
        return got;
      },
      getRangeStream: (key, start, end, o) => store.getRangeStream(key, start, end, o),
    };
    const out = path.join(work, 'out');
    for (const d of ['workspace/app/big', 'workspace/app/small']) fs.mkdirSync(path.join(out, d), { recursive: true });
    await readFromPacks(watched, rootPath, manifest, manifest.files, { kind: 'file', dest: (f) => path.join(out, f.path), setMeta: true });

    const long = reads.filter((r) => r.bytes >= MiB);
    const short = reads.filter((r) => r.bytes < MiB);
    assert.strictEqual(long.length, 12, `${long.length} long ranges`);
    assert.ok(long.every((r) => r.into && r.inIt), 'every long range was read into the buffer it was given');
    const distinct = new Set(long.map((r) => r.into!.buffer)).size;
    assert.ok(distinct >= 1 && distinct <= 4, `${distinct} buffers for 12 long ranges (at most one per download in flight)`);
    assert.ok(short.length >= 1 && short.every((r) => r.into === undefined), 'a short range gets a buffer of its own');
    for (const [p, digest] of want) assert.strictEqual(sha(fs.readFileSync(path.join(out, p))), digest, p);
    await fetched.dispose();
  });
});
