// Download Backup for format 2: one plain zip of the whole backup, put
// together here from the packs. An entry stored in one piece is copied as it
// is (its compressed bytes, its sizes and CRC in the local header) while
// being inflated alongside to check it against the manifest; a file stored
// in pieces is inflated and deflated again into one entry. Folders and links
// become their own entries. ZIP64 where the size calls for it.
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { PassThrough, Writable } from 'stream';
import { pipeline } from 'stream/promises';
import * as zlib from 'zlib';
import { packKey } from '../format/packKeys';
import { printable, type Manifest, type ManifestFile } from '../format/manifest';
import { crc32Combine } from '../util/crc32Combine';
import { BackupError, CancelledError, throwIfAborted } from '../util/engineErrors';
import type { ProgressListener } from '../util/progress';
import { reportingMissingPacks, type PackSource } from './packReader';
import { integrity } from './readerErrors';
import { ZipWriter } from './zipWriter';

/**
 * Writes the backup's files, folders and links as one zip to `file`,
 * through a temp name beside it (never half a file), after checking that
 * the folder has room for it. Every file is checked against its manifest
 * entry on the way; a damaged piece fails the download and leaves nothing.
 */
export async function assembleZip(
  src: PackSource,
  rootPath: string,
  manifest: Manifest,
  file: string,
  o: { signal?: AbortSignal; onProgress?: ProgressListener; level?: number } = {},
): Promise<void> {
  src = reportingMissingPacks(src);
  const dir = path.dirname(file);
  const bytesTotal = manifest.totals.bytes;
  const room = await fs.promises.statfs(dir).catch(() => undefined);
  // The packs' size is a fair estimate of the zip's; the content's size is the upper bound that matters.
  if (room && room.bavail * room.bsize < bytesTotal + 16 * 1024 * 1024) {
    throw new BackupError('TooLarge', `The backup (${bytesTotal} bytes) does not fit in the free space of "${dir}".`, 'Free some space, or restore the backup into a folder instead.', {
      params: { path: dir, bytes: bytesTotal, reason: 'space' },
    });
  }
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(4).toString('hex')}.part`);
  const out = fs.createWriteStream(tmp, { flags: 'wx' });
  const zip = new ZipWriter(out, { signal: o.signal });
  const packs = manifest.packs ?? [];
  let bytesDone = 0;
  let filesDone = 0;
  const report = (): void => o.onProgress?.({ phase: 'download', bytesDone, bytesTotal, filesDone, filesTotal: manifest.totals.files });
  try {
    for (const d of manifest.dirs ?? []) {
      await zip.beginEntry({ name: `${d.path}/`, kind: 'dir', method: 0, mtimeMs: Date.parse(d.mtime), mode: d.mode, size: 0, crc32: 0 });
      await zip.endEntry();
    }
    for (const l of manifest.links ?? []) {
      const target = Buffer.from(l.target, 'utf8');
      await zip.beginEntry({ name: l.path, kind: 'symlink', method: 0, mtimeMs: Date.parse(l.mtime), mode: 0o777, size: target.length, crc32: zlib.crc32(target) >>> 0 });
      await zip.write(target);
      await zip.endEntry();
    }
    for (const f of manifest.files) {
      throwIfAborted(o.signal);
      const key = (pack: number): string => packKey(rootPath, packs[pack]);
      if ((f.refs ?? []).length <= 1) await copyEntry(src, key, f, zip, o.signal, (n) => ((bytesDone += n), report()));
      else await recompress(src, key, f, zip, o.level ?? 6, o.signal, (n) => ((bytesDone += n), report()));
      filesDone++;
      report();
    }
    await zip.finish();
    await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
    await fs.promises.rename(tmp, file);
  } catch (e) {
    out.destroy();
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    if (o.signal?.aborted) throw new CancelledError(o.signal.reason);
    throw e;
  }
}

/** A sink that checks what a file's bytes add up to: size, crc32 and sha256 against the manifest. */
function checker(f: ManifestFile, onBytes: (n: number) => void): { sink: Writable; verify(): void } {
  const hash = createHash('sha256');
  let size = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > f.size) return cb(integrity(`"${printable(f.path)}" in the backup is larger than declared.`, f.path, 'size'));
      hash.update(chunk);
      onBytes(chunk.length);
      cb();
    },
  });
  return {
    sink,
    verify() {
      if (size !== f.size) throw integrity(`"${printable(f.path)}" in the backup is smaller than declared.`, f.path, 'size');
      if (hash.digest('hex') !== f.sha256) throw integrity(`"${printable(f.path)}" in the backup does not match its recorded checksum.`, f.path, 'sha256');
    },
  };
}

/** One piece: its compressed bytes go into the zip as they are, and through inflate into the checker. */
async function copyEntry(src: PackSource, key: (pack: number) => string, f: ManifestFile, zip: ZipWriter, signal: AbortSignal | undefined, onBytes: (n: number) => void): Promise<void> {
  const [pack, offset, compressedSize, method, crc32] = f.refs?.[0] ?? [0, 0, 0, 0, 0];
  await zip.beginEntry({ name: f.path, kind: 'file', method, mtimeMs: Date.parse(f.mtime), mode: f.mode, size: f.size, crc32, ...(method === 8 ? { compressedSize } : {}) });
  const check = checker(f, onBytes);
  if (compressedSize > 0) {
    const body = await src.getRangeStream(key(pack), offset, offset + compressedSize - 1, { signal });
    const plain = new PassThrough();
    const toZip = new Writable({
      write(chunk: Buffer, _enc, cb) {
        plain.write(chunk);
        zip.write(chunk).then(() => cb(), cb);
      },
      final(cb) {
        plain.end();
        cb();
      },
    });
    const checking = method === 8 ? pipeline(plain, zlib.createInflateRaw(), check.sink) : pipeline(plain, check.sink);
    try {
      await Promise.all([pipeline(body, toZip, { signal }), checking]);
    } catch (e) {
      throw e instanceof BackupError || signal?.aborted ? e : integrity(`"${printable(f.path)}" in the backup is damaged (${(e as Error).message}).`, f.path, 'data', e);
    }
  } else {
    await new Promise<void>((res, rej) => check.sink.end((e?: Error | null) => (e ? rej(e) : res())));
  }
  check.verify();
  await zip.endEntry(method === 8 ? { size: f.size, crc32 } : {});
}

/** Several pieces: each inflated in turn, the whole deflated again into one entry (its CRC combined from the pieces'). */
async function recompress(
  src: PackSource,
  key: (pack: number) => string,
  f: ManifestFile,
  zip: ZipWriter,
  level: number,
  signal: AbortSignal | undefined,
  onBytes: (n: number) => void,
): Promise<void> {
  const refs = f.refs ?? [];
  const crc32 = refs.reduce((c, r, i) => (i === 0 ? r[4] : crc32Combine(c, r[4], r[5])), 0);
  await zip.beginEntry({ name: f.path, kind: 'file', method: 8, mtimeMs: Date.parse(f.mtime), mode: f.mode, size: f.size, crc32 });
  const check = checker(f, onBytes);
  const deflate = zlib.createDeflateRaw({ level });
  const toZip = new Writable({
    write(chunk: Buffer, _enc, cb) {
      zip.write(chunk).then(() => cb(), cb);
    },
  });
  const zipping = pipeline(deflate, toZip);
  try {
    for (const [pack, offset, compressedSize, method] of refs) {
      if (compressedSize === 0) continue;
      const body = await src.getRangeStream(key(pack), offset, offset + compressedSize - 1, { signal });
      const tee = new Writable({
        write(chunk: Buffer, _enc, cb) {
          check.sink.write(chunk);
          if (!deflate.write(chunk)) deflate.once('drain', () => cb());
          else cb();
        },
      });
      await (method === 8 ? pipeline(body, zlib.createInflateRaw(), tee, { signal }) : pipeline(body, tee, { signal }));
    }
    deflate.end();
    await zipping;
    await new Promise<void>((res, rej) => check.sink.end((e?: Error | null) => (e ? rej(e) : res())));
  } catch (e) {
    deflate.destroy();
    throw e instanceof BackupError || signal?.aborted ? e : integrity(`"${printable(f.path)}" in the backup is damaged (${(e as Error).message}).`, f.path, 'data', e);
  }
  check.verify();
  await zip.endEntry({ size: f.size, crc32 });
}
