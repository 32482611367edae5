import { yieldIfDue } from './timeSlice';

/**
 * The first of several concurrent failures. When parallel work fails, the
 * first error tells the story; the others are usually the abort that the
 * first one triggered. `onFirst` runs once, with that first error (typically
 * to abort the rest).
 */
export class FirstFailure {
  private first: { error: unknown } | undefined;

  constructor(private readonly onFirst?: (error: unknown) => void) {}

  /** Records `error` when nothing failed before; returns whether it was the first. */
  record(error: unknown): boolean {
    if (this.first) return false;
    this.first = { error };
    this.onFirst?.(error);
    return true;
  }

  get failed(): boolean {
    return this.first !== undefined;
  }

  /** The first error recorded (undefined when none was). */
  get error(): unknown {
    return this.first?.error;
  }

  throwIfFailed(): void {
    if (this.first) throw this.first.error;
  }
}

/**
 * Runs `fn` over `items`, `limit` at a time, in order of start. Stops
 * starting new items at the first failure, waits for the running ones, then
 * rejects with that first failure. Items that settle without I/O (a restore
 * into a new folder: nothing to lstat) would run as one chain of microtasks,
 * 100,000 of them ~100 ms without a turn of the event loop: a turn is given
 * when the time slice is spent.
 */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const failure = new FirstFailure();
  const worker = async (): Promise<void> => {
    while (next < items.length && !failure.failed) {
      const turn = yieldIfDue();
      if (turn) {
        await turn;
        continue;
      }
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (e) {
        failure.record(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  failure.throwIfFailed();
}
