import type { ZlibOptions } from 'zlib';

/**
 * zlib options for deflating one whole buffer of `size` bytes:
 * - the window no bigger than the input. The output is the same (no match
 *   can reach further back than the input's start) and any inflater reads
 *   it, but zlib sets up and clears a 1 KiB window instead of 32 KiB for
 *   each small file: ~8% of the CPU a small file's deflate takes. Raw
 *   deflate needs 9 bits at least.
 * - an output buffer of the size the output can reach: Node's default is
 *   16 KiB per call whatever the input, a 16 KiB allocation and 15 KiB of
 *   garbage for each 1 KiB file (a thousand files' worth waited for the
 *   worker's next collection: tens of MiB), and a 1 MiB input's output came
 *   in 64 pieces to concatenate. A bigger output only costs a second piece.
 */
export function wholeBufferDeflate(level: number, size: number): ZlibOptions {
  return {
    level,
    windowBits: Math.max(9, Math.min(15, Math.ceil(Math.log2(Math.max(size, 1))))),
    // zlib's deflateBound() for stored blocks, plus room for the final block; at least zlib's minimum chunk.
    chunkSize: Math.max(64, size + (size >> 12) + (size >> 14) + 16),
  };
}

// The most an inflate sets aside before any output is seen: `size` comes
// from the bucket, and a hostile one may claim gigabytes.
const INFLATE_CHUNK_MAX = 1024 * 1024;

/**
 * zlib options for inflating one whole entry that must hold `size` bytes:
 * the output in one buffer of the room the check needs (a byte more tells an
 * entry that inflates to more than its header says; zlib then throws),
 * instead of Node's 16 KiB per call (see above); pieces of 1 MiB beyond that.
 */
export function wholeBufferInflate(size: number): ZlibOptions {
  return { maxOutputLength: size + 1, chunkSize: Math.max(64, Math.min(size + 1, INFLATE_CHUNK_MAX)) };
}
