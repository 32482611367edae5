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

// Runs sorted at once before merging: a few ms each.
const SORT_RUN = 4096;

/**
 * Sorts `items` in place like Array.prototype.sort (stable) with turns of
 * the event loop between pieces: runs of SORT_RUN sorted at once, then
 * merged pairwise. 100,000 paths sorted in one go held the thread ~30 ms.
 */
export async function sortSliced<T>(items: T[], compare: (a: T, b: T) => number): Promise<void> {
  const n = items.length;
  if (n <= SORT_RUN) {
    items.sort(compare);
    return;
  }
  let from = items;
  for (let i = 0; i < n; i += SORT_RUN) {
    const run = from.slice(i, i + SORT_RUN).sort(compare);
    for (let k = 0; k < run.length; k++) from[i + k] = run[k];
    await yieldIfDue();
  }
  let to: T[] = new Array<T>(n);
  for (let width = SORT_RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let a = lo;
      let b = mid;
      for (let k = lo; k < hi; k++) {
        // Ties take the left run's item first: stable.
        to[k] = a < mid && (b >= hi || compare(from[a], from[b]) <= 0) ? from[a++] : from[b++];
        if ((k & 4095) === 4095) await yieldIfDue();
      }
    }
    [from, to] = [to, from];
  }
  if (from !== items) for (let k = 0; k < n; k++) items[k] = from[k];
}
