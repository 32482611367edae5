// The worker threads' batch buffers, let go as soon as their wave is packed
// (archive/hashPass.ts): only buffers the sink copied every view of, and only
// the threads' own, never Node's shared pool.
import * as assert from 'assert';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Writable } from 'stream';
import { hashPass, releasableBytes, releaseBytes } from '../../src/core/archive/hashPass';
import type { ArchiveSource, Entry } from '../../src/core/archive/entries';
import { COPIED_BELOW, gatheringSink } from '../../src/core/archive/zipWriter';
import { WorkerPool } from '../../src/core/util/workerPool';

describe('batch buffers released once packed', () => {
  it('the pack sink copies every chunk shorter than COPIED_BELOW before its call returns, and passes longer ones on', async () => {
    const writes: Buffer[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        writes.push(chunk);
        setImmediate(cb);
      },
    });
    // Each chunk in an ArrayBuffer of its own, detached as soon as the sink has it.
    const sizes = [1, 700, 5000, COPIED_BELOW - 1, 3, COPIED_BELOW, 10];
    const expected: Buffer[] = [];
    const { sink, flush } = gatheringSink(out);
    for (const size of sizes) {
      const chunk = Buffer.from(new Uint8Array(randomBytes(size)).buffer);
      expected.push(Buffer.from(chunk));
      await sink(chunk);
      if (size < COPIED_BELOW) releaseBytes([chunk.buffer as ArrayBuffer]);
    }
    await flush();
    out.end();
    await new Promise((resolve) => out.on('finish', resolve));
    assert.ok(Buffer.concat(writes).equals(Buffer.concat(expected)), 'the bytes that went out are the chunks as they were, detached or not');
    // The boundary is exact: a chunk of COPIED_BELOW bytes is the caller's own buffer, passed on.
    assert.ok(
      writes.some((w) => w.length === COPIED_BELOW && w.equals(expected[sizes.indexOf(COPIED_BELOW)])),
      'a chunk of COPIED_BELOW bytes goes on its own',
    );
  });

  describe('a wave hashed on worker threads', () => {
    let dir: string;
    let threads: WorkerPool;

    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-release-'));
      const t = WorkerPool.create('fileWorker', 2);
      assert.ok(t, 'worker threads start');
      threads = t;
    });

    after(async () => {
      await threads?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('lets go of a batch whose views the sink copies, keeps one with a longer view, and never touches a pooled Buffer', async () => {
      // 300 files: batches of at most 128 in order, so file 5 (incompressible, longer than
      // COPIED_BELOW once packed) is in the first batch and the last batch holds only small ones.
      const sources: ArchiveSource[] = [];
      for (let i = 0; i < 300; i++) {
        const data = i === 5 ? randomBytes(COPIED_BELOW + 1000) : Buffer.from(`file ${i}\n`.repeat(40 + (i % 30)));
        const abs = path.join(dir, `f${String(i).padStart(3, '0')}.txt`);
        fs.writeFileSync(abs, data);
        sources.push({ archivePath: `workspace/w/f${i}.txt`, absPath: abs, size: data.length, mtimeMs: Date.now(), mode: 0o644 });
      }
      const entries = await hashPass(sources, {}, () => undefined, threads);
      const views = entries.map((e) => e.packed);
      assert.ok(
        views.every((v) => v !== undefined),
        'every file came back with its packed bytes',
      );
      const big = views[5]!;
      const last = views[299]!;
      assert.ok(big.length >= COPIED_BELOW, `the incompressible file packs to ${big.length} bytes`);
      assert.notStrictEqual(big.buffer, last.buffer, 'the first and the last file are in different batches');

      // A Buffer small enough to come from Node's shared pool, as an entry of the same wave.
      const pooled = Buffer.from('pooled');
      const stranger: Entry = { name: 'workspace/w/pooled', size: pooled.length, method: 'store', packed: pooled, mtimeMs: 0, unixMode: 0o644 };
      const release = releasableBytes([...entries, stranger, undefined]);
      assert.ok(release.includes(last.buffer as ArrayBuffer), 'a batch of small views is let go');
      assert.ok(!release.includes(big.buffer as ArrayBuffer), 'the batch holding a longer view is left to the garbage collector');
      assert.ok(!release.includes(pooled.buffer as ArrayBuffer), 'a buffer that did not come from a worker thread is never let go');

      const before = entries.map((e) => Buffer.from(e.packed!));
      releaseBytes(release);
      assert.strictEqual(last.length, 0, 'a released view is empty');
      assert.ok(big.equals(before[5]), 'the kept batch is intact');
      assert.ok(views[0]!.equals(before[0]), 'and so are its other views');
      assert.ok(pooled.equals(Buffer.from('pooled')), 'the pooled Buffer is intact');
      releaseBytes([]);
    });
  });
});
