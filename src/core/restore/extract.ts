import * as fs from 'fs';
import { MANIFEST_NAME, type Manifest } from '../format/manifest';
import type { ProgressListener } from '../util/progress';
import { WorkerPool } from '../util/workerPool';
import { checkOnThread, isSmall } from '../archive/entryData';
import { forEachEntry } from '../archive/entryLoop';
import { internalsOf, openArchive, type ArchiveEntry } from '../archive/openArchive';
import { integrity } from '../archive/readerErrors';
import { restoredMode } from './restoredMode';

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
    const read = internalsOf(a).read;
    const writer = WorkerPool.create('entryWorker');
    try {
      await forEachEntry(
        a,
        wanted.map((w) => w.e),
        async (e, pre) => {
          const dest = dests.get(e)!;
          const f = meta.get(e.name);
          const mode = o.setMeta && f ? restoredMode(f.mode, umask) : 0o600;
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
