// Reads format-2 manifests, with a local cache. A manifest is never
// rewritten (uploads use If-None-Match), so a cached copy keyed by the
// object's key and ETag stays right; a replaced object has another ETag.
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import type { BackupRef } from '../format/backupKeys';
import { parseManifest, parseManifestHeader, type Manifest, type ManifestHeader } from '../format/manifest';
import type { Logger } from '../util/engineLogger';

/** The store operations manifests need (S3Store's). */
export interface ManifestSource {
  getBuffer(key: string, o?: { signal?: AbortSignal }): Promise<Buffer>;
  getRange(key: string, start: number, end: number, o?: { signal?: AbortSignal }): Promise<Buffer>;
}

// The first line of a manifest (its header) fits well within this, gzip'd.
const HEADER_BYTES = 16 * 1024;
// Parsed manifests kept in memory: a few recent backups, for the next backup and the tree.
const MEMORY_ENTRIES = 8;

export class ManifestStore {
  private readonly parsed = new Map<string, Promise<Manifest>>();
  private readonly headers = new Map<string, Promise<ManifestHeader>>();

  constructor(
    private readonly source: ManifestSource,
    /** Where downloaded manifests are kept; undefined: memory only. */
    private readonly cacheDir?: string,
    private readonly log?: Logger,
  ) {}

  /** The whole manifest of a format-2 backup, strictly checked. */
  load(ref: Pick<BackupRef, 'key' | 'etag'>, o: { signal?: AbortSignal } = {}): Promise<Manifest> {
    const id = cacheId(ref);
    let p = this.parsed.get(id);
    if (!p) {
      p = this.fetch(ref, id, o.signal).then((raw) => parseManifest(raw));
      p.catch(() => this.parsed.delete(id));
      this.parsed.set(id, p);
      while (this.parsed.size > MEMORY_ENTRIES) this.parsed.delete(this.parsed.keys().next().value as string);
    }
    return p;
  }

  /** The totals and sources of a backup from the first bytes of its manifest (one small ranged GET). */
  header(ref: Pick<BackupRef, 'key' | 'etag' | 'size'>, o: { signal?: AbortSignal } = {}): Promise<ManifestHeader> {
    const id = cacheId(ref);
    let p = this.headers.get(id);
    if (!p) {
      p = this.readHeader(ref, id, o.signal);
      p.catch(() => this.headers.delete(id));
      this.headers.set(id, p);
    }
    return p;
  }

  private async readHeader(ref: Pick<BackupRef, 'key' | 'etag' | 'size'>, id: string, signal?: AbortSignal): Promise<ManifestHeader> {
    const cached = await this.readCache(id);
    const prefix = cached?.subarray(0, HEADER_BYTES) ?? (await this.source.getRange(ref.key, 0, Math.max(0, Math.min(HEADER_BYTES, ref.size) - 1), { signal }));
    // A prefix of a gzip stream inflates as far as it goes.
    const text = zlib.gunzipSync(prefix, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const header = parseManifestHeader(text);
    if (header) return header;
    const { files: _f, dirs: _d, links: _l, packs: _p, ...rest } = await this.load(ref, { signal });
    return rest;
  }

  private async fetch(ref: Pick<BackupRef, 'key' | 'etag'>, id: string, signal?: AbortSignal): Promise<Buffer> {
    const cached = await this.readCache(id);
    if (cached) return cached;
    const raw = await this.source.getBuffer(ref.key, { signal });
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
