import * as vscode from 'vscode';
import { CancelledError } from '../../core/util/engineErrors';
import { throttleProgress, type Progress, type ProgressListener, type ProgressPhase } from '../../core/util/progress';
import { formatBytes, formatCount } from './format';

export interface EngineCall {
  signal: AbortSignal;
  onProgress: ProgressListener;
}

/**
 * Runs engine work under a cancellable notification. Cancel aborts the
 * signal handed to the engine; progress shows bytes and files, throttled, and
 * the bar follows the `barPhases` (the phase whose bytes measure the job).
 */
export function withEngineProgress<T>(
  title: string,
  barPhases: readonly ProgressPhase[],
  work: (call: EngineCall) => Promise<T>,
): Thenable<T> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (progress, token) => {
      const ac = new AbortController();
      const sub = token.onCancellationRequested(() => ac.abort(new CancelledError()));
      let bar = 0;
      const onProgress = throttleProgress((p: Progress) => {
        let increment: number | undefined;
        if (barPhases.includes(p.phase) && p.bytesTotal > 0) {
          const pct = Math.min(100, (p.bytesDone / p.bytesTotal) * 100);
          if (pct > bar) {
            increment = pct - bar;
            bar = pct;
          }
        }
        progress.report({ message: progressMessage(p), increment });
      }, 200);
      try {
        if (token.isCancellationRequested) throw new CancelledError();
        return await work({ signal: ac.signal, onProgress });
      } finally {
        sub.dispose();
      }
    },
  );
}

/**
 * "Downloading: 12.3 MB of 48.8 MB", "Uploading: 120 of 2,000 files". A backup's
 * upload is counted in the files' bytes (the archive's size is only known at
 * the end), so it shows files only: the one size a person sees for a backup is
 * its size in the bucket, in the result and the tree alike.
 */
function progressMessage(p: Progress): string {
  if (p.phase === 'delete') return vscode.l10n.t('Deleted {0} of {1} backups', formatCount(p.filesDone), formatCount(p.filesTotal));
  const phase = phaseLabel(p.phase);
  if (p.phase === 'upload' && p.filesTotal > 0) {
    return p.filesTotal === 1 ? vscode.l10n.t('{0}: 1 file', phase) : vscode.l10n.t('{0}: {1} of {2} files', phase, formatCount(p.filesDone), formatCount(p.filesTotal));
  }
  if (p.bytesTotal > 0 && p.filesTotal > 1) {
    return vscode.l10n.t('{0}: {1} of {2}, {3} of {4} files', phase, formatBytes(p.bytesDone), formatBytes(p.bytesTotal), formatCount(p.filesDone), formatCount(p.filesTotal));
  }
  if (p.bytesTotal > 0) return vscode.l10n.t('{0}: {1} of {2}', phase, formatBytes(p.bytesDone), formatBytes(p.bytesTotal));
  if (p.filesDone === 1) return vscode.l10n.t('{0}: 1 file', phase);
  if (p.filesDone > 0) return vscode.l10n.t('{0}: {1} files', phase, formatCount(p.filesDone));
  return vscode.l10n.t('{0}…', phase);
}

function phaseLabel(phase: ProgressPhase): string {
  switch (phase) {
    case 'scan':
      return vscode.l10n.t('Finding files');
    case 'hash':
      return vscode.l10n.t('Checking files');
    case 'archive':
      return vscode.l10n.t('Compressing');
    case 'upload':
      return vscode.l10n.t('Uploading');
    case 'download':
      return vscode.l10n.t('Downloading');
    case 'verify':
      return vscode.l10n.t('Verifying');
    case 'write':
      return vscode.l10n.t('Writing files');
    case 'delete':
      return vscode.l10n.t('Deleting backups');
  }
}
