// Opening the sealed chunks of a restore's ranged reads on a worker thread:
// AES-GCM of every pack a restore reads (~3 ms per MiB on a small VM) and
// the copies that go with it, off the caller's thread. One thread, shared by
// every open repository, started on first use and stopped once idle; where
// worker threads cannot start, the chunks are opened in line.
import { WorkerPool } from '../util/workerPool';
import type { DecryptReply } from './messages';
import { openChunks, unauthentic, type ChunkOpening } from '../format/sealedChunks';

/** Below this, the round trip costs more than opening in line. (Far above the 4 KiB up to which Buffer hands out
 * slices of a shared pool: a buffer this big owns its memory, which can therefore move to the thread.) */
const OFF_THREAD_FROM = 256 * 1024;
const IDLE_MS = 15_000;

let pool: WorkerPool | undefined;
let unavailable = false;
let busy = 0;
let idle: NodeJS.Timeout | undefined;

function acquire(): WorkerPool | undefined {
  if (unavailable) return undefined;
  clearTimeout(idle);
  pool ??= WorkerPool.create('entryWorker', 1);
  if (!pool) unavailable = true;
  else busy++;
  return pool;
}

function release(): void {
  if (--busy > 0) return;
  idle = setTimeout(() => {
    const p = pool;
    pool = undefined;
    void p?.close();
  }, IDLE_MS);
  idle.unref();
}

/** `openChunks` on the worker thread; the same result and the same 'Unauthentic' refusals. `stored` is consumed (moved). */
export async function openChunksOffThread(o: ChunkOpening, firstChunk: number, stored: Buffer, requested: number): Promise<Buffer> {
  const threads = stored.length >= OFF_THREAD_FROM ? acquire() : undefined;
  if (!threads) return openChunks(o, firstChunk, stored, requested);
  try {
    const r = await threads.call<DecryptReply>({ decrypt: { key: o.key, header: o.header, name: o.name, firstChunk, requested, stored } }, [stored.buffer as ArrayBuffer]);
    if ('refused' in r) throw unauthentic(o.name, r.refused);
    return Buffer.from(r.plain.buffer, r.plain.byteOffset, r.plain.byteLength);
  } finally {
    release();
  }
}
