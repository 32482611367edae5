import { promises as fs } from 'fs';
import * as net from 'net';
import type { Logger } from '../../core/util/engineLogger';
import type { SecretStore } from './secrets';

/**
 * Names a JSON file `{ "accessKeyId": "...", "secretAccessKey": "..." }` that
 * `npm start` writes for its local demo server. Nothing else sets it.
 */
export const SANDBOX_CREDENTIALS_ENV = 'S3_BACKUP_SANDBOX_CREDENTIALS_FILE';

/** What `importSandboxCredentials` did. */
export type SandboxImport = 'imported' | 'present' | 'none';

/** Whether an endpoint URL points at this computer (127.0.0.0/8, ::1 or localhost). */
export function isLoopbackEndpoint(endpoint: string): boolean {
  let host: string;
  try {
    host = new URL(endpoint).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.split('.')[0] === '127';
  if (net.isIPv6(host)) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/**
 * The `npm start` sandbox hands its demo server's keys to the extension through
 * a file named in the environment, so "Back Up Workspace" works without typing. To
 * keep this from becoming a way around SecretStorage for real users, the keys
 * are only imported when the variable is set, the saved endpoint is a loopback
 * address (keys for a local demo server can never be sent elsewhere), and no
 * key is stored yet (a user's own keys are never replaced). The keys go into
 * SecretStorage like typed ones; the file is left alone and the values are
 * never logged. Resolves to what it did: `imported` the keys, found keys
 * `present` already, or `none` (not the sandbox, or the file is unusable);
 * never rejects.
 */
export async function importSandboxCredentials(
  secrets: Pick<SecretStore, 'get' | 'store'>,
  log: Logger,
  o: { env?: NodeJS.ProcessEnv; endpoint?: () => string } = {},
): Promise<SandboxImport> {
  const file = (o.env ?? process.env)[SANDBOX_CREDENTIALS_ENV];
  if (!file) return 'none';
  try {
    // Loaded only here: real users never get past the check above, and tests run this in plain Node.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const endpoint = o.endpoint ? o.endpoint() : (require('./config') as typeof import('./config')).readConfig().endpoint;
    if (!isLoopbackEndpoint(endpoint)) {
      log.warn(`${SANDBOX_CREDENTIALS_ENV} is set but the endpoint is not a loopback address; the sandbox keys were not imported`);
      return 'none';
    }
    const stored = await secrets.get();
    // Keys of the sandbox's earlier server (s3rver, which knew only these) are no user's: they may be replaced.
    const retired = stored.accessKeyId === 'S3RVER' && stored.secretAccessKey === 'S3RVER';
    if ((stored.accessKeyId || stored.secretAccessKey) && !retired) return 'present';
    const text = await fs.readFile(file, 'utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // JSON.parse's message quotes the input, which here is a secret.
      log.warn(`the sandbox credentials file named by ${SANDBOX_CREDENTIALS_ENV} is not valid JSON`);
      return 'none';
    }
    const rec = (parsed && typeof parsed === 'object' ? parsed : {}) as Record<string, unknown>;
    const accessKeyId = typeof rec.accessKeyId === 'string' ? rec.accessKeyId.trim() : '';
    const secretAccessKey = typeof rec.secretAccessKey === 'string' ? rec.secretAccessKey.trim() : '';
    if (!accessKeyId || !secretAccessKey) {
      log.warn(`the sandbox credentials file named by ${SANDBOX_CREDENTIALS_ENV} lacks accessKeyId or secretAccessKey`);
      return 'none';
    }
    await secrets.store({ accessKeyId, secretAccessKey });
    log.info(`imported the sandbox keys for ${endpoint} into SecretStorage (from ${SANDBOX_CREDENTIALS_ENV})`);
    return 'imported';
  } catch (e) {
    // A file-system error names the path, never the content.
    log.warn(`could not import the sandbox keys: ${e instanceof Error ? e.message : String(e)}`);
    return 'none';
  }
}
