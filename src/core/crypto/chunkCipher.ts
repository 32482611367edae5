// Chunked AES-256-GCM for the objects of an encrypted repository (manifests
// and packs). The plaintext is cut into fixed 64 KiB chunks, each sealed on
// its own, so a restore streams and a ranged GET of one pack entry decrypts
// just the chunks that hold it. Each object has a random salt in its header;
// its key is derived from the repository's data key, that salt and the
// object's name (relative to the root path), so a chunk moved to another
// object does not open. Each chunk's nonce is its index plus a final-chunk
// flag (the STREAM construction), so chunks reordered, dropped or cut off at
// the end are found too. The header is every chunk's additional data.
//
//   header  48 bytes: "S3BENC" 0 <version 1> <chunk shift 16> 7 x 0 <key id 16> <salt 16>
//   chunks  n x (ciphertext up to 64 KiB, tag 16); the last one has the flag, n >= 1
import { createCipheriv, hkdfSync, randomBytes } from 'crypto';
import { Transform, type TransformCallback } from 'stream';
import { CHUNK, CHUNK_SHIFT, ChunkOpener, nonce, openChunks, SEALED, TAG, unauthentic, type ChunkOpening } from '../format/sealedChunks';

export { CHUNK, openChunks, unauthentic, type ChunkOpening } from '../format/sealedChunks';

const MAGIC = Buffer.from('S3BENC\0', 'latin1');
const VERSION = 1;
export const HEADER_LENGTH = 48;

/** The repository's data key and its id; one per root path (see repoKey.ts). */
export interface DataKey {
  id: Buffer;
  key: Buffer;
}

/** The data keys a passphrase opens (normally one): `current` encrypts, any of them decrypts. */
export interface KeyRing {
  current: DataKey;
  all: readonly DataKey[];
}

/** Whether stored bytes begin like an encrypted object of ours. */
export function isEncrypted(head: Buffer): boolean {
  return head.length >= MAGIC.length && head.subarray(0, MAGIC.length).equals(MAGIC);
}

/** The size of the stored object for `plainSize` bytes of plaintext. */
export function sealedSize(plainSize: number): number {
  const chunks = Math.max(1, Math.ceil(plainSize / CHUNK));
  return HEADER_LENGTH + plainSize + chunks * TAG;
}

/** The stored byte range (inclusive) that holds plaintext bytes `start..end` (inclusive). */
export function sealedRange(start: number, end: number): { start: number; end: number; firstChunk: number } {
  const first = Math.floor(start / CHUNK);
  const last = Math.floor(end / CHUNK);
  return { start: HEADER_LENGTH + first * SEALED, end: HEADER_LENGTH + (last + 1) * SEALED - 1, firstChunk: first };
}

/** The header of a stored object; checked against the data key. */
interface Header {
  bytes: Buffer;
  salt: Buffer;
}

function makeHeader(dk: DataKey): Header {
  const bytes = Buffer.alloc(HEADER_LENGTH);
  MAGIC.copy(bytes, 0);
  bytes[7] = VERSION;
  bytes[8] = CHUNK_SHIFT;
  dk.id.copy(bytes, 16);
  const salt = randomBytes(16);
  salt.copy(bytes, 32);
  return { bytes, salt };
}

interface OpenHeader extends Header {
  dk: DataKey;
}

function readHeader(keys: KeyRing, name: string, bytes: Buffer): OpenHeader {
  if (bytes.length < HEADER_LENGTH || !isEncrypted(bytes)) throw unauthentic(name, 'not encrypted');
  if (bytes[7] !== VERSION || bytes[8] !== CHUNK_SHIFT || bytes.subarray(9, 16).some((b) => b !== 0)) throw unauthentic(name, 'unknown version');
  const id = bytes.subarray(16, 32);
  const dk = keys.all.find((k) => k.id.equals(id));
  if (!dk) throw unauthentic(name, 'other key');
  return { bytes: Buffer.from(bytes.subarray(0, HEADER_LENGTH)), salt: Buffer.from(bytes.subarray(32, 48)), dk };
}

function objectKey(dk: DataKey, name: string, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', dk.key, salt, Buffer.from(`s3-backup object v1\0${name}`, 'utf8'), 32));
}

function seal(key: Buffer, header: Buffer, index: number, final: boolean, plain: Buffer): Buffer {
  const c = createCipheriv('aes-256-gcm', key, nonce(index, final));
  c.setAAD(header);
  const body = c.update(plain);
  c.final();
  return Buffer.concat([body, c.getAuthTag()]);
}

/** Encrypts a whole object (a manifest) for the name it will have under the root path. */
export function encryptBuffer(dk: DataKey, name: string, plain: Buffer): Buffer {
  const h = makeHeader(dk);
  const key = objectKey(dk, name, h.salt);
  const parts = [h.bytes];
  const chunks = Math.max(1, Math.ceil(plain.length / CHUNK));
  for (let i = 0; i < chunks; i++) parts.push(seal(key, h.bytes, i, i === chunks - 1, plain.subarray(i * CHUNK, (i + 1) * CHUNK)));
  return Buffer.concat(parts);
}

/** Decrypts a whole stored object; anything missing, moved or changed is 'Unauthentic'. */
export function decryptBuffer(keys: KeyRing, name: string, stored: Buffer): Buffer {
  const h = readHeader(keys, name, stored);
  const opener = new ChunkOpener(objectKey(h.dk, name, h.salt), h.bytes, name, 0);
  const out = opener.push(stored.subarray(HEADER_LENGTH), true);
  return Buffer.concat(out);
}

/** A Transform that encrypts a stream (a pack being uploaded) for the name it will have. */
export function encryptStream(dk: DataKey, name: string): Transform {
  const h = makeHeader(dk);
  const key = objectKey(dk, name, h.salt);
  let index = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const take = (n: number): Buffer => {
    const all = pending.length === 1 ? pending[0] : Buffer.concat(pending);
    pending = all.length > n ? [all.subarray(n)] : [];
    pendingBytes = all.length - n;
    return all.subarray(0, n);
  };
  let started = false;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (!started) {
        this.push(h.bytes);
        started = true;
      }
      pending.push(chunk);
      pendingBytes += chunk.length;
      // The last chunk is held back until the end is known: it carries the final flag.
      while (pendingBytes > CHUNK) this.push(seal(key, h.bytes, index++, false, take(CHUNK)));
      cb();
    },
    flush(cb: TransformCallback) {
      if (!started) this.push(h.bytes);
      this.push(seal(key, h.bytes, index++, true, take(pendingBytes)));
      cb();
    },
  });
}

/**
 * Decrypts stored bytes that begin at chunk `firstChunk` (a ranged GET from
 * `sealedRange` asking for `requestedChunks` chunks), given the object's
 * header. Fewer chunks than asked for means the object ends there, so the
 * last one must be the final chunk (otherwise it was cut off).
 */
export function decryptChunks(keys: KeyRing, name: string, header: Buffer, firstChunk: number, stored: Buffer, requestedChunks: number): Buffer {
  return openChunks(chunkOpening(keys, name, header), firstChunk, stored, requestedChunks);
}

/** Checks an object's header against the key ring; 'Unauthentic' when it was not sealed with one of its keys. */
export function chunkOpening(keys: KeyRing, name: string, header: Buffer): ChunkOpening {
  const h = readHeader(keys, name, header);
  return { key: objectKey(h.dk, name, h.salt), header: h.bytes, name };
}


/** Pushes what `f` opens, or fails the stream with its error. */
function emit(t: Transform, cb: TransformCallback, f: () => Buffer[]): void {
  try {
    for (const p of f()) t.push(p);
    cb();
  } catch (e) {
    cb(e as Error);
  }
}

/** A Transform that decrypts a stream of stored chunks from chunk `firstChunk` on (see `decryptChunks`). */
export function decryptStream(keys: KeyRing, name: string, header: Buffer, firstChunk: number, requestedChunks: number): Transform {
  const h = readHeader(keys, name, header);
  const opener = new ChunkOpener(objectKey(h.dk, name, h.salt), h.bytes, name, firstChunk);
  let received = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      received += chunk.length;
      emit(this, cb, () => opener.push(chunk, false));
    },
    flush(cb: TransformCallback) {
      emit(this, cb, () => opener.push(Buffer.alloc(0), true, Math.ceil(received / SEALED) < requestedChunks));
    },
  });
}

/** A Transform that decrypts a whole stored object from its first byte (the decrypt command, whole packs). */
export function decryptWholeStream(keys: KeyRing, name: string): Transform {
  let head: Buffer = Buffer.alloc(0);
  let opener: ChunkOpener | undefined;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      emit(this, cb, () => {
        if (opener) return opener.push(chunk, false);
        head = Buffer.concat([head, chunk]);
        if (head.length < HEADER_LENGTH) return [];
        const h = readHeader(keys, name, head);
        opener = new ChunkOpener(objectKey(h.dk, name, h.salt), h.bytes, name, 0);
        return opener.push(head.subarray(HEADER_LENGTH), false);
      });
    },
    flush(cb: TransformCallback) {
      emit(this, cb, () => {
        if (!opener) throw unauthentic(name, 'not encrypted');
        return opener.push(Buffer.alloc(0), true);
      });
    },
  });
}
