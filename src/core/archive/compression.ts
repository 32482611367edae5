import * as path from 'path';
import { promisify } from 'util';
import * as zlib from 'zlib';
import type { WorkerPool } from '../util/workerPool';
import type { DeflateReply, DeflateRequest } from '../workers/messages';
import type { Method } from './entries';


// zlib level 4 (lazy matching) is ~1.03x the size of level 6 on source code
// at 60-85% of its CPU: a backup is mostly waiting on compression.
export const DEFAULT_LEVEL = 4;
// Four slices of this size, spread over the first read, make a file's sample.
const SAMPLE_SLICE = 4 * 1024;
// Above this many bits per byte, Huffman coding alone cannot save 5%: the
// data is already compressed (or random) and is stored. Measured on the
// content, not the name, so a .txt of random bytes is stored and a .bin of
// text deflated. A random sample of 16 KiB measures ~7.99, one of 1 KiB ~7.8.
const STORE_ENTROPY = 7.6;

// Formats that are already compressed: stored without even trying a sample.
const COMPRESSED_EXT = new Set(
  (
    'zip gz tgz bz2 tbz2 xz txz zst lz4 lzma 7z rar br jar war apk aar ipa vsix whl nupkg crx xpi ' +
    'docx xlsx pptx odt ods odp epub jpg jpeg png gif webp avif heic heif jxl ' +
    'mp3 mp4 m4a m4v aac mov mkv webm ogg oga ogv opus flac wma wmv avi woff woff2 dmg'
  ).split(' '),
);

const deflateRaw = promisify(zlib.deflateRaw) as (buf: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>;

/** Deflates on a worker thread; `own` buffers (the writer's cache) move there instead of being copied. */
export async function deflateOnThread(threads: WorkerPool, buf: Buffer, level: number, own: boolean): Promise<Buffer> {
  const whole = own && buf.byteOffset === 0 && buf.buffer.byteLength === buf.length && buf.buffer instanceof ArrayBuffer;
  const data = whole ? new Uint8Array(buf.buffer, 0, buf.length) : new Uint8Array(buf);
  const request: DeflateRequest = { kind: 'deflate', data, level };
  const out = await threads.call<DeflateReply>(request, [data.buffer as ArrayBuffer]);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** Deflates on libuv's thread pool (where worker threads are not available). */
export function deflateInPool(buf: Buffer, level: number): Promise<Buffer> {
  return deflateRaw(buf, { level });
}

export /** Up to four slices spread over `chunk` (the first read of a file): headers alone can mislead. */
function sampleOf(chunk: Buffer): Buffer {
  // Always a copy: the read buffer is reused.
  if (chunk.length <= 4 * SAMPLE_SLICE) return Buffer.from(chunk);
  const step = Math.floor((chunk.length - SAMPLE_SLICE) / 3);
  return Buffer.concat([0, 1, 2, 3].map((k) => chunk.subarray(k * step, k * step + SAMPLE_SLICE)));
}

/** Shannon entropy of the bytes, in bits per byte. */
function byteEntropy(b: Uint8Array): number {
  if (b.length === 0) return 0;
  const counts = new Uint32Array(256);
  for (let i = 0; i < b.length; i++) counts[b[i]]++;
  let h = 0;
  for (let i = 0; i < 256; i++) {
    const c = counts[i];
    if (c !== 0) {
      const p = c / b.length;
      h -= p * Math.log2(p);
    }
  }
  return h;
}

/** Store what is already compressed (by name or by content), deflate the rest. */
export function chooseMethod(name: string, sample: Buffer): Method {
  if (sample.length === 0) return 'store';
  const ext = path.posix.extname(name).slice(1).toLowerCase();
  if (COMPRESSED_EXT.has(ext)) return 'store';
  return byteEntropy(sample) > STORE_ENTROPY ? 'store' : 'deflate';
}
