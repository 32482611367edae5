// Deletes the packs no kept backup references. Runs under the exclusive
// lock (see locks.ts): while any backup runs, nothing is deleted, so a
// backup that references an old pack can never lose it; what cannot be
// freed now is freed by the next clean-up.
import { backupPrefix, parseBackupKey, type BackupRef } from '../format/backupKeys';
import { packsPrefix, parsePackKey } from '../format/packKeys';
import type { Logger } from '../util/engineLogger';
import { acquireLock, type LockOptions, type LockStore } from './locks';
import type { ManifestStore } from './manifestStore';

/** The store operations a clean-up needs (S3Store's). */
export interface GcStore extends LockStore {
  listAll(prefix: string, o?: { signal?: AbortSignal; delimiter?: string }): Promise<{ key: string; size: number; lastModified?: Date; etag?: string }[]>;
  deleteMany(keys: readonly string[], o?: { signal?: AbortSignal }): Promise<void>;
}

export interface GcResult {
  /** False when another machine held a lock: nothing was deleted (the next clean-up frees it). */
  ran: boolean;
  deletedPacks: number;
  freedBytes: number;
  keptPacks: number;
  /** A backup whose manifest could not be read, which stopped the clean-up. */
  unreadable?: string;
}

/** Every backup object directly under the root path (format 1 and 2). */
export async function listBackups(store: GcStore, rootPath: string, signal?: AbortSignal): Promise<BackupRef[]> {
  const out: BackupRef[] = [];
  for (const obj of await store.listAll(backupPrefix(rootPath), { signal, delimiter: '/' })) {
    const ref = parseBackupKey(rootPath, obj.key, obj.size);
    if (ref) out.push({ ...ref, ...(obj.lastModified ? { lastModified: obj.lastModified } : {}), ...(obj.etag ? { etag: obj.etag } : {}) });
  }
  return out;
}

/**
 * Deletes unreferenced packs, or, with `dryRun`, says what it would free.
 * Never waits for a lock: a busy bucket is not an error, only a reason to
 * free the space later.
 */
export async function collectGarbage(
  store: GcStore,
  manifests: ManifestStore,
  o: Omit<LockOptions, 'purpose'> & { dryRun?: boolean; log?: Logger },
): Promise<GcResult> {
  const rootPath = store.profile.rootPath;
  let lock;
  try {
    lock = await acquireLock(store, 'exclusive', { ...o, purpose: o.dryRun ? 'plan a clean-up' : 'clean up', waitMs: 0 });
  } catch (e) {
    if ((e as { code?: string }).code === 'Busy') {
      o.log?.info('another machine holds a lock on this bucket: packs are freed at the next clean-up');
      return { ran: false, deletedPacks: 0, freedBytes: 0, keptPacks: 0 };
    }
    throw e;
  }
  try {
    const referenced = new Set<string>();
    for (const ref of await listBackups(store, rootPath, o.signal)) {
      if (ref.format !== 2) continue;
      // A manifest that cannot be read may still be a kept backup's: then no pack is known to be free.
      // Plain ones too (allowPlain): a clean-up only learns which packs to keep from them.
      const m = await manifests.load(ref, { signal: o.signal, allowPlain: true }).catch((e: unknown) => {
        if ((e as { code?: string }).code === 'Cancelled') throw e;
        o.log?.warn(`the manifest of ${ref.key} cannot be read (${e instanceof Error ? e.message : String(e)}): nothing is deleted`);
        return undefined;
      });
      if (!m) return { ran: false, deletedPacks: 0, freedBytes: 0, keptPacks: 0, unreadable: ref.key };
      for (const id of m.packs ?? []) referenced.add(id);
    }
    const unreferenced: { key: string; size: number }[] = [];
    let kept = 0;
    for (const obj of await store.listAll(packsPrefix(rootPath), { signal: o.signal })) {
      const id = parsePackKey(rootPath, obj.key);
      if (!id) continue;
      if (referenced.has(id)) kept++;
      else unreferenced.push(obj);
    }
    if (!o.dryRun && unreferenced.length > 0) {
      await store.deleteMany(unreferenced.map((p) => p.key), { signal: o.signal });
      o.log?.info(`deleted ${unreferenced.length} unreferenced packs`);
    }
    return { ran: true, deletedPacks: unreferenced.length, freedBytes: unreferenced.reduce((n, p) => n + p.size, 0), keptPacks: kept };
  } finally {
    await lock.release();
  }
}
