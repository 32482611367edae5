import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { lowerNewThread, threadIds } from './threadPriority';
import { fromWorkerError, type WorkerError } from './workerError';

/** The worker scripts of `src/core/workers/`, by module name. */
export type WorkerScript = 'fileWorker' | 'entryWorker';

/**
 * Where a worker script is: beside the bundle that runs this code
 * (`dist/workers/<name>.js`, built by esbuild.js), or, for the transpiled
 * tests and the bench, at `out/src/core/workers/<name>.js`.
 */
export function workerScriptPath(name: WorkerScript): string {
  const candidates = [path.join(__dirname, 'workers', `${name}.js`), path.join(__dirname, '..', 'workers', `${name}.js`)];
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) throw new Error(`worker script ${name}.js not found (looked in ${candidates.join(', ')})`);
  return found;
}

// Each thread's young generation, in MiB. V8's default lets it grow to 48 MiB
// a thread, which the threads' short-lived buffers and messages fill: with 4,
// a 100,000-file backup peaked at 314-324 MiB instead of 325-393 and was no
// slower (8 was no better than the default). Old space is left to V8.
const YOUNG_GENERATION_MB = 4;

interface Reply {
  id: number;
  error?: WorkerError;
  value?: unknown;
}

/**
 * A few worker threads for the many small, synchronous jobs of a backup or a
 * restore (read and hash a file; inflate, check and write an entry). On a busy
 * or virtual machine each thread-pool round trip (open, read, close, deflate)
 * costs ~0.3 ms of the caller's thread; one message to a worker that does them
 * all with plain synchronous calls costs one, and keeps the caller's thread
 * (the extension host) free.
 *
 * A thrown error reaches the caller as an Error with the same message, code,
 * syscall and path.
 */
export class WorkerPool {
  private constructor(private readonly threads: Thread[]) {}

  /** Undefined where worker threads cannot start: the caller then does the work itself. */
  static create(script: WorkerScript, max = 4): WorkerPool | undefined {
    const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
    let file: string;
    try {
      file = workerScriptPath(script);
    } catch {
      return undefined;
    }
    const threads: Thread[] = [];
    for (let i = 0; i < Math.max(1, Math.min(max, cores)); i++) {
      try {
        const before = threadIds();
        const worker = new Worker(file, { resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
        lowerNewThread(before);
        threads.push(new Thread(worker));
      } catch {
        break;
      }
    }
    return threads.length ? new WorkerPool(threads) : undefined;
  }

  get size(): number {
    return this.threads.length;
  }

  /** Sends `m` to the least busy thread. */
  call<R>(m: object, transfer: ArrayBuffer[] = []): Promise<R> {
    return this.threads.reduce((best, t) => (t.load < best.load ? t : best)).call<R>(m, transfer);
  }

  /** Sends `m` to the thread `key` hashes to: the same key, the same thread (files of one folder, for instance). */
  callKeyed<R>(key: string, m: object, transfer: ArrayBuffer[] = []): Promise<R> {
    let h = 0;
    for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
    return this.threads[(h >>> 0) % this.threads.length].call<R>(m, transfer);
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.close()));
  }
}

class Thread {
  private readonly pending = new Map<number, { resolve: (v: never) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private broken: Error | undefined;

  constructor(private readonly worker: Worker) {
    worker.unref();
    worker.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(fromWorkerError(m.error));
      else p.resolve(m.value as never);
    });
    const fail = (e: Error): void => {
      this.broken ??= e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', () => fail(new Error('a worker thread stopped')));
  }

  get load(): number {
    return this.pending.size;
  }

  call<R>(m: object, transfer: ArrayBuffer[]): Promise<R> {
    if (this.broken) return Promise.reject(this.broken);
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: never) => void, reject });
      this.worker.postMessage({ id, m }, transfer);
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
