// Worker thread of the restore: a small entry costs one message instead of a
// thread-pool round trip for the inflate and four for the file (open, write,
// utimes, close). The entry is inflated and checked (size, crc32, sha256)
// before its file is created. No fsync: like restic and git, durability is
// left to the file system; the restore's rename is atomic either way.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as zlib from 'zlib';
import { openChunks } from '../format/sealedChunks';
import { wholeBufferInflate } from '../util/deflateWindow';
import { BackupError } from '../util/engineErrors';
import type { CheckFailure, DecryptReply, DecryptRequest, EntryBatchItem, EntryBatchReply, EntryBatchRequest, EntryReply, EntryRequest, Transferring } from './messages';
import { serve } from './serve';

function check(m: EntryRequest): Buffer | CheckFailure {
  let data: Buffer;
  if (m.method === 8) {
    try {
      data = zlib.inflateRawSync(m.raw, wholeBufferInflate(m.size));
    } catch (e) {
      if ((e as NodeJS.ErrnoException)?.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) return { check: 'big' };
      return { check: 'damaged', message: String((e as Error)?.message) };
    }
  } else {
    data = Buffer.from(m.raw.buffer, m.raw.byteOffset, m.raw.byteLength);
  }
  if (data.length > m.size) return { check: 'big' };
  if (data.length < m.size) return { check: 'small' };
  if (zlib.crc32(data) >>> 0 !== m.crc32) return { check: 'crc32' };
  if (createHash('sha256').update(data).digest('hex') !== m.sha256) return { check: 'sha256' };
  return data;
}

function handle(m: EntryRequest): EntryReply {
  const data = check(m);
  if (!Buffer.isBuffer(data)) return data;
  if (m.dest === undefined) return undefined;
  const fd = fs.openSync(m.dest, 'wx', m.mode);
  try {
    let off = 0;
    while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
    if (m.chmod && m.mode !== undefined) fs.fchmodSync(fd, m.mode);
    if (m.mtime !== undefined) fs.futimesSync(fd, m.mtime, m.mtime);
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      // the write error is the one to report
    }
    throw e;
  }
  fs.closeSync(fd);
  return undefined;
}

/** Each entry in turn; a file's error is its item's, the others go on (the caller stops at the first). */
function handleBatch(m: EntryBatchRequest): EntryBatchReply {
  return m.batch.map((e): EntryBatchItem => {
    try {
      return handle(e);
    } catch (err) {
      const x = err as NodeJS.ErrnoException;
      return { error: { message: String(x?.message), code: x?.code, syscall: x?.syscall, path: x?.path } };
    }
  });
}

/** Opens sealed chunks here, off the caller's thread (AES-GCM of a restore's packs: ~3 ms per MiB on a small VM). */
function handleDecrypt({ decrypt: d }: DecryptRequest): Transferring<DecryptReply> {
  try {
    const plain = openChunks({ key: d.key, header: d.header, name: d.name }, d.firstChunk, Buffer.from(d.stored.buffer, d.stored.byteOffset, d.stored.byteLength), d.requested);
    return { reply: { plain }, transfer: [plain.buffer as ArrayBuffer] };
  } catch (e) {
    if (e instanceof BackupError && e.code === 'Unauthentic') return { reply: { refused: String(e.params.detail ?? '') }, transfer: [] };
    throw e;
  }
}

serve((m: EntryRequest | EntryBatchRequest | DecryptRequest) => ('decrypt' in m ? handleDecrypt(m) : 'batch' in m ? handleBatch(m) : handle(m)));
