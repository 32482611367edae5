// Whether an entry is deflated or stored, from its name and a sample of its
// content. Plain functions with no engine state, so that the file worker can
// decide while it reads (one message per batch of files, not two per file).
import * as path from 'path';

export type Method = 'store' | 'deflate';

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

/** Up to four slices spread over `chunk` (the first read of a file): headers alone can mislead. */
export function sampleOf(chunk: Buffer): Buffer {
  // Always a copy: the read buffer is reused.
  if (chunk.length <= 4 * SAMPLE_SLICE) return Buffer.from(chunk);
  const step = Math.floor((chunk.length - SAMPLE_SLICE) / 3);
  return Buffer.concat([0, 1, 2, 3].map((k) => chunk.subarray(k * step, k * step + SAMPLE_SLICE)));
}

/** Whether the name alone says the content is compressed already. */
export function compressedByName(name: string): boolean {
  return COMPRESSED_EXT.has(path.posix.extname(name).slice(1).toLowerCase());
}

/** Store what is already compressed (by content), deflate the rest; the name was checked already. */
export function methodOfContent(data: Uint8Array): Method {
  if (data.length === 0) return 'store';
  return byteEntropy(sampleSlices(data)) > STORE_ENTROPY ? 'store' : 'deflate';
}

/** Store what is already compressed (by name or by content), deflate the rest. */
export function chooseMethod(name: string, sample: Buffer): Method {
  if (sample.length === 0) return 'store';
  if (compressedByName(name)) return 'store';
  return byteEntropy(sample) > STORE_ENTROPY ? 'store' : 'deflate';
}

/** The sample's bytes without a copy, as byteEntropy counts them (same slices as sampleOf). */
function sampleSlices(data: Uint8Array): Uint8Array[] | Uint8Array {
  if (data.length <= 4 * SAMPLE_SLICE) return data;
  const step = Math.floor((data.length - SAMPLE_SLICE) / 3);
  return [0, 1, 2, 3].map((k) => data.subarray(k * step, k * step + SAMPLE_SLICE));
}

/** Shannon entropy of the bytes (of all the slices together), in bits per byte. */
function byteEntropy(parts: Uint8Array | Uint8Array[]): number {
  const list = Array.isArray(parts) ? parts : [parts];
  const counts = new Uint32Array(256);
  let n = 0;
  for (const b of list) {
    for (let i = 0; i < b.length; i++) counts[b[i]]++;
    n += b.length;
  }
  if (n === 0) return 0;
  let h = 0;
  for (let i = 0; i < 256; i++) {
    const c = counts[i];
    if (c !== 0) {
      const p = c / n;
      h -= p * Math.log2(p);
    }
  }
  return h;
}
