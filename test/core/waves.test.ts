// The hash pass's waves (backup/storeContent.ts, cut as the sources are found): small first, so packing
// starts early, then up to 1,024 files or 16 MiB each, in order, every file once.
import * as assert from 'assert';
import { WaveCutter } from '../../src/core/backup/storeContent';

function wavesOf(sources: { size: number }[]): [number, number][] {
  const cutter = new WaveCutter();
  for (const s of sources) cutter.add(s.size);
  assert.strictEqual(cutter.total, sources.reduce((n, s) => n + s.size, 0), 'the bytes of every source');
  return cutter.waves();
}

describe('hash waves', () => {
  it('grow from 512 files to 1,024, cover every file once in order, and stop at 16 MiB', () => {
    const small = Array.from({ length: 20_000 }, () => ({ size: 1000 }));
    const waves = wavesOf(small);
    assert.deepStrictEqual(
      waves.slice(0, 6).map(([a, b]) => b - a),
      [512, 1024, 1024, 1024, 1024, 1024],
    );
    assert.deepStrictEqual(waves[0][0], 0);
    for (let i = 1; i < waves.length; i++) assert.strictEqual(waves[i][0], waves[i - 1][1], 'each wave starts where the last ended');
    assert.strictEqual(waves[waves.length - 1][1], small.length);

    // Bytes bound a wave too; a file bigger than the limit is a wave of its own.
    const mixed = [{ size: 10 << 20 }, { size: 10 << 20 }, { size: 40 << 20 }, { size: 1 }];
    assert.deepStrictEqual(wavesOf(mixed), [
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
    ]);
    assert.deepStrictEqual(wavesOf([]), []);
  });
});
