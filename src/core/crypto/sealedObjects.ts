// The store seen through the repository's key: pack readers and writers
// keep working in plaintext offsets (those the manifest records) while the
// bucket holds sealed chunks. A ranged read fetches the chunks that hold the
// range, opens them (each one authenticated) and returns just the bytes
// asked for; an upload is sealed as it streams.
import { Transform, type Readable } from 'stream';
import { backupPrefix } from '../format/backupKeys';
import type { PackSource } from '../archive/packReader';
import type { PackStore } from '../archive/packWriter';
import { BackupError } from '../util/engineErrors';
import { openChunksOffThread } from '../workers/decryptThread';
import { CHUNK, chunkOpening, decryptStream, encryptStream, HEADER_LENGTH, sealedRange, unauthentic, type KeyRing } from './chunkCipher';

/** The name an object is sealed for: its key relative to the root path (the repository may move as a whole). */
export function sealedName(rootPath: string, key: string): string {
  const prefix = backupPrefix(rootPath);
  return key.startsWith(prefix) ? key.slice(prefix.length) : key;
}

/** `src` with every pack opened with `keys`: offsets and lengths are the plaintext's. */
export function openingSource(src: PackSource, rootPath: string, keys: KeyRing): PackSource {
  // Packs are never rewritten; a header read once serves every range of that pack (a replaced pack fails its chunks).
  const headers = new Map<string, Promise<Buffer>>();
  const headerOf = (key: string, signal?: AbortSignal): Promise<Buffer> => {
    let p = headers.get(key);
    if (!p) {
      p = src.getRange(key, 0, HEADER_LENGTH - 1, { signal }).then((h) => {
        if (h.length < HEADER_LENGTH) throw unauthentic(sealedName(rootPath, key), 'not encrypted');
        return h;
      });
      p.catch(() => headers.delete(key));
      headers.set(key, p);
    }
    return p;
  };
  return {
    async getRange(key, start, end, o) {
      const name = sealedName(rootPath, key);
      const header = await headerOf(key, o?.signal);
      const r = sealedRange(start, end);
      const requested = Math.floor(end / CHUNK) - r.firstChunk + 1;
      // Never into the caller's buffer: the sealed range is longer, and its bytes go to the decrypting thread.
      const stored = await src.getRange(key, r.start, r.end, { signal: o?.signal, allowShort: true }).catch(pastTheEnd);
      const plain = await openChunksOffThread(chunkOpening(keys, name, header), r.firstChunk, stored, requested);
      const from = start - r.firstChunk * CHUNK;
      return plain.subarray(from, from + (end - start + 1));
    },
    async getRangeStream(key, start, end, o) {
      const name = sealedName(rootPath, key);
      const header = await headerOf(key, o?.signal);
      const r = sealedRange(start, end);
      const requested = Math.floor(end / CHUNK) - r.firstChunk + 1;
      const body = await src.getRangeStream(key, r.start, r.end, o);
      const opened = body.pipe(decryptStream(keys, name, header, r.firstChunk, requested));
      body.on('error', (e) => opened.destroy(e));
      const sliced = opened.pipe(slice(start - r.firstChunk * CHUNK, end - start + 1));
      opened.on('error', (e) => sliced.destroy(e));
      return sliced;
    },
  };
}

// A range starting past the end of a sealed object (cut short) gets 416 from S3: the object is shorter than its manifest says.
function pastTheEnd(e: unknown): never {
  if (e instanceof BackupError && (e.params.status === 416 || e.params.serverCode === 'InvalidRange')) {
    throw new BackupError('Unauthentic', 'A data file in the bucket is shorter than the backup says; it was cut off or replaced, so it was refused.', 'Do not restore this backup: restore another one, and check who can write to the bucket.', {
      cause: e,
      params: { detail: 'truncated' },
    });
  }
  throw e;
}

/** Passes bytes `skip .. skip + length - 1` of a stream. */
function slice(skip: number, length: number): Transform {
  let pos = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const from = Math.max(0, skip - pos);
      const to = Math.min(chunk.length, skip + length - pos);
      pos += chunk.length;
      cb(null, to > from ? chunk.subarray(from, to) : undefined);
    },
  });
}

/** `store` with every upload sealed with the repository's current key for its name. */
export function sealingStore(store: PackStore, rootPath: string, keys: KeyRing): PackStore {
  return {
    upload(key: string, body: Readable, o) {
      const sealed = body.pipe(encryptStream(keys.current, sealedName(rootPath, key)));
      body.on('error', (e) => sealed.destroy(e));
      return store.upload(key, sealed, { ...o, contentType: 'application/octet-stream' });
    },
    delete: (key, o) => store.delete(key, o),
  };
}
