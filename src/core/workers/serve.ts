import { parentPort } from 'worker_threads';
import { lowerThisThreadsPriority } from '../util/threadPriority';
import { toWorkerError } from '../util/workerError';
import type { Transferring } from './messages';

interface Envelope {
  id: number;
  m: unknown;
}

function isTransferring(r: unknown): r is Transferring<unknown> {
  return typeof r === 'object' && r !== null && 'transfer' in r && 'reply' in r;
}

/**
 * The message loop of a worker script: each request gets one reply with the
 * same id, or an error carrying the message, code, syscall and path (what the
 * engine's error mapping looks at). Handlers are synchronous on purpose: the
 * point of a worker is one message instead of several thread-pool round trips.
 */
export function serve(handle: (m: never) => unknown): void {
  const port = parentPort;
  if (!port) throw new Error('this script runs on a worker thread');
  lowerThisThreadsPriority();
  port.on('message', ({ id, m }: Envelope) => {
    let r: unknown;
    try {
      r = handle(m as never);
    } catch (e) {
      port.postMessage({ id, error: toWorkerError(e) });
      return;
    }
    if (isTransferring(r)) port.postMessage({ id, value: r.reply }, r.transfer);
    else port.postMessage({ id, value: r });
  });
}
