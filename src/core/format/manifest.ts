import { BackupError } from '../util/engineErrors';
import type { BackupKind } from './backupKeys';
import { archivePathProblem } from '../util/paths';
import { printable } from '../util/printable';
import { checkManifest } from './manifestChecks';
import type { SelectionRules } from './selectionRules';

export { printable } from '../util/printable';

export const MANIFEST_NAME = 'manifest.json';
export const FORMAT_VERSION = 1;

export interface ManifestFile {
  /** Archive path (POSIX, relative), e.g. `workspace/app/src/index.ts`. */
  path: string;
  size: number;
  /** ISO 8601 UTC with milliseconds. */
  mtime: string;
  /** Permission bits only (`mode & 0o777`). */
  mode: number;
  /** Lower-case hex SHA-256 of the content. */
  sha256: string;
}

export interface ManifestMeta {
  kind: BackupKind;
  hostname: string;
  platform: string;
  created: string;
  sources: string[];
  toolVersion: string;
  /** Per backed-up folder (`workspace/<name>`): the rules its files were selected with. Absent in older backups. */
  selection?: Record<string, SelectionRules>;
}

export interface Manifest extends ManifestMeta {
  format: 1;
  files: ManifestFile[];
  totals: { files: number; bytes: number };
}

const KINDS: readonly string[] = ['workspace', 'appdata', 'full'];
const SHA256 = /^[0-9a-f]{64}$/;
// Date.toISOString() form; anything else is not ours.
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** Serialises a manifest the way it is stored in archives (UTF-8 JSON). */
export function serializeManifest(m: Manifest): Buffer {
  // One file per line keeps `unzip -p backup.zip manifest.json` readable and diffable.
  const head = {
    format: m.format,
    toolVersion: m.toolVersion,
    created: m.created,
    hostname: m.hostname,
    platform: m.platform,
    kind: m.kind,
    sources: m.sources,
    ...(m.selection ? { selection: m.selection } : {}),
    totals: m.totals,
  };
  const headText = JSON.stringify(head);
  const files = m.files.map((f) => JSON.stringify({ path: f.path, size: f.size, mtime: f.mtime, mode: f.mode, sha256: f.sha256 }));
  const text = `${headText.slice(0, -1)},\n"files":[\n${files.join(',\n')}\n]}\n`;
  return Buffer.from(text, 'utf8');
}

function bad(message: string, detail: string, code: 'Integrity' | 'UnsafeArchive' = 'Integrity', entry?: string): BackupError {
  return new BackupError(code, message, 'The backup is damaged or was not made by S3 Backup; pick another backup.', {
    params: { entry: entry ?? 'manifest.json', detail },
  });
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/**
 * Parses and strictly validates a stored manifest. Throws `BackupError`
 * 'Integrity' when it is not well-formed, 'UnsafeArchive' when a path in it is
 * unsafe or listed twice.
 */
export function parseManifest(text: string | Buffer): Manifest {
  let raw: unknown;
  try {
    const s = typeof text === 'string' ? text : new TextDecoder('utf-8', { fatal: true }).decode(text);
    raw = JSON.parse(s);
  } catch (e) {
    throw bad('The backup manifest is not valid JSON.', e instanceof Error ? e.message : String(e));
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('The backup manifest is not a JSON object.', 'not an object');
  const o = raw as Record<string, unknown>;
  if (o.format !== FORMAT_VERSION) {
    if (typeof o.format === 'number' && o.format > FORMAT_VERSION) {
      throw new BackupError('Integrity', `The backup was made by a newer version of S3 Backup (format ${o.format}).`, 'Update the extension, then try again.', {
        params: { entry: 'manifest.json', detail: `format ${o.format}` },
      });
    }
    throw bad('The backup manifest has no known format version.', 'format');
  }
  for (const k of ['toolVersion', 'hostname', 'platform'] as const) {
    if (typeof o[k] !== 'string') throw bad(`The backup manifest has no valid "${k}".`, k);
  }
  if (typeof o.created !== 'string' || !ISO.test(o.created) || Number.isNaN(Date.parse(o.created))) throw bad('The backup manifest has no valid creation date.', 'created');
  if (typeof o.kind !== 'string' || !KINDS.includes(o.kind)) throw bad('The backup manifest has an unknown kind.', 'kind');
  if (!Array.isArray(o.sources) || !o.sources.every((s) => typeof s === 'string')) throw bad('The backup manifest has no valid source list.', 'sources');
  if (!Array.isArray(o.files)) throw bad('The backup manifest has no file list.', 'files');
  const totals = o.totals as Record<string, unknown> | undefined;
  if (typeof totals !== 'object' || totals === null || !isCount(totals.files) || !isCount(totals.bytes)) throw bad('The backup manifest has no valid totals.', 'totals');

  const seen = new Set<string>();
  const files: ManifestFile[] = [];
  let bytes = 0;
  for (let i = 0; i < o.files.length; i++) {
    const f = o.files[i] as Record<string, unknown>;
    if (typeof f !== 'object' || f === null || Array.isArray(f)) throw bad(`File ${i + 1} in the backup manifest is not an object.`, `files[${i}]`);
    const p = f.path;
    if (typeof p !== 'string') throw bad(`File ${i + 1} in the backup manifest has no path.`, `files[${i}].path`);
    const problem = archivePathProblem(p);
    if (problem) throw bad(`The backup lists "${printable(p)}", which is unsafe: ${problem}.`, problem, 'UnsafeArchive', printable(p));
    if (p === MANIFEST_NAME) throw bad('The backup manifest lists itself.', 'self', 'UnsafeArchive', p);
    if (seen.has(p)) throw bad(`The backup lists "${p}" twice.`, 'duplicate', 'UnsafeArchive', p);
    seen.add(p);
    if (!isCount(f.size)) throw bad(`The backup manifest has no valid size for "${p}".`, 'size', 'Integrity', p);
    if (typeof f.mtime !== 'string' || !ISO.test(f.mtime) || Number.isNaN(Date.parse(f.mtime))) throw bad(`The backup manifest has no valid date for "${p}".`, 'mtime', 'Integrity', p);
    if (!isCount(f.mode) || f.mode > 0o7777) throw bad(`The backup manifest has no valid mode for "${p}".`, 'mode', 'Integrity', p);
    if (typeof f.sha256 !== 'string' || !SHA256.test(f.sha256)) throw bad(`The backup manifest has no valid checksum for "${p}".`, 'sha256', 'Integrity', p);
    bytes += f.size;
    files.push({ path: p, size: f.size, mtime: f.mtime, mode: f.mode, sha256: f.sha256 });
  }
  if (totals.files !== files.length || totals.bytes !== bytes) throw bad('The backup manifest totals do not match its file list.', 'totals');
  const selection = parseSelection(o.selection);

  const manifest: Manifest = {
    format: FORMAT_VERSION,
    toolVersion: o.toolVersion as string,
    created: o.created,
    hostname: o.hostname as string,
    platform: o.platform as string,
    kind: o.kind as BackupKind,
    sources: o.sources as string[],
    ...(selection ? { selection } : {}),
    files,
    totals: { files: files.length, bytes },
  };
  checkManifest(manifest);
  return manifest;
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** The optional `selection` record: `{ "workspace/<name>": { defaultExcludes, excludes, gitignore } }`. */
function parseSelection(v: unknown): Record<string, SelectionRules> | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('The backup manifest has no valid selection rules.', 'selection');
  const out: Record<string, SelectionRules> = {};
  for (const [prefix, r] of Object.entries(v as Record<string, unknown>)) {
    const rules = r as Partial<SelectionRules> | null;
    if (!/^workspace\/[^/]+$/.test(prefix) || typeof rules !== 'object' || rules === null || !isStrings(rules.defaultExcludes) || !isStrings(rules.excludes) || typeof rules.gitignore !== 'boolean') {
      throw bad(`The backup manifest has no valid selection rules for "${printable(prefix)}".`, 'selection');
    }
    out[prefix] = { defaultExcludes: rules.defaultExcludes, excludes: rules.excludes, gitignore: rules.gitignore };
  }
  return out;
}
