import type { Writable } from 'stream';
import * as zlib from 'zlib';
import { BackupError, CancelledError } from '../util/engineErrors';
import { archivePathProblem } from '../util/paths';
import { sourceChanged } from './entries';

/*
 * The ZIP container (PKWARE APPNOTE 6.3): local headers, data descriptors,
 * central directory, end records. Compression happens elsewhere; this module
 * only frames bytes it is handed and checks them against what their headers say.
 *
 * Choices other tools depend on (see docs/ARCHITECTURE.md, "Our own zip container"):
 * - DOS date/time in the writer's local time (what unzip, 7z, bsdtar and Java
 *   read it as), plus the exact UTC second in an extended timestamp (0x5455)
 *   in both headers, which those tools prefer.
 * - Sizes and CRC in the local header whenever they are known before the data;
 *   a data descriptor (bit 3) only for a deflated entry whose compressed size
 *   is not: Java's ZipInputStream cannot read a stored entry with one.
 * - ZIP64 only where a field overflows; a small archive has no ZIP64 record.
 */

export type ZipEntryKind = 'file' | 'dir' | 'symlink';

export interface ZipEntryInfo {
  /** UTF-8, POSIX, relative; a folder's name ends in "/". */
  name: string;
  kind: ZipEntryKind;
  /** 0 = stored, 8 = deflated (raw deflate, produced by the caller). */
  method: 0 | 8;
  /** Last modification, ms since the epoch. */
  mtimeMs: number;
  /** Permission bits; file type bits are ignored (the kind sets them) and so are setuid, setgid and sticky. */
  mode: number;
  /** Uncompressed size: the file's, or a symlink target's byte length; 0 for a folder. */
  size: number;
  /** CRC-32 of the uncompressed content (0 for a folder or an empty file). */
  crc32: number;
  /**
   * Method 8 only: the compressed size when it is known before the data is
   * written (sizes go in the local header). Absent: the data follows a header
   * without sizes and a data descriptor after it.
   */
  compressedSize?: number;
}

/** What the compressing side saw; every value given is checked against the header. */
export interface ZipEntryCheck {
  /** Bytes that went into the compressor. Required for a deflated entry. */
  size?: number;
  /** CRC-32 of those bytes. Required for a deflated entry. */
  crc32?: number;
  /** Bytes that came out (the writer counts them itself; this is a cross-check). */
  compressedSize?: number;
}

export interface ZipEntryPosition {
  /** Offset of the local header from the start of the archive. */
  offset: number;
  /** Length of the local header: the data starts at `offset + headerLength`. */
  headerLength: number;
}

export interface ZipFinish {
  centralDirectoryOffset: number;
  /** Length of the whole archive. */
  bytes: number;
  /** True when any ZIP64 field or record was written. */
  zip64: boolean;
}

/** Where the writer sends its bytes when it is not given a Writable: a promise only when the writer must wait before the next chunk. */
export type ZipSink = (chunk: Buffer) => Promise<void> | void;

const MAX16 = 0xffff;
const MAX32 = 0xffffffff;
const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_DESCRIPTOR = 0x08074b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_LOCATOR = 0x07064b50;
const FLAG_DESCRIPTOR = 1 << 3;
const FLAG_UTF8 = 1 << 11;
// High byte: the host whose attributes the external field holds (3 = Unix); low byte: APPNOTE 4.5.
const MADE_BY = (3 << 8) | 45;
const NEEDS_STORED = 10;
const NEEDS_DEFLATE_OR_FOLDER = 20;
const NEEDS_ZIP64 = 45;
const LOCAL_FIXED = 30;
const CENTRAL_FIXED = 46;
const END_FIXED = 22;
const END64_FIXED = 56;
const LOCATOR_FIXED = 20;
const EXTENDED_TIMESTAMP_LENGTH = 9;
const S_IFMT = { file: 0o100000, dir: 0o040000, symlink: 0o120000 } as const;
const DOS_DIRECTORY = 0x10;
const CENTRAL_BATCH = 1024 * 1024;

/**
 * DOS date and time fields for `mtimeMs` in this machine's local time (the
 * zone readers assume), clamped to the range DOS time can hold, 1980-01-01
 * 00:00:00 to 2107-12-31 23:59:58. Seconds round down to even.
 */
export function dosDateTime(mtimeMs: number): { date: number; time: number } {
  const d = new Date(mtimeMs);
  if (Number.isNaN(d.getTime())) throw new TypeError(`not a time: ${mtimeMs}`);
  let f = [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  if (f[0] < 1980) f = [1980, 1, 1, 0, 0, 0];
  else if (f[0] > 2107) f = [2107, 12, 31, 23, 59, 58];
  const [y, mo, day, h, mi, s] = f;
  return { date: ((y - 1980) << 9) | (mo << 5) | day, time: (h << 11) | (mi << 5) | (s >> 1) };
}

/**
 * The Info-ZIP extended timestamp extra field (0x5455, "UT") with the mtime
 * in whole UTC seconds, identical in local and central headers. Undefined
 * outside 1970-01-01 .. 2038-01-19 03:14:07 UTC: readers disagree on the
 * 32-bit field beyond it (yauzl and Java read it signed, bsdtar unsigned,
 * unzip guesses from the DOS date), so a reader falls back to the DOS time,
 * which is off by a time-zone difference at worst instead of by 136 years.
 */
export function extendedTimestampField(mtimeMs: number): Buffer | undefined {
  const secs = Math.floor(mtimeMs / 1000);
  if (!(secs >= 0 && secs <= 0x7fffffff)) return undefined;
  const b = Buffer.allocUnsafe(EXTENDED_TIMESTAMP_LENGTH);
  b.writeUInt16LE(0x5455, 0);
  b.writeUInt16LE(5, 2);
  b[4] = 1; // flags: mtime only
  b.writeUInt32LE(secs, 5);
  return b;
}

/** A ZIP64 extended information extra field (0x0001) holding `values` as 8-byte integers, in the order given. */
export function zip64Field(values: readonly number[]): Buffer {
  const b = Buffer.alloc(4 + 8 * values.length);
  b.writeUInt16LE(0x0001, 0);
  b.writeUInt16LE(8 * values.length, 2);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 4 + 8 * i));
  return b;
}

/** The external attributes: Unix type and permission bits in the high half, the MS-DOS folder bit for folders. */
export function externalAttributes(kind: ZipEntryKind, mode: number): number {
  return (((S_IFMT[kind] | (mode & 0o777)) << 16) | (kind === 'dir' ? DOS_DIRECTORY : 0)) >>> 0;
}

/**
 * The most bytes zlib's raw deflate can produce from `size` bytes at its
 * default windowBits (15) and memLevel (8), as zlib's deflateBound() computes
 * it. A streamed entry that could reach 4 GiB gets ZIP64 sizes up front.
 */
export function deflateBound(size: number): number {
  return size + Math.floor(size / 4096) + Math.floor(size / 16384) + Math.floor(size / 33554432) + 7;
}

/** Everything about an entry that does not depend on where it lands. */
interface EntryPlan {
  info: ZipEntryInfo;
  name: Buffer;
  descriptor: boolean;
  /** The local header carries ZIP64 sizes (and a descriptor, if any, 8-byte sizes). */
  zip64Sizes: boolean;
  timestamp?: Buffer;
  /** The DOS date and time fields, the same in both headers. */
  dos: { date: number; time: number };
  /** Most data bytes the entry may hold. */
  limit: number;
}

// The range of a JavaScript Date (ECMA-262 21.4.1.1).
const MAX_TIME_MS = 8.64e15;

/** No lone surrogate (String.prototype.isWellFormed: Node 20 and every VS Code we run in; not yet in our TypeScript lib). */
function wellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

function isSize(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** Validates `e` (TypeError: callers validate names before) and decides its headers. */
function planEntry(e: ZipEntryInfo): EntryPlan {
  const name = e?.name;
  if (typeof name !== 'string') throw new TypeError('zip entry name must be a string');
  const what = JSON.stringify(name);
  if (e.kind !== 'file' && e.kind !== 'dir' && e.kind !== 'symlink') throw new TypeError(`zip entry ${what}: unknown kind ${String(e.kind)}`);
  const isDir = e.kind === 'dir';
  if (isDir !== name.endsWith('/')) throw new TypeError(`zip entry ${what}: a folder's name ends in "/", and only a folder's`);
  const problem = archivePathProblem(isDir ? name.slice(0, -1) : name);
  if (problem) throw new TypeError(`zip entry ${what} cannot be written: ${problem}`);
  // A lone surrogate would be written as U+FFFD: not the name asked for.
  if (!wellFormed(name)) throw new TypeError(`zip entry ${what}: the name is not valid Unicode`);
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length > MAX16) throw new TypeError(`zip entry ${what}: the name is longer than 65,535 bytes`);
  if (e.method !== 0 && e.method !== 8) throw new TypeError(`zip entry ${what}: method must be 0 or 8`);
  if (!Number.isFinite(e.mtimeMs) || Math.abs(e.mtimeMs) > MAX_TIME_MS) throw new TypeError(`zip entry ${what}: mtimeMs is not a time`);
  if (!Number.isInteger(e.mode) || e.mode < 0) throw new TypeError(`zip entry ${what}: mode must be a non-negative integer`);
  if (!isSize(e.size)) throw new TypeError(`zip entry ${what}: size must be a non-negative integer`);
  if (!Number.isInteger(e.crc32) || e.crc32 < 0 || e.crc32 > MAX32) throw new TypeError(`zip entry ${what}: crc32 must be a 32-bit unsigned integer`);
  if (e.compressedSize !== undefined && !isSize(e.compressedSize)) throw new TypeError(`zip entry ${what}: compressedSize must be a non-negative integer`);
  if (e.method === 0 && e.compressedSize !== undefined && e.compressedSize !== e.size) throw new TypeError(`zip entry ${what}: a stored entry's compressedSize is its size`);
  if (isDir && (e.method !== 0 || e.size !== 0 || e.crc32 !== 0)) throw new TypeError(`zip entry ${what}: a folder is stored, with size 0 and crc32 0`);

  const info: ZipEntryInfo = { ...e };
  const descriptor = e.method === 8 && e.compressedSize === undefined;
  // A streamed entry's compressed size is only bounded, so ZIP64 when the bound could overflow.
  const compressedBound = e.method === 0 ? e.size : (e.compressedSize ?? deflateBound(e.size));
  const zip64Sizes = e.size >= MAX32 || compressedBound >= MAX32;
  // Without ZIP64 sizes, 0xFFFFFFFF is the marker, not a size.
  const limit = e.method === 0 ? e.size : (e.compressedSize ?? (zip64Sizes ? Number.MAX_SAFE_INTEGER : MAX32 - 1));
  return { info, name: bytes, descriptor, zip64Sizes, timestamp: extendedTimestampField(e.mtimeMs), dos: dosDateTime(e.mtimeMs), limit };
}

function localExtra(p: EntryPlan): Buffer[] {
  const extra: Buffer[] = [];
  if (p.zip64Sizes) {
    // APPNOTE 4.5.3: in a local header the field holds both sizes; with bit 3 they are zero like the 32-bit ones.
    extra.push(p.descriptor ? zip64Field([0, 0]) : zip64Field([p.info.size, p.info.compressedSize ?? p.info.size]));
  }
  if (p.timestamp) extra.push(p.timestamp);
  return extra;
}

/**
 * The length of the local header `e` would get, for callers that predict
 * offsets (the data starts this many bytes after the header's offset).
 * Throws TypeError for an entry `beginEntry` would refuse.
 */
export function localHeaderLength(e: ZipEntryInfo): number {
  const p = planEntry(e);
  return LOCAL_FIXED + p.name.length + localExtra(p).reduce((n, b) => n + b.length, 0);
}

function versionNeeded(p: EntryPlan, offset: number): number {
  if (p.zip64Sizes || offset >= MAX32) return NEEDS_ZIP64;
  return p.info.kind === 'dir' || p.info.method === 8 ? NEEDS_DEFLATE_OR_FOLDER : NEEDS_STORED;
}

function flagsOf(p: EntryPlan): number {
  return FLAG_UTF8 | (p.descriptor ? FLAG_DESCRIPTOR : 0);
}

/** Copies `parts` into `b` from `at`; returns where they end. */
function copyAll(parts: readonly Buffer[], b: Buffer, at: number): number {
  for (const x of parts) at += x.copy(b, at);
  return at;
}

function localHeader(p: EntryPlan, version: number): Buffer {
  const extra = localExtra(p);
  const extraLength = extra.reduce((n, x) => n + x.length, 0);
  // Every byte is written below: a pooled buffer (one allocation per thousands of small entries, not one each).
  const b = Buffer.allocUnsafe(LOCAL_FIXED + p.name.length + extraLength);
  const { info } = p;
  // ZIP64: markers that send readers to the extra field; bit 3: zero, the sizes follow the data.
  const size32 = p.zip64Sizes ? MAX32 : p.descriptor ? 0 : info.size;
  const compressed32 = p.zip64Sizes ? MAX32 : p.descriptor ? 0 : (info.compressedSize ?? info.size);
  const { date, time } = p.dos;
  b.writeUInt32LE(SIG_LOCAL, 0);
  b.writeUInt16LE(version, 4);
  b.writeUInt16LE(flagsOf(p), 6);
  b.writeUInt16LE(info.method, 8);
  b.writeUInt16LE(time, 10);
  b.writeUInt16LE(date, 12);
  b.writeUInt32LE(p.descriptor ? 0 : info.crc32, 14);
  b.writeUInt32LE(compressed32, 18);
  b.writeUInt32LE(size32, 22);
  b.writeUInt16LE(p.name.length, 26);
  b.writeUInt16LE(extraLength, 28);
  p.name.copy(b, LOCAL_FIXED);
  copyAll(extra, b, LOCAL_FIXED + p.name.length);
  return b;
}

function dataDescriptor(crc: number, compressed: number, size: number, wide: boolean): Buffer {
  const b = Buffer.alloc(wide ? 24 : 16);
  b.writeUInt32LE(SIG_DESCRIPTOR, 0);
  b.writeUInt32LE(crc, 4);
  if (wide) {
    b.writeBigUInt64LE(BigInt(compressed), 8);
    b.writeBigUInt64LE(BigInt(size), 16);
  } else {
    b.writeUInt32LE(compressed, 8);
    b.writeUInt32LE(size, 12);
  }
  return b;
}

/** The central directory record; ZIP64 holds exactly the fields that overflow, in APPNOTE order. */
function centralRecord(p: EntryPlan, version: number, offset: number, compressed: number): { record: Buffer; zip64: boolean } {
  const { info } = p;
  const wide: number[] = [];
  const field = (v: number): number => (v >= MAX32 ? (wide.push(v), MAX32) : v);
  const size32 = field(info.size);
  const compressed32 = field(compressed);
  const offset32 = field(offset);
  const extra = [...(wide.length ? [zip64Field(wide)] : []), ...(p.timestamp ? [p.timestamp] : [])];
  const extraLength = extra.reduce((n, x) => n + x.length, 0);
  // Pooled like the local header: the central directory of a pack of small files is thousands of these.
  const b = Buffer.allocUnsafe(CENTRAL_FIXED + p.name.length + extraLength);
  const { date, time } = p.dos;
  b.writeUInt32LE(SIG_CENTRAL, 0);
  b.writeUInt16LE(MADE_BY, 4);
  b.writeUInt16LE(version, 6);
  b.writeUInt16LE(flagsOf(p), 8);
  b.writeUInt16LE(info.method, 10);
  b.writeUInt16LE(time, 12);
  b.writeUInt16LE(date, 14);
  b.writeUInt32LE(info.crc32, 16);
  b.writeUInt32LE(compressed32, 20);
  b.writeUInt32LE(size32, 24);
  b.writeUInt16LE(p.name.length, 28);
  b.writeUInt16LE(extraLength, 30);
  // Comment length, disk number start, internal attributes: all 0.
  b.writeUInt16LE(0, 32);
  b.writeUInt16LE(0, 34);
  b.writeUInt16LE(0, 36);
  b.writeUInt32LE(externalAttributes(info.kind, info.mode), 38);
  b.writeUInt32LE(offset32, 42);
  p.name.copy(b, CENTRAL_FIXED);
  copyAll(extra, b, CENTRAL_FIXED + p.name.length);
  return { record: b, zip64: wide.length > 0 };
}

/** ZIP64 end of central directory record, its locator, and the classic end record with markers where a value overflows. */
function endRecords(count: number, cdSize: number, cdOffset: number, end64Offset: number): { bytes: Buffer; zip64: boolean } {
  const zip64 = count >= MAX16 || cdSize >= MAX32 || cdOffset >= MAX32;
  const end = Buffer.alloc(END_FIXED);
  end.writeUInt32LE(SIG_END, 0);
  // 4: this disk, 6: disk where the central directory starts: 0
  end.writeUInt16LE(Math.min(count, MAX16), 8);
  end.writeUInt16LE(Math.min(count, MAX16), 10);
  end.writeUInt32LE(Math.min(cdSize, MAX32), 12);
  end.writeUInt32LE(Math.min(cdOffset, MAX32), 16);
  if (!zip64) return { bytes: end, zip64 };
  const end64 = Buffer.alloc(END64_FIXED + LOCATOR_FIXED);
  end64.writeUInt32LE(SIG_END64, 0);
  end64.writeBigUInt64LE(BigInt(END64_FIXED - 12), 4);
  end64.writeUInt16LE(MADE_BY, 12);
  end64.writeUInt16LE(NEEDS_ZIP64, 14);
  // 16: this disk, 20: disk where the central directory starts: 0
  end64.writeBigUInt64LE(BigInt(count), 24);
  end64.writeBigUInt64LE(BigInt(count), 32);
  end64.writeBigUInt64LE(BigInt(cdSize), 40);
  end64.writeBigUInt64LE(BigInt(cdOffset), 48);
  end64.writeUInt32LE(SIG_LOCATOR, END64_FIXED);
  // +4: disk holding the ZIP64 end record: 0
  end64.writeBigUInt64LE(BigInt(end64Offset), END64_FIXED + 8);
  end64.writeUInt32LE(1, END64_FIXED + 16);
  return { bytes: Buffer.concat([end64, end]), zip64 };
}

/**
 * Checks the data written for an entry against its header: `written` data
 * bytes, their crc32 (`crc`, stored entries) and what the compressor saw.
 */
function checkEntry(info: ZipEntryInfo, written: number, crc: number | undefined, check: ZipEntryCheck): void {
  const wrong = (what: string, said: number, got: number): BackupError => mismatch(info.name, `its header says ${what} ${said}, the data has ${got}`);
  if (info.method === 0 && written !== info.size) throw wrong('size', info.size, written);
  if (crc !== undefined && crc !== info.crc32) throw wrong('crc32', info.crc32, crc);
  if (info.compressedSize !== undefined && written !== info.compressedSize) throw wrong('compressed size', info.compressedSize, written);
  if (check.size !== undefined && check.size !== info.size) throw wrong('size', info.size, check.size);
  if (check.crc32 !== undefined && check.crc32 >>> 0 !== info.crc32) throw wrong('crc32', info.crc32, check.crc32 >>> 0);
  if (check.compressedSize !== undefined && check.compressedSize !== written) throw wrong('compressed size', written, check.compressedSize);
}

/** A data/header disagreement: the source changed between the pass that declared it and the one that wrote it. */
function mismatch(name: string, detail: string): BackupError {
  const base = sourceChanged(name);
  return new BackupError(base.code, base.message, base.hint, { cause: new Error(`${name}: ${detail}`), params: { ...base.params, detail } });
}

/** The gathering sink's block, by default (packs use it). */
export const GATHER_BLOCK = 256 * 1024;
/** The shortest chunk the sink passes on as it is, for a block of `size`: a quarter. */
const passedOnFrom = (size: number): number => size / 4;
/**
 * With the default block, a chunk shorter than this is copied into the block
 * before the sink's call returns: its source may be reused or freed at once
 * (hashPass.ts releases the worker threads' batch buffers on this).
 */
export const COPIED_BELOW = passedOnFrom(GATHER_BLOCK);

/**
 * A sink that gathers small chunks into blocks of `size` bytes before they go
 * to `out`: a pack of small files is three chunks per entry (header, data,
 * descriptor), and a stream write each cost more than the entry's own work.
 * Chunks of a quarter block or more pass straight through. `flush` before
 * ending `out`.
 */
export function gatheringSink(out: Writable, signal?: AbortSignal, size = GATHER_BLOCK): { sink: ZipSink; flush(): Promise<void> } {
  const write = writableSink(out, signal);
  let block = Buffer.allocUnsafe(size);
  let used = 0;
  const flush = async (): Promise<void> => {
    if (used === 0) return;
    const full = block.subarray(0, used);
    block = Buffer.allocUnsafe(size);
    used = 0;
    await write(full);
  };
  const keep = (chunk: Buffer): void => {
    chunk.copy(block, used);
    used += chunk.length;
  };
  const sink: ZipSink = (chunk) => {
    if (chunk.length >= passedOnFrom(size)) return flush().then(() => write(chunk));
    if (used + chunk.length > size) return flush().then(() => keep(chunk));
    // The common case, a small chunk that fits: copied, nothing to wait for.
    keep(chunk);
  };
  return { sink, flush };
}

function writableSink(out: Writable, signal: AbortSignal | undefined): ZipSink {
  const closed = (): Error => out.errored ?? new Error('the zip output was closed before the archive was complete');
  return async (chunk) => {
    if (out.destroyed || out.writableEnded) throw closed();
    if (out.write(chunk)) return;
    await new Promise<void>((resolve, reject) => {
      const settle = (err?: Error): void => {
        out.off('drain', onDrain);
        out.off('error', settle);
        out.off('close', onClose);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = (): void => settle();
      const onClose = (): void => settle(closed());
      const onAbort = (): void => settle(new CancelledError(signal?.reason));
      out.on('drain', onDrain);
      out.on('error', settle);
      out.on('close', onClose);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  };
}

/**
 * The central directory as it grows: records copied into blocks (4 KiB at
 * first, doubling up to CENTRAL_BATCH), not a Buffer per entry kept until the
 * end (20,000 small objects per pack that outlived every young-generation
 * collection).
 */
class CentralDirectory {
  private blocks: Buffer[] = [];
  private block = Buffer.allocUnsafe(4096);
  private used = 0;
  count = 0;

  add(record: Buffer): void {
    if (this.used + record.length > this.block.length) {
      this.blocks.push(this.block.subarray(0, this.used));
      this.block = Buffer.allocUnsafe(Math.max(record.length, Math.min(2 * this.block.length, CENTRAL_BATCH)));
      this.used = 0;
    }
    this.used += record.copy(this.block, this.used);
    this.count++;
  }

  /** The blocks, in order; the directory holds nothing after. */
  take(): Buffer[] {
    const all = [...this.blocks, this.block.subarray(0, this.used)].filter((b) => b.length > 0);
    this.blocks = [];
    this.block = Buffer.alloc(0);
    this.used = 0;
    return all;
  }
}

interface OpenEntry {
  plan: EntryPlan;
  offset: number;
  version: number;
  written: number;
  crc: number;
}

/**
 * Writes one ZIP archive, entry by entry, into a Writable (waiting for
 * 'drain': back-pressure) or an async sink. Never holds an entry's data:
 * chunks pass straight through (do not modify a chunk once handed over).
 * Calls are sequential: await each before the next.
 *
 * Data that disagrees with its header throws BackupError 'SourceChanged': a
 * chunk past the declared size before it is written, a short entry or a
 * wrong CRC in endEntry(), before the data descriptor and central record.
 * The writer then refuses every later call: the output never gets its
 * central directory, so no tool takes it for a whole archive.
 * The caller discards it (and ends or destroys the Writable, which the
 * writer never does).
 */
export class ZipWriter {
  private readonly sink: ZipSink;
  private readonly signal?: AbortSignal;
  private offset = 0;
  private readonly central = new CentralDirectory();
  private readonly names = new Set<string>();
  private current?: OpenEntry;
  private zip64 = false;
  private busy = false;
  private finished = false;
  private broken?: unknown;

  constructor(out: Writable | ZipSink, o: { signal?: AbortSignal } = {}) {
    this.signal = o.signal;
    this.sink = typeof out === 'function' ? out : writableSink(out, o.signal);
  }

  /** Whether an entry of this name is in the archive already. */
  has(name: string): boolean {
    return this.names.has(name);
  }

  /** Entries begun so far. */
  get entryCount(): number {
    return this.names.size;
  }

  /** Bytes handed to the output so far: the offset of whatever comes next. */
  get bytesWritten(): number {
    return this.offset;
  }

  /** Writes the local header of `e`; returns where it starts and how long it is. */
  async beginEntry(e: ZipEntryInfo): Promise<ZipEntryPosition> {
    this.ready();
    if (this.current) throw new Error('ZipWriter: endEntry() the previous entry first');
    const plan = planEntry(e);
    if (this.names.has(plan.info.name)) throw new TypeError(`zip entry ${JSON.stringify(plan.info.name)} is already in the archive`);
    return this.run(async () => {
      const offset = this.offset;
      const version = versionNeeded(plan, offset);
      const header = localHeader(plan, version);
      this.names.add(plan.info.name);
      this.current = { plan, offset, version, written: 0, crc: 0 };
      this.zip64 ||= version === NEEDS_ZIP64;
      await this.push(header);
      return { offset, headerLength: header.length };
    });
  }

  /** Writes entry data: the content when stored, the raw deflate stream when deflated. */
  async write(chunk: Buffer): Promise<void> {
    this.ready();
    const c = this.current;
    if (!c) throw new Error('ZipWriter: write() outside an entry');
    return this.run(async () => {
      if (chunk.length === 0) return;
      const { info, limit } = c.plan;
      if (c.written + chunk.length > limit) {
        const said = info.method === 8 && info.compressedSize === undefined ? 'more than a header without ZIP64 can describe' : `more than the ${limit} bytes its header says`;
        throw mismatch(info.name, `${c.written + chunk.length} bytes of data, ${said}`);
      }
      if (info.method === 0) c.crc = zlib.crc32(chunk, c.crc);
      c.written += chunk.length;
      await this.push(chunk);
    });
  }

  /**
   * Ends the entry: checks what was written against its header (for a
   * deflated entry, `check.size` and `check.crc32` say what the compressor
   * read, which only it knows), then writes the data descriptor if one is due.
   */
  async endEntry(check: ZipEntryCheck = {}): Promise<void> {
    this.ready();
    const c = this.current;
    if (!c) throw new Error('ZipWriter: endEntry() outside an entry');
    const { info, descriptor, zip64Sizes } = c.plan;
    if (info.method === 8 && (check.size === undefined || check.crc32 === undefined)) {
      throw new TypeError(`zip entry ${JSON.stringify(info.name)}: endEntry() of a deflated entry needs the size and crc32 the compressor read`);
    }
    return this.run(async () => {
      const compressed = c.written;
      checkEntry(info, compressed, info.method === 0 ? c.crc >>> 0 : undefined, check);
      const { record, zip64 } = centralRecord(c.plan, c.version, c.offset, compressed);
      this.zip64 ||= zip64;
      this.current = undefined;
      if (descriptor) await this.push(dataDescriptor(info.crc32, compressed, info.size, zip64Sizes));
      this.central.add(record);
    });
  }

  /**
   * Writes a whole entry whose data is in memory already (a small file the
   * hash pass read and compressed): its header, the data and its central
   * record in one call: the bytes beginEntry (given the compressed size),
   * write and endEntry would write. `check` as for endEntry; every check is
   * made before any byte goes out.
   */
  async addEntry(e: ZipEntryInfo, data: readonly Buffer[], check: ZipEntryCheck = {}): Promise<ZipEntryPosition> {
    this.ready();
    if (this.current) throw new Error('ZipWriter: endEntry() the previous entry first');
    const written = data.reduce((n, c) => n + c.length, 0);
    // The sizes go in the local header: no data descriptor.
    const plan = planEntry(e.method === 8 && e.compressedSize === undefined ? { ...e, compressedSize: written } : e);
    const { info } = plan;
    if (this.names.has(info.name)) throw new TypeError(`zip entry ${JSON.stringify(info.name)} is already in the archive`);
    if (info.method === 8 && (check.size === undefined || check.crc32 === undefined)) {
      throw new TypeError(`zip entry ${JSON.stringify(info.name)}: a deflated entry needs the size and crc32 the compressor read`);
    }
    return this.run(async () => {
      if (written > plan.limit) throw mismatch(info.name, `${written} bytes of data, more than the ${plan.limit} bytes its header says`);
      const crc = info.method === 0 ? data.reduce((c, chunk) => zlib.crc32(chunk, c), 0) >>> 0 : undefined;
      checkEntry(info, written, crc, check);
      const offset = this.offset;
      const version = versionNeeded(plan, offset);
      const header = localHeader(plan, version);
      const { record, zip64 } = centralRecord(plan, version, offset, written);
      this.names.add(info.name);
      this.zip64 ||= version === NEEDS_ZIP64 || zip64;
      let wait = this.push(header);
      if (wait) await wait;
      for (const chunk of data) {
        if (chunk.length === 0) continue;
        wait = this.push(chunk);
        if (wait) await wait;
      }
      this.central.add(record);
      return { offset, headerLength: header.length };
    });
  }

  /**
   * Writes the central directory and the end records (ZIP64 ones only when
   * 65,535 entries or more, or an offset or size past 4 GiB, need them).
   * Does not end the output.
   */
  async finish(): Promise<ZipFinish> {
    this.ready();
    if (this.current) throw new Error('ZipWriter: endEntry() the last entry before finish()');
    return this.run(async () => {
      const cdOffset = this.offset;
      for (const block of this.central.take()) await this.push(block);
      const end = endRecords(this.central.count, this.offset - cdOffset, cdOffset, this.offset);
      await this.push(end.bytes);
      this.finished = true;
      return { centralDirectoryOffset: cdOffset, bytes: this.offset, zip64: this.zip64 || end.zip64 };
    });
  }

  private ready(): void {
    if (this.broken !== undefined) throw new Error('ZipWriter: an earlier call failed; the archive is incomplete', { cause: this.broken });
    if (this.finished) throw new Error('ZipWriter: the archive is already finished');
    if (this.busy) throw new Error('ZipWriter: calls overlap; await each one');
    if (this.signal?.aborted) {
      this.broken = new CancelledError(this.signal.reason);
      throw this.broken;
    }
  }

  /** Runs one step that writes; any failure leaves the archive incomplete for good. */
  private async run<T>(step: () => Promise<T>): Promise<T> {
    this.busy = true;
    try {
      return await step();
    } catch (e) {
      this.broken = e;
      throw e;
    } finally {
      this.busy = false;
    }
  }

  /** Hands `chunk` on; a promise only when the sink makes the writer wait. */
  private push(chunk: Buffer): Promise<void> | void {
    this.offset += chunk.length;
    return this.sink(chunk);
  }
}
