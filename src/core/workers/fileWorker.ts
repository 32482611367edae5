// Worker thread of the backup: reads a small file whole with synchronous
// calls and hashes it (one message instead of three thread-pool round trips:
// open, read, close, plus the hashing on the caller's thread); deflates a
// buffer (one message instead of a zlib stream per file); or does both for a
// batch of small files at once (one message for many files).
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as zlib from 'zlib';
import { wholeBufferDeflate } from '../util/deflateWindow';
import { methodOfContent, type Method } from '../util/methodChoice';
import type { BatchItem, DeflateReply, FileWorkerRequest, ReadBatchReply, ReadBatchRequest, ReadReply, StatBatchReply, StatBatchRequest, StatItem, Transferring } from './messages';
import { serve } from './serve';

// Files up to this size are deflated without measuring a sample's entropy
// first: the deflate costs little more than the measure, and its output says
// whether it paid.
const TRY_DEFLATE = 4096;

let buf: Buffer | undefined;

/** Reads a file of at most `max` bytes into the shared buffer; -1 when it holds more. */
function readInto(path: string, flags: number, max: number): number {
  // One byte more than the limit tells a file that grew past it.
  if (!buf || buf.length < max + 1) buf = Buffer.allocUnsafeSlow(max + 1);
  const fd = fs.openSync(path, flags);
  let got = 0;
  try {
    for (;;) {
      const want = max + 1 - got;
      const n = fs.readSync(fd, buf, got, want, null);
      got += n;
      // A short read of a regular file is its end: saves one call per file.
      if (n < want || got > max) break;
    }
  } finally {
    fs.closeSync(fd);
  }
  return got > max ? -1 : got;
}

function read(path: string, flags: number, max: number): Transferring<ReadReply> | ReadReply {
  const got = readInto(path, flags, max);
  if (got < 0) return { big: true };
  const data = new Uint8Array(got);
  data.set(buf!.subarray(0, got));
  return { reply: { data, sha256: createHash('sha256').update(data).digest('hex'), crc32: zlib.crc32(data) >>> 0 }, transfer: [data.buffer] };
}

function readBatch(m: ReadBatchRequest): Transferring<ReadBatchReply> {
  const transfer: ArrayBuffer[] = [];
  const items = m.files.map((f): BatchItem => {
    let got: number;
    try {
      got = readInto(f.path, m.flags, m.max);
    } catch (e) {
      const x = e as NodeJS.ErrnoException;
      return { error: { message: String(x?.message), code: x?.code, syscall: x?.syscall, path: x?.path } };
    }
    if (got < 0) return { big: true };
    const raw = buf!.subarray(0, got);
    const sha256 = createHash('sha256').update(raw).digest('hex');
    const crc32 = zlib.crc32(raw) >>> 0;
    if (!f.keep) return { size: got, sha256, crc32, method: f.mayDeflate ? methodOfContent(raw) : 'store' };
    let method: Method = 'store';
    let packed: Uint8Array = raw;
    if (f.mayDeflate && got > 0 && (got <= TRY_DEFLATE || methodOfContent(raw) === 'deflate')) {
      const d = zlib.deflateRawSync(raw, wholeBufferDeflate(m.level, raw.length));
      // A tiny file is deflated without sampling it first; kept only where it saves a byte.
      if (got > TRY_DEFLATE || d.length < got) [method, packed] = ['deflate', d];
    }
    // A copy: the read buffer is reused, and zlib's output may share a pool.
    const data = new Uint8Array(packed);
    transfer.push(data.buffer);
    return { size: got, sha256, crc32, method, data };
  });
  return { reply: items, transfer };
}

function deflate(data: Uint8Array, level: number): Transferring<DeflateReply> {
  // A copy: the output may be a view of a buffer other code shares.
  const out = new Uint8Array(zlib.deflateRawSync(data, wholeBufferDeflate(level, data.length)));
  return { reply: out, transfer: [out.buffer] };
}

function statBatch(m: StatBatchRequest): StatBatchReply {
  return m.paths.map((p): StatItem => {
    try {
      const st = fs.lstatSync(p);
      if (m.access) fs.accessSync(p, fs.constants.R_OK);
      const type = st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : 'other';
      return { type, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode, ino: st.ino, ctimeMs: st.ctimeMs };
    } catch (e) {
      const x = e as NodeJS.ErrnoException;
      return { error: { message: String(x?.message), code: x?.code } };
    }
  });
}

serve((m: FileWorkerRequest) => {
  switch (m.kind) {
    case 'deflate':
      return deflate(m.data, m.level);
    case 'readBatch':
      return readBatch(m);
    case 'statBatch':
      return statBatch(m);
    default:
      return read(m.path, m.flags, m.max);
  }
});
