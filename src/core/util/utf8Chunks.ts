// Long JSON texts (a manifest, an undo record) leave this process as bytes:
// encoding each small piece straight into a buffer of bytes keeps big strings
// from being made at all. A string past 128 KiB is born in V8's old
// generation and only a full collection frees it; the 1 MiB texts a 100,000
// file restore wrote its undo record with (twice) were what raised its heap,
// and its peak RSS, at the very end.

/** Most UTF-8 bytes one UTF-16 code unit can take (a surrogate pair, two units, takes four). */
const MAX_BYTES_PER_UNIT = 3;

/**
 * The bytes of `pieces` (UTF-8, in order), in chunks of at most `size` bytes
 * each (a piece that alone could exceed `size` is a chunk of its own). With
 * `reuse: n`, the chunks are views of n buffers taken in turn: the caller
 * must be done with a chunk before it asks for the n-th one after it (with
 * `reuse: 1`, before it asks for the next). Pieces of a few KiB to a few
 * dozen KiB suit it; a piece is never split.
 */
export function* utf8Chunks(pieces: Iterable<string>, size: number, o: { reuse?: number } = {}): Generator<Buffer> {
  const ring: Buffer[] = [];
  let turn = 0;
  let buf: Buffer | undefined;
  let at = 0;
  const next = (): Buffer => {
    if (!o.reuse) return Buffer.allocUnsafeSlow(size);
    const k = turn++ % o.reuse;
    return (ring[k] ??= Buffer.allocUnsafeSlow(size));
  };
  for (const piece of pieces) {
    const most = piece.length * MAX_BYTES_PER_UNIT;
    if (buf && at > 0 && most > size - at) {
      yield buf.subarray(0, at);
      buf = undefined;
      at = 0;
    }
    if (most > size) {
      yield Buffer.from(piece, 'utf8');
      continue;
    }
    buf ??= next();
    at += buf.write(piece, at, 'utf8');
  }
  if (buf && at > 0) yield buf.subarray(0, at);
}
