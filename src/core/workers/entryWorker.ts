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
import { toWorkerError } from '../util/workerError';
import { ENTRY_CHMOD, type CheckFailure, type DecryptReply, type DecryptRequest, type EntryBatchReply, type EntryBatchRequest, type EntryReply, type EntryRequest, type RenameBatchReply, type RenameBatchRequest, type Transferring } from './messages';
import { serve } from './serve';

function check(raw: Uint8Array, method: number, size: number, crc32: number, sha256: string): Buffer | CheckFailure {
  let data: Buffer;
  if (method === 8) {
    try {
      data = zlib.inflateRawSync(raw, wholeBufferInflate(size));
    } catch (e) {
      if ((e as NodeJS.ErrnoException)?.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) return { check: 'big' };
      return { check: 'damaged', message: String((e as Error)?.message) };
    }
  } else {
    data = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  }
  if (data.length > size) return { check: 'big' };
  if (data.length < size) return { check: 'small' };
  if (zlib.crc32(data) >>> 0 !== crc32) return { check: 'crc32' };
  if (createHash('sha256').update(data).digest('hex') !== sha256) return { check: 'sha256' };
  return data;
}

/** Creates `dest` (exclusively) holding `data`, with `mode` and, unless NaN or undefined, `mtime`. */
function write(dest: string, data: Buffer, mode: number | undefined, chmod: boolean, mtime: number | undefined): void {
  const fd = fs.openSync(dest, 'wx', mode);
  try {
    let off = 0;
    while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
    if (chmod && mode !== undefined) fs.fchmodSync(fd, mode);
    if (mtime !== undefined && !Number.isNaN(mtime)) fs.futimesSync(fd, mtime, mtime);
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      // the write error is the one to report
    }
    throw e;
  }
  fs.closeSync(fd);
}

function handle(m: EntryRequest): EntryReply {
  const data = check(m.raw, m.method, m.size, m.crc32, m.sha256);
  if (!Buffer.isBuffer(data)) return data;
  if (m.dest !== undefined) write(m.dest, data, m.mode, m.chmod === true, m.mtime);
  return undefined;
}

/** Each entry in turn; a file's error is its item's, the others go on (the caller stops at the first). */
function handleBatch({ batch: b }: EntryBatchRequest): EntryBatchReply {
  const dests = b.dest === '' ? undefined : b.dest.split('\0');
  const bad: EntryBatchReply = [];
  for (let i = 0; i < b.method.length; i++) {
    try {
      const data = check(b.raw.subarray(b.start[i], b.start[i + 1]), b.method[i], b.size[i], b.crc32[i], b.sha256.slice(i * 64, i * 64 + 64));
      if (!Buffer.isBuffer(data)) bad.push({ index: i, check: data });
      else if (dests) write(dests[i], data, b.mode[i], (b.flags[i] & ENTRY_CHMOD) !== 0, b.mtime[i]);
    } catch (err) {
      bad.push({ index: i, error: toWorkerError(err) });
    }
  }
  return bad;
}

/** Renames in order, up to the first failure (restore/renameAll.ts). */
function handleRename({ rename: r }: RenameBatchRequest): RenameBatchReply {
  for (let i = 0; i < r.from.length; i++) {
    try {
      fs.renameSync(r.from[i], r.to[i]);
    } catch (err) {
      return { done: i, error: toWorkerError(err) };
    }
  }
  return { done: r.from.length };
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

serve((m: EntryRequest | EntryBatchRequest | DecryptRequest | RenameBatchRequest) =>
  'decrypt' in m ? handleDecrypt(m) : 'rename' in m ? handleRename(m) : 'batch' in m ? handleBatch(m) : handle(m),
);
