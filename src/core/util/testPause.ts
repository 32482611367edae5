// A test hook for the crash harness (test/core/crash.test.ts): with
// S3B_TEST_PAUSE_AT=<phase>[:<n>] the n-th call of `testPause(phase)` writes
// S3B_TEST_PAUSE_FILE and blocks this thread until the test kills the process
// (kill -9), so it dies at a known point. Without the variable it does nothing.
import * as fs from 'fs';

/** Where the engine can stop for the crash harness. */
export type PausePoint = 'download' | 'verify' | 'staging' | 'snapshot' | 'renames';

const [AT, NTH] = (process.env.S3B_TEST_PAUSE_AT ?? '').split(':');
const counts = new Map<string, number>();

function pause(phase: PausePoint): void {
  if (phase !== AT) return;
  const n = (counts.get(phase) ?? 0) + 1;
  counts.set(phase, n);
  if (n !== (Number(NTH) || 1)) return;
  if (process.env.S3B_TEST_PAUSE_FILE) fs.writeFileSync(process.env.S3B_TEST_PAUSE_FILE, `${phase}:${n} ${process.pid}\n`);
  // Blocks the whole thread (timers, I/O callbacks), not just this async path.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

/** Stops here when the crash harness asked for this phase; a no-op otherwise. */
export const testPause: (phase: PausePoint) => void = AT ? pause : () => undefined;
