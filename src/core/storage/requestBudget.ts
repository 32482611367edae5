// How long a request to the server may go unanswered. A server that accepts
// connections and never answers must end a listing, a check or the start of a
// backup within about half a minute with "did not answer", not after the
// SDK's four attempts of a minute each; real transient errors (5xx,
// throttling, a dropped connection) are still retried within that time.

/** One attempt of a request that carries no large body: until the answer's headers arrive. */
export const ATTEMPT_TIMEOUT_MS = 10_000;
/** All attempts of one such request together, retries and backoff included. */
export const CALL_BUDGET_MS = 30_000;
/**
 * A small put still carries a body (a 100,000-file manifest is a few MB): the
 * budget grows by its time at this rate, so a slow uplink is not mistaken for
 * a server that does not answer.
 */
export const MIN_UPLOAD_BYTES_PER_SEC = 64 * 1024;

/** The extra time a request body of `bytes` may take at the slowest rate we allow. */
export function bodyTimeMs(bytes: number, bytesPerSec = MIN_UPLOAD_BYTES_PER_SEC): number {
  return bytes > 0 ? Math.ceil((bytes / bytesPerSec) * 1000) : 0;
}

/**
 * Runs `fn` with a signal that aborts when `signal` does or when `budgetMs`
 * has passed; the budget running out rejects with a `TimeoutError` (which the
 * engine reports as 'Timeout', "did not answer in time"), never as a cancel.
 * The budget ends when `fn` settles: a body still streaming after that is
 * bounded by the socket's idle timeout only.
 */
export async function withinBudget<T>(signal: AbortSignal | undefined, budgetMs: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const budget = new AbortController();
  const timer = setTimeout(() => budget.abort(), budgetMs);
  const combined = signal ? AbortSignal.any([signal, budget.signal]) : budget.signal;
  try {
    return await fn(combined);
  } catch (e) {
    if (budget.signal.aborted && !signal?.aborted) {
      throw Object.assign(new Error(`the server did not answer within ${Math.round(budgetMs / 1000)} s`, { cause: e }), { name: 'TimeoutError', code: 'ETIMEDOUT' });
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
