import { promisify } from 'util';
import * as zlib from 'zlib';
import { wholeBufferDeflate } from '../util/deflateWindow';
import type { WorkerPool } from '../util/workerPool';
import type { DeflateReply, DeflateRequest } from '../workers/messages';


// zlib level 4 (lazy matching) is ~1.03x the size of level 6 on source code
// at 60-85% of its CPU: a backup is mostly waiting on compression.
export const DEFAULT_LEVEL = 4;
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
  return deflateRaw(buf, wholeBufferDeflate(level, buf.length));
}

// Also used by the file worker, which decides while it reads (see util/methodChoice.ts).
export { chooseMethod, sampleOf } from '../util/methodChoice';
