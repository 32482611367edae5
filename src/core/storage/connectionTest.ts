import { randomBytes } from 'crypto';
import { backupPrefix } from '../format/backupKeys';
import { BackupError } from '../util/engineErrors';
import type { Logger } from '../util/engineLogger';
import { checkAnonymousAccess, isCleartextEndpoint, type AccessStore, type AnonymousAccess } from './anonymousAccess';

export interface ConnectionStep {
  step: 'bucket' | 'write' | 'read' | 'delete';
  ok: boolean;
  error?: BackupError;
}

export interface ConnectionReport {
  /** Every step passed. A public bucket still "works": `access` says what strangers can do. */
  ok: boolean;
  steps: ConnectionStep[];
  /** What a request without credentials can do (anonymousAccess.ts); absent when the bucket was not reached. */
  access?: AnonymousAccess;
  /** The endpoint is http:// to another machine: keys and data travel unencrypted. */
  cleartext: boolean;
}

const PROBE_PREFIX = '.s3-backup-probe-';

/** The store operations the probe needs (S3Store's). */
export interface ProbeStore extends AccessStore {
  readonly log: Logger;
  putBuffer(key: string, data: Buffer, o: { signal?: AbortSignal; contentType?: string }): Promise<void>;
  getBuffer(key: string, o: { signal?: AbortSignal }): Promise<Buffer>;
  delete(key: string, o?: { signal?: AbortSignal }): Promise<void>;
  toError(e: unknown, key?: string): BackupError;
}

/**
 * Checks the profile step by step: the bucket can be listed, then a small
 * probe object under rootPath is written, read back, compared and deleted.
 * Stops at the first failing step (the probe is still deleted if it was
 * written). While the probe exists, it is also what the unsigned GET of the
 * anonymous-access check tries (anonymousAccess.ts). Throws only `CancelledError`.
 */
export async function testConnection(store: ProbeStore, signal?: AbortSignal): Promise<ConnectionReport> {
  const steps: ConnectionStep[] = [];
  let access: AnonymousAccess | undefined;
  const cleartext = isCleartextEndpoint(store.profile.endpoint);
  const report = (): ConnectionReport => ({ ok: steps.every((s) => s.ok), steps, ...(access ? { access } : {}), cleartext });
  const step = async (name: ConnectionStep['step'], fn: () => Promise<void>): Promise<boolean> => {
    try {
      await fn();
      steps.push({ step: name, ok: true });
      return true;
    } catch (e) {
      const err = e instanceof BackupError ? e : store.toError(e);
      if (err.code === 'Cancelled') throw err;
      steps.push({ step: name, ok: false, error: err });
      store.log.warn(`test connection: ${name} failed: ${err.message}`);
      return false;
    }
  };

  if (!(await step('bucket', async () => void (await store.listPage(backupPrefix(store.profile.rootPath), { signal, maxKeys: 1 }))))) {
    return report();
  }
  const key = `${backupPrefix(store.profile.rootPath)}${PROBE_PREFIX}${randomBytes(6).toString('hex')}`;
  const content = Buffer.from(`s3-backup connection probe ${new Date().toISOString()} ${randomBytes(8).toString('hex')}\n`);
  let written = false;
  try {
    if (!(await step('write', async () => {
      await store.putBuffer(key, content, { signal, contentType: 'text/plain' });
      written = true;
    }))) {
      // Nothing of ours to GET: the check tries an object the listing finds.
      access = await checkAnonymousAccess(store, { signal });
      return report();
    }
    await step('read', async () => {
      const back = await store.getBuffer(key, { signal });
      if (!back.equals(content)) {
        throw new BackupError('Integrity', 'The probe object read back differs from what was written.',
          'A proxy or the server changed the data; check the endpoint.', { params: { key } });
      }
    });
    access = await checkAnonymousAccess(store, { signal, objectKey: key });
    await step('delete', async () => {
      await store.delete(key, { signal });
      written = false;
    });
    return report();
  } finally {
    if (written) {
      // Best effort, also after a cancel: the probe must not stay behind.
      await store.delete(key).catch((e) => store.log.warn(`could not delete the probe ${key}: ${store.toError(e, key).message}`));
    }
  }
}
