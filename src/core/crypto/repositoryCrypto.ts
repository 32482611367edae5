// One repository's encryption, as the engine uses it: opens the key with the
// passphrase once per engine, seals what a backup writes, opens what a
// restore reads, and judges plain backups in an encrypted repository.
//
// Authenticity: only someone with the passphrase can make an object that
// opens, so with a passphrase set a sealed object that does not open is
// refused ('Unauthentic'), and so is a plain manifest, with one exception
// that keeps a user's own older backups: a plain manifest whose S3
// LastModified (set by the server; nobody can backdate it) is older than the
// repository's first key object was made before encryption was turned on.
// It is restored only when the caller says the user confirmed (allowPlain).
import type { PackSource } from '../archive/packReader';
import type { PackStore } from '../archive/packWriter';
import type { BackupRef } from '../format/backupKeys';
import type { ManifestCodec } from '../repository/manifestStore';
import { BackupError } from '../util/engineErrors';
import { decryptBuffer, decryptChunks, encryptBuffer, HEADER_LENGTH, isEncrypted, sealedRange, unauthentic } from './chunkCipher';
import { createRepositoryKey, listKeyObjects, openRepositoryKey, rewrapRepositoryKey, type KeyObjectStore, type RepositoryKey, type ScryptParams } from './repoKey';
import { openingSource, sealedName, sealingStore } from './sealedObjects';

/** The store operations encryption needs (S3Store's). */
export interface CryptoStore extends KeyObjectStore {
  head(key: string, o?: { signal?: AbortSignal }): Promise<{ lastModified?: Date } | undefined>;
}

export function passphraseNeeded(): BackupError {
  return new BackupError('PassphraseNeeded', 'This repository is encrypted, and no passphrase was given.', 'Enter the passphrase the backups were made with (S3_BACKUP_PASSPHRASE for the command line).', {
    params: { reason: 'missing' },
  });
}

export class RepositoryCrypto implements ManifestCodec {
  private key: Promise<RepositoryKey | undefined> | undefined;

  constructor(
    private readonly store: CryptoStore,
    private readonly rootPath: string,
    private readonly passphrase: string | undefined,
    private readonly o: { scrypt?: ScryptParams } = {},
  ) {}

  /** Whether a passphrase was given (then new backups are encrypted). */
  get enabled(): boolean {
    return this.passphrase !== undefined && this.passphrase !== '';
  }

  /** Whether the root path has a key object (its backups are encrypted). */
  async hasKey(signal?: AbortSignal): Promise<boolean> {
    return (await listKeyObjects(this.store, this.rootPath, signal)).length > 0;
  }

  /** The repository's key opened with the passphrase; undefined without a passphrase or a key object. */
  opened(signal?: AbortSignal): Promise<RepositoryKey | undefined> {
    if (!this.enabled) return Promise.resolve(undefined);
    if (!this.key) {
      this.key = openRepositoryKey(this.store, this.rootPath, this.passphrase as string, signal);
      this.key.catch(() => (this.key = undefined));
    }
    return this.key;
  }

  /** The key for a new backup: with a passphrase, the repository's (made now when there is none). Without one, refused in an encrypted repository. */
  async forBackup(signal?: AbortSignal): Promise<RepositoryKey | undefined> {
    if (!this.enabled) {
      if (await this.hasKey(signal)) throw passphraseNeeded();
      return undefined;
    }
    const k = await this.opened(signal);
    if (k) return k;
    const made = createRepositoryKey(this.store, this.rootPath, this.passphrase as string, { signal, scrypt: this.o.scrypt });
    this.key = made;
    made.catch(() => (this.key = undefined));
    return made;
  }

  /** Wraps the repository's key with `next` (no data is uploaded again); the old passphrase stops working. */
  async changePassphrase(next: string, signal?: AbortSignal): Promise<void> {
    if (!next) throw new BackupError('InvalidProfile', 'The new passphrase is empty.', 'Choose a passphrase.', { params: { fields: 'passphrase' } });
    const k = await this.opened(signal);
    if (!k) throw this.enabled ? new BackupError('NotFound', 'This repository is not encrypted yet, so it has no passphrase to change.', 'Set the passphrase and back up: the first backup turns encryption on.', { params: { reason: 'noKey' } }) : passphraseNeeded();
    await rewrapRepositoryKey(this.store, this.rootPath, k, next, { signal, scrypt: this.o.scrypt });
  }

  /** What a new backup writes, as stored: `packs` for the pack uploads, `manifest` to seal the manifest. */
  sealing(store: PackStore, k: RepositoryKey): { packs: PackStore; manifest: (key: string, body: Buffer) => Buffer } {
    return {
      packs: sealingStore(store, this.rootPath, k),
      manifest: (key, body) => encryptBuffer(k.current, sealedName(this.rootPath, key), body),
    };
  }

  /** The source a manifest's packs are read from: opened with the key when the manifest was encrypted. */
  async packSource(src: PackSource, encrypted: boolean, signal?: AbortSignal): Promise<PackSource> {
    if (!encrypted) return src;
    const k = await this.requireKey(signal);
    return openingSource(src, this.rootPath, k);
  }

  /** The opened key, or why there is none ('PassphraseNeeded', or 'Unauthentic' when the key object is gone). */
  async requireKey(signal?: AbortSignal, name?: string): Promise<RepositoryKey> {
    if (!this.enabled) throw passphraseNeeded();
    const k = await this.opened(signal);
    // Sealed objects but no key object: it was removed or replaced; nothing here can be trusted.
    if (!k) throw unauthentic(name ?? 'keys/', 'no key object');
    return k;
  }

  // ManifestCodec

  prefixLength(bytes: number): number {
    return sealedRange(0, bytes - 1).end + 1;
  }

  async open(key: string, stored: Buffer, o: { prefix?: boolean; signal?: AbortSignal }): Promise<{ data: Buffer; encrypted: boolean }> {
    if (!isEncrypted(stored)) return { data: stored, encrypted: false };
    const name = sealedName(this.rootPath, key);
    const k = await this.requireKey(o.signal, name);
    if (!o.prefix) return { data: decryptBuffer(k, name, stored), encrypted: true };
    const body = stored.subarray(HEADER_LENGTH);
    return { data: decryptChunks(k, name, stored.subarray(0, HEADER_LENGTH), 0, body, 1), encrypted: true };
  }

  async admitPlain(ref: Pick<BackupRef, 'key' | 'lastModified'>, o: { signal?: AbortSignal; allowPlain?: boolean }): Promise<void> {
    if (!this.enabled) return;
    const k = await this.opened(o.signal);
    const made = ref.lastModified ?? (await this.store.head(ref.key, { signal: o.signal }))?.lastModified;
    if (k && (!made || made.getTime() >= k.since.getTime())) {
      throw new BackupError('PlainBackup', 'This backup is not encrypted although it was made after encryption was turned on, so it may have been planted; it was refused.', 'Do not restore it; delete it, and check who can write to the bucket.', {
        params: { key: ref.key, reason: 'newer' },
      });
    }
    if (!o.allowPlain) {
      throw new BackupError('PlainBackup', 'This backup is not encrypted: it was made before encryption was turned on, so nothing proves it is yours.', 'Restore it only if you made it (the command line: --allow-plain).', {
        params: { key: ref.key, reason: 'older' },
      });
    }
  }
}
