import { randomBytes } from 'crypto';

export type BackupKind = 'workspace' | 'appdata' | 'full';

const BACKUP_KINDS: readonly BackupKind[] = ['workspace', 'appdata', 'full'];

/** A backup object as listed: what its key says, plus what the listing says. */
export interface BackupRef {
  key: string;
  time: Date;
  host: string;
  kind: BackupKind;
  /** The object's size: the whole archive (format 1), the manifest alone (format 2). */
  size: number;
  /** 1: one zip per backup; 2: a manifest object whose files live in packs. */
  format: 1 | 2;
  lastModified?: Date;
  etag?: string;
  /** A pin marker exists for it (see repository/pins.ts): retention and prune never delete it. */
  pinned?: boolean;
}

// `.zip`: format 1, one archive. `.json.gz`: format 2, the manifest of an incremental backup.
// Format 2 names carry milliseconds too, so that two backups in one second still sort by time.
const KEY_NAME = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})(?:\.(\d{3}))?_([A-Za-z0-9-]{1,63})_(workspace|appdata|full)_([0-9a-z]{6,8})\.(zip|json\.gz)$/;
const FORMAT_SUFFIX = { 1: '.zip', 2: '.json.gz' } as const;

/** The prefix every backup key under `rootPath` starts with ('' when rootPath is empty). */
export function backupPrefix(rootPath: string): string {
  const r = rootPath.replace(/^\/+|\/+$/g, '');
  return r === '' ? '' : `${r}/`;
}

/**
 * Host names go into keys where `_` separates fields: anything but ASCII
 * letters, digits and `-` becomes `-`; at most 63 characters; never empty.
 */
export function sanitizeHost(host: string): string {
  const s = host
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return s === '' ? 'host' : s;
}

/** 8 random base36 characters: with second-resolution times, collisions need ~10^6 backups in one second. */
export function randomSuffix(length = 8): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  let out = '';
  // Rejection sampling keeps every character equally likely.
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 252 && out.length < length) out += alphabet[b % 36];
    }
  }
  return out;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/**
 * Builds `<rootPath>/<yyyyMMdd-HHmmss.SSS UTC>_<host>_<kind>_<random>.json.gz`
 * (`<yyyyMMdd-HHmmss>...zip` for format 1). Keys sort by time as plain strings; the random part
 * keeps two backups made in the same second apart.
 */
export function makeBackupKey(
  rootPath: string,
  o: { time: Date; host: string; kind: BackupKind; random?: string; format?: 1 | 2 },
): string {
  if (!BACKUP_KINDS.includes(o.kind)) throw new Error(`Unknown backup kind: ${String(o.kind)}`);
  const random = o.random ?? randomSuffix();
  if (!/^[0-9a-z]{6,8}$/.test(random)) throw new Error('The random part of a backup key must be 6 to 8 base36 characters.');
  const t = o.time;
  if (Number.isNaN(t.getTime())) throw new Error('Invalid backup time.');
  const stamp =
    `${pad(t.getUTCFullYear(), 4)}${pad(t.getUTCMonth() + 1)}${pad(t.getUTCDate())}-` +
    `${pad(t.getUTCHours())}${pad(t.getUTCMinutes())}${pad(t.getUTCSeconds())}` +
    ((o.format ?? 2) === 2 ? `.${pad(t.getUTCMilliseconds(), 3)}` : '');
  return `${backupPrefix(rootPath)}${stamp}_${sanitizeHost(o.host)}_${o.kind}_${random}${FORMAT_SUFFIX[o.format ?? 2]}`;
}

/**
 * Reads a key back into a `BackupRef`; `undefined` for anything that is not a
 * backup made by this tool directly under `rootPath` (foreign objects, other
 * folders, impossible dates).
 */
export function parseBackupKey(rootPath: string, key: string, size = 0): BackupRef | undefined {
  const prefix = backupPrefix(rootPath);
  if (!key.startsWith(prefix)) return undefined;
  const m = KEY_NAME.exec(key.slice(prefix.length));
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const ms = m[7] === undefined ? 0 : Number(m[7]);
  if (m[7] !== undefined && m[11] === 'zip') return undefined;
  const time = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
  if (
    time.getUTCFullYear() !== y ||
    time.getUTCMonth() !== mo - 1 ||
    time.getUTCDate() !== d ||
    time.getUTCHours() !== h ||
    time.getUTCMinutes() !== mi ||
    time.getUTCSeconds() !== s
  ) {
    return undefined;
  }
  const host = m[8];
  if (host.startsWith('-') || host.endsWith('-')) return undefined;
  return { key, time, host, kind: m[9] as BackupKind, size, format: m[11] === 'zip' ? 1 : 2 };
}

/** Sort comparator: newest first; the key breaks ties so the order is stable. */
export function compareNewestFirst(a: BackupRef, b: BackupRef): number {
  const d = b.time.getTime() - a.time.getTime();
  if (d !== 0) return d;
  return a.key < b.key ? 1 : a.key > b.key ? -1 : 0;
}
