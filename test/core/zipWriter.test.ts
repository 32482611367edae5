import * as assert from 'assert';
import { randomBytes } from 'crypto';
import { once } from 'events';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Writable } from 'stream';
import * as zlib from 'zlib';
import { wholeBufferDeflate } from '../../src/core/util/deflateWindow';
import {
  ZipWriter,
  deflateBound,
  gatheringSink,
  dosDateTime,
  extendedTimestampField,
  externalAttributes,
  localHeaderLength,
  type ZipEntryInfo,
  type ZipEntryPosition,
  type ZipFinish,
  type ZipSink,
} from '../../src/core/archive/zipWriter';
import { expectCode } from '../helpers/assertions';
import { extraFields, readWithJava, readWithPython, readWithYauzl, tool, zerosCrc, type YauzlRead } from '../helpers/zipReaders';

const MiB = 1024 * 1024;
const MAX32 = 0xffffffff;
const WRITER_ZONE = 'Asia/Tokyo';
const READER_ZONES = ['Asia/Tokyo', 'America/Los_Angeles'];
// Decoded names on stdout and on disk, whatever the machine's locale.
const UTF8 = { LC_ALL: 'C.UTF-8' };
const SIG_CENTRAL = Buffer.from([0x50, 0x4b, 0x01, 0x02]);
const SIG_END = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
const SIG_END64 = Buffer.from([0x50, 0x4b, 0x06, 0x06]);
const S_IF = { file: 0o100000, dir: 0o040000, symlink: 0o120000 };

// --- time helpers, independent of the writer's (Intl, not Date's local getters) ---

/** [year, month, day, hour, minute, second] of `ms` on a wall clock in `timeZone`. */
function wallClock(ms: number, timeZone: string): number[] {
  const f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
  const parts = f.formatToParts(new Date(ms));
  return ['year', 'month', 'day', 'hour', 'minute', 'second'].map((t) => Number(parts.find((p) => p.type === t)!.value));
}

/** The instant a wall clock in `timeZone` shows `f`. */
function instantOf(f: number[], timeZone: string): number {
  const want = Date.UTC(f[0], f[1] - 1, f[2], f[3], f[4], f[5]);
  let t = want;
  for (let i = 0; i < 3; i++) {
    const w = wallClock(t, timeZone);
    t += want - Date.UTC(w[0], w[1] - 1, w[2], w[3], w[4], w[5]);
  }
  return t;
}

/** What the DOS fields should say: the writer's wall clock, seconds down to even, clamped to 1980..2107. */
function expectedDos(ms: number): number[] {
  const f = wallClock(ms, WRITER_ZONE);
  if (f[0] < 1980) return [1980, 1, 1, 0, 0, 0];
  if (f[0] > 2107) return [2107, 12, 31, 23, 59, 58];
  return [...f.slice(0, 5), f[5] - (f[5] % 2)];
}

function dosFields(date: number, time: number): number[] {
  return [(date >> 9) + 1980, (date >> 5) & 15, date & 31, time >> 11, (time >> 5) & 63, (time & 31) * 2];
}

/** Runs `fn` with this process in time zone `tz` (Node applies a change of TZ at once). */
async function inZone<T>(tz: string, fn: () => T | Promise<T>): Promise<T> {
  const old = process.env.TZ;
  process.env.TZ = tz;
  try {
    return await fn();
  } finally {
    if (old === undefined) delete process.env.TZ;
    else process.env.TZ = old;
  }
}

const secondsOf = (ms: number): number => Math.floor(ms / 1000) * 1000;
/** Times every reader gets from the extended timestamp (see extendedTimestampField). */
const hasTimestamp = (ms: number): boolean => ms >= 0 && ms < 2 ** 31 * 1000;

/** The mtime an extracting tool in `zone` gives a file: the UT second, or the DOS wall clock read in its own zone. */
function extractedMtime(ms: number, zone: string): number {
  return hasTimestamp(ms) ? secondsOf(ms) : instantOf(expectedDos(ms), zone);
}

// --- writing ---

interface Item {
  info: ZipEntryInfo;
  data: Buffer;
}

function* chunksOf(data: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** Deflates `input` on the fly into the open entry (the compressor reports what it read), then ends it. */
async function deflateInto(w: ZipWriter, input: Iterable<Buffer>, level = 6): Promise<void> {
  const d = zlib.createDeflateRaw({ level });
  let size = 0;
  let crc = 0;
  const written = (async () => {
    for await (const c of d) await w.write(c as Buffer);
  })();
  for (const c of input) {
    size += c.length;
    crc = zlib.crc32(c, crc);
    if (!d.write(c)) await Promise.race([once(d, 'drain'), written]);
  }
  d.end();
  await written;
  await w.endEntry({ size, crc32: crc >>> 0 });
}

/** Writes `items`: stored ones in 4 KiB chunks, deflated ones in memory when `compressedSize` is set, streamed otherwise. */
async function writeItems(w: ZipWriter, items: Item[]): Promise<ZipEntryPosition[]> {
  const positions: ZipEntryPosition[] = [];
  for (const { info, data } of items) {
    positions.push(await w.beginEntry(info));
    if (info.method === 0) {
      for (const c of chunksOf(data, 4096)) await w.write(c);
      await w.endEntry();
    } else if (info.compressedSize !== undefined) {
      await w.write(zlib.deflateRawSync(data));
      await w.endEntry({ size: data.length, crc32: zlib.crc32(data) });
    } else {
      await deflateInto(w, chunksOf(data, 7000));
    }
  }
  return positions;
}

function item(name: string, kind: ZipEntryInfo['kind'], how: 'stored' | 'deflated' | 'streamed', data: Buffer, mtimeMs: number, mode: number): Item {
  const info: ZipEntryInfo = { name, kind, method: how === 'stored' ? 0 : 8, mtimeMs, mode, size: data.length, crc32: zlib.crc32(data) };
  if (how === 'deflated') info.compressedSize = zlib.deflateRawSync(data).length;
  return { info, data };
}

/** A sink into memory. */
function memorySink(): { sink: ZipSink; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  return { sink: async (c) => void parts.push(Buffer.from(c)), bytes: () => Buffer.concat(parts) };
}

/** The end records at the tail of an archive (no comment). */
function endRecords(tail: Buffer): { count: number; cdSize: number; cdOffset: number; end64?: { at: number } } {
  const e = tail.length - 22;
  assert.strictEqual(tail.readUInt32LE(e), 0x06054b50, 'end of central directory record');
  const classic = { count: tail.readUInt16LE(10 + e), cdSize: tail.readUInt32LE(12 + e), cdOffset: tail.readUInt32LE(16 + e) };
  assert.strictEqual(tail.readUInt16LE(8 + e), classic.count, 'entries on this disk = total');
  if (e < 20 || tail.readUInt32LE(e - 20) !== 0x07064b50) return classic;
  return { ...classic, end64: { at: Number(tail.readBigUInt64LE(e - 12)) } };
}

/** The last `n` bytes of a file. */
function tailOf(file: string, n: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const b = Buffer.alloc(Math.min(n, size));
    fs.readSync(fd, b, 0, b.length, size - b.length);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads and checks the ZIP64 end record the locator points to. */
function end64Of(file: string | Buffer, at: number): { count: number; cdSize: number; cdOffset: number } {
  const b = Buffer.alloc(56);
  if (typeof file === 'string') {
    const fd = fs.openSync(file, 'r');
    fs.readSync(fd, b, 0, 56, at);
    fs.closeSync(fd);
  } else {
    file.copy(b, 0, at, at + 56);
  }
  assert.strictEqual(b.readUInt32LE(0), 0x06064b50, 'ZIP64 end of central directory record where the locator points');
  assert.strictEqual(Number(b.readBigUInt64LE(4)), 44, 'size of the remaining ZIP64 end record');
  assert.strictEqual(b.readUInt16LE(14), 45, 'ZIP64 end record: version needed 4.5');
  return { count: Number(b.readBigUInt64LE(32)), cdSize: Number(b.readBigUInt64LE(40)), cdOffset: Number(b.readBigUInt64LE(48)) };
}

describe('zip writer: helpers', () => {
  it('DOS date and time are the wall clock of the writing machine, clamped to 1980..2107, seconds down to even', async () => {
    const times = [Date.parse('2024-05-06T07:08:09.500Z'), Date.parse('2024-12-31T23:59:59Z'), Date.parse('2024-07-01T15:30:01Z'), Date.parse('1975-06-07T08:09:10Z'), Date.parse('2100-01-02T03:04:06Z'), Date.parse('2200-01-01T00:00:00Z'), -1e12];
    for (const zone of READER_ZONES) {
      await inZone(zone, () => {
        for (const t of times) {
          const { date, time } = dosDateTime(t);
          const f = wallClock(t, zone);
          const want = f[0] < 1980 ? [1980, 1, 1, 0, 0, 0] : f[0] > 2107 ? [2107, 12, 31, 23, 59, 58] : [...f.slice(0, 5), f[5] - (f[5] % 2)];
          assert.deepStrictEqual(dosFields(date, time), want, `${new Date(t).toISOString()} in ${zone}`);
        }
      });
    }
    // The same instant gives different DOS fields in Tokyo and Los Angeles: it is local time, not UTC.
    const t = Date.parse('2024-05-06T07:08:09Z');
    const tokyo = await inZone('Asia/Tokyo', () => dosDateTime(t));
    const la = await inZone('America/Los_Angeles', () => dosDateTime(t));
    assert.deepStrictEqual(dosFields(tokyo.date, tokyo.time), [2024, 5, 6, 16, 8, 8]);
    assert.deepStrictEqual(dosFields(la.date, la.time), [2024, 5, 6, 0, 8, 8]);
    assert.throws(() => dosDateTime(Number.NaN), TypeError);
  });

  it('the extended timestamp holds the UTC second, only where every reader reads the 32-bit field alike', () => {
    const f = extendedTimestampField(Date.parse('2024-05-06T07:08:09.999Z'))!;
    assert.deepStrictEqual([f.readUInt16LE(0), f.readUInt16LE(2), f[4], f.readUInt32LE(5)], [0x5455, 5, 1, Date.parse('2024-05-06T07:08:09Z') / 1000]);
    assert.strictEqual(extendedTimestampField(Date.parse('1975-06-07T08:09:10Z'))!.readUInt32LE(5), Date.parse('1975-06-07T08:09:10Z') / 1000);
    assert.strictEqual(extendedTimestampField(0)!.readUInt32LE(5), 0);
    assert.strictEqual(extendedTimestampField((2 ** 31 - 1) * 1000)!.readUInt32LE(5), 2 ** 31 - 1);
    assert.strictEqual(extendedTimestampField(2 ** 31 * 1000), undefined, '2038-01-19 03:14:08 is read as 1901 by yauzl and Java');
    assert.strictEqual(extendedTimestampField(-1), undefined, '1969 is read as 2106 by bsdtar');
  });

  it('external attributes carry the Unix type and permission bits (never setuid), and the DOS folder bit for folders', () => {
    assert.strictEqual(externalAttributes('file', 0o100644), 0o100644 * 0x10000);
    assert.strictEqual(externalAttributes('file', 0o4755), 0o100755 * 0x10000);
    assert.strictEqual(externalAttributes('dir', 0o755), 0o040755 * 0x10000 + 0x10);
    assert.strictEqual(externalAttributes('symlink', 0o777), 0o120777 * 0x10000);
  });

  it("deflateBound is at least what zlib's raw deflate produces from data that does not compress", () => {
    const random = randomBytes(3 * MiB + 123);
    for (const level of [1, 6, 9]) {
      const produced = zlib.deflateRawSync(random, { level }).length;
      assert.ok(produced > random.length, `level ${level}: random data grows (${produced})`);
      assert.ok(produced <= deflateBound(random.length), `level ${level}: ${produced} <= ${deflateBound(random.length)}`);
    }
  });

  it('a streamed entry gets ZIP64 sizes exactly when deflate could reach 4 GiB', async () => {
    const base: ZipEntryInfo = { name: 'streamed.bin', kind: 'file', method: 8, mtimeMs: Date.parse('2024-05-06T07:08:09Z'), mode: 0o644, size: 0, crc32: 0 };
    // 1.25 MiB below 4 GiB, deflate's worst case (~0.03% + 7 bytes) reaches 0xFFFFFFFF.
    let last = 0;
    for (let hi = MAX32; last + 1 < hi; ) {
      const mid = Math.floor((last + hi) / 2);
      if (deflateBound(mid) < MAX32) last = mid;
      else hi = mid;
    }
    assert.strictEqual(last, 4_293_656_840);
    const below = { ...base, size: last };
    const above = { ...base, size: last + 1 };
    assert.strictEqual(localHeaderLength(above) - localHeaderLength(below), 20, 'a 20-byte ZIP64 field');
    for (const [info, version, z64] of [[below, 20, false], [above, 45, true]] as const) {
      const m = memorySink();
      await new ZipWriter(m.sink).beginEntry(info);
      const h = m.bytes();
      const fields = extraFields(h.subarray(30 + h.readUInt16LE(26)));
      assert.strictEqual(h.readUInt16LE(4), version);
      assert.strictEqual(h.readUInt16LE(6), 0x0808, 'UTF-8 and data descriptor flags');
      assert.strictEqual(h.readUInt32LE(14), 0, 'no crc before the data');
      assert.strictEqual(fields.has(0x0001), z64);
      if (z64) {
        // Markers that send readers to the ZIP64 field, whose sizes are zero like bit 3 says.
        assert.deepStrictEqual([h.readUInt32LE(18), h.readUInt32LE(22)], [MAX32, MAX32]);
        assert.deepStrictEqual(fields.get(0x0001), Buffer.alloc(16));
      } else {
        assert.deepStrictEqual([h.readUInt32LE(18), h.readUInt32LE(22)], [0, 0]);
      }
    }
  });
});

describe('zip writer: a mixed archive read back by independent readers', function () {
  this.timeout(300_000);
  let tmp: string;
  let zipFile: string;
  let items: Item[];
  let positions: ZipEntryPosition[];
  let finished: ZipFinish;

  const T = Date.parse('2024-05-06T07:08:09.500Z');
  const text = (n: number, seed: string): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => `${seed} line ${i} ${(i * 7919) % 1000}\n`).join(''));

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-zipwriter-'));
    zipFile = path.join(tmp, 'mixed.zip');
    items = [
      item('stored.txt', 'file', 'stored', Buffer.from('hello, stored world\n'.repeat(50)), T, 0o644),
      item('deflated.txt', 'file', 'deflated', text(2000, 'deflated'), T + 3_601_001, 0o600),
      item('streamed.log', 'file', 'streamed', text(12_000, 'streamed'), T + 7_202_002, 0o755),
      item('empty/', 'dir', 'stored', Buffer.alloc(0), T + 10_803_003, 0o750),
      item('empty.txt', 'file', 'stored', Buffer.alloc(0), T + 14_404_004, 0o644),
      item('link', 'symlink', 'stored', Buffer.from('stored.txt'), T + 18_005_005, 0o777),
      item('crème brûlée 東京.txt', 'file', 'stored', Buffer.from('non-ASCII name\n'), T + 21_606_006, 0o640),
      item('old.txt', 'file', 'stored', Buffer.from('from 1975\n'), Date.parse('1975-06-07T08:09:10Z'), 0o644),
      item('future.txt', 'file', 'deflated', Buffer.from('from 2100\n'.repeat(20)), Date.parse('2100-01-02T03:04:06Z'), 0o644),
    ];
    // The writer runs in Tokyo: its DOS fields must be Tokyo's wall clock.
    await inZone(WRITER_ZONE, async () => {
      const out = fs.createWriteStream(zipFile);
      const w = new ZipWriter(out);
      positions = await writeItems(w, items);
      finished = await w.finish();
      out.end();
      await once(out, 'close');
    });
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('is a plain zip: no ZIP64 field or record, and finish() tells where the central directory is', () => {
    const bytes = fs.readFileSync(zipFile);
    assert.strictEqual(finished.zip64, false);
    assert.strictEqual(finished.bytes, bytes.length);
    assert.strictEqual(bytes.indexOf(SIG_END64), -1);
    const end = endRecords(bytes);
    assert.strictEqual(end.end64, undefined);
    assert.deepStrictEqual([end.count, end.cdOffset, end.cdSize], [items.length, finished.centralDirectoryOffset, bytes.length - 22 - finished.centralDirectoryOffset]);
    assert.strictEqual(bytes.indexOf(SIG_CENTRAL), finished.centralDirectoryOffset);
  });

  it('yauzl reads every entry as written: names, sizes, crc, mode, versions, flags, times, content, offsets', async () => {
    const { entryCount, entries } = await readWithYauzl(zipFile);
    assert.strictEqual(entryCount, items.length);
    assert.deepStrictEqual(
      entries.map((r) => r.entry.fileName),
      items.map((i) => i.info.name),
    );
    entries.forEach(({ entry, local, data }: YauzlRead, i) => {
      const { info, data: content } = items[i];
      const what = info.name;
      const streamed = info.method === 8 && info.compressedSize === undefined;
      assert.strictEqual(entry.compressionMethod, info.method, what);
      assert.strictEqual(entry.crc32, info.crc32, what);
      assert.strictEqual(entry.uncompressedSize, content.length, what);
      if (info.compressedSize !== undefined) assert.strictEqual(entry.compressedSize, info.compressedSize, what);
      if (info.method === 0) assert.strictEqual(entry.compressedSize, content.length, what);
      if (info.kind !== 'dir') assert.deepStrictEqual(data, content, `${what}: content`);
      assert.strictEqual(entry.versionMadeBy, 0x032d, `${what}: made by Unix, APPNOTE 4.5`);
      assert.strictEqual(entry.versionNeededToExtract, info.method === 8 || info.kind === 'dir' ? 20 : 10, what);
      assert.strictEqual(entry.generalPurposeBitFlag, 0x800 | (streamed ? 8 : 0), `${what}: UTF-8, descriptor only when streamed`);
      assert.strictEqual(entry.externalFileAttributes >>> 16, S_IF[info.kind] | info.mode, `${what}: mode`);
      assert.strictEqual(entry.externalFileAttributes & 0xffff, info.kind === 'dir' ? 0x10 : 0, `${what}: DOS attributes`);
      // Where the caller will find it with a ranged GET.
      assert.strictEqual(entry.relativeOffsetOfLocalHeader, positions[i].offset, `${what}: offset`);
      assert.strictEqual(positions[i].headerLength, localHeaderLength(info), `${what}: predicted header length`);
      assert.strictEqual(local.fileDataStart, positions[i].offset + positions[i].headerLength, `${what}: data start`);
      // The local header agrees with the central one; it has sizes and crc unless the entry is streamed.
      assert.deepStrictEqual(
        [local.versionNeededToExtract, local.generalPurposeBitFlag, local.compressionMethod, local.lastModFileDate, local.lastModFileTime],
        [entry.versionNeededToExtract, entry.generalPurposeBitFlag, entry.compressionMethod, entry.lastModFileDate, entry.lastModFileTime],
        what,
      );
      assert.deepStrictEqual([local.crc32, local.compressedSize, local.uncompressedSize], streamed ? [0, 0, 0] : [entry.crc32, entry.compressedSize, entry.uncompressedSize], what);
      assert.deepStrictEqual(Buffer.from(local.fileName as unknown as Uint8Array).toString('utf8'), info.name);
      // Times: the UT field in both headers, the DOS fields in the writer's local time.
      const central = extraFields(rawCentralExtra({ entry, local }));
      const localFields = extraFields(local.extraField);
      assert.ok(!central.has(0x0001) && !localFields.has(0x0001), `${what}: no ZIP64 field`);
      if (hasTimestamp(info.mtimeMs)) {
        assert.deepStrictEqual(central.get(0x5455), Buffer.concat([Buffer.from([1]), u32(secondsOf(info.mtimeMs) / 1000)]), `${what}: UT`);
        assert.deepStrictEqual(localFields.get(0x5455), central.get(0x5455), `${what}: same UT in the local header`);
      } else {
        assert.ok(!central.has(0x5455) && !localFields.has(0x5455), `${what}: no UT out of its safe range`);
      }
      assert.strictEqual(entry.getLastModDate().getTime(), hasTimestamp(info.mtimeMs) ? secondsOf(info.mtimeMs) : instantOf(expectedDos(info.mtimeMs), Intl.DateTimeFormat().resolvedOptions().timeZone), `${what}: yauzl's time`);
      const dos = entry.getLastModDate({ forceDosFormat: true, timezone: 'UTC' });
      assert.deepStrictEqual(wallClock(dos.getTime(), 'UTC'), expectedDos(info.mtimeMs), `${what}: DOS fields`);
    });
  });

  /** What extracting in `zone` must have produced under `dir`. */
  function checkExtracted(dir: string, zone: string, tool: string): void {
    for (const { info, data } of items) {
      const p = path.join(dir, info.name);
      const what = `${tool} in ${zone}: ${info.name}`;
      const st = fs.lstatSync(p);
      if (info.kind === 'symlink') {
        assert.ok(st.isSymbolicLink(), `${what} is a symlink`);
        assert.strictEqual(fs.readlinkSync(p), data.toString());
        continue;
      }
      assert.strictEqual(st.mode & 0o7777, info.mode, `${what}: mode`);
      assert.strictEqual(st.mtimeMs, extractedMtime(info.mtimeMs, zone), `${what}: mtime ${st.mtime.toISOString()}`);
      if (info.kind === 'dir') {
        assert.ok(st.isDirectory(), what);
        assert.deepStrictEqual(fs.readdirSync(p), [], `${what} is empty`);
      } else {
        assert.deepStrictEqual(fs.readFileSync(p), data, `${what}: content`);
      }
    }
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), [...new Set(items.map((i) => i.info.name.replace(/\/$/, '')))].sort(), `${tool}: nothing else extracted`);
  }

  it('unzip lists and tests it, and extracts exact times, modes, the symlink and the empty folder in Tokyo and Los Angeles', () => {
    const listing = tool('unzip', ['-Z', '-l', zipFile], UTF8);
    for (const { info } of items) assert.ok(listing.includes(info.name), `unzip -Z -l lists ${info.name}`);
    const tested = tool('unzip', ['-t', zipFile], UTF8);
    assert.match(tested, /No errors detected in compressed data/);
    for (const zone of READER_ZONES) {
      const dir = path.join(tmp, `unzip-${zone.replace('/', '-')}`);
      tool('unzip', ['-q', zipFile, '-d', dir], { ...UTF8, TZ: zone });
      checkExtracted(dir, zone, 'unzip');
    }
  });

  it('bsdtar lists it and extracts exact times, modes, the symlink and the empty folder in Tokyo and Los Angeles', () => {
    const listing = tool('bsdtar', ['-tvf', zipFile], UTF8);
    for (const { info } of items) assert.ok(listing.includes(info.name), `bsdtar -tv lists ${info.name}`);
    for (const zone of READER_ZONES) {
      const dir = path.join(tmp, `bsdtar-${zone.replace('/', '-')}`);
      fs.mkdirSync(dir);
      tool('bsdtar', ['-xpf', zipFile, '-C', dir], { ...UTF8, TZ: zone });
      checkExtracted(dir, zone, 'bsdtar');
    }
  });

  it("python's zipfile finds no bad entry and reads names, sizes, crc, modes and the writer's local DOS time", () => {
    const py = readWithPython(zipFile);
    assert.strictEqual(py.bad, null, 'testzip() found a bad entry');
    assert.deepStrictEqual(
      py.entries.map((e) => [e.name, e.size, e.crc, e.method, e.mode, e.offset, e.date_time]),
      items.map((it, i) => [it.info.name, it.data.length, it.info.crc32, it.info.method, S_IF[it.info.kind] | it.info.mode, positions[i].offset, expectedDos(it.info.mtimeMs)]),
    );
  });

  it("Java's ZipInputStream reads every entry in order from the local headers, and ZipFile from the central directory", async () => {
    const { entries } = await readWithYauzl(zipFile);
    for (const mode of ['stream', 'list'] as const) {
      const java = readWithJava(mode, zipFile, WRITER_ZONE);
      assert.deepStrictEqual(
        java.map((e) => [e.name, e.method, e.size, e.crc, e.directory]),
        items.map((it) => [it.info.name, it.info.method, it.data.length, it.info.crc32, it.info.kind === 'dir']),
        mode,
      );
      // Java takes the UT field when there is one, else reads the DOS fields in its zone (the writer's here).
      assert.deepStrictEqual(
        java.map((e) => e.mtimeMs),
        items.map((it) => (hasTimestamp(it.info.mtimeMs) ? secondsOf(it.info.mtimeMs) : instantOf(expectedDos(it.info.mtimeMs), WRITER_ZONE))),
        `${mode}: times`,
      );
      // In stream mode, the streamed entry's compressed size came from its data descriptor.
      assert.deepStrictEqual(
        java.map((e) => e.compressed),
        entries.map((r) => r.entry.compressedSize),
        `${mode}: compressed sizes`,
      );
    }
  });
});

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

describe('zip writer: ZIP64', function () {
  this.timeout(600_000);
  let tmp: string;
  const T = Date.parse('2024-05-06T07:08:09Z');
  const tiny = (name: string): Item => item(name, 'file', 'stored', Buffer.from(name.slice(-1)), T, 0o644);

  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-zip64-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('65,534 entries make a plain zip; 65,535 (0xFFFF is the marker) get the ZIP64 end records yauzl follows', async () => {
    for (const count of [65_534, 65_535]) {
      const m = memorySink();
      const w = new ZipWriter(m.sink);
      await writeItems(
        w,
        Array.from({ length: count }, (_, i) => tiny(`n/${i}`)),
      );
      const done = await w.finish();
      const bytes = m.bytes();
      const end = endRecords(bytes);
      assert.strictEqual(done.zip64, count === 65_535, `${count}: zip64`);
      assert.strictEqual(end.count, Math.min(count, 0xffff));
      if (count === 65_534) {
        assert.strictEqual(end.end64, undefined);
        assert.strictEqual(bytes.indexOf(SIG_END64), -1);
      } else {
        assert.deepStrictEqual(end64Of(bytes, end.end64!.at), { count, cdSize: bytes.length - 22 - 76 - done.centralDirectoryOffset, cdOffset: done.centralDirectoryOffset });
      }
      const read = await readWithYauzl(bytes, { dataUpTo: 0 });
      assert.strictEqual(read.entryCount, count);
      assert.strictEqual(read.entries[count - 1].entry.fileName, `n/${count - 1}`);
    }
  });

  it('70,000 entries: yauzl, unzip -t, bsdtar, python and Java read them all', async () => {
    const file = path.join(tmp, 'many.zip');
    const items = Array.from({ length: 70_000 }, (_, i) => tiny(`many/${String(i).padStart(5, '0')}`));
    const out = fs.createWriteStream(file);
    const w = new ZipWriter(out);
    const positions = await writeItems(w, items);
    const done = await w.finish();
    out.end();
    await once(out, 'close');
    assert.strictEqual(done.zip64, true);
    const end = endRecords(tailOf(file, 98));
    assert.deepStrictEqual([end.count, end.cdOffset], [0xffff, done.centralDirectoryOffset], 'the classic record: a marker for the count only');
    assert.deepStrictEqual(end64Of(file, end.end64!.at), { count: 70_000, cdSize: end.cdSize, cdOffset: done.centralDirectoryOffset });

    const read = await readWithYauzl(file, { dataUpTo: 0 });
    assert.strictEqual(read.entryCount, 70_000);
    assert.deepStrictEqual(
      read.entries.map((r) => [r.entry.fileName, r.entry.relativeOffsetOfLocalHeader, r.entry.versionNeededToExtract]),
      items.map((it, i) => [it.info.name, positions[i].offset, 10]),
    );
    assert.match(tool('unzip', ['-t', file]), /No errors detected in compressed data of .*many\.zip/);
    assert.strictEqual(tool('bsdtar', ['-tf', file]).split('\n').filter(Boolean).length, 70_000);
    const py = readWithPython(file);
    assert.strictEqual(py.bad, null);
    assert.strictEqual(py.entries.length, 70_000);
    const java = readWithJava('stream', file, 'UTC');
    assert.strictEqual(java.length, 70_000);
    assert.deepStrictEqual(java[69_999], { name: 'many/69999', method: 0, size: 1, compressed: 1, crc: zlib.crc32('9'), mtimeMs: T, directory: false });
  });

  // 4 GiB of zeros: a stored entry written as holes of a sparse file (no 4 GiB of disk),
  // then a streamed deflated one (zeros deflate 230:1).
  const BIG = 2 ** 32;
  const ZERO = Buffer.alloc(MiB);
  function* zeros(n: number): Generator<Buffer> {
    for (let left = n; left > 0; left -= ZERO.length) yield left >= ZERO.length ? ZERO : ZERO.subarray(0, left);
  }
  let bigCrc: number;

  it('a stored entry of 4 GiB: ZIP64 sizes in both headers, the next entry past 4 GiB, ZIP64 end records', async () => {
    bigCrc = zerosCrc(BIG, ZERO);
    const file = path.join(tmp, 'sparse.zip');
    const fh = await fs.promises.open(file, 'w');
    let pos = 0;
    const sparse: ZipSink = async (chunk) => {
      // A hole reads back as zeros; everything else is written where it belongs.
      if (!(chunk.length <= ZERO.length && chunk.equals(ZERO.subarray(0, chunk.length)))) {
        for (let done = 0; done < chunk.length; ) done += (await fh.write(chunk, done, chunk.length - done, pos + done)).bytesWritten;
      }
      pos += chunk.length;
    };
    const w = new ZipWriter(sparse);
    const big: ZipEntryInfo = { name: 'big.stored', kind: 'file', method: 0, mtimeMs: T, mode: 0o644, size: BIG, crc32: bigCrc };
    const after = item('after.txt', 'file', 'stored', Buffer.from('past 4 GiB\n'), T, 0o644);
    const p1 = await w.beginEntry(big);
    for (const c of zeros(BIG)) await w.write(c);
    await w.endEntry();
    const [p2] = await writeItems(w, [after]);
    const done = await w.finish();
    await fh.truncate(pos);
    await fh.close();
    assert.ok(fs.statSync(file).blocks * 512 < 64 * MiB, 'sparse');
    assert.strictEqual(done.zip64, true);
    assert.ok(p2.offset > MAX32, `after.txt at ${p2.offset}`);
    assert.strictEqual(p1.headerLength, 30 + 10 + 20 + 9, 'name, ZIP64 sizes, UT');

    const end = endRecords(tailOf(file, 98));
    assert.deepStrictEqual([end.count, end.cdOffset], [2, MAX32], 'the classic record: a marker for the offset');
    assert.deepStrictEqual(end64Of(file, end.end64!.at), { count: 2, cdSize: end.cdSize, cdOffset: done.centralDirectoryOffset });

    const { entries } = await readWithYauzl(file, { dataUpTo: MiB });
    const [b, a] = entries;
    assert.deepStrictEqual([b.entry.uncompressedSize, b.entry.compressedSize, b.entry.crc32, b.entry.versionNeededToExtract], [BIG, BIG, bigCrc, 45]);
    assert.deepStrictEqual(
      [b.local.compressedSize, b.local.uncompressedSize, extraFields(b.local.extraField).get(0x0001)],
      [MAX32, MAX32, Buffer.concat([u64(BIG), u64(BIG)])],
      'local header: markers, then both sizes',
    );
    assert.deepStrictEqual(extraFields(rawCentralExtra(b)).get(0x0001), Buffer.concat([u64(BIG), u64(BIG)]), 'central: both sizes overflow');
    assert.deepStrictEqual([a.entry.relativeOffsetOfLocalHeader, a.entry.versionNeededToExtract, a.data], [p2.offset, 45, after.data]);
    assert.deepStrictEqual(extraFields(rawCentralExtra(a)).get(0x0001), u64(p2.offset), 'central: only the offset overflows');
    assert.ok(!extraFields(a.local.extraField).has(0x0001), 'no ZIP64 field in a small entry’s local header');

    // Testing all 4 GiB takes unzip ~20 s of CPU; the entry past 4 GiB proves the offsets.
    assert.match(tool('unzip', ['-t', file, 'after.txt']), /No errors detected in .*sparse\.zip for the 1 file tested/);
    assert.match(tool('unzip', ['-Z', '-l', file]), /4294967296 +[^\n]*big\.stored/);
    assert.match(tool('bsdtar', ['-tvf', file]), /4294967296 [^\n]*big\.stored/);
    const py = readWithPython(file, ['after.txt']);
    assert.deepStrictEqual([py.bad, py.entries.map((e) => [e.name, e.size, e.offset])], [null, [['big.stored', BIG, 0], ['after.txt', after.data.length, p2.offset]]]);
    const java = readWithJava('list', file, 'UTC');
    assert.deepStrictEqual(
      java.map((e) => [e.name, e.size, e.compressed, e.crc]),
      [['big.stored', BIG, BIG, bigCrc], ['after.txt', after.data.length, after.data.length, after.info.crc32]],
    );
  });

  it('a deflated entry of 4 GiB streamed with a data descriptor: ZIP64 local field, 24-byte descriptor, read by unzip -t and Java', async () => {
    bigCrc ??= zerosCrc(BIG, ZERO);
    const file = path.join(tmp, 'deflated.zip');
    const out = fs.createWriteStream(file);
    const w = new ZipWriter(out);
    const p = await w.beginEntry({ name: 'big.deflated', kind: 'file', method: 8, mtimeMs: T, mode: 0o644, size: BIG, crc32: bigCrc });
    await deflateInto(w, zeros(BIG), 1);
    const done = await w.finish();
    out.end();
    await once(out, 'close');
    assert.strictEqual(done.zip64, true);
    assert.strictEqual(endRecords(tailOf(file, 98)).end64, undefined, 'no ZIP64 end records: the central directory is near the start');

    const { entries } = await readWithYauzl(file, { dataUpTo: 0 });
    const [{ entry, local }] = entries;
    assert.deepStrictEqual([entry.uncompressedSize, entry.crc32, entry.versionNeededToExtract, entry.generalPurposeBitFlag], [BIG, bigCrc, 45, 0x808]);
    assert.ok(entry.compressedSize < BIG / 100, `compressed to ${entry.compressedSize}`);
    assert.deepStrictEqual([local.crc32, local.compressedSize, local.uncompressedSize, extraFields(local.extraField).get(0x0001)], [0, MAX32, MAX32, Buffer.alloc(16)]);
    assert.deepStrictEqual(extraFields(rawCentralExtra(entries[0])).get(0x0001), u64(BIG), 'central: only the uncompressed size overflows');
    // The data descriptor right after the data: signature, crc, 8-byte sizes.
    const dd = Buffer.alloc(24);
    const fd = fs.openSync(file, 'r');
    fs.readSync(fd, dd, 0, 24, p.offset + p.headerLength + entry.compressedSize);
    fs.closeSync(fd);
    assert.deepStrictEqual(dd, Buffer.concat([u32(0x08074b50), u32(bigCrc), u64(entry.compressedSize), u64(BIG)]));
    assert.strictEqual(done.centralDirectoryOffset, p.offset + p.headerLength + entry.compressedSize + 24);

    assert.match(tool('unzip', ['-t', file]), /No errors detected in compressed data/);
    const [java] = readWithJava('stream', file, 'UTC');
    assert.deepStrictEqual(java, { name: 'big.deflated', method: 8, size: BIG, compressed: entry.compressedSize, crc: bigCrc, mtimeMs: T, directory: false });
  });
});

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

/** A central header's extra fields, re-serialised from yauzl's parsed list. */
function rawCentralExtra(r: YauzlRead): Buffer {
  return Buffer.concat(r.entry.extraFields.map((f) => Buffer.concat([u16(f.id), u16(f.data.length), f.data])));
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

describe('zip writer: refuses to write a lying header', () => {
  const T = Date.parse('2024-05-06T07:08:09Z');
  const data = Buffer.from('0123456789');
  const stored: ZipEntryInfo = { name: 'a.txt', kind: 'file', method: 0, mtimeMs: T, mode: 0o644, size: 10, crc32: zlib.crc32(data) };
  const deflated = zlib.deflateRawSync(data);

  /** After a refusal: every later call fails, and the output has no central directory. */
  async function assertAbandoned(w: ZipWriter, bytes: Buffer): Promise<void> {
    await assert.rejects(w.finish(), /an earlier call failed/);
    await assert.rejects(w.beginEntry({ ...stored, name: 'b.txt' }), /an earlier call failed/);
    assert.strictEqual(bytes.indexOf(SIG_CENTRAL), -1, 'no central directory');
    assert.strictEqual(bytes.indexOf(SIG_END), -1, 'no end record');
  }

  it('a stored entry given more bytes than its size: the extra chunk is never written', async () => {
    const m = memorySink();
    const w = new ZipWriter(m.sink);
    const p = await w.beginEntry(stored);
    await w.write(data.subarray(0, 6));
    await assert.rejects(w.write(data.subarray(0, 6)), expectCode('SourceChanged'));
    assert.strictEqual(m.bytes().length, p.headerLength + 6);
    assert.strictEqual(w.bytesWritten, p.headerLength + 6);
    await assertAbandoned(w, m.bytes());
  });

  it('a stored entry with fewer bytes, or another crc, than its header says', async () => {
    for (const [info, chunk] of [
      [stored, data.subarray(0, 9)],
      [{ ...stored, crc32: (stored.crc32 ^ 1) >>> 0 }, data],
      [stored, Buffer.from('0123456780')],
    ] as const) {
      const m = memorySink();
      const w = new ZipWriter(m.sink);
      await w.beginEntry(info);
      await w.write(chunk);
      await assert.rejects(w.endEntry(), expectCode('SourceChanged'));
      await assertAbandoned(w, m.bytes());
    }
  });

  it('a deflated entry whose compressed size is declared: more, or fewer, bytes are refused', async () => {
    const info: ZipEntryInfo = { ...stored, method: 8, compressedSize: deflated.length };
    let m = memorySink();
    let w = new ZipWriter(m.sink);
    const p = await w.beginEntry(info);
    await assert.rejects(w.write(Buffer.concat([deflated, Buffer.from([0])])), expectCode('SourceChanged'));
    assert.strictEqual(m.bytes().length, p.headerLength);
    await assertAbandoned(w, m.bytes());

    m = memorySink();
    w = new ZipWriter(m.sink);
    await w.beginEntry(info);
    await w.write(deflated.subarray(1));
    await assert.rejects(w.endEntry({ size: 10, crc32: stored.crc32 }), expectCode('SourceChanged'));
    await assertAbandoned(w, m.bytes());
  });

  it('a whole entry (addEntry) that disagrees with its header: refused before any byte of it is written', async () => {
    const info: ZipEntryInfo = { ...stored, method: 8 };
    for (const [e, chunks, check] of [
      [stored, [data.subarray(0, 9)], {}],
      [stored, [data, Buffer.from([1])], {}],
      [{ ...stored, crc32: (stored.crc32 ^ 1) >>> 0 }, [data], {}],
      [info, [deflated], { size: 11, crc32: stored.crc32 }],
      [info, [deflated], { size: 10, crc32: (stored.crc32 + 1) >>> 0 }],
      [{ ...info, compressedSize: deflated.length }, [deflated.subarray(1)], { size: 10, crc32: stored.crc32 }],
    ] as const) {
      const m = memorySink();
      const w = new ZipWriter(m.sink);
      await w.addEntry({ ...stored, name: 'first.txt' }, [data]);
      const before = m.bytes().length;
      await assert.rejects(w.addEntry(e, chunks, check), expectCode('SourceChanged'));
      assert.strictEqual(m.bytes().length, before, 'nothing of the refused entry');
      await assertAbandoned(w, m.bytes());
    }
  });

  it('a streamed entry whose compressor read another size or crc than declared: no data descriptor is written', async () => {
    const info: ZipEntryInfo = { ...stored, method: 8 };
    for (const check of [{ size: 11, crc32: stored.crc32 }, { size: 10, crc32: (stored.crc32 + 1) >>> 0 }, { size: 10, crc32: stored.crc32, compressedSize: deflated.length + 1 }]) {
      const m = memorySink();
      const w = new ZipWriter(m.sink);
      const p = await w.beginEntry(info);
      await w.write(deflated);
      await assert.rejects(w.endEntry(check), expectCode('SourceChanged'));
      assert.strictEqual(m.bytes().length, p.headerLength + deflated.length, 'nothing after the data');
      await assertAbandoned(w, m.bytes());
    }
  });

  it('a deflated entry ended without what the compressor read is a TypeError; the entry can still be ended right', async () => {
    const m = memorySink();
    const w = new ZipWriter(m.sink);
    await w.beginEntry({ ...stored, method: 8 });
    await w.write(deflated);
    await assert.rejects(w.endEntry(), TypeError);
    await assert.rejects(w.endEntry({ size: 10 }), TypeError);
    await w.endEntry({ size: 10, crc32: stored.crc32 });
    await w.finish();
    const { entries } = await readWithYauzl(m.bytes());
    assert.deepStrictEqual(entries[0].data, data);
  });

  it('a streamed entry without ZIP64 sizes cannot grow to 4 GiB of compressed data', async () => {
    let sent = 0;
    const w = new ZipWriter(async (c) => void (sent += c.length));
    const p = await w.beginEntry({ ...stored, method: 8 });
    const chunk = Buffer.alloc(64 * MiB);
    const fits = Math.floor((MAX32 - 1) / chunk.length);
    for (let i = 0; i < fits; i++) await w.write(chunk);
    await assert.rejects(w.write(chunk), expectCode('SourceChanged'));
    assert.strictEqual(sent, p.headerLength + fits * chunk.length);
  });

  it('refuses unsafe or malformed names and entries with a TypeError before writing anything, and stays usable', async () => {
    const m = memorySink();
    const w = new ZipWriter(m.sink);
    const file = (name: string): ZipEntryInfo => ({ ...stored, name });
    const bad: ZipEntryInfo[] = [
      file(''),
      file('/etc/passwd'),
      file('a/../../b'),
      file('../b'),
      file('a\\b'),
      file('C:/x'),
      file('a//b'),
      file('./a'),
      file('nul\0byte'),
      file('lone \ud800 surrogate'),
      file('folder/'),
      { ...stored, name: 'folder', kind: 'dir', size: 0, crc32: 0 },
      { ...stored, name: '/', kind: 'dir', size: 0, crc32: 0 },
      { ...stored, name: 'd/', kind: 'dir', size: 0, crc32: 0, method: 8 },
      { ...stored, name: 'd/', kind: 'dir' },
      { ...stored, method: 1 as 0 },
      { ...stored, kind: 'fifo' as 'file' },
      { ...stored, mtimeMs: Number.NaN },
      { ...stored, mtimeMs: 9e15 },
      { ...stored, size: -1 },
      { ...stored, size: 1.5 },
      { ...stored, crc32: 2 ** 32 },
      { ...stored, compressedSize: 9 },
      file('x'.repeat(65_536)),
    ];
    for (const e of bad) await assert.rejects(w.beginEntry(e), TypeError, JSON.stringify(e.name).slice(0, 40));
    assert.strictEqual(m.bytes().length, 0);
    await w.beginEntry(stored);
    await w.write(data);
    await w.endEntry();
    await assert.rejects(w.beginEntry(stored), TypeError, 'a name twice');
    await w.finish();
    assert.strictEqual((await readWithYauzl(m.bytes())).entryCount, 1);
  });
});

describe('zip writer: streaming', () => {
  const T = Date.parse('2024-05-06T07:08:09Z');

  it('a whole entry (addEntry) is the bytes beginEntry with the compressed size, write and endEntry make', async () => {
    const text = Buffer.from('hello, hello, hello, world\n'.repeat(40));
    const packed = zlib.deflateRawSync(text);
    const entries: [ZipEntryInfo, Buffer[]][] = [
      [{ name: 'a/stored.txt', kind: 'file', method: 0, mtimeMs: T, mode: 0o644, size: text.length, crc32: zlib.crc32(text) }, [text.subarray(0, 100), text.subarray(100)]],
      [{ name: 'a/deflated.txt', kind: 'file', method: 8, mtimeMs: T + 2000, mode: 0o600, size: text.length, crc32: zlib.crc32(text), compressedSize: packed.length }, [packed]],
      [{ name: 'empty', kind: 'file', method: 0, mtimeMs: T, mode: 0o644, size: 0, crc32: 0 }, []],
      [{ name: 'ünïcode/名前.md', kind: 'file', method: 0, mtimeMs: Date.parse('1975-01-01T00:00:00Z'), mode: 0o755, size: 3, crc32: zlib.crc32(Buffer.from('abc')) }, [Buffer.from('abc')]],
    ];
    const streamed = memorySink();
    const whole = memorySink();
    const a = new ZipWriter(streamed.sink);
    const b = new ZipWriter(whole.sink);
    for (const [info, chunks] of entries) {
      const check = info.method === 8 ? { size: info.size, crc32: info.crc32 } : {};
      const p = await a.beginEntry(info);
      for (const c of chunks) await a.write(c);
      await a.endEntry(check);
      // Without the compressed size: addEntry counts it itself.
      const q = await b.addEntry({ ...info, compressedSize: undefined }, chunks, check);
      assert.deepStrictEqual(q, p, info.name);
    }
    assert.deepStrictEqual(await b.finish(), await a.finish());
    assert.ok(whole.bytes().equals(streamed.bytes()), 'the same archive, byte for byte');
    assert.strictEqual(b.entryCount, entries.length);
    assert.ok(b.has('a/deflated.txt') && !b.has('a/other.txt'));
    const read = await readWithYauzl(whole.bytes(), { dataUpTo: MiB });
    assert.deepStrictEqual(read.entries.map((r: YauzlRead) => r.entry.fileName), entries.map(([info]) => info.name));
    assert.ok(read.entries[1].data!.equals(text), 'the deflated entry inflates to its content');
  });

  it('the gathering sink hands the bytes on in order, in few writes: small chunks in blocks, big ones as they are', async () => {
    const writes: Buffer[] = [];
    const out = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _enc, cb) {
        writes.push(Buffer.from(chunk));
        setImmediate(cb);
      },
    });
    const { sink, flush } = gatheringSink(out, undefined, 4096);
    const chunks = [...Array.from({ length: 300 }, (_, i) => randomBytes(1 + (i % 40))), randomBytes(3000), ...Array.from({ length: 50 }, () => randomBytes(30))];
    for (const c of chunks) await sink(c);
    await flush();
    out.end();
    await once(out, 'finish');
    assert.ok(Buffer.concat(writes).equals(Buffer.concat(chunks)), 'the same bytes in the same order');
    assert.ok(writes.length <= 8, `${writes.length} writes for ${chunks.length} chunks`);
    assert.ok(writes.some((w) => w.length === 3000), 'a chunk of a quarter block or more goes on its own');
    assert.ok(writes.every((w) => w.length <= 4096));
  });

  it('a small buffer deflated with a window of its size: the same bytes back, no bigger than with the full window', () => {
    for (const size of [0, 1, 300, 1000, 5000, 40_000]) {
      const data = Buffer.from(Array.from({ length: size }, (_, i) => 'abcdefgh'.charCodeAt((i * 7) % 8) ^ (i % 13 === 0 ? 1 : 0)));
      const o = wholeBufferDeflate(6, size);
      assert.ok(o.windowBits! >= 9 && o.windowBits! <= 15 && (o.windowBits === 15 || 2 ** o.windowBits! >= size), `${size}: ${o.windowBits}`);
      const small = zlib.deflateRawSync(data, o);
      assert.ok(zlib.inflateRawSync(small).equals(data), `${size} bytes come back`);
      assert.ok(small.length <= zlib.deflateRawSync(data, { level: 6 }).length, `${size}: ${small.length} bytes`);
    }
  });

  it('waits for drain: a slow Writable never holds much more than its highWaterMark', async () => {
    const hwm = 16 * 1024;
    let peak = 0;
    let got = 0;
    const out = new Writable({
      highWaterMark: hwm,
      write(chunk: Buffer, _enc, cb) {
        peak = Math.max(peak, out.writableLength);
        got += chunk.length;
        setImmediate(cb);
      },
    });
    const w = new ZipWriter(out);
    const data = randomBytes(4 * MiB);
    await writeItems(w, [item('big.bin', 'file', 'stored', data, T, 0o644)]);
    const done = await w.finish();
    out.end();
    await once(out, 'finish');
    assert.strictEqual(got, done.bytes);
    assert.ok(peak <= hwm + 4096, `peak buffered ${peak}`);
  });

  it('an abort rejects a write waiting for drain, and every later call', async () => {
    const ac = new AbortController();
    const out = new Writable({ highWaterMark: 1024, write: () => undefined }); // never drains
    const w = new ZipWriter(out, { signal: ac.signal });
    await w.beginEntry({ name: 'a', kind: 'file', method: 0, mtimeMs: T, mode: 0o644, size: 4096, crc32: 0 });
    const pending = w.write(Buffer.alloc(4096));
    ac.abort();
    await assert.rejects(pending, expectCode('Cancelled'));
    await assert.rejects(w.finish(), /an earlier call failed/);
  });

  it('a destroyed Writable rejects the pending write with its error', async () => {
    const out = new Writable({ highWaterMark: 1024, write: () => undefined });
    const w = new ZipWriter(out);
    await w.beginEntry({ name: 'a', kind: 'file', method: 0, mtimeMs: T, mode: 0o644, size: 4096, crc32: 0 });
    const pending = w.write(Buffer.alloc(4096));
    out.destroy(new Error('upload failed'));
    await assert.rejects(pending, /upload failed/);
    await assert.rejects(w.endEntry(), /an earlier call failed/);
  });

  it('calls must come in order and one at a time', async () => {
    const w = new ZipWriter(memorySink().sink);
    await assert.rejects(w.write(Buffer.from('x')), /outside an entry/);
    await assert.rejects(w.endEntry(), /outside an entry/);
    const info: ZipEntryInfo = { name: 'a', kind: 'file', method: 0, mtimeMs: T, mode: 0o644, size: 2, crc32: zlib.crc32('ab') };
    const first = w.beginEntry(info);
    await assert.rejects(w.write(Buffer.from('a')), /overlap/);
    await first;
    await assert.rejects(w.beginEntry({ ...info, name: 'b' }), /endEntry\(\) the previous entry/);
    await assert.rejects(w.finish(), /endEntry\(\) the last entry/);
    await w.write(Buffer.from('ab'));
    await w.endEntry();
    await w.finish();
    await assert.rejects(w.finish(), /already finished/);
  });
});
