/**
 * Cooperative time slicing for the engine's loops on the caller's thread.
 *
 * A backup's pipeline (read-ahead -> zip writer -> part buffers) and a
 * restore's extraction hand data to each other through promises that are
 * usually already settled: the work then runs as one long chain of
 * microtasks, and the event loop (timers, I/O, the extension host's own
 * messages) does not turn until the chain runs dry. Measured on the
 * reference backup: 200-300 ms without a turn. `yieldIfDue()` in those loops
 * gives the loop a turn (setImmediate) once a slice has run longer than
 * SLICE_MS; the common call costs one clock read.
 */
const SLICE_MS = 8;

let sliceStart = performance.now();
// How many slices have begun. Several loops waiting at once all wake in the
// same turn of the event loop (setImmediate runs every callback queued before
// the turn): only the first starts a slice; one that finds that slice spent
// waits for the next turn. Each starting its own slice made the turn as long
// as all of them together (60-70 ms with a manifest parse and the scan).
let slices = 0;

/** Resolves at once while the current slice is young; otherwise after one turn of the event loop. */
export function yieldIfDue(): Promise<void> | undefined {
  if (performance.now() - sliceStart < SLICE_MS) return undefined;
  return new Promise<void>((resolve) => nextSlice(slices, resolve));
}

function nextSlice(seen: number, resolve: () => void): void {
  setImmediate(() => {
    if (slices === seen) {
      slices++;
      sliceStart = performance.now();
    } else if (performance.now() - sliceStart >= SLICE_MS) {
      nextSlice(slices, resolve);
      return;
    }
    resolve();
  });
}

/**
 * A long synchronous computation written as a generator that `yield`s now and
 * then (every few hundred items): `runSteps` runs it through in one go (for
 * callers that must stay synchronous), `runStepsSliced` gives the event loop
 * a turn between steps once a slice is due. One code path for both.
 */
export type Steps<T> = Generator<void, T, void>;

export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

export async function runStepsSliced<T>(steps: Steps<T>): Promise<T> {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await yieldIfDue();
  }
}

/** How many items a step loop handles between two `yield`s. */
export const STEP_ITEMS = 256;
