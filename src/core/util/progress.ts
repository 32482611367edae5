/** `delete`: a prune deleting backups (files count backups). */
export type ProgressPhase = 'scan' | 'hash' | 'archive' | 'upload' | 'download' | 'verify' | 'write' | 'delete';

export interface Progress {
  phase: ProgressPhase;
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
}

export type ProgressListener = (p: Progress) => void;

/**
 * Wraps a listener so it fires at most every `intervalMs`, except on phase
 * changes and on completion, which always get through.
 */
export function throttleProgress(listener: ProgressListener | undefined, intervalMs = 100): ProgressListener {
  if (!listener) return () => undefined;
  let last = 0;
  let lastPhase: ProgressPhase | undefined;
  return (p) => {
    const now = Date.now();
    const finished = p.bytesDone >= p.bytesTotal && p.filesDone >= p.filesTotal;
    if (p.phase !== lastPhase || finished || now - last >= intervalMs) {
      last = now;
      lastPhase = p.phase;
      listener(p);
    }
  };
}
