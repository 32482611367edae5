/**
 * A limit on how many tasks run at once: `run(task)` starts `task` when one
 * of `n` slots is free, in the order asked. A task must not wait for another
 * task of the same limit (the two could hold every slot between them).
 */
export function slots(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    // A slot freed while others wait passes straight to the first of them.
    if (running < n) running++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}
