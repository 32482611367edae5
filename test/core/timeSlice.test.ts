import * as assert from 'assert';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Entry } from '../../src/core/archive/entries';
import { Pipeline } from '../../src/core/archive/readAhead';
import { writeJsonDurable } from '../../src/core/restore/snapshotRecord';
import { mapLimit } from '../../src/core/util/firstFailure';
import { countTurns } from '../helpers/loopTurns';
import { jsonPieces, MappedList } from '../../src/core/util/jsonPieces';
import { utf8Chunks } from '../../src/core/util/utf8Chunks';
import { payloadHashMiddleware } from '../../src/core/storage/payloadHash';
import { runSteps, runStepsSliced, sortSliced, yieldIfDue, type Steps } from '../../src/core/util/timeSlice';

/** A computation of `n` steps that each keep the thread busy for `ms`. */
function* busySteps(n: number, ms: number): Steps<number> {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const end = performance.now() + ms;
    while (performance.now() < end) sum++;
    sum = i + 1;
    yield;
  }
  return sum;
}

describe('time slicing on the caller\'s thread', () => {
  it('runSteps and runStepsSliced compute the same result', async () => {
    assert.strictEqual(runSteps(busySteps(5, 0)), 5);
    assert.strictEqual(await runStepsSliced(busySteps(5, 0)), 5);
  });

  it('runStepsSliced gives the event loop turns during a long computation; runSteps does not', async () => {
    const loop = countTurns();
    runSteps(busySteps(20, 2));
    assert.strictEqual(loop.turns, 0, 'no turn while the synchronous run holds the thread');
    await runStepsSliced(busySteps(20, 2));
    const turns = loop.stop();
    // 40 ms of work in slices of 8 ms: the loop turned several times in between.
    assert.ok(turns >= 3, `the loop turned ${turns} times`);
  });

  it('several sliced loops at once share one slice per turn of the event loop', async () => {
    // Each step is 1 ms of work; the ticker counts the steps done between two of its turns.
    let steps = 0;
    function* counted(n: number): Steps<number> {
      for (let i = 0; i < n; i++) {
        const end = performance.now() + 1;
        while (performance.now() < end) {
          // busy
        }
        steps++;
        yield;
      }
      return n;
    }
    let running = true;
    let last = 0;
    let most = 0;
    const tick = (): void => {
      most = Math.max(most, steps - last);
      last = steps;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const results = await Promise.all(Array.from({ length: 6 }, () => runStepsSliced(counted(40))));
    running = false;
    assert.deepStrictEqual(results, [40, 40, 40, 40, 40, 40]);
    // One slice is 8 ms: each loop starting its own would let ~48 steps run between two turns.
    assert.ok(most <= 20, `${most} steps ran between two turns of the event loop`);
  });

  it('the read-ahead gives the event loop turns while it starts a wave of entries the hash pass packed', async () => {
    // Each packed entry finishes as it starts; the progress listener makes each cost 0.1 ms.
    const n = 3000;
    const entries: Entry[] = Array.from({ length: n }, (_, i) => ({ name: `f${i}`, size: 1, packed: Buffer.from('x'), crc32: 0, method: 'store', mtimeMs: 0, unixMode: 0o644 }));
    let read = 0;
    let last = 0;
    let most = 0;
    let running = true;
    const tick = (): void => {
      last = read;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    await yieldIfDue();
    await new Promise<void>((resolve) => {
      new Pipeline(entries, (e) => assert.fail(e), (p) => {
        read = p.bytesDone;
        most = Math.max(most, read - last);
        const end = performance.now() + 0.1;
        while (performance.now() < end) {
          // busy
        }
        if (read === n) resolve();
      }, n, 1, undefined);
    });
    running = false;
    // Slices of 8 ms: ~80 entries between two turns; the whole wave at once was the bug.
    assert.ok(most <= 400, `${most} entries started between two turns of the event loop`);
  });

  it('sortSliced sorts like Array.prototype.sort, stable, at every size around its runs', async () => {
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (const n of [0, 1, 2, 4095, 4096, 4097, 8192, 12289, 50000]) {
      const items = Array.from({ length: n }, (_, i) => ({ key: `k${Math.floor(rnd() * n / 3)}`, i }));
      const want = [...items].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      await sortSliced(items, (a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      assert.deepStrictEqual(items, want, `n = ${n}`);
    }
  });

  it('sortSliced gives the event loop turns on a big array', async () => {
    const items = Array.from({ length: 300000 }, (_, i) => `path/${(i * 7919) % 300000}`);
    const loop = countTurns();
    await yieldIfDue();
    loop.reset();
    await sortSliced(items, (a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const turns = loop.stop();
    for (let k = 1; k < items.length; k++) assert.ok(items[k - 1] <= items[k]);
    assert.ok(turns >= 3, `the loop turned ${turns} times`);
  });

  it('mapLimit gives the event loop turns when its items settle without I/O', async () => {
    // 40 items of 1 ms each that never wait for anything (a restore's checks of files a new folder cannot hold yet).
    const loop = countTurns();
    const seen: number[] = [];
    await mapLimit(Array.from({ length: 40 }, (_, i) => i), 8, async (item, i) => {
      const end = performance.now() + 1;
      while (performance.now() < end) {
        // busy
      }
      assert.strictEqual(item, i);
      seen.push(i);
    });
    const turns = loop.stop();
    assert.deepStrictEqual(seen, Array.from({ length: 40 }, (_, i) => i), 'every item once, in order of start');
    // 40 ms of work in slices of 8 ms: without the slice check the loop turns once at most, after the last item.
    assert.ok(turns >= 3, `the loop turned ${turns} times`);
  });

  it('yieldIfDue costs nothing while the slice is young', async () => {
    await yieldIfDue();
    assert.strictEqual(yieldIfDue(), undefined);
  });
});

describe('the SigV4 payload hash middleware', () => {
  const run = async (body: unknown, headers: Record<string, string> = {}): Promise<Record<string, string>> => {
    const request = { headers: { ...headers }, body };
    let seen: Record<string, string> | undefined;
    await payloadHashMiddleware()(async (args) => {
      seen = (args.request as typeof request).headers;
      return {};
    })({ request });
    return seen!;
  };

  it('gives a large body its sha256, the value the signer would compute', async () => {
    const body = randomBytes(1024 * 1024);
    const h = await run(body);
    assert.strictEqual(h['x-amz-content-sha256'], createHash('sha256').update(body).digest('hex'));
  });

  it('hashes only what is sent: a view into a bigger buffer', async () => {
    const big = randomBytes(3 * 1024 * 1024);
    const body = big.subarray(1000, 1000 + 2 * 1024 * 1024);
    assert.strictEqual((await run(body))['x-amz-content-sha256'], createHash('sha256').update(body).digest('hex'));
  });

  it('leaves small bodies, streams and a hash already set alone', async () => {
    assert.strictEqual((await run(Buffer.from('small')))['x-amz-content-sha256'], undefined);
    assert.strictEqual((await run({ pipe() {} }))['x-amz-content-sha256'], undefined);
    assert.strictEqual((await run(randomBytes(512 * 1024), { 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' }))['x-amz-content-sha256'], undefined);
  });
});

describe('JSON in pieces (undo records of big restores)', () => {
  it('joins to exactly JSON.stringify of the same data, long lists and left-out fields included', () => {
    const entries = Array.from({ length: 5000 }, (_, i) => ({ path: `/w/f${i}.txt`, sha256: 'ab'.repeat(32), ...(i % 3 ? { staged: `/w/.s/${i}` } : {}), before: i % 7 ? undefined : { size: i } }));
    const cases: unknown[] = [
      { format: 2, state: 'applying', created: new Date(0), entries, createdDirs: [], nested: { list: Array.from({ length: 4100 }, (_, i) => (i % 5 ? i : undefined)) }, gone: undefined, fn: () => 1 },
      Array.from({ length: 4097 }, (_, i) => ({ i })),
      { 1: 'a', b: [], c: {}, d: null, e: 'x"\n\u2028' },
      [],
      'text',
    ];
    for (const c of cases) assert.strictEqual([...jsonPieces(c)].join(''), JSON.stringify(c));
    assert.ok([...jsonPieces(cases[0])].length > 3, 'a long list comes in several pieces');
  });

  it('a MappedList joins to JSON.stringify of its mapped items, without building them whole', () => {
    const items = Array.from({ length: 1000 }, (_, i) => ({ targetPath: `/w/f${i}`, n: i }));
    let calls = 0;
    const short = (e: { targetPath: string; n: number }): unknown => {
      calls++;
      return e.n % 4 === 0 ? undefined : { path: e.targetPath, ...(e.n % 3 ? {} : { odd: true }) };
    };
    for (const list of [items, items.slice(0, 3), []]) {
      const expected = JSON.stringify({ entries: list.map(short) });
      calls = 0;
      const pieces = jsonPieces({ entries: new MappedList(list, short) });
      assert.strictEqual(calls, 0, 'nothing is mapped before the first piece is asked for');
      assert.strictEqual([...pieces].join(''), expected);
      assert.strictEqual(calls, list.length, 'each item mapped once');
    }
    assert.ok([...jsonPieces(new MappedList(items, short))].length > 3, 'a long list comes in several pieces');
  });

  it('pieces encoded into chunks of bytes: the same bytes, no chunk over the size but a piece bigger than it, one buffer or a ring of them when reused', () => {
    const pieces = ['{"a":1}', 'é'.repeat(300), '😀x'.repeat(200), 'plain ascii '.repeat(50), '', '€'.repeat(2000), 'z'];
    const want = Buffer.from(pieces.join(''), 'utf8');
    for (const size of [16, 64, 1000, 4096, 1 << 20]) {
      const chunks = [...utf8Chunks(pieces, size)].map((c) => Buffer.from(c));
      assert.deepStrictEqual(Buffer.concat(chunks), want, `size ${size}`);
      for (const [k, c] of chunks.entries()) {
        const alone = pieces.some((p) => p.length * 3 > size && Buffer.byteLength(p) === c.length);
        assert.ok(c.length <= size || alone, `size ${size}: chunk ${k} of ${c.length} bytes`);
      }
    }
    const views = [...utf8Chunks(pieces.slice(0, 4), 2000, { reuse: 1 })];
    assert.ok(views.length > 1 && views.every((v) => v.buffer === views[0].buffer), 'every chunk a view of one buffer');
    // A ring of three: chunk k shares its buffer with chunk k - 3 only; each read before the third one after it, the same bytes.
    const lines = Array.from({ length: 20 }, (_, i) => `${String(i).padStart(3, '0')}${'abc'.repeat(99)}`);
    const copies: Buffer[] = [];
    const ring: Buffer[] = [];
    for (const c of utf8Chunks(lines, 1000, { reuse: 3 })) {
      copies.push(Buffer.from(c));
      ring.push(c);
    }
    assert.strictEqual(ring.length, 20, 'one piece a chunk');
    assert.strictEqual(new Set(ring.map((v) => v.buffer)).size, 3, 'three buffers in all');
    assert.ok(ring.every((v, k) => k < 3 || (v.buffer === ring[k - 3].buffer && v.buffer !== ring[k - 1].buffer && v.buffer !== ring[k - 2].buffer)), 'taken in turn');
    assert.strictEqual(Buffer.concat(copies).toString('utf8'), lines.join(''));
    const fresh = [...utf8Chunks(pieces.slice(0, 4), 2000)];
    assert.ok(fresh.length > 1 && new Set(fresh.map((v) => v.buffer)).size === fresh.length, 'without reuse, a buffer each');
  });

  it('an undo record written in pieces reads back whole', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-json-'));
    try {
      const data = { format: 2, entries: Array.from({ length: 30_000 }, (_, i) => ({ path: `/w/${i}`, sha256: String(i).padStart(64, '0') })) };
      const file = path.join(dir, 'record.json');
      await writeJsonDurable(file, data);
      assert.deepStrictEqual(JSON.parse(fs.readFileSync(file, 'utf8')), data);
      assert.deepStrictEqual(fs.readdirSync(dir), ['record.json'], 'no temp file left');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
