// Reads format-2 manifests, with a local cache. A manifest is never
// rewritten (uploads use If-None-Match), so a cached copy keyed by the
// object's key and ETag stays right; a replaced object has another ETag.
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import type { BackupRef } from '../format/backupKeys';
import { parseManifest, parseManifestHeader, type Manifest, type ManifestHeader } from '../format/manifest';
import { BackupError } from '../util/engineErrors';
import type { Logger } from '../util/engineLogger';

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
    let text: Buffer;
    try {
      text = zlib.gunzipSync(prefix, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: MAX_HEADER_TEXT });
    } catch (e) {
      throw new BackupError('Integrity', 'The backup manifest is not a gzip stream of ours.', 'It was not made by S3 Backup, or it is damaged; delete it from the bucket.', {
        params: { key: ref.key, entry: 'manifest.json', detail: e instanceof Error ? e.message : String(e) },
      });
    }
    const header = parseManifestHeader(text);
    if (header) return header;
    const { files: _f, dirs: _d, links: _l, packs: _p, ...rest } = await this.load(ref, { signal });
    return rest;
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
