// The chunk layer of the sealed object format (see crypto/chunkCipher.ts for
// the whole format and why): chunk sizes, nonces, and opening consecutive
// chunks with an object's derived key. Key handling stays in crypto/; this
// part is all a worker thread needs to open chunks (workers/decryptThread.ts).
import { createDecipheriv } from 'crypto';
import { BackupError } from '../util/engineErrors';

export const CHUNK_SHIFT = 16;
/** Plaintext bytes per chunk. */
export const CHUNK = 1 << CHUNK_SHIFT;
export const TAG = 16;
/** Bytes of a stored chunk (all but the last). */
export const SEALED = CHUNK + TAG;

/** A stored object that does not open with the repository's key: planted, changed or damaged. */
export function unauthentic(name: string, detail: string, cause?: unknown): BackupError {
  return new BackupError('Unauthentic', `"${name}" in the bucket was not made with this repository's key, or it was changed since; it was refused.`, 'Do not restore it: restore another backup, and check who can write to the bucket.', {
    cause,
    params: { key: name, detail },
  });
}

/** A chunk's nonce: its index and the final-chunk flag (the STREAM construction). */
export function nonce(index: number, final: boolean): Buffer {
  const n = Buffer.alloc(12);
  n[3] = final ? 1 : 0;
  n.writeBigUInt64BE(BigInt(index), 4);
  return n;
}

/** The plaintext of one stored chunk, or undefined when it does not open with this index and flag. */
function open(key: Buffer, header: Buffer, index: number, final: boolean, sealed: Buffer): Buffer | undefined {
  if (sealed.length < TAG) return undefined;
  const d = createDecipheriv('aes-256-gcm', key, nonce(index, final));
  d.setAAD(header);
  d.setAuthTag(sealed.subarray(sealed.length - TAG));
  const body = d.update(sealed.subarray(0, sealed.length - TAG));
  try {
    d.final();
  } catch {
    return undefined;
  }
  return body;
}

/** What opening an object's chunks takes (its derived key, its header, its name): all a worker thread needs. */
export interface ChunkOpening {
  key: Uint8Array;
  header: Uint8Array;
  name: string;
}

/** decryptChunks past the header check (the part that may run on a worker thread); the plaintext in a buffer of its own. */
export function openChunks(o: ChunkOpening, firstChunk: number, stored: Buffer, requestedChunks: number): Buffer {
  const opener = new ChunkOpener(Buffer.from(o.key), Buffer.from(o.header), o.name, firstChunk);
  const got = Math.ceil(stored.length / SEALED);
  // Fewer chunks than asked for: the object ends here, so the last one read must be final.
  const pieces = opener.push(stored, true, got < requestedChunks);
  // Never from Buffer's shared pool: a worker thread moves this buffer to the caller.
  const plain = Buffer.allocUnsafeSlow(pieces.reduce((n, x) => n + x.length, 0));
  let at = 0;
  for (const x of pieces) {
    plain.set(x, at);
    at += x.length;
  }
  return plain;
}

/**
 * Opens consecutive stored chunks from chunk `first` on. A chunk shorter
 * than a whole one must be the final one; a whole chunk at the end of what
 * was read may be either (tried as not final first). Data after a final
 * chunk, or an end without one when `mustEnd`, is refused.
 */
export class ChunkOpener {
  private pending: Buffer = Buffer.alloc(0);
  private ended = false;

  constructor(
    private readonly key: Buffer,
    private readonly header: Buffer,
    private readonly name: string,
    private index: number,
  ) {}

  /** Plaintext of the chunks complete so far; `last`: no more bytes follow. */
  push(data: Buffer, last: boolean, mustEnd = last): Buffer[] {
    const out: Buffer[] = [];
    this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    // A whole chunk is opened once a byte after it has arrived (then it is not the last one read).
    while (this.pending.length > SEALED || (last && this.pending.length > 0)) {
      if (this.ended) throw unauthentic(this.name, 'data after the final chunk');
      const sealed = this.pending.subarray(0, SEALED);
      this.pending = this.pending.subarray(sealed.length);
      const atEnd = this.pending.length === 0 && last;
      let plain: Buffer | undefined;
      if (sealed.length === SEALED) {
        plain = open(this.key, this.header, this.index, false, sealed);
        if (!plain && atEnd) {
          plain = open(this.key, this.header, this.index, true, sealed);
          if (plain) this.ended = true;
        }
      } else {
        plain = open(this.key, this.header, this.index, true, sealed);
        this.ended = true;
      }
      if (!plain) throw unauthentic(this.name, `chunk ${this.index}`);
      out.push(plain);
      this.index++;
    }
    if (last && mustEnd && !this.ended) throw unauthentic(this.name, this.index === 0 ? 'empty' : 'truncated');
    if (last && !mustEnd && this.index === 0) throw unauthentic(this.name, 'empty');
    return out;
  }

}

