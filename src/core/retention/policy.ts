// Which backups a retention policy keeps, as restic's `forget` decides:
// backups are grouped by machine, kind and folder set; within a group,
// newest first, each rule keeps the newest backup of each of its last N
// buckets (a backup, a day, an ISO week, a month) that hold backups. A
// backup is kept when any rule or a pin keeps it. Pure: no I/O, no clock.
import type { BackupKind } from '../format/backupKeys';

/** How many of each to keep; 0 turns that rule off. All 0: retention is off and nothing is forgotten. */
export interface RetentionPolicy {
  keepLast: number;
  keepDaily: number;
  keepWeekly: number;
  keepMonthly: number;
}

/**
 * Suits a workspace: the last 10 (a day's work), one a day for a week, one a
 * week for a month. Monthly is off: a month-old workspace state is what git
 * history is for, and it would keep the bucket growing.
 */
export const DEFAULT_RETENTION: RetentionPolicy = { keepLast: 10, keepDaily: 7, keepWeekly: 4, keepMonthly: 0 };

export type KeepReason = 'pinned' | 'last' | 'daily' | 'weekly' | 'monthly' | 'unreadable' | 'off';

/** What the policy needs to know of a backup. */
export interface PolicyItem {
  key: string;
  time: Date;
  host: string;
  kind: BackupKind;
  /** The folders it holds (paths on its machine); undefined when unknown (format 1). */
  folders?: readonly string[];
  pinned?: boolean;
  /** Its manifest could not be read: kept, and not counted by any rule. */
  unreadable?: boolean;
}

export interface PolicyDecision<T extends PolicyItem> {
  item: T;
  keep: boolean;
  /** Why it is kept (empty when forgotten). */
  reasons: KeepReason[];
}

export interface PolicyGroup<T extends PolicyItem> {
  id: string;
  host: string;
  kind: BackupKind;
  folders?: readonly string[];
  /** Newest first. */
  decisions: PolicyDecision<T>[];
}

export interface PolicyOptions {
  /**
   * The calendar the day, week and month rules count in, as minutes east of
   * UTC at a moment. Default: the local time zone of the machine running the
   * policy (the one whose user reads "one a day").
   */
  utcOffsetMinutes?: (at: Date) => number;
}

/** Whether the policy keeps everything (every rule 0). */
export function isPolicyOff(p: RetentionPolicy): boolean {
  return p.keepLast <= 0 && p.keepDaily <= 0 && p.keepWeekly <= 0 && p.keepMonthly <= 0;
}

/** A policy from untrusted input (settings, flags, a config file): whole numbers >= 0, capped; a bad value is an Error naming it. */
export function normalizePolicy(input: Partial<Record<keyof RetentionPolicy, unknown>>, fallback: RetentionPolicy = DEFAULT_RETENTION): RetentionPolicy {
  const out = { ...fallback };
  for (const k of Object.keys(fallback) as (keyof RetentionPolicy)[]) {
    const v = input[k];
    if (v === undefined || v === null) continue;
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new Error(`${k} must be a whole number of 0 or more, not "${String(v)}".`);
    // More than this is "keep everything" in practice; the cap keeps loops bounded.
    out[k] = Math.min(n, 100_000);
  }
  return out;
}

/** The group a backup belongs to: machine, kind and its folder set (unknown folders are a set of their own). */
export function groupIdOf(item: Pick<PolicyItem, 'host' | 'kind' | 'folders'>): string {
  const folders = item.folders ? [...item.folders].sort().join('\u0000') : '\u0001unknown';
  return `${item.host}\u0002${item.kind}\u0002${folders}`;
}

/** Decides, per group, which backups the policy keeps and why. Groups come ordered by host, kind, then folders. */
export function applyRetentionPolicy<T extends PolicyItem>(items: readonly T[], policy: RetentionPolicy, o: PolicyOptions = {}): PolicyGroup<T>[] {
  const offset = o.utcOffsetMinutes ?? ((d: Date) => -d.getTimezoneOffset());
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const id = groupIdOf(item);
    const list = groups.get(id);
    if (list) list.push(item);
    else groups.set(id, [item]);
  }
  const off = isPolicyOff(policy);
  const rules: Array<{ reason: KeepReason; count: number; bucket: (local: Date, item: T) => string }> = [
    { reason: 'last', count: policy.keepLast, bucket: (_l, item) => item.key },
    { reason: 'daily', count: policy.keepDaily, bucket: (l) => l.toISOString().slice(0, 10) },
    { reason: 'weekly', count: policy.keepWeekly, bucket: isoWeek },
    { reason: 'monthly', count: policy.keepMonthly, bucket: (l) => l.toISOString().slice(0, 7) },
  ];
  const out: PolicyGroup<T>[] = [];
  for (const [id, list] of groups) {
    const sorted = [...list].sort(newestFirst);
    const state = rules.map((r) => ({ left: r.count, last: undefined as string | undefined }));
    const decisions = sorted.map((item): PolicyDecision<T> => {
      const reasons: KeepReason[] = [];
      if (item.pinned) reasons.push('pinned');
      if (item.unreadable) return { item, keep: true, reasons: [...reasons, 'unreadable'] };
      if (off) return { item, keep: true, reasons: [...reasons, 'off'] };
      // The local calendar date as a UTC date: its UTC fields are the local ones.
      const local = new Date(item.time.getTime() + offset(item.time) * 60_000);
      rules.forEach((r, i) => {
        const s = state[i];
        if (s.left <= 0) return;
        const b = r.bucket(local, item);
        if (b === s.last) return;
        s.last = b;
        s.left--;
        reasons.push(r.reason);
      });
      return { item, keep: reasons.length > 0, reasons };
    });
    const first = sorted[0];
    out.push({ id, host: first.host, kind: first.kind, ...(first.folders ? { folders: first.folders } : {}), decisions });
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Newest first; the key breaks ties (as backupKeys' compareNewestFirst), so the order is stable. */
function newestFirst(a: PolicyItem, b: PolicyItem): number {
  return b.time.getTime() - a.time.getTime() || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0);
}

/** ISO 8601 week of a (shifted) date, e.g. "2026-W01": weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeek(d: Date): string {
  const day = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const weekday = (day.getUTCDay() + 6) % 7;
  day.setUTCDate(day.getUTCDate() - weekday + 3);
  const year = day.getUTCFullYear();
  const firstThursday = new Date(Date.UTC(year, 0, 4));
  firstThursday.setUTCDate(firstThursday.getUTCDate() - ((firstThursday.getUTCDay() + 6) % 7) + 3);
  const week = 1 + Math.round((day.getTime() - firstThursday.getTime()) / (7 * 86_400_000));
  return `${year}-W${String(week).padStart(2, '0')}`;
}

/** "last 10", "daily", "pinned": a reason as the CLI prints it (the extension translates the codes itself). */
export function reasonText(r: KeepReason, p: RetentionPolicy): string {
  switch (r) {
    case 'last':
      return `last ${p.keepLast}`;
    case 'unreadable':
      return 'manifest unreadable';
    case 'off':
      return 'retention off';
    default:
      return r;
  }
}
