// Whether the bucket or the root path can be read without credentials. A
// warning in the settings page ("keep the bucket private") protects nothing;
// this asks the server itself: an unsigned LIST and an unsigned GET, exactly
// what a stranger would send, plus what the provider says about its own
// policy and ACL where it supports those calls.
import * as http from 'http';
import * as https from 'https';
import { backupPrefix } from '../format/backupKeys';
import { isCancelled, CancelledError } from '../util/engineErrors';
import type { Logger } from '../util/engineLogger';
import { ATTEMPT_TIMEOUT_MS } from './requestBudget';
import type { Profile } from './profile';

export { isCleartextEndpoint } from './profile';

/** A check that could not tell (the provider does not support it, the key may not call it, or no answer). */
export type AccessCheck = 'list' | 'read' | 'policy' | 'acl';

export interface AnonymousAccess {
  /** An unsigned ListObjectsV2 of the root path was answered with a listing. */
  listable: boolean;
  /** An unsigned GET of an object under the root path was answered with its content. */
  readable: boolean;
  /** GetBucketPolicyStatus says the bucket policy makes it public. */
  policyPublic: boolean;
  /** The bucket ACL grants something to AllUsers or AuthenticatedUsers (anyone with any account). */
  aclPublic: boolean;
  /** The checks that could not tell; a `false` above for one of these means "not seen", not "private". */
  unknown: AccessCheck[];
  /** Anyone may list or read: one of the four above is true. */
  exposed: boolean;
}

/** What the check needs from a store (S3Store's). */
export interface AccessStore {
  readonly profile: Pick<Profile, 'endpoint' | 'bucket' | 'rootPath' | 'forcePathStyle'>;
  readonly log: Logger;
  listPage(prefix: string, o: { signal?: AbortSignal; maxKeys?: number }): Promise<{ objects: Array<{ key: string }> }>;
  bucketPolicyIsPublic(o: { signal?: AbortSignal }): Promise<boolean>;
  bucketAclGroups(o: { signal?: AbortSignal }): Promise<string[]>;
}

const PUBLIC_GROUPS = /\/groups\/global\/(AllUsers|AuthenticatedUsers)$/;

/** S3's key encoding in a URL path: every byte but unreserved characters and `/`. */
function encodeKey(key: string): string {
  return key.split('/').map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)).join('/');
}

/**
 * The URL a stranger would use for `key` (empty: the bucket itself), with the
 * profile's addressing: `<endpoint>/<bucket>/<key>` in path style,
 * `<scheme>://<bucket>.<host>/<key>` in virtual-hosted style.
 */
export function anonymousUrl(p: Pick<Profile, 'endpoint' | 'bucket' | 'forcePathStyle'>, key: string, query = ''): string {
  const u = new URL(p.endpoint);
  const path = p.forcePathStyle ? `/${encodeURIComponent(p.bucket)}/${encodeKey(key)}` : `/${encodeKey(key)}`;
  const host = p.forcePathStyle ? u.host : `${p.bucket}.${u.host}`;
  return `${u.protocol}//${host}${path}${query ? `?${query}` : ''}`;
}

/**
 * One request without credentials; resolves to the status, or undefined when
 * there was no answer (refused, reset, TLS, timeout). The body is read only
 * up to a few bytes and dropped: the status is the answer.
 */
function unsignedStatus(url: string, signal: AbortSignal | undefined, timeoutMs: number, range = false): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError(signal.reason));
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : http;
    let settled = false;
    const done = (v: number | undefined): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(timer);
      resolve(v);
    };
    const req = lib.request(u, { method: 'GET', headers: range ? { Range: 'bytes=0-0' } : {}, agent: false }, (res) => {
      done(res.statusCode);
      res.destroy();
    });
    const onAbort = (): void => {
      req.destroy();
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(new CancelledError(signal?.reason));
      }
    };
    const timer = setTimeout(() => {
      req.destroy();
      done(undefined);
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', () => done(undefined));
    req.end();
  });
}

/**
 * Checks, without writing anything, whether strangers can reach the backups:
 * an unsigned LIST of the root path, an unsigned GET of `objectKey` (or of
 * the first object the signed listing finds under the root path), and,
 * signed, GetBucketPolicyStatus and GetBucketAcl. What a provider does not
 * support, or the key may not call, is "unknown", never an error. Throws
 * only `CancelledError`.
 */
export async function checkAnonymousAccess(
  store: AccessStore,
  o: { signal?: AbortSignal; objectKey?: string; timeoutMs?: number } = {},
): Promise<AnonymousAccess> {
  const { signal } = o;
  const timeoutMs = o.timeoutMs ?? ATTEMPT_TIMEOUT_MS;
  const prefix = backupPrefix(store.profile.rootPath);
  const unknown = new Set<AccessCheck>();
  const note = (check: AccessCheck, why: string): void => {
    unknown.add(check);
    store.log.debug(`anonymous access: ${check} unknown (${why})`);
  };
  // A failure of a signed helper call is "unknown"; a cancel ends the check.
  const soft = async <T>(check: AccessCheck, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (e) {
      if (isCancelled(e) || signal?.aborted) throw e instanceof CancelledError ? e : new CancelledError(e);
      note(check, (e as { code?: string }).code ?? (e instanceof Error ? e.message : String(e)));
      return undefined;
    }
  };

  const listing = async (): Promise<boolean> => {
    const query = `list-type=2&max-keys=1${prefix ? `&prefix=${encodeURIComponent(prefix)}` : ''}`;
    const status = await unsignedStatus(anonymousUrl(store.profile, '', query), signal, timeoutMs);
    if (status === 200) return true;
    if (status !== 401 && status !== 403) note('list', status === undefined ? 'no answer' : `status ${status}`);
    return false;
  };
  const reading = async (): Promise<boolean> => {
    const key = o.objectKey ?? (await soft('read', () => store.listPage(prefix, { signal, maxKeys: 1 })))?.objects[0]?.key;
    if (key === undefined) {
      if (!unknown.has('read')) note('read', 'no object under the root path to try');
      return false;
    }
    const status = await unsignedStatus(anonymousUrl(store.profile, key), signal, timeoutMs, true);
    if (status === 200 || status === 206) return true;
    if (status !== 401 && status !== 403) note('read', status === undefined ? 'no answer' : `status ${status}`);
    return false;
  };

  const [listable, readable, policy, groups] = await Promise.all([
    listing(),
    reading(),
    soft('policy', () => store.bucketPolicyIsPublic({ signal })),
    soft('acl', () => store.bucketAclGroups({ signal })),
  ]);
  const policyPublic = policy === true;
  const aclPublic = (groups ?? []).some((g) => PUBLIC_GROUPS.test(g));
  const result: AnonymousAccess = {
    listable,
    readable,
    policyPublic,
    aclPublic,
    unknown: (['list', 'read', 'policy', 'acl'] as const).filter((c) => unknown.has(c)),
    exposed: listable || readable || policyPublic || aclPublic,
  };
  store.log.info(
    `anonymous access: list ${listable}, read ${readable}, policy public ${policyPublic}, ACL public ${aclPublic}` +
      (result.unknown.length ? `, unknown: ${result.unknown.join(', ')}` : ''),
  );
  return result;
}
