import type { Manifest } from '../format/manifest';
import type { ProgressListener } from '../util/progress';
import { WorkerPool } from '../util/workerPool';
import { checkOnThread, isSmall, type Offload } from './entryData';
import { forEachEntry } from './entryLoop';
import { internalsOf, openArchive } from './openArchive';

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
    const read = internalsOf(a).read;
    const pool = WorkerPool.create('entryWorker');
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
