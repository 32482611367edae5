// The previous release's writer of format-1 backups (one zip, manifest
// first, jszip's container), kept to make format-1 fixtures: the backups
// users already have in their buckets must keep restoring.
import { PassThrough, type Readable } from 'stream';
import { BackupError, CancelledError } from '../../../src/core/util/engineErrors';
import { MANIFEST_NAME, printable, serializeManifest, type Manifest, type ManifestFile, type ManifestMeta } from '../../../src/core/format/manifest';
import { FirstFailure } from '../../../src/core/util/firstFailure';
import { archivePathProblem } from '../../../src/core/util/paths';
import type { ProgressListener } from '../../../src/core/util/progress';
import { WorkerPool } from '../../../src/core/util/workerPool';
import { DEFAULT_LEVEL } from '../../../src/core/archive/compression';
import { SMALL_FILE, type ArchiveSource, type Entry } from '../../../src/core/archive/entries';
import { hashPass } from '../../../src/core/archive/hashPass';
import { checkArchiveLimits } from './limits';
import { Pipeline } from '../../../src/core/archive/readAhead';
import { writeZip } from './zipContainer';

export type { ArchiveSource } from '../../../src/core/archive/entries';

/**
 * Writes one ZIP archive: `manifest.json` first, then every source. Returns at
 * once; `stream` starts producing after a first pass has hashed every file
 * (the manifest needs the checksums). Files are deflated by Node's native zlib
 * on libuv's thread pool, several at a time, never on the calling thread;
 * files that do not compress are stored. A file that changed between the two
 * passes fails the archive with 'SourceChanged'. The container is jszip's.
 *
 * Errors (and an abort) destroy `stream` and reject `manifest` and `done`.
 */
export function writeArchive(
  sources: ArchiveSource[],
  meta: ManifestMeta,
  o: { signal?: AbortSignal; onProgress?: ProgressListener; /** zlib level 1-9 for files that compress. */ level?: number } = {},
): { stream: Readable; manifest: Promise<Manifest>; done: Promise<void> } {
  checkArchiveLimits(sources);
  const seen = new Set<string>();
  for (const s of sources) {
    const problem = archivePathProblem(s.archivePath);
    // jszip keeps entries in an object: integer-like keys would jump ahead of the manifest.
    const intLike = /^(0|[1-9]\d{0,9})$/.test(s.archivePath);
    if (problem || intLike || s.archivePath === MANIFEST_NAME || seen.has(s.archivePath)) {
      const why = problem ?? (seen.has(s.archivePath) ? 'it is listed twice' : 'the name is reserved');
      throw new BackupError('UnsafeArchive', `"${printable(s.archivePath)}" cannot be stored in a backup: ${why}.`, 'Rename the file or exclude it.', {
        params: { entry: printable(s.archivePath), detail: why },
      });
    }
    if (!s.absPath && !s.data) throw new TypeError(`archive source ${s.archivePath} has neither absPath nor data`);
    seen.add(s.archivePath);
  }

  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  let finished = false;
  let resolveManifest!: (m: Manifest) => void;
  let rejectManifest!: (e: Error) => void;
  let resolveDone!: () => void;
  let rejectDone!: (e: Error) => void;
  const manifest = new Promise<Manifest>((res, rej) => ((resolveManifest = res), (rejectManifest = rej)));
  const done = new Promise<void>((res, rej) => ((resolveDone = res), (rejectDone = rej)));
  // The caller may only watch the stream; an unobserved rejection must not crash the process.
  manifest.catch(() => undefined);
  done.catch(() => undefined);
  let pipeline: Pipeline | undefined;
  // Small files are read, hashed and deflated on worker threads; gone once the archive is written or failed.
  const threads = sources.some((s) => s.absPath && !s.data && s.size <= SMALL_FILE) ? WorkerPool.create('fileWorker') : undefined;
  const closeThreads = (): void => void threads?.close();
  done.then(closeThreads, closeThreads);

  const failure = new FirstFailure((e) => {
    const err = e as Error;
    pipeline?.cancel(err);
    rejectManifest(err);
    rejectDone(err);
    out.destroy(err);
  });
  const failed = (): Error | undefined => failure.error as Error | undefined;
  const fail = (e: unknown): void => {
    if (!finished) failure.record(e instanceof Error ? e : new Error(String(e)));
  };
  const onAbort = (): void => fail(new CancelledError(o.signal?.reason));
  if (o.signal?.aborted) {
    queueMicrotask(onAbort);
  } else {
    o.signal?.addEventListener('abort', onAbort, { once: true });
  }
  out.on('close', () => {
    o.signal?.removeEventListener('abort', onAbort);
    if (!finished) fail(new CancelledError('the archive stream was closed early'));
  });

  const run = async (): Promise<void> => {
    const entries = await hashPass(sources, o, failed, threads);
    if (failure.failed) return;
    const files: ManifestFile[] = entries.map((e) => ({
      path: e.name,
      size: e.size,
      mtime: new Date(e.mtimeMs).toISOString(),
      mode: e.unixMode & 0o777,
      sha256: e.sha256!,
    }));
    const m: Manifest = { ...meta, format: 1, files, totals: { files: files.length, bytes: files.reduce((a, f) => a + f.size, 0) } };
    checkArchiveLimits(entries.map((e) => ({ archivePath: e.name, size: e.size })));
    const manifestData = serializeManifest(m);
    const created = new Date(meta.created);
    const all: Entry[] = [
      { name: MANIFEST_NAME, data: manifestData, size: manifestData.length, method: 'deflate', mtimeMs: Number.isNaN(created.getTime()) ? Date.now() : created.getTime(), unixMode: 0o644 },
      ...entries,
    ];
    resolveManifest(m);

    pipeline = new Pipeline(all, fail, o.onProgress, m.totals.bytes, Math.min(9, Math.max(1, Math.round(o.level ?? DEFAULT_LEVEL))), threads);
    await writeZip(all, pipeline, out, () => failure.failed, () => {
      if (failure.failed) return;
      finished = true;
      resolveDone();
    });
  };
  run().catch(fail);
  return { stream: out, manifest, done };
}
