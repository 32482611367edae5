import * as fs from 'fs';
import { BackupError } from '../util/engineErrors';
import { printable } from '../format/manifest';

export interface ArchiveSource {
  /** POSIX path inside the archive, e.g. `workspace/app/src/index.ts`. */
  archivePath: string;
  /** Read from disk (twice: hashed first, then archived) ... */
  absPath?: string;
  /** ... or taken from memory (app data). */
  data?: Buffer;
  size: number;
  mtimeMs: number;
  mode: number;
  /** The scan's inode and ctime: with size and mtime, how an unchanged file is known without reading it. */
  ino?: number;
  ctimeMs?: number;
}

export type Method = 'store' | 'deflate';

/** One entry as the writer sees it after the hash pass. */
export interface Entry {
  name: string;
  source?: ArchiveSource;
  data?: Buffer;
  /** The content as hashed (small files, while the cache budget lasts). */
  cached?: Buffer;
  /** The bytes to pack, already deflated when `method` is 'deflate' (small files a worker read, hashed and compressed in one go). */
  packed?: Buffer;
  /** crc32 of the content (of this piece), from the hashing pass. */
  crc32?: number;
  size: number;
  /** sha256 of the content (of this piece), from the hashing pass. */
  sha256?: string;
  /** A piece of a file too big for one pack: these bytes of the source. */
  range?: { start: number; length: number };
  /** The pieces of a file too big for one pack, from the hashing pass (the entry itself is the whole file). */
  pieces?: Piece[];
  method: Method;
  /** Last modification, whole ms since the epoch (a number: a Date each would be 100,000 more objects). */
  mtimeMs: number;
  unixMode: number;
}

/** One piece of a big file: where it starts, and what it holds. */
export interface Piece {
  start: number;
  size: number;
  sha256: string;
  crc32: number;
}

// Files larger than this are stored in pieces of this size, each its own zip
// entry (`<name>.part001`, ...): a pack stays a plain zip of moderate size,
// and an unchanged piece of a changed big file is not uploaded again.
export const PIECE_SIZE = 128 * 1024 * 1024;

// Files up to this size are read whole and deflated in one call.
export const SMALL_FILE = 1024 * 1024;

// O_NONBLOCK: a file swapped for a FIFO since the scan must fail, not hang a pool thread.
export const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

export const EMPTY = Buffer.alloc(0);

// Above libuv's default pool (4) nothing runs faster; below it the pool idles.
export const PARALLEL = Math.max(2, Number(process.env.UV_THREADPOOL_SIZE) || 4);

/** Reads a small file whole; a size other than the scan's means it changed. */
export async function readWhole(file: string, size: number, name: string): Promise<Buffer> {
  const fh = await fs.promises.open(file, OPEN_FLAGS);
  try {
    // One byte more than expected tells a file that grew; a short read is the end.
    const buf = Buffer.allocUnsafe(size + 1);
    let got = 0;
    while (got < buf.length) {
      const want = buf.length - got;
      const { bytesRead } = await fh.read(buf, got, want, null);
      got += bytesRead;
      if (bytesRead < want) break;
    }
    if (got !== size) throw sourceChanged(name);
    return buf.subarray(0, size);
  } finally {
    await fh.close();
  }
}

export function sourceChanged(name: string): BackupError {
  return new BackupError('SourceChanged', `"${printable(name)}" changed while it was being backed up.`, 'Close programs that write to it, then back up again.', {
    params: { entry: printable(name) },
  });
}

export function toIoError(e: unknown, name: string): BackupError {
  if (e instanceof BackupError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return sourceChanged(name);
  return new BackupError('Io', `"${printable(name)}" could not be read (${code ?? String(e)}).`, 'Check that the file can be read, then back up again.', {
    cause: e,
    params: { entry: printable(name), detail: code ?? 'read' },
  });
}
