import { throwIfAborted } from '../util/engineErrors';
import { FirstFailure } from '../util/firstFailure';
import { isSmall, READ_CHUNK } from './entryData';
import { internalsOf, type ArchiveEntry, type OpenedArchive } from './openArchive';

// Entries checked or written at once, and the bytes they may hold meanwhile.
const IN_FLIGHT = 16;
const IN_FLIGHT_BYTES = 32 * 1024 * 1024;
// Consecutive small entries are read with one call, up to this much.
const WINDOW = 2 * 1024 * 1024;

/**
 * Runs `fn` over `entries` (in archive order), several at once within a count
 * and byte budget. Runs of small entries are read from the archive together,
 * one window a read: a thread-pool round trip costs more than reading a small
 * entry, so per-entry reads made the read side as slow as the writes.
 * Waits for every started call before rejecting with the first failure.
 */
export async function forEachEntry(
  a: OpenedArchive,
  entries: ArchiveEntry[],
  fn: (e: ArchiveEntry, pre?: Buffer) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const x = internalsOf(a);
  const failure = new FirstFailure();
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
        failure.record(err);
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
    while (!failure.failed && count > 0 && (count >= IN_FLIGHT || bytes + cost(e) > IN_FLIGHT_BYTES)) await new Promise<void>((r) => (wake = r));
  };
  // The bytes an entry needs from its local header on, as far as the central directory tells.
  const span = (e: ArchiveEntry): number => Math.max(30, Math.min(e.localHeaderOffset + e.headerGuess + e.compressedSize, x.ends.get(e) ?? x.fileSize, x.fileSize) - e.localHeaderOffset);
  try {
    let i = 0;
    while (i < entries.length && !failure.failed) {
      throwIfAborted(signal);
      const e = entries[i];
      if (!isSmall(e)) {
        await room(e);
        if (failure.failed) break;
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
      for (; i < j && !failure.failed; i++) {
        throwIfAborted(signal);
        const k = entries[i];
        await room(k);
        if (failure.failed) break;
        const off = k.localHeaderOffset - from;
        start(k, off < got ? win.subarray(off, Math.min(got, off + span(k))) : undefined);
      }
    }
  } catch (e) {
    failure.record(e);
  }
  while (running.size > 0) await Promise.all([...running]);
  failure.throwIfFailed();
}
