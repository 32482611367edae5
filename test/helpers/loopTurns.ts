/**
 * Counts the event loop's turns (one setImmediate each) from now until
 * `stop()`: how often a long computation on this thread let the loop run.
 */
export function countTurns(): { readonly turns: number; reset(): void; stop(): number } {
  let turns = 0;
  let running = true;
  const tick = (): void => {
    turns++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turns() {
      return turns;
    },
    reset: () => void (turns = 0),
    stop: () => {
      running = false;
      return turns;
    },
  };
}
