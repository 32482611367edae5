// The worker threads of the backup and the restore: each script's job, and
// errors that reach the caller with their code, as the engine maps them.
import * as assert from 'assert';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { Worker } from 'worker_threads';
import { WorkerPool } from '../../src/core/util/workerPool';
import { renameAll } from '../../src/core/restore/renameAll';
import { lowerNewThread, lowerThisThreadsPriority, threadIds, WORKER_NICENESS } from '../../src/core/util/threadPriority';
import type { CheckFailure, DeflateReply, EntryBatchReply, EntryBatchRequest, EntryRequest, ReadReply } from '../../src/core/workers/messages';

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

  it('entryWorker takes a folder\'s entries as one batch: each checked and created, the bad ones reported by index', async () => {
    const sub = path.join(dir, 'batch');
    fs.mkdirSync(sub);
    const texts = [Buffer.from('one\n'.repeat(50)), Buffer.from('two\n'), Buffer.from('three\n'.repeat(9)), Buffer.from('four\n')];
    const stored = texts.map((t, i) => (i % 2 === 0 ? zlib.deflateRawSync(t) : t));
    // The third entry's crc32 is wrong: it is reported and not created; the others are written.
    const crc = texts.map((t, i) => (zlib.crc32(t) + (i === 2 ? 1 : 0)) >>> 0);
    const start = new Float64Array(texts.length + 1);
    stored.forEach((b, i) => (start[i + 1] = start[i] + b.length));
    const dests = texts.map((_, i) => path.join(sub, `f${i}`));
    const request: EntryBatchRequest = {
      batch: {
        raw: new Uint8Array(Buffer.concat(stored)),
        start,
        method: Uint8Array.from(texts.map((_, i) => (i % 2 === 0 ? 8 : 0))),
        size: Float64Array.from(texts.map((t) => t.length)),
        crc32: Uint32Array.from(crc),
        sha256: texts.map(sha).join(''),
        dest: dests.join('\0'),
        mode: Uint32Array.from(texts.map(() => 0o640)),
        flags: new Uint8Array(texts.length),
        mtime: Float64Array.from([1_600_000_000, Number.NaN, 1_600_000_000, 1_500_000_000]),
      },
    };
    const bad = await entries.call<EntryBatchReply>(request);
    assert.deepStrictEqual(bad, [{ index: 2, check: { check: 'crc32' } }]);
    assert.strictEqual(fs.existsSync(dests[2]), false, 'nothing is created for a bad entry');
    for (const i of [0, 1, 3]) assert.deepStrictEqual(fs.readFileSync(dests[i]), texts[i]);
    assert.strictEqual(fs.statSync(dests[3]).mtimeMs, 1_500_000_000_000);
    assert.strictEqual(fs.statSync(dests[0]).mtimeMs, 1_600_000_000_000);
    // A file in the way: that entry's error, with its code; the rest of the batch goes on.
    fs.rmSync(dests[3]);
    fs.writeFileSync(dests[1], 'in the way');
    fs.rmSync(dests[0]);
    const again = await entries.call<EntryBatchReply>(request);
    assert.deepStrictEqual(again.map((b) => [b.index, b.check?.check ?? b.error?.code]), [[1, 'EEXIST'], [2, 'crc32']]);
    assert.deepStrictEqual(fs.readFileSync(dests[3]), texts[3]);
    assert.deepStrictEqual(fs.readFileSync(dests[0]), texts[0]);
  });

  it('renameAll renames in order on a worker thread and stops at the first failure, with its code', async () => {
    const sub = path.join(dir, 'renames');
    fs.mkdirSync(path.join(sub, 'to'), { recursive: true });
    const n = 300;
    const from = Array.from({ length: n }, (_, i) => path.join(sub, `s${i}`));
    const to = Array.from({ length: n }, (_, i) => path.join(sub, 'to', `t${i}`));
    from.forEach((f, i) => fs.writeFileSync(f, String(i)));
    // The 200th source is missing: 199 are renamed, then ENOENT; none after it.
    fs.rmSync(from[199]);
    let done = 0;
    await assert.rejects(
      renameAll(from, to, () => done++),
      (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && e.syscall === 'rename',
    );
    assert.strictEqual(done, 199);
    assert.strictEqual(fs.readdirSync(path.join(sub, 'to')).length, 199);
    assert.strictEqual(fs.readFileSync(to[198], 'utf8'), '198');
    assert.ok(fs.existsSync(from[200]) && !fs.existsSync(to[200]), 'nothing after the failure is renamed');
    done = 0;
    await renameAll(from.slice(200), to.slice(200), () => done++);
    assert.strictEqual(done, 100);
    assert.strictEqual(fs.readFileSync(to[n - 1], 'utf8'), String(n - 1));
  });

  it('the threads run below the caller\'s priority (Linux), the caller\'s thread and the rest of the process untouched', async () => {
    // The extension host's thread must win the CPU from our workers: each worker lowers itself, and only itself.
    const own = os.getPriority();
    assert.strictEqual(lowerThisThreadsPriority(), undefined, 'never on the main thread');
    assert.strictEqual(os.getPriority(), own);
    if (process.platform !== 'linux') return; // elsewhere a thread's priority is the process's: nothing is lowered
    const nices = (): Map<number, number> =>
      new Map(fs.readdirSync('/proc/self/task').map((t) => [Number(t), os.getPriority(Number(t))] as [number, number]));
    const before = nices();
    const pool = WorkerPool.create('fileWorker', 2)!;
    try {
      // A reply means the thread is in its message loop, past the lowering.
      await Promise.all([0, 1].map(() => pool.call<DeflateReply>({ kind: 'deflate', data: new Uint8Array(8), level: 1 })));
      const after = nices();
      const added = [...after.keys()].filter((t) => !before.has(t));
      const lowered = added.filter((t) => after.get(t) === WORKER_NICENESS);
      assert.strictEqual(lowered.length, pool.size, `threads at +${WORKER_NICENESS}: ${lowered.length} of ${pool.size} workers`);
      assert.strictEqual(after.get(process.pid), before.get(process.pid), 'the caller\'s thread keeps its priority');
      for (const [t, n] of before) if (after.has(t)) assert.strictEqual(after.get(t), n, `thread ${t} keeps its priority`);
    } finally {
      await pool.close();
    }
  });

  it('a new worker thread is lowered from outside before its own code runs; the worker\'s own call then leaves it there', async () => {
    if (process.platform !== 'linux') {
      // A thread's priority is the process's elsewhere: the helpers must not touch it.
      assert.strictEqual(threadIds(), undefined, 'no thread ids off Linux');
      assert.strictEqual(lowerNewThread(new Set()), undefined, 'nothing lowered off Linux');
      return;
    }
    // The worker's code waits on a lock and never lowers itself: only the caller's step can have moved it.
    const lock = new Int32Array(new SharedArrayBuffer(4));
    const callers = os.getPriority();
    const before = threadIds();
    const w = new Worker(
      `const { workerData } = require('worker_threads'); Atomics.wait(workerData, 0, 0);
       require(${JSON.stringify(require.resolve('../../src/core/util/threadPriority'))}).lowerThisThreadsPriority();
       require('worker_threads').parentPort.postMessage(require('os').getPriority(Number(require('fs').readlinkSync('/proc/thread-self').split('/').pop())));`,
      { eval: true, workerData: lock },
    );
    try {
      assert.strictEqual(lowerNewThread(before), WORKER_NICENESS, 'the one new thread, lowered by the caller');
      const added = [...threadIds()!].filter((t) => !before!.has(t));
      assert.deepStrictEqual(added.map((t) => os.getPriority(t)), [WORKER_NICENESS], 'exactly the new thread, at +10');
      assert.strictEqual(os.getPriority(), callers, 'the caller\'s thread untouched');
      const own = new Promise((resolve) => w.once('message', resolve));
      Atomics.store(lock, 0, 1);
      Atomics.notify(lock, 0);
      assert.strictEqual(await own, WORKER_NICENESS, 'lowered once, not twice');
      assert.strictEqual(lowerNewThread(threadIds()), undefined, 'no new thread: nothing lowered');
    } finally {
      await w.terminate();
    }
  });

  it('a closed pool rejects further calls', async () => {
    const p = WorkerPool.create('fileWorker', 1)!;
    await p.close();
    await assert.rejects(p.call({ kind: 'deflate', data: new Uint8Array(1), level: 1 }), /worker thread stopped/);
  });
});
