import * as fs from 'fs';
import * as os from 'os';

/**
 * How far below the caller's threads the workers run. The workers' jobs
 * (hash, deflate, inflate, write) are throughput work; the caller's thread is
 * the extension host, which every extension and the editor's UI wait on. On a
 * machine with fewer free cores than runnable threads, a worker at the same
 * priority takes its full share while the extension host waits in the run
 * queue (measured on 2 cores with the S3 server beside us: ~40 ms of a 42 ms
 * event-loop stall spent runnable but not running). At +10 the scheduler
 * gives the caller's thread ~10 times a worker's share while both want the
 * CPU, and an idle core still goes to the worker.
 */
export const WORKER_NICENESS = 10;

/** The nice value workers run at: the caller's thread's (the process's main thread), +WORKER_NICENESS, at most 19. */
function workerNice(): number {
  return Math.min(19, os.getPriority(process.pid) + WORKER_NICENESS);
}

/** Sets thread `tid` to the workers' nice value unless it is already there or lower; returns its nice value. */
function lowerThread(tid: number): number {
  const target = workerNice();
  if (os.getPriority(tid) < target) os.setPriority(tid, target);
  return os.getPriority(tid);
}

/**
 * Lowers the scheduling priority of the calling thread, and of that thread
 * alone, to the workers' (idempotent: a thread already lowered by
 * `lowerNewThread` stays where it is). Linux only: there a thread has its own
 * nice value, set through its thread id; elsewhere the same call would lower
 * the whole process (the extension host), so it is not made. Never on the
 * process's main thread. Returns the nice value, or undefined.
 */
export function lowerThisThreadsPriority(): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0 || tid === process.pid) return undefined;
    return lowerThread(tid);
  } catch {
    // No /proc, or a sandbox that refuses: the thread keeps its priority, which only costs latency.
    return undefined;
  }
}

/** This process's thread ids (Linux), taken just before a `new Worker`; undefined elsewhere or without /proc. */
export function threadIds(): Set<number> | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return new Set(fs.readdirSync('/proc/self/task').map(Number));
  } catch {
    return undefined;
  }
}

/**
 * Lowers the thread a `new Worker` just started, from outside: Node's own
 * start-up of a worker (~10-20 ms of CPU before any of our code runs, then
 * ~7-10 ms loading the worker script) would otherwise run at the caller's
 * priority. The worker is the one thread that appeared since `before`; when
 * not exactly one did (another thread started meanwhile), none is touched
 * and the worker lowers itself once its code runs (`lowerThisThreadsPriority`).
 */
export function lowerNewThread(before: Set<number> | undefined): number | undefined {
  const now = before && threadIds();
  if (!now) return undefined;
  const added = [...now].filter((t) => !before.has(t));
  if (added.length !== 1) return undefined;
  try {
    return lowerThread(added[0]);
  } catch {
    return undefined;
  }
}
