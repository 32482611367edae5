import * as vscode from 'vscode';

/** The credentials, kept only in SecretStorage (the OS keychain), never in settings. */
export interface Credentials {
  accessKeyId?: string;
  secretAccessKey?: string;
}

const KEYS: Record<keyof Credentials, string> = {
  accessKeyId: 's3Backup.accessKeyId',
  secretAccessKey: 's3Backup.secretAccessKey',
};
// The encryption passphrase: a secret like the keys, kept beside them, never in settings.
const PASSPHRASE = 's3Backup.passphrase';

/** A typed wrapper over `context.secrets` for the two S3 keys. */
export class SecretStore implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  /** Fires when either key changes, here or in another window. */
  readonly onDidChange = this.emitter.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly storage: vscode.SecretStorage) {
    const ours = new Set([...Object.values(KEYS), PASSPHRASE]);
    this.sub = storage.onDidChange((e) => {
      if (ours.has(e.key)) this.emitter.fire();
    });
  }

  async get(): Promise<Credentials> {
    const [accessKeyId, secretAccessKey] = await Promise.all([
      this.storage.get(KEYS.accessKeyId),
      this.storage.get(KEYS.secretAccessKey),
    ]);
    return { accessKeyId: accessKeyId || undefined, secretAccessKey: secretAccessKey || undefined };
  }

  /** Whether a secret access key is stored (without handing it out). */
  async hasSecret(): Promise<boolean> {
    return !!(await this.storage.get(KEYS.secretAccessKey));
  }

  /**
   * Stores the given keys; a key left `undefined` is kept as it is, an empty
   * string deletes it.
   */
  async store(c: Credentials): Promise<void> {
    for (const name of Object.keys(KEYS) as Array<keyof Credentials>) {
      const v = c[name];
      if (v === undefined) continue;
      const trimmed = v.trim();
      if (trimmed) await this.storage.store(KEYS[name], trimmed);
      else await this.storage.delete(KEYS[name]);
    }
  }

  /** Deletes both keys, or only the named one. */
  async clear(which?: keyof Credentials): Promise<void> {
    for (const name of which ? [which] : (Object.keys(KEYS) as Array<keyof Credentials>)) {
      await this.storage.delete(KEYS[name]);
    }
  }

  /** The encryption passphrase, if one is stored. */
  async getPassphrase(): Promise<string | undefined> {
    return (await this.storage.get(PASSPHRASE)) || undefined;
  }

  /** Stores the passphrase ('' deletes it). Kept as typed: spaces may be part of it. */
  async storePassphrase(passphrase: string): Promise<void> {
    if (passphrase) await this.storage.store(PASSPHRASE, passphrase);
    else await this.storage.delete(PASSPHRASE);
  }

  dispose(): void {
    this.sub.dispose();
    this.emitter.dispose();
  }
}
