import { randomBytes } from 'crypto';
import { backupPrefix } from './backupKeys';

// 128 random bits: no two machines ever pick the same name for a pack.
const PACK_ID = /^[0-9a-f]{32}$/;

/** A new pack id (32 hex characters). */
export function newPackId(): string {
  return randomBytes(16).toString('hex');
}

/** The folder of the packs under a root path. */
export function packsPrefix(rootPath: string): string {
  return `${backupPrefix(rootPath)}packs/`;
}

/**
 * `<root>/packs/<first two hex>/<id>.zip`: a plain zip a user can download
 * and unzip; spread over 256 folders so no listing page is one huge folder.
 */
export function packKey(rootPath: string, id: string): string {
  if (!PACK_ID.test(id)) throw new TypeError(`not a pack id: ${id}`);
  return `${packsPrefix(rootPath)}${id.slice(0, 2)}/${id}.zip`;
}

/** The pack id of a key under `packsPrefix(rootPath)`, or undefined for anything else. */
export function parsePackKey(rootPath: string, key: string): string | undefined {
  const prefix = packsPrefix(rootPath);
  if (!key.startsWith(prefix)) return undefined;
  const m = /^([0-9a-f]{2})\/([0-9a-f]{32})\.zip$/.exec(key.slice(prefix.length));
  return m && m[2].startsWith(m[1]) ? m[2] : undefined;
}
