import * as fs from 'fs';
import * as yauzl from 'yauzl';
import { throwIfAborted } from '../util/engineErrors';
import { formatBytes } from '../util/formatBytes';
import { MANIFEST_NAME, parseManifest, printable, type Manifest, type ManifestFile } from '../format/manifest';
import { archivePathProblem } from '../util/paths';
import { readEntryData, type ArchiveEntry, type Offload } from './entryData';

export type { ArchiveEntry } from './entryData';
import { integrity, unsafe } from './readerErrors';

/** Our writer never holds more (no ZIP64): anything bigger is hostile. */
const DEFAULT_MAX_TOTAL_BYTES = 0x100000000;
const MAX_ENTRIES = 65535;
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
// Deflate cannot exceed ~1032:1; a larger declared ratio is a lie.
const MAX_RATIO = 1100;

/** An opened archive: structure and manifest checked, contents not yet. */
export interface OpenedArchive {
  manifest: Manifest;
  /** File entries in archive order (the manifest's own entry excluded). */
  entries: ArchiveEntry[];
  /** Streams one entry's content, checking its size, crc32 and the manifest's sha256. */
  read(entry: ArchiveEntry, sink: (chunk: Buffer) => void | Promise<void>, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true }, (err, zip) => {
      if (err) reject(integrity('The backup archive is damaged or incomplete.', '', err.message, err));
      else resolve(zip);
    });
  });
}

function readCentral(zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: yauzl.Entry[] = [];
    zip.on('entry', (e: yauzl.Entry) => {
      entries.push(e);
      zip.readEntry();
    });
    zip.on('end', () => resolve(entries));
    zip.on('error', (err: Error) => reject(integrity("The backup archive's table of contents is damaged.", '', err.message, err)));
    zip.readEntry();
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function entryName(e: yauzl.Entry): string {
  const raw = e.fileName as unknown as Buffer;
  const isUtf8 = (e.generalPurposeBitFlag & 0x800) !== 0;
  let name: string;
  try {
    name = utf8.decode(raw);
  } catch {
    throw unsafe('The backup holds an entry whose name is not valid UTF-8.', raw.toString('latin1'), 'encoding');
  }
  if (!isUtf8 && /[^\x00-\x7f]/.test(name)) throw unsafe(`The backup holds "${printable(name)}", whose name encoding is not declared.`, name, 'encoding');
  return name;
}

/**
 * Opens a downloaded archive and checks its structure before any content is
 * read: the manifest is the first entry and well-formed; every entry name is
 * safe, unique, a plain file, and listed in the manifest with the same size
 * (and every listed file present); entries do not overlap; the declared total
 * stays under `maxTotalBytes` and no entry claims an impossible ratio.
 */
export async function openArchive(file: string, o: { signal?: AbortSignal; maxTotalBytes?: number } = {}): Promise<OpenedArchive> {
  throwIfAborted(o.signal);
  const zip = await openZip(file);
  let fh: fs.promises.FileHandle | undefined;
  try {
    if (zip.entryCount > MAX_ENTRIES) throw unsafe(`The backup archive holds ${zip.entryCount} entries, more than a backup can.`, '', 'entries');
    // yauzl starts its cursor at the central directory: where the last entry's data must end.
    const cursor = (zip as unknown as { readEntryCursor?: unknown }).readEntryCursor;
    const central = await readCentral(zip);
    fh = await fs.promises.open(file, 'r');
    const fileSize = (await fh.stat()).size;
    const maxTotal = o.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES;
    const seen = new Set<string>();
    const all: ArchiveEntry[] = [];
    let declared = 0;
    for (const e of central) {
      const name = entryName(e);
      const problem = archivePathProblem(name);
      if (problem) throw unsafe(`The backup holds "${printable(name)}", which is unsafe: ${problem}.`, name, problem);
      if (seen.has(name)) throw unsafe(`The backup holds "${printable(name)}" twice.`, name, 'duplicate');
      seen.add(name);
      const fileType = (e.externalFileAttributes >>> 16) & 0o170000;
      const madeBy = e.versionMadeBy >> 8;
      if (madeBy === 3 && fileType !== 0 && fileType !== 0o100000) {
        throw unsafe(`The backup holds "${printable(name)}", which is not a plain file (${fileType === 0o120000 ? 'a symbolic link' : 'a special file'}).`, name, 'type');
      }
      if (e.generalPurposeBitFlag & 0x1) throw integrity(`The backup holds "${printable(name)}" encrypted, which S3 Backup does not do.`, name, 'encrypted');
      if (e.compressionMethod !== 0 && e.compressionMethod !== 8) throw integrity(`The backup holds "${printable(name)}" with an unknown compression method.`, name, 'method');
      declared += e.uncompressedSize;
      if (declared > maxTotal) {
        throw unsafe(`The backup archive claims more than ${formatBytes(maxTotal)} of content, over the safety limit.`, name, 'total');
      }
      if (e.uncompressedSize > e.compressedSize * MAX_RATIO + 1024) {
        throw unsafe(`The backup holds "${printable(name)}", which claims an impossible compression ratio.`, name, 'ratio');
      }
      all.push({
        name,
        method: e.compressionMethod as 0 | 8,
        crc32: e.crc32 >>> 0,
        compressedSize: e.compressedSize,
        size: e.uncompressedSize,
        localHeaderOffset: e.relativeOffsetOfLocalHeader,
        headerGuess: 30 + e.fileNameLength + e.extraFieldLength,
      });
    }
    if (all.length === 0 || all[0].name !== MANIFEST_NAME) {
      throw integrity(seen.has(MANIFEST_NAME) ? 'The backup manifest is not the first entry of the archive.' : 'The backup archive has no manifest.', MANIFEST_NAME, 'manifest');
    }
    // Entries must follow one another without overlapping: overlapping entries are the classic zip bomb.
    const cdOffset = typeof cursor === 'number' ? Math.min(cursor, fileSize) : fileSize;
    for (let i = 0; i < all.length; i++) {
      const end = i + 1 < all.length ? all[i + 1].localHeaderOffset : cdOffset;
      if (all[i].localHeaderOffset + 30 + all[i].compressedSize > end) {
        throw unsafe(`The backup holds "${printable(all[i].name)}", which overlaps another entry.`, all[i].name, 'overlap');
      }
    }

    const manifestEntry = all[0];
    if (manifestEntry.size > MAX_MANIFEST_BYTES) throw unsafe('The backup manifest is implausibly large.', MANIFEST_NAME, 'size');
    const parts: Buffer[] = [];
    await readEntryData(fh, fileSize, manifestEntry, end(all, 0, cdOffset), (c) => void parts.push(c), o.signal);
    const manifest = parseManifest(Buffer.concat(parts));

    const byPath = new Map<string, ManifestFile>();
    for (const f of manifest.files) byPath.set(f.path, f);
    const entries = all.slice(1);
    for (const e of entries) {
      const f = byPath.get(e.name);
      if (!f) throw integrity(`The backup holds "${printable(e.name)}", which its manifest does not list.`, e.name, 'unlisted');
      if (f.size !== e.size) throw integrity(`The size of "${printable(e.name)}" in the backup does not match its manifest.`, e.name, 'size');
    }
    if (entries.length !== manifest.files.length) {
      const missing = manifest.files.find((f) => !seen.has(f.path));
      throw integrity(`The backup is missing "${printable(missing?.path ?? '?')}", which its manifest lists.`, missing?.path ?? '', 'missing');
    }

    const handle = fh;
    const ends = new Map<ArchiveEntry, number>(all.map((e, i) => [e, end(all, i, cdOffset)]));
    const read = (entry: ArchiveEntry, sink: (chunk: Buffer) => void | Promise<void>, signal?: AbortSignal, pre?: Buffer, offload?: Offload): Promise<void> =>
      readEntryData(handle, fileSize, entry, ends.get(entry) ?? fileSize, sink, signal, byPath.get(entry.name)?.sha256, pre, offload);
    const opened: OpenedArchive = {
      manifest,
      entries,
      read: (entry, sink, signal) => read(entry, sink, signal),
      close: async () => {
        await handle.close().catch(() => undefined);
        zip.close();
      },
    };
    internals.set(opened, { fh: handle, fileSize, ends, read });
    fh = undefined;
    return opened;
  } catch (e) {
    await fh?.close().catch(() => undefined);
    zip.close();
    throw e;
  }
}

export interface Internals {
  fh: fs.promises.FileHandle;
  fileSize: number;
  ends: Map<ArchiveEntry, number>;
  /** `read`, optionally with the entry's bytes (from its local header on) already in memory. */
  read(entry: ArchiveEntry, sink: (chunk: Buffer) => void | Promise<void>, signal?: AbortSignal, pre?: Buffer, offload?: Offload): Promise<void>;
}
const internals = new WeakMap<OpenedArchive, Internals>();

function end(all: ArchiveEntry[], i: number, cdOffset: number): number {
  return i + 1 < all.length ? all[i + 1].localHeaderOffset : cdOffset;
}

/** The open file behind an opened archive, for the entry loop and extraction. */
export function internalsOf(a: OpenedArchive): Internals {
  const x = internals.get(a);
  if (!x) throw new TypeError('not an archive opened by openArchive');
  return x;
}

/** Reads the named entries of a zip into memory, each checked against its manifest (small files: .gitignore, app data). */
export async function readZipFiles(file: string, names: ReadonlySet<string>, o: { signal?: AbortSignal } = {}): Promise<Map<string, Buffer>> {
  const a = await openArchive(file, { signal: o.signal });
  const out = new Map<string, Buffer>();
  try {
    for (const e of a.entries) {
      if (!names.has(e.name)) continue;
      const chunks: Buffer[] = [];
      await a.read(e, (c) => void chunks.push(Buffer.from(c)), o.signal);
      out.set(e.name, Buffer.concat(chunks));
    }
  } finally {
    await a.close();
  }
  return out;
}
