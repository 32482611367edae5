// When the next automatic backup is due: pure, in plain numbers (ms since
// the epoch), so the rules are table-tested without a clock or VS Code.
// The rules answer what users of the model app lost work to: the rhythm
// survives restarts (it is computed from the persisted last attempt, never
// from the start of the session), a backup missed while the machine was off
// runs once, a short while after start (not a burst, not at every start),
// and no automatic backup runs soon after a restore of the same target
// (it would record the restored state as the newest backup while the user
// may still be deciding to undo it).

export type AutoMode = 'off' | 'every15m' | 'hourly' | 'every6h' | 'daily' | 'afterChanges';
export const AUTO_MODES: readonly AutoMode[] = ['off', 'every15m', 'hourly', 'every6h', 'daily', 'afterChanges'];

export type AutoWhat = 'workspace' | 'appData' | 'everything';
export const AUTO_WHATS: readonly AutoWhat[] = ['workspace', 'appData', 'everything'];

export interface ScheduleSettings {
  mode: AutoMode;
  /** "HH:MM", local time, for 'daily'. */
  dailyTime: string;
  /** For 'afterChanges': how long nothing changed before the backup runs. */
  idleMinutes: number;
}

/** What is persisted per target (ms since the epoch). */
export interface ScheduleState {
  /** The last automatic attempt, successful or not (after its retries). */
  lastAttempt?: number;
  /** The last change seen (file saved, created, deleted; app data edited) that no attempt has covered yet. */
  lastChange?: number;
}

export interface ScheduleContext {
  /** When this session's scheduler started. */
  startedAt: number;
  /** The last restore into the target, if any. */
  restoredAt?: number;
}

const MINUTE = 60_000;
/** A session's first minutes belong to the user: a due (or missed) backup waits this long after start. */
export const START_GRACE_MS = 2 * MINUTE;
/** No automatic backup of a target this long after a restore into it. */
export const RESTORE_GRACE_MS = 30 * MINUTE;
export const DEFAULT_DAILY_TIME = '12:00';
export const DEFAULT_IDLE_MINUTES = 5;

export const INTERVAL_MS: Readonly<Record<'every15m' | 'hourly' | 'every6h', number>> = {
  every15m: 15 * MINUTE,
  hourly: 60 * MINUTE,
  every6h: 6 * 60 * MINUTE,
};

/** Waits before the 2nd and 3rd try of an automatic backup that failed for a reason that may pass. */
export const RETRY_DELAYS_MS: readonly number[] = [30_000, 2 * MINUTE];

/** Engine error codes worth another try a little later: the network, the server, a busy bucket. */
const TRANSIENT = new Set(['Unreachable', 'Timeout', 'Server', 'Busy', 'Unknown']);
export function isTransient(code: string | undefined): boolean {
  return code !== undefined && TRANSIENT.has(code);
}

/** "HH:MM" (24 h) as hours and minutes; undefined when malformed. */
export function parseDailyTime(s: string): { hours: number; minutes: number } | undefined {
  const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(s.trim());
  return m ? { hours: Number(m[1]), minutes: Number(m[2]) } : undefined;
}

/** The first local HH:MM strictly after `after`. */
export function nextDailyAfter(after: number, dailyTime: string): number {
  const t = parseDailyTime(dailyTime) ?? parseDailyTime(DEFAULT_DAILY_TIME)!;
  const d = new Date(after);
  d.setHours(t.hours, t.minutes, 0, 0);
  // setDate keeps the local time across a DST change, unlike adding 24 h.
  while (d.getTime() <= after) d.setDate(d.getDate() + 1);
  return d.getTime();
}

/**
 * When the next automatic backup is due (ms), or undefined when none is
 * (mode off; after changes with nothing changed). A time at or before `now`
 * means "now". The caller runs it, then records `lastAttempt`.
 */
export function nextRun(state: ScheduleState, settings: ScheduleSettings, now: number, ctx: ScheduleContext): number | undefined {
  // A clock set back must not postpone the rhythm by the difference.
  const lastAttempt = state.lastAttempt === undefined ? undefined : Math.min(state.lastAttempt, now);
  let due: number;
  switch (settings.mode) {
    case 'off':
      return undefined;
    case 'every15m':
    case 'hourly':
    case 'every6h':
      // Never backed up automatically: the first one soon (after the start grace).
      due = lastAttempt === undefined ? ctx.startedAt : lastAttempt + INTERVAL_MS[settings.mode];
      break;
    case 'daily':
      due = lastAttempt === undefined ? ctx.startedAt : nextDailyAfter(lastAttempt, settings.dailyTime);
      break;
    case 'afterChanges': {
      const change = state.lastChange;
      if (change === undefined || (lastAttempt !== undefined && change <= lastAttempt)) return undefined;
      due = Math.min(change, now) + Math.max(1, settings.idleMinutes) * MINUTE;
      break;
    }
  }
  due = Math.max(due, ctx.startedAt + START_GRACE_MS);
  if (ctx.restoredAt !== undefined) due = Math.max(due, ctx.restoredAt + RESTORE_GRACE_MS);
  return due;
}

/** Whether `restoredAt` is recent enough that no backup of that target may run now (the CLI's --if-changed rule too). */
export function inRestoreGrace(restoredAt: number | undefined, now: number): boolean {
  return restoredAt !== undefined && now >= restoredAt && now < restoredAt + RESTORE_GRACE_MS;
}
