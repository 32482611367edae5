// The worker threads of the backup and the restore: each script's job, and
// errors that reach the caller with their code, as the engine maps them.
import * as assert from 'assert';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { WorkerPool } from '../../src/core/util/workerPool';
import type { CheckFailure, DeflateReply, EntryRequest, ReadReply } from '../../src/core/workers/messages';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('worker pool', () => {
  let dir: string;
  let files: WorkerPool;
  let entries: WorkerPool;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-pool-'));
    const f = WorkerPool.create('fileWorker', 2);
    const e = WorkerPool.create('entryWorker', 2);
    assert.ok(f && e, 'worker threads start');
    files = f;
    entries = e;
  });

  after(async () => {
    await files?.close();
    await entries?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('fileWorker reads a file whole with its sha256 and crc32, and says when it is over the limit', async () => {
    const data = Buffer.from('hello worker\n'.repeat(100));
    const file = path.join(dir, 'a.txt');
    fs.writeFileSync(file, data);
    const r = await files.call<ReadReply>({ kind: 'read', path: file, flags: fs.constants.O_RDONLY, max: 4096 });
    assert.ok(!('big' in r));
    assert.deepStrictEqual(Buffer.from(r.data), data);
    assert.strictEqual(r.sha256, sha(data));
    assert.strictEqual(r.crc32, zlib.crc32(data) >>> 0);
    const big = await files.call<ReadReply>({ kind: 'read', path: file, flags: fs.constants.O_RDONLY, max: data.length - 1 });
    assert.deepStrictEqual(big, { big: true });
  });

  it('fileWorker deflates what inflateRaw gives back', async () => {
    const data = Buffer.from('compress me '.repeat(1000));
    const out = await files.call<DeflateReply>({ kind: 'deflate', data: new Uint8Array(data), level: 4 });
    assert.ok(out.byteLength < data.length / 10);
    assert.deepStrictEqual(zlib.inflateRawSync(out), data);
  });

  it('an error on the thread reaches the caller with message, code, syscall and path', async () => {
    const missing = path.join(dir, 'missing.txt');
    await assert.rejects(files.call({ kind: 'read', path: missing, flags: fs.constants.O_RDONLY, max: 10 }), (e: NodeJS.ErrnoException) => {
      assert.strictEqual(e.code, 'ENOENT');
      assert.strictEqual(e.syscall, 'open');
      assert.strictEqual(e.path, missing);
      return true;
    });
  });

  it('entryWorker checks size, crc32 and sha256 before it creates a file', async () => {
    const data = Buffer.from('entry data\n'.repeat(50));
    const raw = zlib.deflateRawSync(data);
    const good: EntryRequest = { raw: new Uint8Array(raw), method: 8, size: data.length, crc32: zlib.crc32(data) >>> 0, sha256: sha(data) };
    const cases: Array<[Partial<EntryRequest>, CheckFailure['check']]> = [
      [{ size: data.length - 1 }, 'big'],
      [{ size: data.length + 1 }, 'small'],
      [{ crc32: (good.crc32 + 1) >>> 0 }, 'crc32'],
      [{ sha256: sha(Buffer.from('other')) }, 'sha256'],
      [{ raw: new Uint8Array(Buffer.from('not deflate at all')) }, 'damaged'],
    ];
    for (const [change, check] of cases) {
      const dest = path.join(dir, `bad-${check}`);
      const r = await entries.call<CheckFailure | undefined>({ ...good, ...change, raw: new Uint8Array(change.raw ?? raw), dest, mode: 0o644 });
      assert.strictEqual(r?.check, check);
      assert.strictEqual(fs.existsSync(dest), false, `${check}: nothing was written`);
    }
    const dest = path.join(dir, 'good.txt');
    const r = await entries.callKeyed<CheckFailure | undefined>(dir, { ...good, raw: new Uint8Array(raw), dest, mode: 0o640, mtime: 1_000_000_000 });
    assert.strictEqual(r, undefined);
    assert.deepStrictEqual(fs.readFileSync(dest), data);
    assert.strictEqual(fs.statSync(dest).mtimeMs, 1_000_000_000_000);
    // Created exclusively: an existing file is never replaced.
    await assert.rejects(entries.call({ ...good, raw: new Uint8Array(raw), dest, mode: 0o640 }), (e: NodeJS.ErrnoException) => e.code === 'EEXIST');
  });

  it('a closed pool rejects further calls', async () => {
    const p = WorkerPool.create('fileWorker', 1)!;
    await p.close();
    await assert.rejects(p.call({ kind: 'deflate', data: new Uint8Array(1), level: 1 }), /worker thread stopped/);
  });
});
