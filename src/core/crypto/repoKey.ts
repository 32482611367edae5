// The key objects of an encrypted repository: `<root>/keys/<id>.json`, each
// the repository's random 32-byte data key wrapped (AES-256-GCM) by a key
// derived from the passphrase with scrypt, whose parameters it records.
// Changing the passphrase writes a new key object around the same data key
// (no data is uploaded again) and then removes the old one. Key objects,
// like every object of ours, are never overwritten.
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'crypto';
import { backupPrefix } from '../format/backupKeys';
import { BackupError, throwIfAborted } from '../util/engineErrors';
import type { DataKey, KeyRing } from './chunkCipher';

/** The store operations key objects need (S3Store's). */
export interface KeyObjectStore {
  listAll(prefix: string, o?: { signal?: AbortSignal }): Promise<Array<{ key: string; size: number; lastModified?: Date }>>;
  getBuffer(key: string, o?: { signal?: AbortSignal; maxBytes?: number }): Promise<Buffer>;
  putBuffer(key: string, data: Buffer, o?: { signal?: AbortSignal; contentType?: string }): Promise<void>;
  delete(key: string, o?: { signal?: AbortSignal }): Promise<void>;
}

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

// 128 MiB and about half a second per derivation on a laptop: costly to guess at, cheap once per session.
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };
// A key object asking for more memory than this is not ours (a hostile one could ask for gigabytes).
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;
// Key objects tried, oldest first (S3's time; nobody can backdate it): planted ones cannot make us derive keys forever.
const MAX_KEY_OBJECTS = 8;
const MAX_KEY_OBJECT = 4096;

/** What a passphrase opened: the data keys, and since when the repository is encrypted. */
export interface RepositoryKey extends KeyRing {
  /** When the first key object was written (S3's time): plain backups older than this predate encryption. */
  since: Date;
  /** The key objects that opened (a passphrase change removes them). */
  objects: string[];
}

interface KeyFile {
  format: 's3-backup-key';
  version: 1;
  keyId: string;
  /** The time the repository's first key object got from S3, carried over by passphrase changes. */
  since?: string;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  wrap: { name: 'aes-256-gcm'; iv: string; data: string };
}

/** The folder of the key objects under a root path. */
export function keysPrefix(rootPath: string): string {
  return `${backupPrefix(rootPath)}keys/`;
}

/** Whether the repository has key objects at all (it is encrypted); their keys and times. */
export async function listKeyObjects(store: KeyObjectStore, rootPath: string, signal?: AbortSignal): Promise<Array<{ key: string; lastModified?: Date }>> {
  const list = await store.listAll(keysPrefix(rootPath), { signal });
  return list.filter((o) => /\/keys\/[0-9a-f]{32}\.json$/.test(`/${o.key}`) && o.size <= MAX_KEY_OBJECT);
}

function derive(passphrase: string, salt: Buffer, p: ScryptParams, signal?: AbortSignal): Promise<Buffer> {
  throwIfAborted(signal);
  const maxmem = 128 * p.N * p.r * p.p + 16 * 1024 * 1024;
  return new Promise((resolve, reject) =>
    // Off the calling thread (libuv's pool): the extension host stays responsive.
    scrypt(Buffer.from(passphrase.normalize('NFC'), 'utf8'), salt, 32, { N: p.N, r: p.r, p: p.p, maxmem }, (e, k) => (e ? reject(e) : resolve(k))),
  );
}

function aad(keyId: string, since: string | undefined): Buffer {
  return Buffer.from(`s3-backup key v1\0${keyId}\0${since ?? ''}`, 'utf8');
}

async function wrapKey(dk: DataKey, passphrase: string, since: string | undefined, params: ScryptParams, signal?: AbortSignal): Promise<Buffer> {
  const salt = randomBytes(16);
  const kek = await derive(passphrase, salt, params, signal);
  const iv = randomBytes(12);
  const keyId = dk.id.toString('hex');
  const c = createCipheriv('aes-256-gcm', kek, iv);
  c.setAAD(aad(keyId, since));
  const data = Buffer.concat([c.update(dk.key), c.final(), c.getAuthTag()]);
  const file: KeyFile = {
    format: 's3-backup-key',
    version: 1,
    keyId,
    ...(since ? { since } : {}),
    kdf: { name: 'scrypt', ...params, salt: salt.toString('base64') },
    wrap: { name: 'aes-256-gcm', iv: iv.toString('base64'), data: data.toString('base64') },
  };
  return Buffer.from(`${JSON.stringify(file, null, 2)}\n`, 'utf8');
}

function parseKeyFile(raw: Buffer): KeyFile | undefined {
  try {
    const f = JSON.parse(raw.toString('utf8')) as KeyFile;
    const k = f.kdf;
    const ok =
      f.format === 's3-backup-key' && f.version === 1 && /^[0-9a-f]{32}$/.test(f.keyId) && (f.since === undefined || !Number.isNaN(Date.parse(f.since))) &&
      k?.name === 'scrypt' && Number.isInteger(k.N) && k.N >= 2 ** 10 && (k.N & (k.N - 1)) === 0 && Number.isInteger(k.r) && k.r >= 1 && Number.isInteger(k.p) && k.p >= 1 &&
      128 * k.N * k.r * k.p <= MAX_SCRYPT_MEMORY && typeof k.salt === 'string' &&
      f.wrap?.name === 'aes-256-gcm' && typeof f.wrap.iv === 'string' && typeof f.wrap.data === 'string';
    return ok ? f : undefined;
  } catch {
    return undefined;
  }
}

async function unwrapKey(f: KeyFile, passphrase: string, signal?: AbortSignal): Promise<DataKey | undefined> {
  const kek = await derive(passphrase, Buffer.from(f.kdf.salt, 'base64'), f.kdf, signal);
  const data = Buffer.from(f.wrap.data, 'base64');
  if (data.length !== 48) return undefined;
  try {
    const d = createDecipheriv('aes-256-gcm', kek, Buffer.from(f.wrap.iv, 'base64'));
    d.setAAD(aad(f.keyId, f.since));
    d.setAuthTag(data.subarray(32));
    const key = Buffer.concat([d.update(data.subarray(0, 32)), d.final()]);
    return { id: Buffer.from(f.keyId, 'hex'), key };
  } catch {
    return undefined;
  }
}

export function wrongPassphrase(): BackupError {
  return new BackupError('WrongPassphrase', "The passphrase does not open this repository's key.", 'Enter the passphrase these backups were made with; without it they cannot be read.', {
    params: { reason: 'wrong' },
  });
}

/**
 * Opens the repository's key with `passphrase`: undefined when the root path
 * has no key object (not encrypted yet); 'WrongPassphrase' when none opens.
 */
export async function openRepositoryKey(store: KeyObjectStore, rootPath: string, passphrase: string, signal?: AbortSignal): Promise<RepositoryKey | undefined> {
  const objects = await listKeyObjects(store, rootPath, signal);
  if (objects.length === 0) return undefined;
  const opened: Array<{ key: string; dk: DataKey; since: Date }> = [];
  const oldestFirst = [...objects].sort((a, b) => (a.lastModified?.getTime() ?? 0) - (b.lastModified?.getTime() ?? 0)).slice(0, MAX_KEY_OBJECTS);
  for (const o of oldestFirst) {
    const raw = await store.getBuffer(o.key, { signal, maxBytes: MAX_KEY_OBJECT }).catch((e: unknown) => {
      if (e instanceof BackupError && e.code === 'NotFound') return undefined; // removed by a passphrase change meanwhile
      throw e;
    });
    const f = raw && parseKeyFile(raw);
    if (!f) continue;
    const dk = await unwrapKey(f, passphrase, signal);
    if (dk) opened.push({ key: o.key, dk, since: f.since ? new Date(f.since) : (o.lastModified ?? new Date(0)) });
  }
  if (opened.length === 0) throw wrongPassphrase();
  // Two machines that turned encryption on at once made two data keys: the oldest encrypts, both decrypt.
  opened.sort((a, b) => a.since.getTime() - b.since.getTime() || (a.key < b.key ? -1 : 1));
  const all: DataKey[] = [];
  for (const o of opened) if (!all.some((k) => k.id.equals(o.dk.id))) all.push(o.dk);
  return { current: opened[0].dk, all, since: opened[0].since, objects: opened.map((o) => o.key) };
}

function newKeyObjectName(rootPath: string): string {
  return `${keysPrefix(rootPath)}${randomBytes(16).toString('hex')}.json`;
}

/** Turns encryption on for the root path: a new random data key in a new key object. */
export async function createRepositoryKey(store: KeyObjectStore, rootPath: string, passphrase: string, o: { signal?: AbortSignal; scrypt?: ScryptParams } = {}): Promise<RepositoryKey> {
  const dk: DataKey = { id: randomBytes(16), key: randomBytes(32) };
  await store.putBuffer(newKeyObjectName(rootPath), await wrapKey(dk, passphrase, undefined, o.scrypt ?? DEFAULT_SCRYPT, o.signal), { signal: o.signal, contentType: 'application/json' });
  const key = await openRepositoryKey(store, rootPath, passphrase, o.signal);
  if (!key) throw wrongPassphrase();
  return key;
}

/**
 * Wraps the data keys `current` opened with `newPassphrase` in new key
 * objects, then removes the old ones. A failure before the removal leaves
 * both passphrases working; never neither.
 */
export async function rewrapRepositoryKey(
  store: KeyObjectStore,
  rootPath: string,
  current: RepositoryKey,
  newPassphrase: string,
  o: { signal?: AbortSignal; scrypt?: ScryptParams } = {},
): Promise<RepositoryKey> {
  const since = current.since.toISOString();
  for (const dk of current.all) {
    await store.putBuffer(newKeyObjectName(rootPath), await wrapKey(dk, newPassphrase, since, o.scrypt ?? DEFAULT_SCRYPT, o.signal), { signal: o.signal, contentType: 'application/json' });
  }
  const next = await openRepositoryKey(store, rootPath, newPassphrase, o.signal);
  if (!next || !current.all.every((k) => next.all.some((n) => n.id.equals(k.id)))) throw wrongPassphrase();
  for (const old of current.objects) await store.delete(old, { signal: o.signal });
  return { ...next, objects: next.objects.filter((k) => !current.objects.includes(k)) };
}
