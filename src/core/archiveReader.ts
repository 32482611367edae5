import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import { Readable, Writable } from 'stream';
import { promisify } from 'util';
import * as zlib from 'zlib';
import * as yauzl from 'yauzl';
import { BackupError, CancelledError, throwIfAborted } from './errors';
import { MANIFEST_NAME, parseManifest, printable, type Manifest, type ManifestFile } from './manifest';
import { archivePathProblem } from './paths';
import { Threads } from './threads';
import type { ProgressListener } from './progress';

/** Our writer never holds more (no ZIP64): anything bigger is hostile. */
export const DEFAULT_MAX_TOTAL_BYTES = 0x100000000;
const MAX_ENTRIES = 65535;
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
// Deflate cannot exceed ~1032:1; a larger declared ratio is a lie.
const MAX_RATIO = 1100;
const READ_CHUNK = 256 * 1024;
// Entries checked or written at once, and the bytes they may hold meanwhile.
const IN_FLIGHT = 16;
const IN_FLIGHT_BYTES = 32 * 1024 * 1024;
// Consecutive small entries are read with one call, up to this much.
const WINDOW = 2 * 1024 * 1024;
// Entries up to this size (both ways) are read with one call and inflated in one
// thread-pool call: most files of a workspace, at a fraction of a stream's cost.
const ONE_SHOT = 4 * 1024 * 1024;
const inflateRaw = promisify(zlib.inflateRaw) as (b: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>;

const INTEGRITY_HINT = 'The backup is damaged or incomplete. Download it again, or pick another backup.';
const UNSAFE_HINT = 'This archive was not made by S3 Backup or was tampered with; nothing was restored.';

/** One file entry of an opened archive, as its central directory describes it. */
export interface ArchiveEntry {
  name: string;
  method: 0 | 8;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  /** Central directory's name + extra length: the local header usually has the same. */
  headerGuess: number;
}

/** An opened archive: structure and manifest checked, contents not yet. */
export interface OpenedArchive {
  manifest: Manifest;
  /** File entries in archive order (the manifest's own entry excluded). */
  entries: ArchiveEntry[];
  /** Streams one entry's content, checking its size, crc32 and the manifest's sha256. */
  read(entry: ArchiveEntry, sink: (chunk: Buffer) => void | Promise<void>, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

function integrity(message: string, entry: string, detail?: string, cause?: unknown): BackupError {
  return new BackupError('Integrity', message, INTEGRITY_HINT, { cause, params: { entry: printable(entry), ...(detail ? { detail } : {}) } });
}

function unsafe(message: string, entry: string, detail?: string): BackupError {
  return new BackupError('UnsafeArchive', message, UNSAFE_HINT, { params: { entry: printable(entry), ...(detail ? { detail } : {}) } });
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

interface Internals {
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

/**
 * Streams one entry's content into `sink`, checking on the way that it never
 * exceeds the declared size, and at the end its size, crc32 and (when given)
 * sha256. Throws 'Integrity' naming the entry.
 */
async function readEntryData(
  fh: fs.promises.FileHandle,
  fileSize: number,
  entry: ArchiveEntry,
  limit: number,
  sink: (chunk: Buffer) => void | Promise<void>,
  signal?: AbortSignal,
  sha256?: string,
  pre?: Buffer,
  offload?: Offload,
): Promise<void> {
  const name = printable(entry.name);
  const small = entry.size <= ONE_SHOT && entry.compressedSize <= ONE_SHOT;
  let first: Buffer;
  let bytesRead: number;
  if (pre) {
    first = pre;
    bytesRead = pre.length;
  } else {
    // Small entries: header and data in one read, when the local header is as long as the central one says.
    first = Buffer.allocUnsafe(small ? Math.min(entry.headerGuess + entry.compressedSize, Math.max(30, fileSize - entry.localHeaderOffset)) : 30);
    bytesRead = (await fh.read(first, 0, first.length, entry.localHeaderOffset)).bytesRead;
  }
  if (bytesRead < 30 || first.readUInt32LE(0) !== 0x04034b50) {
    throw bytesRead < 30 && entry.localHeaderOffset + 30 > fileSize
      ? integrity(`The backup archive is truncated at "${name}".`, entry.name, 'truncated')
      : integrity(`The backup archive is damaged at "${name}".`, entry.name, 'local header');
  }
  const headerLength = 30 + first.readUInt16LE(26) + first.readUInt16LE(28);
  const dataStart = entry.localHeaderOffset + headerLength;
  if (dataStart + entry.compressedSize > fileSize) throw integrity(`The backup archive is truncated at "${name}".`, entry.name, 'truncated');
  if (dataStart + entry.compressedSize > limit) throw unsafe(`The backup holds "${name}", which overlaps another entry.`, entry.name, 'overlap');

  if (small) {
    let raw: Buffer;
    if (bytesRead >= headerLength + entry.compressedSize) {
      raw = first.subarray(headerLength, headerLength + entry.compressedSize);
    } else {
      raw = Buffer.allocUnsafe(entry.compressedSize);
      let got = 0;
      while (got < raw.length) {
        const r = await fh.read(raw, got, raw.length - got, dataStart + got);
        if (r.bytesRead === 0) throw integrity(`The backup archive is truncated at "${name}".`, entry.name, 'truncated');
        got += r.bytesRead;
      }
    }
    throwIfAborted(signal);
    if (offload) {
      // A worker inflates and checks (and, for a write, creates the file only once all checks passed).
      // No recorded sha256 (never the case for an opened archive) can match nothing: fail closed.
      const bad = await offload(raw, entry, sha256 ?? '');
      if (bad) throw checkFailure(entry, bad);
      return;
    }
    let data: Buffer;
    if (entry.method === 8) {
      try {
        // One byte over the declared size is enough to know it lies.
        data = await inflateRaw(raw, { maxOutputLength: entry.size + 1 });
      } catch (e) {
        const tooBig = (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError;
        throw tooBig
          ? integrity(`"${name}" in the backup is larger than declared.`, entry.name, 'size')
          : integrity(`"${name}" in the backup is damaged.`, entry.name, (e as Error).message, e);
      }
    } else {
      data = raw;
    }
    if (data.length > entry.size) throw integrity(`"${name}" in the backup is larger than declared.`, entry.name, 'size');
    if (data.length < entry.size) throw integrity(`"${name}" in the backup is smaller than declared.`, entry.name, 'size');
    if (zlib.crc32(data) >>> 0 !== entry.crc32) throw integrity(`"${name}" in the backup is damaged (checksum mismatch).`, entry.name, 'crc32');
    if (sha256 !== undefined && createHash('sha256').update(data).digest('hex') !== sha256) {
      throw integrity(`"${name}" in the backup does not match its recorded checksum.`, entry.name, 'sha256');
    }
    await sink(data);
    return;
  }

  const hash = sha256 !== undefined ? createHash('sha256') : undefined;
  let crc = 0;
  let size = 0;
  const check = new Writable({
    highWaterMark: READ_CHUNK,
    write(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > entry.size) {
        cb(integrity(`"${name}" in the backup is larger than declared.`, entry.name, 'size'));
        return;
      }
      hash?.update(chunk);
      crc = zlib.crc32(chunk, crc);
      let r: void | Promise<void>;
      try {
        r = sink(chunk);
      } catch (e) {
        cb(e as Error);
        return;
      }
      if (r) r.then(() => cb(), cb);
      else cb();
    },
  });
  const source = Readable.from(readRange(fh, dataStart, entry.compressedSize, signal), { objectMode: false });
  try {
    if (entry.method === 8) {
      await pipeline(source, zlib.createInflateRaw({ chunkSize: 64 * 1024 }), check, signal ? { signal } : {});
    } else {
      await pipeline(source, check, signal ? { signal } : {});
    }
  } catch (e) {
    if (signal?.aborted) throw new CancelledError(signal.reason);
    if (e instanceof BackupError) throw e;
    throw integrity(`"${name}" in the backup is damaged (${(e as Error).message}).`, entry.name, 'data', e);
  }
  if (size !== entry.size) throw integrity(`"${name}" in the backup is smaller than declared.`, entry.name, 'size');
  if (crc >>> 0 !== entry.crc32) throw integrity(`"${name}" in the backup is damaged (checksum mismatch).`, entry.name, 'crc32');
  if (hash && hash.digest('hex') !== sha256) throw integrity(`"${name}" in the backup does not match its recorded checksum.`, entry.name, 'sha256');
}

/** What a worker found wrong with an entry; undefined when all is well. */
interface CheckFailure {
  check: 'big' | 'small' | 'crc32' | 'sha256' | 'damaged';
  message?: string;
}
type Offload = (raw: Buffer, entry: ArchiveEntry, sha256: string) => Promise<CheckFailure | undefined>;

/** The same errors the in-thread checks throw. */
function checkFailure(entry: ArchiveEntry, f: CheckFailure): BackupError {
  const name = printable(entry.name);
  switch (f.check) {
    case 'big':
      return integrity(`"${name}" in the backup is larger than declared.`, entry.name, 'size');
    case 'small':
      return integrity(`"${name}" in the backup is smaller than declared.`, entry.name, 'size');
    case 'crc32':
      return integrity(`"${name}" in the backup is damaged (checksum mismatch).`, entry.name, 'crc32');
    case 'sha256':
      return integrity(`"${name}" in the backup does not match its recorded checksum.`, entry.name, 'sha256');
    default:
      return integrity(`"${name}" in the backup is damaged.`, entry.name, f.message ?? 'data');
  }
}

async function* readRange(fh: fs.promises.FileHandle, start: number, length: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
  let pos = start;
  const endPos = start + length;
  while (pos < endPos) {
    throwIfAborted(signal);
    const n = Math.min(READ_CHUNK, endPos - pos);
    const buf = Buffer.allocUnsafe(n);
    const { bytesRead } = await fh.read(buf, 0, n, pos);
    if (bytesRead === 0) throw integrity('The backup archive is truncated.', '', 'truncated');
    pos += bytesRead;
    yield bytesRead === n ? buf : buf.subarray(0, bytesRead);
  }
}

function isSmall(e: ArchiveEntry): boolean {
  return e.size <= ONE_SHOT && e.compressedSize <= ONE_SHOT;
}

/**
 * Runs `fn` over `entries` (in archive order), several at once within a count
 * and byte budget. Runs of small entries are read from the archive together,
 * one window a read: a thread-pool round trip costs more than reading a small
 * entry, so per-entry reads made the read side as slow as the writes.
 * Waits for every started call before rejecting with the first failure.
 */
async function forEachEntry(
  a: OpenedArchive,
  entries: ArchiveEntry[],
  fn: (e: ArchiveEntry, pre?: Buffer) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const x = internals.get(a)!;
  let failed: { e: unknown } | undefined;
  let count = 0;
  let bytes = 0;
  let wake: (() => void) | undefined;
  const running = new Set<Promise<void>>();
  const cost = (e: ArchiveEntry): number => (isSmall(e) ? e.size + e.compressedSize : 2 * READ_CHUNK);
  const start = (e: ArchiveEntry, pre?: Buffer): void => {
    count++;
    bytes += cost(e);
    const p: Promise<void> = fn(e, pre)
      .catch((err: unknown) => {
        failed ??= { e: err };
      })
      .finally(() => {
        count--;
        bytes -= cost(e);
        running.delete(p);
        const w = wake;
        wake = undefined;
        w?.();
      });
    running.add(p);
  };
  const room = async (e: ArchiveEntry): Promise<void> => {
    while (!failed && count > 0 && (count >= IN_FLIGHT || bytes + cost(e) > IN_FLIGHT_BYTES)) await new Promise<void>((r) => (wake = r));
  };
  // The bytes an entry needs from its local header on, as far as the central directory tells.
  const span = (e: ArchiveEntry): number => Math.max(30, Math.min(e.localHeaderOffset + e.headerGuess + e.compressedSize, x.ends.get(e) ?? x.fileSize, x.fileSize) - e.localHeaderOffset);
  try {
    let i = 0;
    while (i < entries.length && !failed) {
      throwIfAborted(signal);
      const e = entries[i];
      if (!isSmall(e)) {
        await room(e);
        if (failed) break;
        start(e);
        i++;
        continue;
      }
      const from = e.localHeaderOffset;
      let j = i + 1;
      while (j < entries.length && isSmall(entries[j]) && entries[j].localHeaderOffset >= from && entries[j].localHeaderOffset + span(entries[j]) - from <= WINDOW) j++;
      const to = Math.max(...entries.slice(i, j).map((k) => k.localHeaderOffset + span(k)));
      const win = Buffer.allocUnsafe(to - from);
      let got = 0;
      while (got < win.length) {
        const r = await x.fh.read(win, got, win.length - got, from + got);
        if (r.bytesRead === 0) break;
        got += r.bytesRead;
      }
      // A short window means a truncated archive: each entry then reads (and reports) for itself.
      for (; i < j && !failed; i++) {
        throwIfAborted(signal);
        const k = entries[i];
        await room(k);
        if (failed) break;
        const off = k.localHeaderOffset - from;
        start(k, off < got ? win.subarray(off, Math.min(got, off + span(k))) : undefined);
      }
    }
  } catch (e) {
    failed ??= { e };
  }
  while (running.size > 0) await Promise.all([...running]);
  if (failed) throw failed.e;
}

/**
 * Checks a downloaded archive completely without writing anything: the
 * structure (see `openArchive`) and every entry's size, crc32 and sha256.
 * Any problem rejects with 'Integrity' or 'UnsafeArchive' naming the entry.
 */
export async function verifyArchive(
  file: string,
  o: { signal?: AbortSignal; onProgress?: ProgressListener; maxTotalBytes?: number } = {},
): Promise<Manifest> {
  const a = await openArchive(file, o);
  try {
    const bytesTotal = a.manifest.totals.bytes;
    let bytesDone = 0;
    let filesDone = 0;
    const report = (): void => o.onProgress?.({ phase: 'verify', bytesDone, bytesTotal, filesDone, filesTotal: a.entries.length });
    report();
    const read = internals.get(a)!.read;
    const pool = Threads.create(ENTRY_THREAD);
    try {
      const offload: Offload | undefined = pool && ((raw, e, sha256) => checkOnThread(pool, raw, e, sha256));
      await forEachEntry(
        a,
        a.entries,
        async (e, pre) => {
          await read(
            e,
            (c) => {
              bytesDone += c.length;
            },
            o.signal,
            pre,
            offload,
          );
          // The worker path hands no chunks to the sink.
          if (offload && isSmall(e)) bytesDone += e.size;
          filesDone++;
          report();
        },
        o.signal,
      );
    } finally {
      await pool?.close();
    }
    return a.manifest;
  } finally {
    await a.close();
  }
}

/**
 * Writes the entries `select` maps to a destination (an absolute file path,
 * created exclusively) while checking each against `manifest` (size, crc32,
 * sha256). With `setMeta`, each file gets the manifest's mode and mtime.
 * Rejects on the first problem; the caller removes what was written.
 */
export async function extractEntries(
  file: string,
  manifest: Manifest,
  select: (path: string) => string | undefined,
  o: { signal?: AbortSignal; onProgress?: ProgressListener; maxTotalBytes?: number; setMeta?: boolean } = {},
): Promise<void> {
  const a = await openArchive(file, o);
  try {
    if (a.manifest.files.length !== manifest.files.length || a.manifest.files.some((f, i) => f.path !== manifest.files[i].path || f.sha256 !== manifest.files[i].sha256)) {
      throw integrity('The backup archive changed since it was checked.', MANIFEST_NAME, 'manifest');
    }
    const meta = new Map(manifest.files.map((f) => [f.path, f]));
    const umask = currentUmask();
    const wanted = a.entries.map((e) => ({ e, dest: select(e.name) })).filter((x): x is { e: ArchiveEntry; dest: string } => x.dest !== undefined);
    const dests = new Map(wanted.map((w) => [w.e, w.dest]));
    const bytesTotal = wanted.reduce((s, w) => s + w.e.size, 0);
    let bytesDone = 0;
    let filesDone = 0;
    const report = (): void => o.onProgress?.({ phase: 'write', bytesDone, bytesTotal, filesDone, filesTotal: wanted.length });
    report();
    const read = internals.get(a)!.read;
    const writer = Threads.create(ENTRY_THREAD);
    try {
      await forEachEntry(
        a,
        wanted.map((w) => w.e),
        async (e, pre) => {
          const dest = dests.get(e)!;
          const f = meta.get(e.name);
          const mode = o.setMeta && f ? f.mode & 0o777 : 0o600;
          // The umask may have taken bits away at creation; one call less per file when it did not.
          const chmod = !!(o.setMeta && f) && (mode & ~umask) !== mode;
          const mtime = o.setMeta && f ? Date.parse(f.mtime) / 1000 : undefined;
          if (writer && isSmall(e)) {
            // A worker inflates and checks the entry, then creates the file; nothing is created for a bad entry.
            await read(e, () => undefined, o.signal, pre, (raw, entry, sha256) => checkOnThread(writer, raw, entry, sha256, { dest, mode, chmod, mtime }));
            bytesDone += e.size;
          } else {
            const out = await fs.promises.open(dest, 'wx', mode);
            try {
              await read(
                e,
                async (c) => {
                  let off = 0;
                  while (off < c.length) off += (await out.write(c, off, c.length - off)).bytesWritten;
                  bytesDone += c.length;
                },
                o.signal,
                pre,
              );
              if (chmod) await out.chmod(mode);
              if (mtime !== undefined) await out.utimes(mtime, mtime);
            } finally {
              await out.close();
            }
          }
          filesDone++;
          report();
        },
        o.signal,
      );
    } finally {
      await writer?.close();
    }
  } finally {
    await a.close();
  }
}

// Runs on worker threads (see threads.ts): a small entry costs one message
// instead of a thread-pool round trip for the inflate and four for the file
// (open, write, utimes, close). The entry is inflated and checked (size,
// crc32, sha256) before its file is created. No fsync: like restic and git,
// durability is left to the file system; the restore's rename is atomic either way.
const ENTRY_THREAD = `
const fs = require('fs');
const zlib = require('zlib');
const { createHash } = require('crypto');
function check(m) {
  let data;
  if (m.method === 8) {
    try {
      data = zlib.inflateRawSync(m.raw, { maxOutputLength: m.size + 1 });
    } catch (e) {
      if (e && (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError)) return { check: 'big' };
      return { check: 'damaged', message: String(e && e.message) };
    }
  } else {
    data = Buffer.from(m.raw.buffer, m.raw.byteOffset, m.raw.byteLength);
  }
  if (data.length > m.size) return { check: 'big' };
  if (data.length < m.size) return { check: 'small' };
  if (zlib.crc32(data) >>> 0 !== m.crc32) return { check: 'crc32' };
  if (createHash('sha256').update(data).digest('hex') !== m.sha256) return { check: 'sha256' };
  return data;
}
function handle(m) {
  const data = check(m);
  if (!Buffer.isBuffer(data)) return data;
  if (m.dest === undefined) return undefined;
  const fd = fs.openSync(m.dest, 'wx', m.mode);
  try {
    let off = 0;
    while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
    if (m.chmod) fs.fchmodSync(fd, m.mode);
    if (m.mtime !== undefined) fs.futimesSync(fd, m.mtime, m.mtime);
  } catch (e) {
    try { fs.closeSync(fd); } catch {}
    throw e;
  }
  fs.closeSync(fd);
  return undefined;
}
`;

/**
 * Checks a small entry's stored bytes on a worker thread; with `file`, then
 * writes it there. A folder's files always go to the same thread: creates are
 * serialised within a folder by the kernel, not across folders.
 */
function checkOnThread(
  threads: Threads,
  raw: Buffer,
  entry: ArchiveEntry,
  sha256: string,
  file?: { dest: string; mode: number; chmod: boolean; mtime: number | undefined },
): Promise<CheckFailure | undefined> {
  // Transfer a copy: `raw` is a view of the shared read window.
  const own = new Uint8Array(raw);
  const m = { raw: own, method: entry.method, size: entry.size, crc32: entry.crc32, sha256, ...file };
  return file ? threads.callKeyed(path.dirname(file.dest), m, [own.buffer]) : threads.call(m, [own.buffer]);
}

function currentUmask(): number {
  // Reading the umask means setting it; put it straight back. Assume the strictest where unavailable (worker threads).
  try {
    const m = process.umask(0o022);
    process.umask(m);
    return m;
  } catch {
    return 0o777;
  }
}

function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${n} bytes`;
}
