// The scheduler's sense of time, a seam: the real clock in use, a clock the
// extension-host tests move by hand (no sleeping in tests).
import type * as vscode from 'vscode';

export interface Clock {
  now(): number;
  /** Calls `fn` after `ms`; disposing cancels it. */
  setTimer(fn: () => void, ms: number): vscode.Disposable;
}

// setTimeout's ceiling (about 24.8 days); a longer wait is re-armed in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;

export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    let timer: NodeJS.Timeout;
    const arm = (left: number): void => {
      timer = setTimeout(() => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : fn()), Math.min(Math.max(0, left), MAX_TIMER_MS));
    };
    arm(ms);
    return { dispose: () => clearTimeout(timer) };
  },
};

/** A clock for tests: time stands still until `advance` moves it and fires what fell due, in order. */
export class ManualClock implements Clock {
  private timers: Array<{ at: number; fn: () => void; seq: number }> = [];
  private seq = 0;

  constructor(private time: number) {}

  now(): number {
    return this.time;
  }

  setTimer(fn: () => void, ms: number): vscode.Disposable {
    const t = { at: this.time + Math.max(0, ms), fn, seq: this.seq++ };
    this.timers.push(t);
    return { dispose: () => (this.timers = this.timers.filter((x) => x !== t)) };
  }

  /** The time of the earliest pending timer. */
  get nextTimer(): number | undefined {
    return this.timers.length === 0 ? undefined : Math.min(...this.timers.map((t) => t.at));
  }

  /** Moves time forward by `ms`, firing each timer that falls due at its own time. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = Math.max(this.time, due.at);
      due.fn();
    }
    this.time = end;
  }
}
