// Pins: a backup is pinned while a marker object `<root>/pins/<its file
// name>` exists. A marker, not an object tag: every S3 service we support
// lists and deletes plain objects alike (tagging is missing or partial on
// several), one listing of pins/ tells every machine every pin, and the
// marker's content is never trusted (only its name counts).
import { backupPrefix, parseBackupKey } from '../format/backupKeys';
import { BackupError } from '../util/engineErrors';

/** The store operations pins need (S3Store's). */
export interface PinStore {
  readonly profile: { rootPath: string };
  listAll(prefix: string, o?: { signal?: AbortSignal }): Promise<{ key: string }[]>;
  putBuffer(key: string, data: Buffer, o: { signal?: AbortSignal; contentType?: string; overwrite?: boolean }): Promise<void>;
  delete(key: string, o?: { signal?: AbortSignal }): Promise<void>;
}

export function pinsPrefix(rootPath: string): string {
  return `${backupPrefix(rootPath)}pins/`;
}

/** The marker of a backup key; a key that is not a backup under `rootPath` is refused. */
export function pinKey(rootPath: string, backupKey: string): string {
  if (!parseBackupKey(rootPath, backupKey)) {
    throw new BackupError('NotFound', `"${backupKey}" is not a backup under this root path.`, 'Refresh the list of backups.', { params: { key: backupKey } });
  }
  return `${pinsPrefix(rootPath)}${backupKey.slice(backupPrefix(rootPath).length)}`;
}

/** The keys of the pinned backups (markers whose name is no backup's are ignored). One listing request per 1,000 pins. */
export async function listPins(store: PinStore, o: { signal?: AbortSignal } = {}): Promise<Set<string>> {
  const rootPath = store.profile.rootPath;
  const prefix = pinsPrefix(rootPath);
  const out = new Set<string>();
  for (const obj of await store.listAll(prefix, { signal: o.signal })) {
    const key = `${backupPrefix(rootPath)}${obj.key.slice(prefix.length)}`;
    if (parseBackupKey(rootPath, key)) out.add(key);
  }
  return out;
}

/** Writes or removes the marker of `backupKey` (both idempotent). */
export async function setPin(store: PinStore, backupKey: string, pinned: boolean, o: { host: string; signal?: AbortSignal }): Promise<void> {
  const key = pinKey(store.profile.rootPath, backupKey);
  if (!pinned) {
    await store.delete(key, { signal: o.signal });
    return;
  }
  const body = Buffer.from(JSON.stringify({ backup: backupKey, pinnedBy: o.host, pinned: new Date().toISOString() }) + '\n');
  await store.putBuffer(key, body, { signal: o.signal, contentType: 'application/json', overwrite: true });
}
