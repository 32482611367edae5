// Worker thread of the backup: reads a small file whole with synchronous
// calls and hashes it (one message instead of three thread-pool round trips:
// open, read, close, plus the hashing on the caller's thread); deflates a
// buffer (one message instead of a zlib stream per file); or does both for a
// batch of small files at once (one message for many files).
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as zlib from 'zlib';
import { wholeBufferDeflate } from '../util/deflateWindow';
import { methodOfContent } from '../util/methodChoice';
import { toWorkerError } from '../util/workerError';
import {
  READ_BIG,
  READ_FAILED,
  READ_KEEP,
  READ_MAY_DEFLATE,
  putStat,
  statColumns,
  type DeflateReply,
  type FileWorkerRequest,
  type ReadBatchReply,
  type ReadBatchRequest,
  type ReadReply,
  type StatBatchReply,
  type StatBatchRequest,
  type Transferring,
} from './messages';
import { serve } from './serve';

// Files up to this size are deflated without measuring a sample's entropy
// first: the deflate costs little more than the measure, and its output says
// whether it paid.
const TRY_DEFLATE = 4096;

const EMPTY = new Uint8Array(0);
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
  const n = m.paths.length;
  const r: ReadBatchReply = {
    size: new Float64Array(n),
    crc32: new Uint32Array(n),
    method: new Uint8Array(n),
    sha256: new Uint8Array(32 * n),
    offset: new Float64Array(n).fill(-1),
    length: new Float64Array(n).fill(-1),
    data: EMPTY,
    errors: [],
  };
  const kept: Uint8Array[] = [];
  let total = 0;
  for (let k = 0; k < n; k++) {
    let got: number;
    try {
      got = readInto(m.paths[k], m.flags, m.max);
    } catch (e) {
      r.size[k] = READ_FAILED;
      r.errors.push({ index: k, ...toWorkerError(e) });
      continue;
    }
    r.size[k] = got < 0 ? READ_BIG : got;
    if (got < 0) continue;
    const raw = buf!.subarray(0, got);
    r.sha256.set(createHash('sha256').update(raw).digest(), 32 * k);
    r.crc32[k] = zlib.crc32(raw) >>> 0;
    const mayDeflate = (m.opts[k] & READ_MAY_DEFLATE) !== 0;
    if ((m.opts[k] & READ_KEEP) === 0) {
      r.method[k] = mayDeflate && methodOfContent(raw) === 'deflate' ? 8 : 0;
      continue;
    }
    let packed: Uint8Array = raw;
    if (mayDeflate && got > 0 && (got <= TRY_DEFLATE || methodOfContent(raw) === 'deflate')) {
      const d = zlib.deflateRawSync(raw, wholeBufferDeflate(m.level, raw.length));
      // A tiny file is deflated without sampling it first; kept only where it saves a byte.
      if (got > TRY_DEFLATE || d.length < got) {
        r.method[k] = 8;
        packed = d;
      }
    }
    // The read buffer is reused: a stored file's bytes are copied before the next read.
    kept.push(packed === raw ? Buffer.from(raw) : packed);
    r.offset[k] = total;
    r.length[k] = packed.length;
    total += packed.length;
  }
  // One buffer of its own (never a view of a shared pool: it moves to the caller).
  r.data = new Uint8Array(total);
  let at = 0;
  for (const c of kept) {
    r.data.set(c, at);
    at += c.length;
  }
  return { reply: r, transfer: [r.data.buffer, r.size.buffer, r.crc32.buffer, r.method.buffer, r.sha256.buffer, r.offset.buffer, r.length.buffer] as ArrayBuffer[] };
}

function deflate(data: Uint8Array, level: number): Transferring<DeflateReply> {
  // A copy: the output may be a view of a buffer other code shares.
  const out = new Uint8Array(zlib.deflateRawSync(data, wholeBufferDeflate(level, data.length)));
  return { reply: out, transfer: [out.buffer] };
}

function statBatch(m: StatBatchRequest): Transferring<StatBatchReply> {
  const paths = m.paths.split('\0');
  const r = statColumns(paths.length);
  for (let k = 0; k < paths.length; k++) {
    try {
      const st = fs.lstatSync(paths[k]);
      if (m.access) fs.accessSync(paths[k], fs.constants.R_OK);
      putStat(r, k, st);
    } catch (e) {
      putStat(r, k, undefined, e);
    }
  }
  return { reply: r, transfer: [r.type.buffer, r.size.buffer, r.mtimeMs.buffer, r.mode.buffer, r.ino.buffer, r.ctimeMs.buffer] as ArrayBuffer[] };
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
