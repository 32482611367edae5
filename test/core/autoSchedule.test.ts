// The automatic backup's timing rules, as a table: pure functions of the
// persisted state, the settings and the time (no clock, no VS Code).
import * as assert from 'assert';
import { inRestoreGrace, isTransient, nextDailyAfter, nextRun, parseDailyTime, RESTORE_GRACE_MS, START_GRACE_MS, type ScheduleContext, type ScheduleSettings, type ScheduleState } from '../../src/core/schedule/autoSchedule';

const MIN = 60_000;
const HOUR = 60 * MIN;
// Local times, so the daily rows hold in any time zone.
const at = (d: number, h: number, m = 0): number => new Date(2026, 2, d, h, m).getTime();

describe('auto backup schedule (nextRun)', () => {
  const base: ScheduleSettings = { mode: 'hourly', dailyTime: '09:30', idleMinutes: 5 };
  const rows: Array<{ name: string; settings?: Partial<ScheduleSettings>; state: ScheduleState; now: number; ctx: ScheduleContext; want: number | undefined }> = [
    { name: 'off: never', settings: { mode: 'off' }, state: { lastAttempt: at(1, 8) }, now: at(1, 12), ctx: { startedAt: at(1, 7) }, want: undefined },
    { name: 'hourly: one hour after the last attempt', state: { lastAttempt: at(1, 10) }, now: at(1, 10, 20), ctx: { startedAt: at(1, 8) }, want: at(1, 11) },
    { name: 'hourly, restarted 10 min after a backup: the rhythm is kept, no backup at start', state: { lastAttempt: at(1, 10) }, now: at(1, 10, 10), ctx: { startedAt: at(1, 10, 10) }, want: at(1, 11) },
    { name: 'hourly, missed while off for 3 h: once, after the start grace', state: { lastAttempt: at(1, 7) }, now: at(1, 10), ctx: { startedAt: at(1, 10) }, want: at(1, 10) + START_GRACE_MS },
    { name: 'every 15 min', settings: { mode: 'every15m' }, state: { lastAttempt: at(1, 10) }, now: at(1, 10, 1), ctx: { startedAt: at(1, 9) }, want: at(1, 10, 15) },
    { name: 'every 6 h', settings: { mode: 'every6h' }, state: { lastAttempt: at(1, 10) }, now: at(1, 11), ctx: { startedAt: at(1, 9) }, want: at(1, 16) },
    { name: 'never run: the first one after the start grace', state: {}, now: at(1, 9), ctx: { startedAt: at(1, 9) }, want: at(1, 9) + START_GRACE_MS },
    { name: 'clock set back: counted from now, not from the future', state: { lastAttempt: at(1, 20) }, now: at(1, 10), ctx: { startedAt: at(1, 9) }, want: at(1, 11) },
    { name: 'daily: today at the time', settings: { mode: 'daily' }, state: { lastAttempt: at(1, 9, 30) }, now: at(2, 8), ctx: { startedAt: at(2, 7) }, want: at(2, 9, 30) },
    { name: 'daily, already ran today: tomorrow', settings: { mode: 'daily' }, state: { lastAttempt: at(2, 9, 30) }, now: at(2, 12), ctx: { startedAt: at(2, 7) }, want: at(3, 9, 30) },
    { name: 'daily, missed yesterday and today: once, after the start grace', settings: { mode: 'daily' }, state: { lastAttempt: at(1, 9, 30) }, now: at(3, 14), ctx: { startedAt: at(3, 14) }, want: at(3, 14) + START_GRACE_MS },
    { name: 'daily, malformed time: the default (12:00)', settings: { mode: 'daily', dailyTime: '25:99' }, state: { lastAttempt: at(1, 13) }, now: at(1, 14), ctx: { startedAt: at(1, 7) }, want: at(2, 12) },
    { name: 'after changes, nothing changed: none', settings: { mode: 'afterChanges' }, state: { lastAttempt: at(1, 9) }, now: at(1, 12), ctx: { startedAt: at(1, 7) }, want: undefined },
    { name: 'after changes: idle minutes after the last change', settings: { mode: 'afterChanges' }, state: { lastAttempt: at(1, 9), lastChange: at(1, 11) }, now: at(1, 11, 1), ctx: { startedAt: at(1, 7) }, want: at(1, 11, 5) },
    { name: 'after changes, the change is older than the last attempt: none', settings: { mode: 'afterChanges' }, state: { lastAttempt: at(1, 11, 6), lastChange: at(1, 11) }, now: at(1, 12), ctx: { startedAt: at(1, 7) }, want: undefined },
    { name: 'after changes left over from the last session: after the start grace', settings: { mode: 'afterChanges', idleMinutes: 1 }, state: { lastChange: at(1, 8) }, now: at(1, 10), ctx: { startedAt: at(1, 10) }, want: at(1, 10) + START_GRACE_MS },
    { name: 'restored 5 min ago: not before the restore grace ends', state: { lastAttempt: at(1, 9) }, now: at(1, 10, 5), ctx: { startedAt: at(1, 7), restoredAt: at(1, 10) }, want: at(1, 10) + RESTORE_GRACE_MS },
    { name: 'restored long ago: no effect', state: { lastAttempt: at(1, 9) }, now: at(1, 9, 5), ctx: { startedAt: at(1, 7), restoredAt: at(1, 6) }, want: at(1, 10) },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const got = nextRun(r.state, { ...base, ...r.settings }, r.now, r.ctx);
      assert.strictEqual(got === undefined ? undefined : new Date(got).toString(), r.want === undefined ? undefined : new Date(r.want).toString());
    });
  }

  it('runs a missed backup once: after it, the next is a full interval later', () => {
    const ctx = { startedAt: at(1, 10) };
    const first = nextRun({ lastAttempt: at(1, 6) }, base, at(1, 10), ctx)!;
    const second = nextRun({ lastAttempt: first }, base, first + 1000, ctx)!;
    assert.strictEqual(second - first, HOUR);
  });

  it('parses HH:MM and finds the next daily time', () => {
    assert.deepStrictEqual(parseDailyTime('7:05'), { hours: 7, minutes: 5 });
    assert.deepStrictEqual(parseDailyTime('23:59'), { hours: 23, minutes: 59 });
    for (const bad of ['24:00', '12:60', 'noon', '', '12']) assert.strictEqual(parseDailyTime(bad), undefined, bad);
    assert.strictEqual(nextDailyAfter(at(5, 9, 30), '09:30'), at(6, 9, 30));
    assert.strictEqual(nextDailyAfter(at(5, 9, 29), '09:30'), at(5, 9, 30));
  });

  it('knows the restore grace and which failures are worth a retry', () => {
    assert.strictEqual(inRestoreGrace(at(1, 10), at(1, 10, 29)), true);
    assert.strictEqual(inRestoreGrace(at(1, 10), at(1, 10, 30)), false);
    assert.strictEqual(inRestoreGrace(undefined, at(1, 10)), false);
    for (const c of ['Unreachable', 'Timeout', 'Server', 'Busy']) assert.strictEqual(isTransient(c), true, c);
    for (const c of ['AccessDenied', 'NoSuchBucket', 'SignatureMismatch', 'InvalidProfile', 'Io', undefined]) assert.strictEqual(isTransient(c), false, String(c));
  });
});
