// The manifest's sliced JSON parse gives JSON.parse's value, or JSON.parse's
// error, for every text: our layout a line at a time, anything else whole.
import * as assert from 'assert';
import * as zlib from 'zlib';
import { compressManifest, compressManifestEntries, parseManifestHeader, readManifest, serializeManifest, type Manifest } from '../../src/core/format/manifest';
import { ManifestLines, parseManifestJson } from '../../src/core/format/manifestJson';
import { countTurns } from '../helpers/loopTurns';

function manifest(files: number): Manifest {
  return {
    format: 2,
    toolVersion: '1.0.0',
    created: '2026-12-02T00:00:00.000Z',
    hostname: 'h',
    platform: 'linux',
    kind: 'workspace',
    sources: ['workspace/app'],
    totals: { files, bytes: (files * (files - 1)) / 2 },
    packs: files ? ['0'.repeat(32)] : [],
    dirs: [],
    links: [],
    files: Array.from({ length: files }, (_, i) => ({ path: `workspace/app/f${i}, "q".txt`, size: i, mtime: '2026-01-01T00:00:00.000Z', mode: 0o644, sha256: 'a'.repeat(64), refs: [[0, i, i, 8, i, i]] })),
  };
}

async function same(text: string): Promise<void> {
  let expected: unknown;
  let error: unknown;
  try {
    expected = JSON.parse(text);
  } catch (e) {
    error = e;
  }
  if (error) {
    await assert.rejects(parseManifestJson(text), (e: Error) => e instanceof SyntaxError, `rejects like JSON.parse: ${text.slice(0, 60)}`);
    return;
  }
  const got = await parseManifestJson(text);
  assert.deepStrictEqual(got, expected, text.slice(0, 60));
  assert.strictEqual(JSON.stringify(got), JSON.stringify(expected), 'same key order');
}

describe('manifest JSON, parsed a line at a time', () => {
  it('our serializer\'s text, empty lists and 5,000 entries: JSON.parse\'s value', async () => {
    for (const n of [0, 1, 2, 511, 512, 5000]) await same(serializeManifest(manifest(n)).toString('utf8'));
  });

  it('any other layout or a broken text: JSON.parse\'s value or its error', async () => {
    const ours = serializeManifest(manifest(3)).toString('utf8');
    const variants = [
      JSON.stringify(manifest(3)),
      JSON.stringify(manifest(3), null, 2),
      ours.replace(/\n/g, '\r\n'),
      `${ours}  \n\t`,
      `${ours}x`,
      ours.replace('"files":[\n', '"files":[\n\n'),
      ours.replace(/\]\}\n$/, ']\n}\n'),
      ours.slice(0, -4),
      '{,\n"files":[\n\n]}\n',
      '{"a":1,\n"__proto__":[\n{"polluted":true}\n]}\n',
      '{"files":7,\n"files":[\n1\n],\n"x":[\n2,\n3\n]}\n',
      '{"a":1,\n"l":[\n1,2\n]}\n',
      '{"a":1,\n"l":[\n1,\n]}\n',
      '{"a":1,\n"l":[\n{"b":\n2}\n]}\n',
      '',
      '[]',
    ];
    for (const v of variants) await same(v);
    const proto = (await parseManifestJson('{"a":1,\n"__proto__":[\n{"polluted":true}\n]}\n')) as Record<string, unknown>;
    assert.strictEqual(Object.getPrototypeOf(proto), Object.prototype, 'a "__proto__" list is an own property, not the prototype');
    assert.ok(Array.isArray(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value));
  });

  it('each file line is JSON.stringify of the entry: the fields in order, the optional ones only when set', () => {
    const m = manifest(4);
    m.files[0].path = 'workspace/app/"quoted" \\ back\u0001slash é 日本.txt';
    m.files[1].ino = 123456789;
    m.files[1].ctime = 1700000000123;
    delete m.files[2].refs;
    m.files[3].ctime = 0;
    const text = serializeManifest(m).toString('utf8');
    const lines = m.files.map((f) =>
      JSON.stringify({ path: f.path, size: f.size, mtime: f.mtime, mode: f.mode, sha256: f.sha256, ...(f.refs ? { refs: f.refs } : {}), ...(f.ino !== undefined ? { ino: f.ino } : {}), ...(f.ctime !== undefined ? { ctime: f.ctime } : {}) }),
    );
    assert.ok(text.includes(`"files":[\n${lines.join(',\n')}\n]}`), text.slice(-600));
  });

  it('fed in pieces of any size, lines split anywhere: the same value, or not ours whenever JSON.parse would throw or the layout differs', () => {
    const ours = serializeManifest(manifest(40)).toString('utf8');
    const texts = [ours, `${ours}  \n\t`, `${ours}x`, ours.slice(0, -4), ours.replace('"files":[\n', '"files":[\n\n'), ours.replace(/\n\]\}\n$/, '\n],\n')];
    for (const text of texts) {
      let expected: unknown;
      try {
        expected = JSON.parse(text);
      } catch {
        expected = undefined;
      }
      for (const size of [1, 2, 3, 7, 64, 333, 4096, text.length]) {
        const lines = new ManifestLines();
        for (let i = 0; i < text.length; i += size) lines.push(text.slice(i, i + size));
        const got = lines.end();
        if (expected === undefined || text !== ours) {
          // Our layout only: the whole text then goes to JSON.parse, which gives its value or its error.
          assert.ok(got === undefined || JSON.stringify(got.value) === JSON.stringify(expected), `${size}: ${text.slice(-12)}`);
          if (expected === undefined) assert.strictEqual(got, undefined, `${size}: broken text is never taken`);
        } else {
          assert.ok(got, `pieces of ${size}`);
          assert.strictEqual(JSON.stringify(got.value), JSON.stringify(expected), `pieces of ${size}`);
        }
      }
    }
  });

  it('a gzip\'d manifest is parsed as it is inflated; one in another layout, or broken, reads like JSON.parse of its text', async () => {
    const m = manifest(2000);
    const back = await readManifest(await compressManifest(m));
    assert.deepStrictEqual(back.files, m.files);
    // Reformatted: not our layout, still the same manifest.
    const pretty = await readManifest(zlib.gzipSync(JSON.stringify(m, null, 1)));
    assert.deepStrictEqual(pretty.files, m.files);
    // Cut short: JSON.parse's error, as the one Integrity sentence.
    const text = serializeManifest(m);
    await assert.rejects(readManifest(zlib.gzipSync(text.subarray(0, text.length - 3))), (e: Error & { code?: string }) => e.code === 'Integrity' && /not valid JSON/.test(e.message));
  });

  it('a big manifest in our layout gives the event loop turns while it is parsed (JSON.parse whole gives none)', async () => {
    const text = serializeManifest(manifest(60_000)).toString('utf8');
    const loop = countTurns();
    const got = (await parseManifestJson(text)) as Manifest;
    const turns = loop.stop();
    assert.strictEqual(got.files.length, 60_000);
    assert.ok(turns >= 2, `${turns} turns of the event loop during the parse`);
  });

  it('a big manifest is gzip\'d as several members, in order: gunzip gives the serializer\'s text, and its first bytes the header', async () => {
    const m = manifest(30000);
    const gz = await compressManifest(m);
    // Each member starts with gzip's magic and deflate's method byte (a few such bytes may occur inside by chance).
    let members = 0;
    for (let i = gz.indexOf('\x1f\x8b\x08', 0, 'latin1'); i >= 0; i = gz.indexOf('\x1f\x8b\x08', i + 1, 'latin1')) members++;
    assert.ok(members >= 3, `${members} gzip members`);
    assert.strictEqual(zlib.gunzipSync(gz).toString('utf8'), serializeManifest(m).toString('utf8'));
    // The restore's reader (inflated as a stream, parsed and checked) reads all the members.
    const back = await readManifest(gz);
    assert.strictEqual(back.files.length, 30000);
    assert.deepStrictEqual(back.files[29999], m.files[29999]);
    const head = zlib.gunzipSync(gz.subarray(0, 4096), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    assert.deepStrictEqual(parseManifestHeader(head)?.totals, m.totals);
    const small = manifest(3);
    assert.strictEqual(zlib.gunzipSync(await compressManifest(small)).toString('utf8'), serializeManifest(small).toString('utf8'));
  });

  it('the entries gzip\'d first (while packs upload), the first line last: the same text, and its first bytes the header', async () => {
    const m = manifest(5000);
    // What the backup knows before its last pack is up: the lists, not yet the totals of what it uploaded.
    const entries = compressManifestEntries({ format: m.format, files: m.files, packs: m.packs, dirs: m.dirs, links: m.links });
    const added = { files: 5000, bytes: 123, packs: 1, packBytes: 456 };
    const gz = await compressManifest({ ...m, added }, entries);
    assert.strictEqual(zlib.gunzipSync(gz).toString('utf8'), serializeManifest({ ...m, added }).toString('utf8'));
    // A ranged read of the first few hundred bytes still gives what was added.
    const first = zlib.gunzipSync(gz.subarray(0, 300), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString('utf8');
    assert.deepStrictEqual(parseManifestHeader(first)?.added, added);
    const back = await readManifest(gz);
    assert.deepStrictEqual(back.files[4999], m.files[4999]);
    assert.deepStrictEqual(back.added, added);
  });

  it('an entry with any key the format lacks comes back without it; one without, with exactly its own', async () => {
    const m = manifest(4);
    m.files[3].ino = 77;
    m.files[3].ctime = 1_700_000_000_000;
    // Keys our serializer never writes, planted in the text: one unknown, one named __proto__.
    const text = serializeManifest(m)
      .toString('utf8')
      .replace('{"path":"workspace/app/f1', '{"evil":{"run":"me"},"path":"workspace/app/f1')
      .replace('{"path":"workspace/app/f2', '{"__proto__":{"polluted":true},"path":"workspace/app/f2');
    assert.ok(text.includes('"evil"') && text.includes('"__proto__"'), 'the planted keys are in the text');
    const back = await readManifest(zlib.gzipSync(text));
    const own = ['path', 'size', 'mtime', 'mode', 'sha256', 'refs'];
    assert.deepStrictEqual(Object.keys(back.files[0]), own);
    assert.deepStrictEqual(back.files[0].refs, [[0, 0, 0, 8, 0, 0]]);
    for (const k of [1, 2]) {
      assert.deepStrictEqual(Object.keys(back.files[k]), own, `entry ${k}: only the format's keys`);
      assert.strictEqual(Object.getPrototypeOf(back.files[k]), Object.prototype, `entry ${k}: a plain object`);
      assert.deepStrictEqual(back.files[k].refs, [[0, k, k, 8, k, k]]);
    }
    assert.strictEqual(({} as Record<string, unknown>).polluted, undefined, 'nothing reached Object.prototype');
    assert.deepStrictEqual(Object.keys(back.files[3]).sort(), ['ctime', 'ino', 'mode', 'mtime', 'path', 'refs', 'sha256', 'size']);
    assert.strictEqual(back.files[3].ino, 77);
    // The piece lists are still checked where they are: a bad one is refused.
    const wrong = manifest(2);
    wrong.files[1].refs = [[0, 1, 1, 8, 1, 2]];
    await assert.rejects(readManifest(await compressManifest(wrong)), /do not add up|size/);
  });
});
