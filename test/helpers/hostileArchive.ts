// Hostile backups built by the tests: ZIP archives written by jszip (not by
// our writer) with a manifest that verifies, and a way to plant them in the
// bucket under a key that looks like any other backup's.
import { createHash } from 'crypto';
import JSZip from 'jszip';
import { makeBackupKey, type BackupKind } from '../../src/core/format/backupKeys';

export interface Entry {
  name: string;
  data: Buffer;
  store?: boolean;
  unixPermissions?: number;
  /** The mode the manifest records (default 0o644). */
  mode?: number;
}

export const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A well-formed manifest listing `files`; `extra` adds or replaces top-level fields (e.g. `selection`). */
export function manifestFor(files: Entry[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: 1,
    toolVersion: '0.0.0-test',
    created: '2026-01-02T03:04:05.678Z',
    hostname: 'evil',
    platform: 'linux',
    kind: 'workspace',
    sources: ['workspace/app'],
    files: files.map((f) => ({ path: f.name, size: f.data.length, mtime: '2025-01-01T00:00:00.000Z', mode: f.mode ?? 0o644, sha256: sha(f.data) })),
    totals: { files: files.length, bytes: files.reduce((s, f) => s + f.data.length, 0) },
    ...extra,
  };
}

/** An archive built by jszip (pako): manifest first unless told otherwise. */
export async function build(entries: Entry[], manifest: Record<string, unknown> | string | null, o: { manifestLast?: boolean } = {}): Promise<Buffer> {
  const zip = new JSZip();
  const addManifest = (): void => {
    if (manifest !== null) zip.file('manifest.json', typeof manifest === 'string' ? manifest : JSON.stringify(manifest), { compression: 'DEFLATE' });
  };
  if (!o.manifestLast) addManifest();
  for (const e of entries) {
    zip.file(e.name, e.data, {
      compression: e.store ? 'STORE' : 'DEFLATE',
      createFolders: false,
      ...(e.unixPermissions !== undefined ? { unixPermissions: e.unixPermissions } : {}),
    });
  }
  if (o.manifestLast) addManifest();
  return zip.generateAsync({ type: 'nodebuffer', platform: 'UNIX' });
}

/** Offset of the central directory record of `name`. */
export function centralRecord(buf: Buffer, name: string): number {
  for (let i = buf.length - 46; i >= 0; i--) {
    if (buf.readUInt32LE(i) === 0x02014b50 && buf.toString('utf8', i + 46, i + 46 + buf.readUInt16LE(i + 28)) === name) return i;
  }
  throw new Error(`no central record for ${name}`);
}

/** The key a real backup of this machine would get, for planting a hostile one among them. */
export function normalLookingKey(rootPath: string, kind: BackupKind = 'workspace', host = 'dev-laptop'): string {
  return makeBackupKey(rootPath, { time: new Date(), host, kind, format: 1 });
}
