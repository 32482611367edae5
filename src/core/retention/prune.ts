// Retention applied to the bucket: a plan (which backups a policy forgets,
// per machine, and what deleting them frees), then the deletion. Deleting
// goes the way a user's delete goes: the backup objects first, then the
// clean-up of packs (collectGarbage), which frees a pack only when no kept
// backup references it and never while a backup runs. One prune at a time
// per bucket (a 'prune' lock); the plan is made again under that lock and
// only what both plans forget is deleted, so a pin or a delete made since
// the user read the plan is honoured.
import type { BackupKind, BackupRef } from '../format/backupKeys';
import type { Manifest } from '../format/manifest';
import { packsPrefix, parsePackKey } from '../format/packKeys';
import { collectGarbage, listBackups, type GcResult, type GcStore } from '../repository/collectGarbage';
import { acquireLock, type LockOptions } from '../repository/locks';
import type { ManifestStore } from '../repository/manifestStore';
import { listPins, type PinStore } from '../repository/pins';
import { isCancelled, throwIfAborted } from '../util/engineErrors';
import type { Logger } from '../util/engineLogger';
import type { ProgressListener } from '../util/progress';
import { applyRetentionPolicy, groupIdOf, type KeepReason, type PolicyOptions, type RetentionPolicy } from './policy';

export type PruneStore = GcStore & PinStore;

export interface PruneDeps {
  store: PruneStore;
  manifests: ManifestStore;
  log: Logger;
  /** This machine's name (in locks). */
  host: string;
  lock?: Partial<Pick<LockOptions, 'staleMs' | 'refreshMs' | 'now'>>;
  policyOptions?: PolicyOptions;
}

/** Which backups a plan looks at: all (a prune), or one group of one machine (after a backup). */
export interface PruneScope {
  host?: string;
  kind?: BackupKind;
  /** With `host` and `kind`: only the group of this folder set. */
  folders?: readonly string[];
}

export type PlannedBackup = BackupRef & {
  pinned: boolean;
  /** The folders it holds, when its manifest says. */
  folders?: readonly string[];
  /** Why it is kept; empty for one that goes. */
  reasons: KeepReason[];
};

export interface PlanGroup {
  host: string;
  kind: BackupKind;
  folders?: readonly string[];
  kept: PlannedBackup[];
  forgotten: PlannedBackup[];
}

export interface HostPlan {
  host: string;
  kept: number;
  forgotten: number;
  /** What deleting this machine's forgotten backups alone frees (packs shared with another machine's count in the total only). */
  freedBytes: number;
}

export interface PrunePlan {
  policy: RetentionPolicy;
  scope: PruneScope;
  groups: PlanGroup[];
  /** Every backup that goes, newest first. */
  forget: PlannedBackup[];
  kept: number;
  pinned: number;
  byHost: HostPlan[];
  /** Bytes the bucket loses: the forgotten backups' objects and the packs only they reference. */
  freedBytes: number;
  /** False when a manifest could not be read: then no pack is counted (the clean-up frees none either). */
  measured: boolean;
  /** Backups whose manifest could not be read: kept, and no pack is freed while they exist. */
  unreadable: string[];
}

export interface PruneResult {
  deleted: string[];
  /** Planned to go, but kept by the plan made under the lock (pinned or changed since). */
  skipped: string[];
  gc: GcResult;
  /** Packs of the deleted backups wait for the next clean-up (a backup or clean-up held the bucket). */
  packsPending: boolean;
  /** The deleted objects' bytes and the packs the clean-up freed. */
  freedBytes: number;
}

/** Reads the bucket and decides what `policy` forgets within `scope`; `measure` also counts the bytes it frees (reads every manifest). */
export async function planPrune(deps: PruneDeps, policy: RetentionPolicy, o: { scope?: PruneScope; measure?: boolean; signal?: AbortSignal } = {}): Promise<PrunePlan> {
  const { store, manifests, signal } = { ...deps, signal: o.signal };
  const scope = o.scope ?? {};
  const measure = o.measure !== false;
  const rootPath = store.profile.rootPath;
  const [all, pins] = await Promise.all([listBackups(store, rootPath, signal), listPins(store, { signal })]);
  const unreadable: string[] = [];
  const loaded = new Map<string, Pick<Manifest, 'folders' | 'sources' | 'packs'>>();
  const inScope = (r: BackupRef): boolean => (scope.host === undefined || r.host === scope.host) && (scope.kind === undefined || r.kind === scope.kind);
  // Only what is needed: every manifest to count packs, or the first bytes of those in scope (their folder set).
  for (const ref of all) {
    if (ref.format !== 2 || (!measure && !inScope(ref))) continue;
    throwIfAborted(signal);
    try {
      loaded.set(ref.key, measure ? await manifests.load(ref, { signal }) : await manifests.header(ref, { signal }));
    } catch (e) {
      if (isCancelled(e)) throw e;
      deps.log.warn(`the manifest of ${ref.key} cannot be read (${e instanceof Error ? e.message : String(e)}): it is kept`);
      unreadable.push(ref.key);
    }
  }
  const items: PlannedBackup[] = all.filter(inScope).map((ref) => {
    const m = loaded.get(ref.key);
    const folders = m ? foldersOf(m) : undefined;
    return { ...ref, pinned: pins.has(ref.key), reasons: [], ...(folders ? { folders } : {}) };
  });
  const bad = new Set(unreadable);
  const wantedGroup = scope.folders && scope.host !== undefined && scope.kind !== undefined ? groupIdOf({ host: scope.host, kind: scope.kind, folders: scope.folders }) : undefined;
  const groups: PlanGroup[] = [];
  for (const g of applyRetentionPolicy(
    items.map((i) => ({ ...i, unreadable: bad.has(i.key) })),
    policy,
    deps.policyOptions,
  )) {
    if (wantedGroup && g.id !== wantedGroup) continue;
    const kept: PlannedBackup[] = [];
    const forgotten: PlannedBackup[] = [];
    for (const d of g.decisions) {
      const { unreadable: _u, ...item } = d.item;
      (d.keep ? kept : forgotten).push({ ...item, reasons: d.reasons });
    }
    groups.push({ host: g.host, kind: g.kind, ...(g.folders ? { folders: g.folders } : {}), kept, forgotten });
  }
  const forget = groups.flatMap((g) => g.forgotten).sort((a, b) => b.time.getTime() - a.time.getTime());
  const keptCount = groups.reduce((n, g) => n + g.kept.length, 0);
  const pinnedCount = groups.reduce((n, g) => n + g.kept.filter((k) => k.pinned).length, 0);

  const measured = measure && unreadable.length === 0;
  const sizes = measured ? await packSizes(store, rootPath, signal) : new Map<string, number>();
  const going = new Set(forget.map((f) => f.key));
  // A pack is freed when no backup that stays references it (whatever its machine or scope).
  const keptRefs = new Set<string>();
  for (const ref of all) if (!going.has(ref.key)) for (const id of loaded.get(ref.key)?.packs ?? []) keptRefs.add(id);
  const freedBy = (backups: readonly PlannedBackup[], alsoKept: ReadonlySet<string>): number => {
    const packs = new Set<string>();
    for (const b of backups) for (const id of loaded.get(b.key)?.packs ?? []) if (!keptRefs.has(id) && !alsoKept.has(id)) packs.add(id);
    return backups.reduce((n, b) => n + b.size, 0) + [...packs].reduce((n, id) => n + (sizes.get(id) ?? 0), 0);
  };
  const hosts = [...new Set(groups.map((g) => g.host))].sort();
  const byHost = hosts.map((host): HostPlan => {
    const mine = forget.filter((f) => f.host === host);
    // Packs that another machine's forgotten backups also reference stay when only this machine's go.
    const others = new Set<string>();
    for (const f of forget) if (f.host !== host) for (const id of loaded.get(f.key)?.packs ?? []) others.add(id);
    return { host, kept: groups.filter((g) => g.host === host).reduce((n, g) => n + g.kept.length, 0), forgotten: mine.length, freedBytes: freedBy(mine, others) };
  });
  return { policy, scope, groups, forget, kept: keptCount, pinned: pinnedCount, byHost, freedBytes: freedBy(forget, new Set()), measured, unreadable };
}

/**
 * Deletes what `plan` forgets and what a plan made again under the prune
 * lock still forgets, then frees the packs no kept backup references.
 * Another prune running: 'Busy'. Cancelling stops between deletions.
 */
export async function executePrune(deps: PruneDeps, plan: PrunePlan, o: { signal?: AbortSignal; onProgress?: ProgressListener } = {}): Promise<PruneResult> {
  const { store, signal } = { ...deps, signal: o.signal };
  const lock = await acquireLock(store, 'prune', { ...deps.lock, host: deps.host, signal, logger: deps.log, purpose: 'prune', waitMs: 0 });
  try {
    const fresh = await planPrune(deps, plan.policy, { scope: plan.scope, measure: false, signal });
    const still = new Set(fresh.forget.map((f) => f.key));
    const targets = plan.forget.filter((f) => still.has(f.key));
    const skipped = plan.forget.filter((f) => !still.has(f.key)).map((f) => f.key);
    if (skipped.length > 0) deps.log.info(`kept ${skipped.length} planned backups that the policy keeps now (pinned or changed since the plan)`);
    const total = targets.reduce((n, t) => n + t.size, 0);
    const deleted: string[] = [];
    let bytes = 0;
    o.onProgress?.({ phase: 'delete', bytesDone: 0, bytesTotal: total, filesDone: 0, filesTotal: targets.length });
    for (const t of targets) {
      throwIfAborted(signal);
      await store.delete(t.key, { signal });
      deleted.push(t.key);
      bytes += t.size;
      deps.log.info(`pruned ${t.key}`);
      o.onProgress?.({ phase: 'delete', bytesDone: bytes, bytesTotal: total, filesDone: deleted.length, filesTotal: targets.length });
    }
    // Format 1 backups are one object each: only format 2 leaves packs to free.
    const collect = targets.some((t) => t.format === 2);
    const gc: GcResult = collect
      ? await collectGarbage(store, deps.manifests, { ...deps.lock, host: deps.host, signal, log: deps.log, logger: deps.log })
      : { ran: false, deletedPacks: 0, freedBytes: 0, keptPacks: 0 };
    const packsPending = collect && !gc.ran;
    if (packsPending) deps.log.info('the packs of the pruned backups are freed at the next clean-up (the bucket is busy)');
    return { deleted, skipped, gc, packsPending, freedBytes: bytes + gc.freedBytes };
  } finally {
    await lock.release();
  }
}

/** A backup's folder set: the paths of its folders on its machine (or its archive prefixes when older ones lack paths). */
function foldersOf(m: Pick<Manifest, 'folders' | 'sources'>): readonly string[] {
  if (m.folders && m.folders.length > 0) return m.folders.map((f) => f.path);
  return m.sources;
}

async function packSizes(store: GcStore, rootPath: string, signal?: AbortSignal): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const obj of await store.listAll(packsPrefix(rootPath), { signal })) {
    const id = parsePackKey(rootPath, obj.key);
    if (id) out.set(id, obj.size);
  }
  return out;
}
