// The messages between the engine and its worker threads (see util/workerPool.ts).
// Types only: the worker scripts and their callers share them.

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
  files: {
    path: string;
    /** False when the name says the content is compressed already (stored as is). */
    mayDeflate: boolean;
    /** False when the caller will not keep the bytes (only the hashes are wanted). */
    keep: boolean;
  }[];
}
/** Per file: its hashes and the bytes to pack (deflated when `method` says so), or why not. */
export type BatchItem =
  | { size: number; sha256: string; crc32: number; method: 'store' | 'deflate'; data?: Uint8Array }
  | { big: true }
  | { error: { message: string; code?: string; syscall?: string; path?: string } };
export type ReadBatchReply = BatchItem[];

/**
 * fileWorker: lstat a folder's files in one message (the scan of 30,000
 * files was 30,000 thread-pool round trips on the caller's thread).
 * `access`: also check that each file may be read (not needed as root).
 */
export interface StatBatchRequest {
  kind: 'statBatch';
  paths: string[];
  access: boolean;
}
export type StatItem =
  | { type: 'file' | 'link' | 'other'; size: number; mtimeMs: number; mode: number; ino: number; ctimeMs: number }
  | { error: { message: string; code?: string } };
export type StatBatchReply = StatItem[];

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
 * one message (one per file was most of the restore's messages). Each
 * reply item is that entry's EntryReply, or the error its file got.
 */
export interface EntryBatchRequest {
  batch: EntryRequest[];
}
export type EntryBatchItem = EntryReply | { error: { message: string; code?: string; syscall?: string; path?: string } };
export type EntryBatchReply = EntryBatchItem[];

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
