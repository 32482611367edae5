import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Readable, Writable } from 'stream';
import { pipeline } from 'stream/promises';
import { promisify } from 'util';
import * as zlib from 'zlib';
import { BackupError, CancelledError, throwIfAborted } from '../util/engineErrors';
import { printable } from '../format/manifest';
import type { WorkerPool } from '../util/workerPool';
import { wholeBufferInflate } from '../util/deflateWindow';
import type { CheckFailure, EntryReply, EntryRequest } from '../workers/messages';
import { checkFailure, integrity, unsafe } from './readerErrors';

/** One file entry of an opened archive, as its central directory describes it. */
export interface ArchiveEntry {
  name: string;
  method: 0 | 8;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  /** Central directory's name + extra length: the local header usually has the same. */
  headerGuess: number;
}

export const READ_CHUNK = 256 * 1024;
// Entries up to this size (both ways) are read with one call and inflated in one
// thread-pool call: most files of a workspace, at a fraction of a stream's cost.
const ONE_SHOT = 4 * 1024 * 1024;
const inflateRaw = promisify(zlib.inflateRaw) as (b: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>;

/**
 * Streams one entry's content into `sink`, checking on the way that it never
 * exceeds the declared size, and at the end its size, crc32 and (when given)
 * sha256. Throws 'Integrity' naming the entry.
 */
export async function readEntryData(
  fh: fs.promises.FileHandle,
  fileSize: number,
  entry: ArchiveEntry,
  limit: number,
  sink: (chunk: Buffer) => void | Promise<void>,
  signal?: AbortSignal,
  sha256?: string,
  pre?: Buffer,
  offload?: Offload,
): Promise<void> {
  const name = printable(entry.name);
  const small = entry.size <= ONE_SHOT && entry.compressedSize <= ONE_SHOT;
  let first: Buffer;
  let bytesRead: number;
  if (pre) {
    first = pre;
    bytesRead = pre.length;
  } else {
    // Small entries: header and data in one read, when the local header is as long as the central one says.
    first = Buffer.allocUnsafe(small ? Math.min(entry.headerGuess + entry.compressedSize, Math.max(30, fileSize - entry.localHeaderOffset)) : 30);
    bytesRead = (await fh.read(first, 0, first.length, entry.localHeaderOffset)).bytesRead;
  }
  if (bytesRead < 30 || first.readUInt32LE(0) !== 0x04034b50) {
    throw bytesRead < 30 && entry.localHeaderOffset + 30 > fileSize
      ? integrity(`The backup archive is truncated at "${name}".`, entry.name, 'truncated')
      : integrity(`The backup archive is damaged at "${name}".`, entry.name, 'local header');
  }
  const headerLength = 30 + first.readUInt16LE(26) + first.readUInt16LE(28);
  const dataStart = entry.localHeaderOffset + headerLength;
  if (dataStart + entry.compressedSize > fileSize) throw integrity(`The backup archive is truncated at "${name}".`, entry.name, 'truncated');
  if (dataStart + entry.compressedSize > limit) throw unsafe(`The backup holds "${name}", which overlaps another entry.`, entry.name, 'overlap');

  if (small) {
    let raw: Buffer;
    if (bytesRead >= headerLength + entry.compressedSize) {
      raw = first.subarray(headerLength, headerLength + entry.compressedSize);
    } else {
      raw = Buffer.allocUnsafe(entry.compressedSize);
      let got = 0;
      while (got < raw.length) {
        const r = await fh.read(raw, got, raw.length - got, dataStart + got);
        if (r.bytesRead === 0) throw integrity(`The backup archive is truncated at "${name}".`, entry.name, 'truncated');
        got += r.bytesRead;
      }
    }
    throwIfAborted(signal);
    if (offload) {
      // A worker inflates and checks (and, for a write, creates the file only once all checks passed).
      // No recorded sha256 (never the case for an opened archive) can match nothing: fail closed.
      const bad = await offload(raw, entry, sha256 ?? '');
      if (bad) throw checkFailure(entry, bad);
      return;
    }
    let data: Buffer;
    if (entry.method === 8) {
      try {
        // One byte over the declared size is enough to know it lies.
        data = await inflateRaw(raw, wholeBufferInflate(entry.size));
      } catch (e) {
        const tooBig = (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError;
        throw tooBig
          ? integrity(`"${name}" in the backup is larger than declared.`, entry.name, 'size')
          : integrity(`"${name}" in the backup is damaged.`, entry.name, (e as Error).message, e);
      }
    } else {
      data = raw;
    }
    if (data.length > entry.size) throw integrity(`"${name}" in the backup is larger than declared.`, entry.name, 'size');
    if (data.length < entry.size) throw integrity(`"${name}" in the backup is smaller than declared.`, entry.name, 'size');
    if (zlib.crc32(data) >>> 0 !== entry.crc32) throw integrity(`"${name}" in the backup is damaged (checksum mismatch).`, entry.name, 'crc32');
    if (sha256 !== undefined && createHash('sha256').update(data).digest('hex') !== sha256) {
      throw integrity(`"${name}" in the backup does not match its recorded checksum.`, entry.name, 'sha256');
    }
    await sink(data);
    return;
  }

  const hash = sha256 !== undefined ? createHash('sha256') : undefined;
  let crc = 0;
  let size = 0;
  const check = new Writable({
    highWaterMark: READ_CHUNK,
    write(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > entry.size) {
        cb(integrity(`"${name}" in the backup is larger than declared.`, entry.name, 'size'));
        return;
      }
      hash?.update(chunk);
      crc = zlib.crc32(chunk, crc);
      let r: void | Promise<void>;
      try {
        r = sink(chunk);
      } catch (e) {
        cb(e as Error);
        return;
      }
      if (r) r.then(() => cb(), cb);
      else cb();
    },
  });
  const source = Readable.from(readRange(fh, dataStart, entry.compressedSize, signal), { objectMode: false });
  try {
    if (entry.method === 8) {
      await pipeline(source, zlib.createInflateRaw({ chunkSize: 64 * 1024 }), check, signal ? { signal } : {});
    } else {
      await pipeline(source, check, signal ? { signal } : {});
    }
  } catch (e) {
    if (signal?.aborted) throw new CancelledError(signal.reason);
    if (e instanceof BackupError) throw e;
    throw integrity(`"${name}" in the backup is damaged (${(e as Error).message}).`, entry.name, 'data', e);
  }
  if (size !== entry.size) throw integrity(`"${name}" in the backup is smaller than declared.`, entry.name, 'size');
  if (crc >>> 0 !== entry.crc32) throw integrity(`"${name}" in the backup is damaged (checksum mismatch).`, entry.name, 'crc32');
  if (hash && hash.digest('hex') !== sha256) throw integrity(`"${name}" in the backup does not match its recorded checksum.`, entry.name, 'sha256');
}

export type Offload = (raw: Buffer, entry: ArchiveEntry, sha256: string) => Promise<CheckFailure | undefined>;

async function* readRange(fh: fs.promises.FileHandle, start: number, length: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
  let pos = start;
  const endPos = start + length;
  while (pos < endPos) {
    throwIfAborted(signal);
    const n = Math.min(READ_CHUNK, endPos - pos);
    const buf = Buffer.allocUnsafe(n);
    const { bytesRead } = await fh.read(buf, 0, n, pos);
    if (bytesRead === 0) throw integrity('The backup archive is truncated.', '', 'truncated');
    pos += bytesRead;
    yield bytesRead === n ? buf : buf.subarray(0, bytesRead);
  }
}

export function isSmall(e: ArchiveEntry): boolean {
  return e.size <= ONE_SHOT && e.compressedSize <= ONE_SHOT;
}

/**
 * Checks a small entry's stored bytes on a worker thread; with `file`, then
 * writes it there. A folder's files always go to the same thread: creates are
 * serialised within a folder by the kernel, not across folders.
 */
export function checkOnThread(
  threads: WorkerPool,
  raw: Buffer,
  entry: ArchiveEntry,
  sha256: string,
  file?: { dest: string; mode: number; chmod: boolean; mtime: number | undefined },
): Promise<CheckFailure | undefined> {
  // Transfer a copy: `raw` is a view of the shared read window.
  const own = new Uint8Array(raw);
  const m: EntryRequest = { raw: own, method: entry.method, size: entry.size, crc32: entry.crc32, sha256, ...file };
  return file ? threads.callKeyed<EntryReply>(path.dirname(file.dest), m, [own.buffer]) : threads.call<EntryReply>(m, [own.buffer]);
}
