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

/**
 * Lowers the scheduling priority of the calling thread, and of that thread
 * alone, by `WORKER_NICENESS`. Linux only: there a thread has its own nice
 * value, set through its thread id; elsewhere the same call would lower the
 * whole process (the extension host), so it is not made. Never on the
 * process's main thread. Returns the nice value set, or undefined.
 */
export function lowerThisThreadsPriority(): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0 || tid === process.pid) return undefined;
    const nice = Math.min(19, os.getPriority(tid) + WORKER_NICENESS);
    os.setPriority(tid, nice);
    return os.getPriority(tid);
  } catch {
    // No /proc, or a sandbox that refuses: the thread keeps its priority, which only costs latency.
    return undefined;
  }
}
