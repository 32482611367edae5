import { createHash } from 'crypto';
import { yieldIfDue } from '../util/timeSlice';

/** Bodies from this size on are hashed here, a slice at a time (the signer hashes a smaller one in well under a ms). */
const SLICED_FROM = 256 * 1024;
// ~0.3 ms of SHA-256 a slice on a small VM.
const SLICE = 256 * 1024;
const HEADER = 'x-amz-content-sha256';

interface BuildArgs {
  request: unknown;
}

/**
 * A middleware that gives a large in-memory body its SigV4 payload hash
 * before signing, computed a slice at a time. The SDK's signer otherwise
 * hashes each 5 MiB part in one go (~13 ms a part on a small VM, several
 * parts at once); WebCrypto's digest, which hashes on libuv's thread pool,
 * first copies the body on this thread, 15-26 ms a 5 MiB part while the
 * worker threads had both cores (a 1 GiB backup's longest turns: 80-150 ms).
 * A hash the request already carries is kept.
 */
export function payloadHashMiddleware() {
  return (next: (args: BuildArgs) => Promise<unknown>) =>
    async (args: BuildArgs): Promise<unknown> => {
      const req = args.request as { headers?: Record<string, string>; body?: unknown } | undefined;
      const body = req?.body;
      if (req?.headers && body instanceof Uint8Array && body.byteLength >= SLICED_FROM && !hasHeader(req.headers)) {
        const hash = createHash('sha256');
        for (let at = 0; at < body.byteLength; at += SLICE) {
          hash.update(body.subarray(at, Math.min(at + SLICE, body.byteLength)));
          const turn = yieldIfDue();
          if (turn) await turn;
        }
        req.headers[HEADER] = hash.digest('hex');
      }
      return next(args);
    };
}

function hasHeader(headers: Record<string, string>): boolean {
  return Object.keys(headers).some((h) => h.toLowerCase() === HEADER);
}
