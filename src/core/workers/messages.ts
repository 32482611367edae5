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

export type FileWorkerRequest = ReadRequest | DeflateRequest;

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
