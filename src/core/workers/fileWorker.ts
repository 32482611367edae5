// Worker thread of the backup: reads a small file whole with synchronous
// calls and hashes it (one message instead of three thread-pool round trips:
// open, read, close, plus the hashing on the caller's thread); deflates a
// buffer (one message instead of a zlib stream per file).
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as zlib from 'zlib';
import type { DeflateReply, FileWorkerRequest, ReadReply, Transferring } from './messages';
import { serve } from './serve';

let buf: Buffer | undefined;

function read(path: string, flags: number, max: number): Transferring<ReadReply> | ReadReply {
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
  if (got > max) return { big: true };
  const data = new Uint8Array(got);
  data.set(buf.subarray(0, got));
  return { reply: { data, sha256: createHash('sha256').update(data).digest('hex'), crc32: zlib.crc32(data) >>> 0 }, transfer: [data.buffer] };
}

function deflate(data: Uint8Array, level: number): Transferring<DeflateReply> {
  // A copy: the output may be a view of a buffer other code shares.
  const out = new Uint8Array(zlib.deflateRawSync(data, { level }));
  return { reply: out, transfer: [out.buffer] };
}

serve((m: FileWorkerRequest) => (m.kind === 'deflate' ? deflate(m.data, m.level) : read(m.path, m.flags, m.max)));
