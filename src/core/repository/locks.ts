// Locks in the bucket, so that deleting packs never races a backup that
// references them. Every backup holds a shared lock while it runs; deleting
// packs (after a delete, a prune) needs the exclusive lock. Each side writes
// its own lock object first and then lists the others, so with S3's
// read-after-write listing at least one of two racing parties sees the
// other. A holder refreshes its lock; one not refreshed for `staleMs` (a
// crashed or suspended machine) no longer counts. A prune holds a third
// kind, which excludes only another prune (it deletes backups, and its
// clean-up of packs takes the exclusive lock on its own).
import { randomBytes } from 'crypto';
import { backupPrefix } from '../format/backupKeys';
import { BackupError, CancelledError, throwIfAborted } from '../util/engineErrors';
import type { Logger } from '../util/engineLogger';

export type LockKind = 'shared' | 'exclusive' | 'prune';

/** The store operations locks need (S3Store's). */
export interface LockStore {
  readonly profile: { rootPath: string };
  putBuffer(key: string, data: Buffer, o: { signal?: AbortSignal; contentType?: string; overwrite?: boolean }): Promise<void>;
  listAll(prefix: string, o?: { signal?: AbortSignal }): Promise<{ key: string; lastModified?: Date }[]>;
  delete(key: string, o?: { signal?: AbortSignal }): Promise<void>;
}

export interface LockOptions {
  /** What the lock is for, written into it for people reading the bucket. */
  purpose: string;
  host: string;
  signal?: AbortSignal;
  /** Keep trying this long while the other kind of lock is held (0: fail at once). */
  waitMs?: number;
  /** A lock not refreshed for this long is a crashed holder's (default 30 minutes). */
  staleMs?: number;
  /** How often a held lock is refreshed (default 5 minutes). */
  refreshMs?: number;
  /** The clock, for tests. */
  now?: () => number;
  logger?: Logger;
}

const STALE_MS = 30 * 60 * 1000;
const REFRESH_MS = 5 * 60 * 1000;

export function locksPrefix(rootPath: string): string {
  return `${backupPrefix(rootPath)}locks/`;
}

function kindOf(key: string, prefix: string): LockKind | undefined {
  const name = key.slice(prefix.length);
  return name.startsWith('exclusive-') ? 'exclusive' : name.startsWith('shared-') ? 'shared' : name.startsWith('prune-') ? 'prune' : undefined;
}

/** Whether a lock of `kind` may be taken while `other` is held. */
function conflicts(kind: LockKind, other: LockKind): boolean {
  if (kind === 'prune' || other === 'prune') return kind === other;
  return kind === 'exclusive' || other === 'exclusive';
}

/** A lock this process holds. */
export class Lock {
  private timer: NodeJS.Timeout | undefined;
  private released = false;
  /** The refreshes sent, settled: `release` waits for them, or one could write the lock again after its removal. */
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly store: LockStore,
    readonly key: string,
    private readonly body: Buffer,
    refreshMs: number,
    private readonly log?: Logger,
  ) {
    this.timer = setInterval(() => void this.refresh().catch((e: unknown) => this.log?.warn(`could not refresh the lock ${key}: ${String(e)}`)), refreshMs);
    this.timer.unref();
  }

  /** Writes the lock again, so others see its holder is alive. */
  async refresh(signal?: AbortSignal): Promise<void> {
    if (this.released) return;
    const put = this.store.putBuffer(this.key, this.body, { signal, contentType: 'application/json', overwrite: true });
    this.refreshing = Promise.all([this.refreshing, put.catch(() => undefined)]).then(() => undefined);
    await put;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    await this.refreshing;
    await this.store.delete(this.key).catch((e: unknown) => this.log?.warn(`could not remove the lock ${this.key}: ${String(e)}`));
  }
}

/** The live locks of others (not stale), by kind. */
export async function liveLocks(store: LockStore, o: { signal?: AbortSignal; staleMs?: number; now?: () => number; except?: string }): Promise<{ key: string; kind: LockKind }[]> {
  const prefix = locksPrefix(store.profile.rootPath);
  const now = (o.now ?? Date.now)();
  const stale = o.staleMs ?? STALE_MS;
  const out: { key: string; kind: LockKind }[] = [];
  for (const obj of await store.listAll(prefix, { signal: o.signal })) {
    const kind = kindOf(obj.key, prefix);
    if (!kind || obj.key === o.except) continue;
    if (obj.lastModified && now - obj.lastModified.getTime() > stale) continue;
    out.push({ key: obj.key, kind });
  }
  return out;
}

/**
 * Takes a lock of `kind`: shared locks exclude only the exclusive one, the
 * exclusive lock excludes every other lock. While the other side holds one,
 * tries again until `waitMs` has passed, then fails with 'Busy'.
 */
export async function acquireLock(store: LockStore, kind: LockKind, o: LockOptions): Promise<Lock> {
  const now = o.now ?? Date.now;
  const deadline = now() + (o.waitMs ?? 0);
  const id = randomBytes(8).toString('hex');
  const key = `${locksPrefix(store.profile.rootPath)}${kind}-${id}.json`;
  const body = Buffer.from(JSON.stringify({ kind, purpose: o.purpose, host: o.host, pid: process.pid, created: new Date(now()).toISOString() }) + '\n');
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(o.signal);
    await store.putBuffer(key, body, { signal: o.signal, contentType: 'application/json', overwrite: true });
    let others: { key: string; kind: LockKind }[];
    try {
      others = await liveLocks(store, { ...o, except: key });
    } catch (e) {
      await store.delete(key).catch(() => undefined);
      throw e;
    }
    const conflict = others.find((l) => conflicts(kind, l.kind));
    if (!conflict) return new Lock(store, key, body, o.refreshMs ?? REFRESH_MS, o.logger);
    await store.delete(key);
    if (now() >= deadline) {
      if (kind === 'prune') {
        throw new BackupError('Busy', 'Another prune is running on this bucket.', 'Wait for it to finish, then plan again (a prune that was killed stops counting after 30 minutes).', {
          params: { lock: conflict.key, reason: 'prune' },
        });
      }
      throw new BackupError('Busy', kind === 'exclusive' ? 'Another backup or clean-up is running on this bucket.' : 'Another machine is cleaning up this bucket.', 'Wait a minute, then try again.', {
        params: { lock: conflict.key, reason: 'bucket' },
      });
    }
    o.logger?.info(`waiting for ${conflict.key}`);
    await sleep(Math.min(5000, 500 * 2 ** Math.min(attempt, 3)) * (0.75 + Math.random() / 2), o.signal);
  }
}

/** Waits until no live exclusive lock is held (a backup about to commit lets a running clean-up finish first). */
export async function waitForNoExclusive(store: LockStore, o: LockOptions & { except?: string }): Promise<void> {
  const now = o.now ?? Date.now;
  const deadline = now() + (o.waitMs ?? 0);
  for (let attempt = 0; ; attempt++) {
    const busy = (await liveLocks(store, o)).find((l) => l.kind === 'exclusive');
    if (!busy) return;
    if (now() >= deadline) {
      throw new BackupError('Busy', 'Another machine is cleaning up this bucket.', 'Wait a minute, then try again.', { params: { lock: busy.key, reason: 'bucket' } });
    }
    await sleep(Math.min(5000, 500 * 2 ** Math.min(attempt, 3)), o.signal);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new CancelledError(signal?.reason));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
