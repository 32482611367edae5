import { promisify } from 'util';
import * as zlib from 'zlib';
import { BackupError } from '../util/engineErrors';
import type { BackupKind } from './backupKeys';
import { archivePathProblem } from '../util/paths';
import { printable } from '../util/printable';
import { utf8Chunks } from '../util/utf8Chunks';
import { runSteps, runStepsSliced, STEP_ITEMS, yieldIfDue, type Steps } from '../util/timeSlice';
import { checkManifestSteps } from './manifestChecks';
import { ManifestLines, parseManifestJson } from './manifestJson';
import type { SelectionRules } from './selectionRules';

export { printable } from '../util/printable';

export const MANIFEST_NAME = 'manifest.json';
/** Format 1: one zip per backup, this manifest inside it. Format 2: the manifest is its own object; files live in packs. */
export type FormatVersion = 1 | 2;
export const FORMAT_VERSION: FormatVersion = 2;

/**
 * Where (part of) a file's content is stored in format 2: in `packs[pack]`,
 * its zip entry's data starting at `offset`, `compressedSize` bytes stored
 * with `method` (0 store, 8 deflate), holding `size` bytes whose crc32 is `crc32`.
 * A file has one piece, or several in order when it was too big for one pack.
 */
export type PieceRef = [pack: number, offset: number, compressedSize: number, method: 0 | 8, crc32: number, size: number];

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
  /** Format 2: where the content is, in order. */
  refs?: PieceRef[];
  /** Format 2: the inode and ctime (ms) seen at backup, so the next backup can tell an unchanged file without reading it. */
  ino?: number;
  ctime?: number;
}

/** An empty folder (format 2). */
export interface ManifestDir {
  path: string;
  mtime: string;
  mode: number;
}

/** A symbolic link (format 2): restored as a link when its target stays inside the restored tree. */
export interface ManifestLink {
  path: string;
  target: string;
  mtime: string;
  /** Where its entry is in a pack (the target as the entry's content), so unzip of the pack recreates it. */
  refs?: PieceRef[];
}

/** A backed-up folder: its archive prefix and where it was on the machine that made the backup. */
export interface ManifestFolder {
  prefix: string;
  path: string;
}

/** What a backup added to the bucket (format 2). */
export interface ManifestAdded {
  files: number;
  bytes: number;
  packs: number;
  packBytes: number;
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
  format: FormatVersion;
  files: ManifestFile[];
  totals: { files: number; bytes: number };
  /** Format 2: the pack ids `PieceRef.pack` indexes. */
  packs?: string[];
  dirs?: ManifestDir[];
  links?: ManifestLink[];
  folders?: ManifestFolder[];
  added?: ManifestAdded;
}

const KINDS: readonly string[] = ['workspace', 'appdata', 'full'];
const SHA256 = /^[0-9a-f]{64}$/;
// Date.toISOString() form; anything else is not ours.
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

// Entries per piece of the serialised text: a 100,000-file manifest is made
// and compressed a piece at a time, never as one string (nor one per step).
// 128 lines are ~32 KiB, a string V8's young generation takes (util/utf8Chunks.ts).
const PIECE_LINES = 128;

/**
 * The manifest as UTF-8 JSON, in pieces: the header fields on the first line
 * (so a reader of the first few kilobytes gets the totals without the rest,
 * see `parseManifestHeader`), then one entry per line, which keeps
 * `unzip -p backup.zip manifest.json` and `zcat` readable and diffable.
 */
function* manifestPieces(m: Manifest): Generator<string> {
  yield headLine(m);
  yield* entryPieces(m);
}

/** The first line: every header field, the totals and what the backup added included. */
function headLine(m: Manifest): string {
  const head: Record<string, unknown> = {
    format: m.format,
    toolVersion: m.toolVersion,
    created: m.created,
    hostname: m.hostname,
    platform: m.platform,
    kind: m.kind,
    sources: m.sources,
    ...(m.folders ? { folders: m.folders } : {}),
    ...(m.selection ? { selection: m.selection } : {}),
    totals: m.totals,
    ...(m.added ? { added: m.added } : {}),
  };
  return `${JSON.stringify(head).slice(0, -1)},\n`;
}

/** What follows the first line: the lists, one entry a line. */
export type ManifestEntries = Pick<Manifest, 'format' | 'files' | 'packs' | 'dirs' | 'links'>;

function* entryPieces(m: ManifestEntries): Generator<string> {
  // One object a line, the optional fields added when set, for JSON.stringify's fast path
  // (100,000 lines: ~115 ms; with spreads ~120-195 ms, as a template of field texts ~155 ms).
  const fileLine = (f: ManifestFile): string => {
    const line: Record<string, unknown> = { path: f.path, size: f.size, mtime: f.mtime, mode: f.mode, sha256: f.sha256 };
    if (f.refs) line.refs = f.refs;
    if (f.ino !== undefined) line.ino = f.ino;
    if (f.ctime !== undefined) line.ctime = f.ctime;
    return JSON.stringify(line);
  };
  const lists: [string, readonly unknown[], (x: never) => string][] = [];
  if (m.format === 2) lists.push(['packs', m.packs ?? [], JSON.stringify], ['dirs', m.dirs ?? [], JSON.stringify], ['links', m.links ?? [], JSON.stringify]);
  lists.push(['files', m.files, fileLine as (x: never) => string]);
  for (const [k, [name, items, line]] of lists.entries()) {
    yield `"${name}":[\n`;
    for (let i = 0; i < items.length; i += PIECE_LINES) {
      const last = Math.min(items.length, i + PIECE_LINES);
      const batch: string[] = [];
      for (let j = i; j < last; j++) batch.push(line(items[j] as never));
      yield batch.join(',\n') + (last < items.length ? ',\n' : '');
    }
    yield k < lists.length - 1 ? '\n],\n' : '\n]}\n';
  }
}

/** The whole serialised manifest (format-1 archives, tests); backups stream it through `compressManifest`. */
export function serializeManifest(m: Manifest): Buffer {
  return Buffer.from([...manifestPieces(m)].join(''), 'utf8');
}

/** What the first line of a serialised manifest tells: everything but the entries. */
export type ManifestHeader = Omit<Manifest, 'files' | 'dirs' | 'links' | 'packs'>;

/**
 * The header of a serialised manifest from its first bytes (a ranged read of
 * the object is enough). Undefined when the first line is not complete yet;
 * throws 'Integrity' when it is not a manifest header.
 */
export function parseManifestHeader(prefix: Buffer | string): ManifestHeader | undefined {
  const text = typeof prefix === 'string' ? prefix : prefix.toString('utf8');
  const nl = text.indexOf('\n');
  if (nl < 0) return undefined;
  const first = text.slice(0, nl).replace(/,\s*$/, '');
  let raw: unknown;
  try {
    raw = JSON.parse(`${first}}`);
  } catch (e) {
    throw bad('The backup manifest is not valid JSON.', e instanceof Error ? e.message : String(e));
  }
  const m = parseManifestObject({ ...(raw as object), files: [], packs: [], dirs: [], links: [], totals: { files: 0, bytes: 0 } }, { headerOnly: true });
  const totals = (raw as { totals?: unknown }).totals as Record<string, unknown> | undefined;
  if (typeof totals !== 'object' || totals === null || !isCount(totals.files) || !isCount(totals.bytes)) throw bad('The backup manifest has no valid totals.', 'totals');
  const { files: _f, dirs: _d, links: _l, packs: _p, ...header } = m;
  return { ...header, totals: { files: totals.files, bytes: totals.bytes } };
}

function bad(message: string, detail: string, code: 'Integrity' | 'UnsafeArchive' = 'Integrity', entry?: string): BackupError {
  return new BackupError(code, message, 'The backup is damaged or was not made by S3 Backup; pick another backup.', {
    params: { entry: entry ?? 'manifest.json', detail },
  });
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

// A gzip'd manifest of 100,000 files is about 4 MB and 20 MB unpacked; far more is not ours.
const MAX_MANIFEST_BYTES = 512 * 1024 * 1024;
// Deflate cannot exceed ~1032:1; a larger declared ratio is a lie.
const MAX_RATIO = 1100;
const PACK_ID = /^[0-9a-f]{32}$/;

/**
 * Parses and strictly validates a stored manifest, plain JSON or gzip'd
 * (format 2 objects are gzip'd). Throws `BackupError` 'Integrity' when it is
 * not well-formed, 'UnsafeArchive' when a path in it is unsafe or listed twice.
 */
export function parseManifest(text: string | Buffer): Manifest {
  let data = text;
  if (Buffer.isBuffer(data) && isGzip(data)) {
    try {
      data = zlib.gunzipSync(data, { maxOutputLength: MAX_MANIFEST_BYTES });
    } catch (e) {
      throw notJson(e);
    }
  }
  return parseManifestObject(jsonOf(data));
}

/**
 * The manifest as stored in the bucket (format 2): gzip'd JSON. Compressed on
 * libuv's thread pool: a large manifest's gzip would hold the caller's thread.
 * `entries`, when given, is `compressManifestEntries` of the same lists,
 * started earlier: only the first line is left to compress.
 */
export async function compressManifest(m: Manifest, entries: Promise<Buffer[]> = compressManifestEntries(m)): Promise<Buffer> {
  // The first line is a member of its own (RFC 1952 2.2: members one after the other read as one
  // text): it holds what the backup uploaded, known last. The entries can then be gzip'd while the
  // last pack uploads, which mostly waits on the network (30,000 files: ~95 ms of gzip that came
  // after it). Against a server on the same two cores (the bench's) the upload took as much
  // longer: no gain there.
  const head = gzipAsync(Buffer.from(headLine(m), 'utf8'), { level: 6 });
  head.catch(() => undefined);
  const body = await entries;
  return Buffer.concat([await head, ...body]);
}

/**
 * The gzip members of everything after the manifest's first line, made as
 * the text is: a member of about MEMBER_BYTES of text at a time, up to
 * MEMBERS_IN_FLIGHT at once on the thread pool, twice the speed of one
 * stream on two cores (100,000 files: ~370 -> ~185 ms) for 0.17% more
 * bytes. Memory: a few members' text and the output.
 */
export async function compressManifestEntries(m: ManifestEntries): Promise<Buffer[]> {
  const out: Buffer[] = [];
  const inFlight: Promise<Buffer>[] = [];
  // Each member's bytes are encoded from the pieces into one of MEMBERS_IN_FLIGHT buffers taken in turn: the
  // gzip reads it meanwhile, and the members before it are done (awaited below) when its turn comes again.
  // A buffer a member (~25 of 1 MiB for 100,000 files) was garbage the old generation kept to the end.
  for (const text of utf8Chunks(entryPieces(m), MEMBER_BYTES, { reuse: MEMBERS_IN_FLIGHT })) {
    const member = gzipAsync(text, { level: 6 });
    // Awaited in order below; one failing meanwhile must not go unhandled.
    member.catch(() => undefined);
    inFlight.push(member);
    if (inFlight.length >= MEMBERS_IN_FLIGHT) out.push(await inFlight.shift()!);
    // A member is ~1,000 lines: the members in flight rarely make this wait, so give turns here.
    await yieldIfDue();
  }
  for (const member of inFlight) out.push(await member);
  return out;
}

// 256 KiB of text, ~1,000 lines, a few ms to make; 1 MiB members (~4,000 lines) held this thread
// 30-45 ms each while the worker threads and the server had the two cores (100,000 files), for
// 0.17% fewer bytes (6.761 against 6.773 MB of gzip for the text of 100,000 lines).
const MEMBER_BYTES = 256 * 1024;
const MEMBERS_IN_FLIGHT = 4;
const gzipAsync = promisify(zlib.gzip);

/**
 * parseManifest of a stored object without holding the caller's thread: the
 * gunzip runs on the thread pool, the checks in slices (a manifest of 100,000
 * files takes a few hundred ms to check).
 */
export async function readManifest(data: Buffer): Promise<Manifest> {
  // Only the parsed JSON outlives this statement: the text is gone before the checks run.
  const raw = await (isGzip(data) ? parseGzipJson(data) : parseManifestJson(utf8Of(data))).catch((e: unknown) => {
    throw e instanceof BackupError ? e : notJson(e);
  });
  return runStepsSliced(parseManifestSteps(raw));
}

/**
 * A gzip'd manifest's JSON value, parsed a line at a time as it is inflated
 * (ManifestLines): the whole text never exists. Text not in our layout is
 * inflated again whole and given to JSON.parse.
 */
async function parseGzipJson(data: Buffer): Promise<unknown> {
  const lines = new ManifestLines();
  await inflateText(data, (piece) => lines.push(piece));
  const parsed = lines.end();
  if (parsed !== undefined) return parsed.value;
  const parts: string[] = [];
  await inflateText(data, (piece) => parts.push(piece));
  return JSON.parse(parts.join(''));
}

/**
 * The text of a gzip'd manifest, inflated on the thread pool and decoded
 * (strict UTF-8) as the chunks arrive, each piece to `onText`: no whole
 * Buffer of it, and no one decode of 25 MB on the caller's thread. Past
 * MAX_MANIFEST_BYTES: refused.
 */
function inflateText(data: Buffer, onText: (piece: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    // 64 KiB of text a piece: a string the young generation takes (util/utf8Chunks.ts); 256 KiB ones were old-generation garbage.
    const z = zlib.createGunzip({ chunkSize: 64 * 1024 });
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let total = 0;
    const fail = (e: unknown): void => {
      z.destroy();
      reject(notJson(e));
    };
    z.on('data', (c: Buffer) => {
      total += c.length;
      if (total > MAX_MANIFEST_BYTES) return fail(new RangeError(`more than ${MAX_MANIFEST_BYTES} bytes inflated`));
      try {
        onText(decoder.decode(c, { stream: true }));
      } catch (e) {
        fail(e);
      }
    });
    z.on('error', fail);
    z.on('end', () => {
      try {
        onText(decoder.decode());
        resolve();
      } catch (e) {
        fail(e);
      }
    });
    z.end(data);
  });
}

const isGzip = (b: Buffer): boolean => b[0] === 0x1f && b[1] === 0x8b;

const notJson = (e: unknown): BackupError => bad('The backup manifest is not valid JSON.', e instanceof Error ? e.message : String(e));

/** A manifest's text (strict UTF-8); anything else is the one 'Integrity' sentence. */
function utf8Of(data: string | Buffer): string {
  try {
    return typeof data === 'string' ? data : new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch (e) {
    throw notJson(e);
  }
}

/** A manifest's JSON value; anything else is the one 'Integrity' sentence. */
function jsonOf(data: string | Buffer): unknown {
  const text = utf8Of(data);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw notJson(e);
  }
}

function parseManifestObject(raw: unknown, o: { headerOnly?: boolean } = {}): Manifest {
  return runSteps(parseManifestSteps(raw, o));
}

function* parseManifestSteps(raw: unknown, o: { headerOnly?: boolean } = {}): Steps<Manifest> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('The backup manifest is not a JSON object.', 'not an object');
  const m = raw as Record<string, unknown>;
  if (m.format !== 1 && m.format !== 2) {
    if (typeof m.format === 'number' && m.format > FORMAT_VERSION) {
      throw new BackupError('Integrity', `The backup was made by a newer version of S3 Backup (format ${m.format}).`, 'Update the extension, then try again.', {
        params: { entry: 'manifest.json', detail: `format ${m.format}` },
      });
    }
    throw bad('The backup manifest has no known format version.', 'format');
  }
  const format = m.format;
  for (const k of ['toolVersion', 'hostname', 'platform'] as const) {
    if (typeof m[k] !== 'string') throw bad(`The backup manifest has no valid "${k}".`, k);
  }
  if (!isIsoDate(m.created)) throw bad('The backup manifest has no valid creation date.', 'created');
  if (typeof m.kind !== 'string' || !KINDS.includes(m.kind)) throw bad('The backup manifest has an unknown kind.', 'kind');
  if (!Array.isArray(m.sources) || !m.sources.every((x) => typeof x === 'string')) throw bad('The backup manifest has no valid source list.', 'sources');
  if (!Array.isArray(m.files)) throw bad('The backup manifest has no file list.', 'files');
  const totals = m.totals as Record<string, unknown> | undefined;
  if (typeof totals !== 'object' || totals === null || !isCount(totals.files) || !isCount(totals.bytes)) throw bad('The backup manifest has no valid totals.', 'totals');

  const packs = format === 2 ? parsePacks(m.packs) : undefined;
  const seen = new Set<string>();
  const claim = (p: unknown, what: string, i: number): string => {
    if (typeof p !== 'string') throw bad(`${what} ${i + 1} in the backup manifest has no path.`, `${what}[${i}].path`);
    const problem = archivePathProblem(p);
    if (problem) throw bad(`The backup lists "${printable(p)}", which is unsafe: ${problem}.`, problem, 'UnsafeArchive', printable(p));
    if (p === MANIFEST_NAME) throw bad('The backup manifest lists itself.', 'self', 'UnsafeArchive', p);
    if (seen.has(p)) throw bad(`The backup lists "${printable(p)}" twice.`, 'duplicate', 'UnsafeArchive', printable(p));
    seen.add(p);
    return p;
  };
  const files: ManifestFile[] = [];
  let bytes = 0;
  for (let i = 0; i < m.files.length; i++) {
    if (i % STEP_ITEMS === STEP_ITEMS - 1) yield;
    const f = m.files[i] as Record<string, unknown>;
    if (typeof f !== 'object' || f === null || Array.isArray(f)) throw bad(`File ${i + 1} in the backup manifest is not an object.`, `files[${i}]`);
    const p = claim(f.path, 'File', i);
    const name = printable(p);
    if (!isCount(f.size)) throw bad(`The backup manifest has no valid size for "${name}".`, 'size', 'Integrity', name);
    if (!isIsoDate(f.mtime)) throw bad(`The backup manifest has no valid date for "${name}".`, 'mtime', 'Integrity', name);
    if (!isCount(f.mode) || f.mode > 0o7777) throw bad(`The backup manifest has no valid mode for "${name}".`, 'mode', 'Integrity', name);
    if (typeof f.sha256 !== 'string' || !SHA256.test(f.sha256)) throw bad(`The backup manifest has no valid checksum for "${name}".`, 'sha256', 'Integrity', name);
    const refs = packs ? parseRefs(f.refs, packs.length, f.size, name) : undefined;
    const ino = refs && f.ino !== undefined ? count(f.ino, 'ino', name) : undefined;
    const ctime = refs && f.ctime !== undefined ? count(f.ctime, 'ctime', name) : undefined;
    // Format 2: the line's own object, checked, when it holds nothing else (any backup we wrote): a
    // copy was an object a file more for the old generation. Anything else is copied field by field.
    const own = refs !== undefined && Object.keys(f).length === 6 + Number(ino !== undefined) + Number(ctime !== undefined);
    const file: ManifestFile = own ? (f as unknown as ManifestFile) : { path: p, size: f.size, mtime: f.mtime, mode: f.mode, sha256: f.sha256 };
    if (!own && refs) {
      file.refs = refs;
      if (ino !== undefined) file.ino = ino;
      if (ctime !== undefined) file.ctime = ctime;
    }
    bytes += f.size;
    files.push(file);
    // The parsed JSON is ours (every caller parses it fresh): its entry can go
    // now, so a 100,000-file manifest is never held twice while it is checked.
    (m.files as unknown[])[i] = undefined;
  }
  if (!o.headerOnly && (totals.files !== files.length || totals.bytes !== bytes)) throw bad('The backup manifest totals do not match its file list.', 'totals');
  const selection = parseSelection(m.selection);

  const manifest: Manifest = {
    format,
    toolVersion: m.toolVersion as string,
    created: m.created,
    hostname: m.hostname as string,
    platform: m.platform as string,
    kind: m.kind as BackupKind,
    sources: m.sources as string[],
    ...(selection ? { selection } : {}),
    files,
    totals: { files: files.length, bytes },
  };
  if (!packs) {
    yield* checkManifestSteps(manifest);
    return manifest;
  }
  manifest.packs = packs;
  manifest.dirs = list(m.dirs, 'dirs').map((d, i) => {
    const p = claim(d.path, 'Folder', i);
    if (!isIsoDate(d.mtime) || !isCount(d.mode) || d.mode > 0o7777) throw bad(`The backup manifest has no valid date or mode for "${printable(p)}".`, 'dir', 'Integrity', printable(p));
    return { path: p, mtime: d.mtime, mode: d.mode };
  });
  manifest.links = list(m.links, 'links').map((l, i) => {
    const p = claim(l.path, 'Link', i);
    if (typeof l.target !== 'string' || l.target === '' || l.target.includes('\0') || Buffer.byteLength(l.target) > 4096 || !isIsoDate(l.mtime)) {
      throw bad(`The backup manifest has no valid target for the link "${printable(p)}".`, 'link', 'Integrity', printable(p));
    }
    const link: ManifestLink = { path: p, target: l.target, mtime: l.mtime };
    if (l.refs !== undefined) link.refs = parseRefs(l.refs, packs.length, Buffer.byteLength(l.target), printable(p));
    return link;
  });
  manifest.folders = list(m.folders, 'folders').map((x) => {
    if (typeof x.prefix !== 'string' || typeof x.path !== 'string') throw bad('The backup manifest has an invalid folder list.', 'folders');
    return { prefix: x.prefix, path: x.path };
  });
  if (m.added !== undefined) {
    const a = m.added as Record<string, unknown>;
    if (typeof a !== 'object' || a === null || ![a.files, a.bytes, a.packs, a.packBytes].every(isCount)) throw bad('The backup manifest has invalid totals of what it added.', 'added');
    manifest.added = { files: a.files as number, bytes: a.bytes as number, packs: a.packs as number, packBytes: a.packBytes as number };
  }
  // Folders and links too: a planted `.git` link, or a link with a file under it, is refused like a file.
  if (!o.headerOnly) yield* checkManifestSteps({ ...manifest, files: [...manifest.files, ...manifest.dirs, ...manifest.links] });
  return manifest;
}

function list(v: unknown, what: string): Record<string, unknown>[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'object' && x !== null && !Array.isArray(x))) throw bad(`The backup manifest has an invalid ${what} list.`, what);
  return v as Record<string, unknown>[];
}

function parsePacks(v: unknown): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && PACK_ID.test(x))) throw bad('The backup manifest has an invalid pack list.', 'packs');
  if (new Set(v).size !== v.length) throw bad('The backup manifest lists a pack twice.', 'packs');
  return v as string[];
}

function count(v: unknown, what: string, name: string): number {
  if (!isCount(v)) throw bad(`The backup manifest has no valid ${what} for "${name}".`, what, 'Integrity', name);
  return v;
}

/** A file's pieces: each in a listed pack, with a plausible size; together exactly the file's size. */
function parseRefs(v: unknown, packCount: number, size: number, name: string): PieceRef[] {
  if (!Array.isArray(v)) throw bad(`The backup manifest does not say where "${name}" is stored.`, 'refs', 'Integrity', name);
  let total = 0;
  // Checked where they are: the parsed arrays are ours, and copies of them were two arrays a file
  // that lived through the whole check (100,000 files: ~15 MiB the old generation then held as garbage).
  for (const r of v as unknown[]) {
    if (!Array.isArray(r) || r.length !== 6 || !r.every(isCount)) throw bad(`The backup manifest has an invalid location for "${name}".`, 'refs', 'Integrity', name);
    const [pack, , compressedSize, method, crc32, pieceSize] = r as number[];
    if (pack >= packCount || (method !== 0 && method !== 8) || crc32 > 0xffffffff) throw bad(`The backup manifest has an invalid location for "${name}".`, 'refs', 'Integrity', name);
    if (method === 0 ? compressedSize !== pieceSize : pieceSize > compressedSize * MAX_RATIO + 1024) {
      throw bad(`The backup manifest claims an impossible size for "${name}".`, 'ratio', 'UnsafeArchive', name);
    }
    total += pieceSize;
  }
  if (total !== size || (size > 0 && v.length === 0)) throw bad(`The pieces of "${name}" in the backup manifest do not add up to its size.`, 'refs', 'Integrity', name);
  return v as PieceRef[];
}

function isIsoDate(v: unknown): v is string {
  return typeof v === 'string' && ISO.test(v) && !Number.isNaN(Date.parse(v));
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
