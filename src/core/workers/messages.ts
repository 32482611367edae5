// The messages between the engine and its worker threads (see util/workerPool.ts).
// Types, a few flag values and the stat columns' helpers: the worker scripts and their callers share them.
import type { Stats } from 'fs';
import type { WorkerError } from '../util/workerError';

/** fileWorker: read a small file whole and hash it. */
export interface ReadRequest {
  kind: 'read';
  path: string;
  flags: number;
  /** The file is expected to hold at most this many bytes. */
  max: number;
}
export type ReadReply = { data: Uint8Array; sha256: string; crc32: number } | { big: true };

/** fileWorker: deflate a buffer (raw deflate, zip's method 8). */
export interface DeflateRequest {
  kind: 'deflate';
  data: Uint8Array;
  level: number;
}
export type DeflateReply = Uint8Array;

/**
 * fileWorker: read, hash and (where the content is not compressed already)
 * deflate a batch of small files: one message for many files instead of two
 * per file (read, then deflate), which on 30,000 files was most of the
 * caller's thread.
 */
export interface ReadBatchRequest {
  kind: 'readBatch';
  flags: number;
  /** Each file is expected to hold at most this many bytes. */
  max: number;
  level: number;
  paths: string[];
  /** Per file: READ_MAY_DEFLATE (the name does not say the content is compressed already), READ_KEEP (the caller keeps the bytes, not only the hashes). */
  opts: Uint8Array;
}
export const READ_MAY_DEFLATE = 1;
export const READ_KEEP = 2;
/** `ReadBatchReply.size` of a file that grew past `max` since the scan. */
export const READ_BIG = -1;
/** `ReadBatchReply.size` of a file that could not be read (its error is in `errors`). */
export const READ_FAILED = -2;
/**
 * The batch's results, per file at the same index, in a few typed arrays and
 * one buffer instead of an object, two strings and a buffer per file (their
 * copying and collecting was a tenth of the caller's thread on 30,000 files).
 */
export interface ReadBatchReply {
  /** The size read, or READ_BIG, or READ_FAILED. */
  size: Float64Array;
  crc32: Uint32Array;
  /** 8: `data` holds it deflated; 0: stored as is. */
  method: Uint8Array;
  /** 32 bytes of SHA-256 per file. */
  sha256: Uint8Array;
  /** Where a kept file's bytes to pack are in `data`, and how many (-1: not kept). */
  offset: Float64Array;
  length: Float64Array;
  /** The kept files' bytes, one after the other. */
  data: Uint8Array;
  errors: ({ index: number } & WorkerError)[];
}

/**
 * fileWorker: lstat a folder's files in one message (the scan of 30,000
 * files was 30,000 thread-pool round trips on the caller's thread).
 * `access`: also check that each file may be read (not needed as root).
 * The paths as one NUL-joined string (a path never holds a NUL), the answers
 * as columns: one typed array a field, not an object a file to clone on both
 * sides.
 */
export interface StatBatchRequest {
  kind: 'statBatch';
  paths: string;
  access: boolean;
}
/** `StatBatchReply.type`: what lstat found, or that it (or the access check) failed. */
export const STAT_FAILED = 0;
export const STAT_FILE = 1;
export const STAT_LINK = 2;
export const STAT_OTHER = 3;
export interface StatBatchReply {
  type: Uint8Array;
  size: Float64Array;
  mtimeMs: Float64Array;
  mode: Uint32Array;
  ino: Float64Array;
  ctimeMs: Float64Array;
  /** The paths whose type is STAT_FAILED, by index. */
  errors: { index: number; message: string; code?: string }[];
}

/** Columns for `n` paths, to fill with `putStat` (both sides: the worker, and the caller's thread where no worker runs). */
export function statColumns(n: number): StatBatchReply {
  return { type: new Uint8Array(n), size: new Float64Array(n), mtimeMs: new Float64Array(n), mode: new Uint32Array(n), ino: new Float64Array(n), ctimeMs: new Float64Array(n), errors: [] };
}

/** Path `k`'s answer: what lstat found (`st`), or the error of lstat or the access check. */
export function putStat(r: StatBatchReply, k: number, st: Stats | undefined, e?: unknown): void {
  if (!st) {
    const x = e as NodeJS.ErrnoException | undefined;
    r.type[k] = STAT_FAILED;
    r.errors.push({ index: k, message: String(x?.message), code: x?.code });
    return;
  }
  r.type[k] = st.isFile() ? STAT_FILE : st.isSymbolicLink() ? STAT_LINK : STAT_OTHER;
  r.size[k] = st.size;
  r.mtimeMs[k] = st.mtimeMs;
  r.mode[k] = st.mode;
  r.ino[k] = st.ino;
  r.ctimeMs[k] = st.ctimeMs;
}

export type FileWorkerRequest = ReadRequest | DeflateRequest | ReadBatchRequest | StatBatchRequest;

/** entryWorker: inflate and check one stored entry; with `dest`, then create that file. */
export interface EntryRequest {
  raw: Uint8Array;
  method: 0 | 8;
  size: number;
  crc32: number;
  sha256: string;
  dest?: string;
  mode?: number;
  /** Set the mode again after creation (the umask took bits away). */
  chmod?: boolean;
  /** Seconds since the epoch. */
  mtime?: number;
}
/**
 * entryWorker: the small entries of one ranged GET that go to one folder, in
 * one message of a few typed arrays and two strings (an object per entry, and
 * a buffer each, were a third of the caller's thread restoring 100,000
 * files). Entry i's stored bytes are `raw[start[i], start[i + 1])`.
 */
export interface EntryBatchRequest {
  batch: {
    raw: Uint8Array;
    /** n + 1 offsets into `raw`. */
    start: Float64Array;
    method: Uint8Array;
    size: Float64Array;
    crc32: Uint32Array;
    /** The entries' sha256s, 64 hex digits each, one after the other. */
    sha256: string;
    /** The files to create, joined by NUL (a path never holds one); '' to check only. */
    dest: string;
    mode: Uint32Array;
    /** ENTRY_CHMOD: set the mode again after creation (the umask took bits away). */
    flags: Uint8Array;
    /** Seconds since the epoch; NaN: leave the time as it is. */
    mtime: Float64Array;
  };
}
export const ENTRY_CHMOD = 1;
/** The entries that failed (none: all checked, and written), each with what was wrong or its file's error. */
export type EntryBatchReply = Array<{ index: number; check?: CheckFailure; error?: WorkerError }>;

/**
 * entryWorker: renames `from[i]` to `to[i]`, in order, stopping at the first
 * failure: `done` renames were made, and `error` is the next one's.
 */
export interface RenameBatchRequest {
  rename: { from: string[]; to: string[] };
}
export interface RenameBatchReply {
  done: number;
  error?: WorkerError;
}

/**
 * entryWorker: opens the sealed chunks of one ranged GET of an encrypted pack
 * (see chunkCipher's openChunks). The reply is the plaintext (moved back), or
 * the detail of the 'Unauthentic' refusal.
 */
export interface DecryptRequest {
  decrypt: { key: Uint8Array; header: Uint8Array; name: string; firstChunk: number; requested: number; stored: Uint8Array };
}
export type DecryptReply = { plain: Uint8Array } | { refused: string };

/** What was wrong with an entry; undefined when all is well. */
export interface CheckFailure {
  check: 'big' | 'small' | 'crc32' | 'sha256' | 'damaged';
  message?: string;
}
export type EntryReply = CheckFailure | undefined;

/** A reply plus the buffers to move (not copy) back to the caller. */
export interface Transferring<R> {
  reply: R;
  transfer: ArrayBuffer[];
}
