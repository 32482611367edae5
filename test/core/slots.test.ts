// The limit on tasks at once (util/slots.ts), as the backup's folder walk uses it.
import * as assert from 'assert';
import { slots } from '../../src/core/util/slots';

describe('slots', () => {
  it('runs at most n tasks at once, starting them in the order asked, and passes results and errors through', async () => {
    const run = slots(3);
    let now = 0;
    let most = 0;
    const started: number[] = [];
    const tasks = Array.from({ length: 20 }, (_, i) =>
      run(async () => {
        started.push(i);
        now++;
        most = Math.max(most, now);
        await new Promise((r) => setTimeout(r, 1 + ((i * 7) % 5)));
        now--;
        if (i === 13) throw new Error('thirteen');
        return i * 2;
      }),
    );
    const results = await Promise.allSettled(tasks);
    assert.strictEqual(most, 3);
    assert.deepStrictEqual(started, Array.from({ length: 20 }, (_, i) => i));
    assert.deepStrictEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
      Array.from({ length: 20 }, (_, i) => (i === 13 ? 'thirteen' : i * 2)),
    );
    // A failed task gave its slot back: three more still run together.
    now = most = 0;
    await Promise.all(Array.from({ length: 3 }, () => run(async () => { now++; most = Math.max(most, now); await new Promise((r) => setTimeout(r, 5)); now--; })));
    assert.strictEqual(most, 3);
  });
});
