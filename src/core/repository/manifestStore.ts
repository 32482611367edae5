// Reads format-2 manifests, with a local cache. A manifest is never
// rewritten (uploads use If-None-Match), so a cached copy keyed by the
// object's key and ETag stays right; a replaced object has another ETag.
// In an encrypted repository the cache holds the objects as stored (sealed);
// a codec opens them and says whether a plain one may be used.
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import type { BackupRef } from '../format/backupKeys';
import { parseManifestHeader, readManifest, type Manifest, type ManifestHeader } from '../format/manifest';
import { BackupError } from '../util/engineErrors';
import type { Logger } from '../util/engineLogger';

/** Opens stored manifests: decrypts sealed ones, judges plain ones (repositoryCrypto.ts). */
export interface ManifestCodec {
  /** The gzip'd manifest inside a stored object (or a prefix of one: `prefix`), and whether it was sealed. */
  open(key: string, stored: Buffer, o: { prefix?: boolean; signal?: AbortSignal }): Promise<{ data: Buffer; encrypted: boolean }>;
  /** Throws unless a plain manifest may be used; `allowPlain`: the user confirmed one made before encryption was turned on. */
  admitPlain(ref: Pick<BackupRef, 'key' | 'lastModified'>, o: { signal?: AbortSignal; allowPlain?: boolean }): Promise<void>;
  /** Stored bytes that hold the first `bytes` of the manifest. */
  prefixLength(bytes: number): number;
}

/** A manifest's header, and whether the manifest is encrypted. */
export type ManifestSummary = ManifestHeader & { encrypted: boolean };

/** The store operations manifests need (S3Store's). */
export interface ManifestSource {
  getBuffer(key: string, o?: { signal?: AbortSignal; maxBytes?: number }): Promise<Buffer>;
  getRange(key: string, start: number, end: number, o?: { signal?: AbortSignal }): Promise<Buffer>;
}

// The first line of a manifest (its header) fits well within this, gzip'd.
const HEADER_BYTES = 16 * 1024;
// A gzip'd manifest of 100,000 files is about 4 MB; an object far larger is not ours and is not read.
const MAX_MANIFEST_OBJECT = 256 * 1024 * 1024;
// The header line inflates to a few KB; a prefix inflating to far more is not ours.
const MAX_HEADER_TEXT = 4 * 1024 * 1024;
// Parsed manifests kept in memory: a few recent backups, for the next backup and the tree.
const MEMORY_ENTRIES = 8;

const PLAIN: ManifestCodec = {
  open: async (_key, stored) => ({ data: stored, encrypted: false }),
  admitPlain: async () => undefined,
  prefixLength: (bytes) => bytes,
};

export class ManifestStore {
  private readonly parsed = new Map<string, Promise<Manifest>>();
  private readonly headers = new Map<string, Promise<ManifestSummary>>();
  private readonly sealed = new WeakSet<Manifest>();

  constructor(
    private readonly source: ManifestSource,
    /** Where downloaded manifests are kept; undefined: memory only. */
    private readonly cacheDir?: string,
    private readonly log?: Logger,
    private readonly codec: ManifestCodec = PLAIN,
  ) {}

  /**
   * The whole manifest of a format-2 backup, strictly checked. A plain one
   * must pass the codec's judgement (encryption on: refused unless
   * `allowPlain` and made before the repository's key).
   */
  async load(ref: Pick<BackupRef, 'key' | 'etag' | 'lastModified'>, o: { signal?: AbortSignal; allowPlain?: boolean } = {}): Promise<Manifest> {
    const id = cacheId(ref);
    let p = this.parsed.get(id);
    if (!p) {
      p = this.fetch(ref, id, o.signal).then(async (raw) => {
        const opened = await this.codec.open(ref.key, raw, { signal: o.signal });
        const m = await readManifest(opened.data);
        if (opened.encrypted) this.sealed.add(m);
        return m;
      });
      p.catch(() => this.parsed.delete(id));
      this.parsed.set(id, p);
      while (this.parsed.size > MEMORY_ENTRIES) this.parsed.delete(this.parsed.keys().next().value as string);
    }
    const m = await p;
    if (!this.sealed.has(m)) await this.codec.admitPlain(ref, o);
    return m;
  }

  /** Whether a manifest `load` returned was encrypted (then so are its packs). */
  isEncrypted(m: Manifest): boolean {
    return this.sealed.has(m);
  }

  /** The totals and sources of a backup from the first bytes of its manifest (one small ranged GET). */
  header(ref: Pick<BackupRef, 'key' | 'etag' | 'size'>, o: { signal?: AbortSignal } = {}): Promise<ManifestSummary> {
    const id = cacheId(ref);
    let p = this.headers.get(id);
    if (!p) {
      p = this.readHeader(ref, id, o.signal);
      p.catch(() => this.headers.delete(id));
      this.headers.set(id, p);
    }
    return p;
  }

  private async readHeader(ref: Pick<BackupRef, 'key' | 'etag' | 'size'>, id: string, signal?: AbortSignal): Promise<ManifestSummary> {
    const cached = await this.readCache(id);
    const want = this.codec.prefixLength(HEADER_BYTES);
    const stored = cached?.subarray(0, want) ?? (await this.source.getRange(ref.key, 0, Math.max(0, Math.min(want, ref.size) - 1), { signal }));
    const { data: prefix, encrypted } = await this.codec.open(ref.key, stored, { prefix: true, signal });
    // A prefix of a gzip stream inflates as far as it goes.
    let text: Buffer;
    try {
      text = zlib.gunzipSync(prefix, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: MAX_HEADER_TEXT });
    } catch (e) {
      throw new BackupError('Integrity', 'The backup manifest is not a gzip stream of ours.', 'It was not made by S3 Backup, or it is damaged; delete it from the bucket.', {
        params: { key: ref.key, entry: 'manifest.json', detail: e instanceof Error ? e.message : String(e) },
      });
    }
    const header = parseManifestHeader(text);
    if (header) return { ...header, encrypted };
    // An old manifest without a header line: the whole one (a plain one is only summarised, never restored from here).
    const { files: _f, dirs: _d, links: _l, packs: _p, ...rest } = await this.load(ref, { signal, allowPlain: true }).catch((e: unknown) => {
      if ((e as { code?: string }).code === 'PlainBackup') return this.parsed.get(id) as Promise<Manifest>;
      throw e;
    });
    return { ...rest, encrypted };
  }

  private async fetch(ref: Pick<BackupRef, 'key' | 'etag'>, id: string, signal?: AbortSignal): Promise<Buffer> {
    const cached = await this.readCache(id);
    if (cached) return cached;
    const raw = await this.source.getBuffer(ref.key, { signal, maxBytes: MAX_MANIFEST_OBJECT });
    await this.writeCache(id, raw);
    return raw;
  }

  private async readCache(id: string): Promise<Buffer | undefined> {
    if (!this.cacheDir) return undefined;
    return fs.promises.readFile(path.join(this.cacheDir, id)).catch(() => undefined);
  }

  private async writeCache(id: string, data: Buffer): Promise<void> {
    if (!this.cacheDir) return;
    try {
      await fs.promises.mkdir(this.cacheDir, { recursive: true });
      const tmp = path.join(this.cacheDir, `.${id}.${randomBytes(4).toString('hex')}.tmp`);
      await fs.promises.writeFile(tmp, data, { mode: 0o600 });
      await fs.promises.rename(tmp, path.join(this.cacheDir, id));
    } catch (e) {
      // A cache that cannot be written only costs a download next time.
      this.log?.debug(`manifest cache: ${String(e)}`);
    }
  }
}

function cacheId(ref: Pick<BackupRef, 'key' | 'etag'>): string {
  return createHash('sha256').update(`${ref.key}\n${ref.etag ?? ''}`).digest('hex');
}
