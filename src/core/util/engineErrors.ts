export type ErrorCode =
  | 'InvalidProfile'
  | 'SignatureMismatch'
  | 'InvalidAccessKey'
  | 'AccessDenied'
  | 'NoSuchBucket'
  | 'WrongRegion'
  | 'Unreachable'
  | 'Timeout'
  | 'ClockSkew'
  | 'Tls'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Integrity'
  | 'UnsafeArchive'
  | 'TooLarge'
  | 'SourceChanged'
  | 'Busy'
  | 'WrongPassphrase'
  | 'PassphraseNeeded'
  | 'Unauthentic'
  | 'PlainBackup'
  | 'Cancelled'
  | 'Io'
  | 'Server'
  | 'Unknown';

export type ErrorParams = Record<string, string | number>;

/**
 * Every error the engine throws. `code` is API: the VS Code face translates by
 * it. `message` is one plain English sentence (what the CLI prints); `hint`
 * says what to do. Neither ever holds a secret.
 */
export class BackupError extends Error {
  readonly params: ErrorParams;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown; params?: ErrorParams },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BackupError';
    this.params = options?.params ?? {};
  }
}

export class CancelledError extends BackupError {
  constructor(cause?: unknown) {
    super('Cancelled', 'The operation was cancelled.', undefined, { cause });
    this.name = 'CancelledError';
  }
}

export function isCancelled(e: unknown): boolean {
  if (e instanceof BackupError) return e.code === 'Cancelled';
  const err = e as { name?: string; code?: string } | undefined;
  // By shape too: the extension loads the engine as a separate bundle, with its own class objects.
  if ((err?.name === 'BackupError' || err?.name === 'CancelledError') && err.code === 'Cancelled') return true;
  return err?.name === 'AbortError' || err?.code === 'ABORT_ERR';
}

/** Throws `CancelledError` when the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError(signal.reason);
}

/** Removes every occurrence of the given secrets from a text (logs, messages). */
export function scrubSecrets(text: string, secrets: Array<string | undefined>): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('***');
  }
  return out;
}

/** What `toBackupError` may name in its message; `secrets` are scrubbed from anything copied from the cause. */
export interface ErrorContext {
  bucket?: string;
  endpoint?: string;
  key?: string;
  secrets?: Array<string | undefined>;
}

interface RawError {
  name?: string;
  code?: string | number;
  Code?: string;
  message?: string;
  Region?: string;
  Endpoint?: string;
  errors?: unknown[];
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number; headers?: Record<string, string | undefined> };
}

const UNREACHABLE = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EHOSTUNREACH', 'EHOSTDOWN',
  'ENETUNREACH', 'ENETDOWN', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'EADDRNOTAVAIL',
]);

function isTlsCode(c: string): boolean {
  return (
    c === 'EPROTO' ||
    c.startsWith('CERT_') ||
    c.startsWith('ERR_TLS_') ||
    c.startsWith('ERR_SSL_') ||
    c.startsWith('UNABLE_TO_') ||
    c.includes('SELF_SIGNED') ||
    c === 'HOSTNAME_MISMATCH'
  );
}

/** The Node error codes found on an error, its `errors` (AggregateError) and its causes. */
function networkCodes(e: unknown, depth = 0): string[] {
  if (!e || typeof e !== 'object' || depth > 4) return [];
  const r = e as RawError;
  const out: string[] = [];
  if (typeof r.code === 'string') out.push(r.code);
  for (const inner of r.errors ?? []) out.push(...networkCodes(inner, depth + 1));
  if (r.cause) out.push(...networkCodes(r.cause, depth + 1));
  return out;
}

/**
 * Maps an SDK, network or file-system error to a `BackupError` with a stable
 * code, one plain sentence naming the bucket/endpoint/key concerned, and a
 * hint. An abort becomes `CancelledError`. A `BackupError` passes through.
 * Text copied from the cause is scrubbed of `ctx.secrets`.
 */
export function toBackupError(e: unknown, ctx: ErrorContext = {}): BackupError {
  if (e instanceof BackupError) return e;
  if (isCancelled(e)) return new CancelledError(e);

  const r = (e && typeof e === 'object' ? e : { message: String(e) }) as RawError;
  const status = r.$metadata?.httpStatusCode ?? r.$response?.statusCode;
  const s3Code = typeof r.Code === 'string' ? r.Code : r.$metadata ? r.name : undefined;
  const codes = networkCodes(e);
  const where = ctx.endpoint ? `the server at ${ctx.endpoint}` : 'the server';
  const bucket = ctx.bucket ?? '';
  const params: ErrorParams = {};
  if (ctx.bucket) params.bucket = ctx.bucket;
  if (ctx.endpoint) params.endpoint = ctx.endpoint;
  if (ctx.key) params.key = ctx.key;
  if (status) params.status = status;
  if (s3Code) params.serverCode = s3Code;
  const scrub = (t: string): string => scrubSecrets(t, ctx.secrets ?? []);
  const detail = scrub(String(r.message ?? '')).replace(/\s+/g, ' ').trim().slice(0, 300);
  const make = (code: ErrorCode, message: string, hint: string): BackupError =>
    new BackupError(code, message, hint, { cause: e, params });

  switch (s3Code) {
    case 'SignatureDoesNotMatch':
      return make('SignatureMismatch', 'The secret access key was rejected by the server.',
        'Check the secret access key: it must be the one issued together with this access key ID.');
    case 'InvalidAccessKeyId':
    case 'InvalidClientTokenId':
      return make('InvalidAccessKey', `The access key ID is not known to ${where}.`,
        'Check the access key ID, and that the key is active on this server.');
    case 'NoSuchBucket':
      return make('NoSuchBucket', `The bucket "${bucket}" does not exist on ${where}.`,
        'Check the bucket name, the endpoint and the region; the bucket must exist before the first backup.');
    case 'PermanentRedirect':
    case 'TemporaryRedirect':
    case 'Redirect':
    case 'AuthorizationHeaderMalformed':
    case 'IllegalLocationConstraintException':
    case 'InvalidRegion':
      return wrongRegion();
    case 'RequestTimeTooSkewed':
      return make('ClockSkew', "This computer's clock differs too much from the server's.",
        'Set the system clock right (turn on automatic time synchronisation), then try again.');
    case 'NoSuchKey':
    case 'NoSuchUpload':
    case 'NotFound':
      return notFound();
    case 'PreconditionFailed':
    case 'ConditionalRequestConflict':
      return alreadyExists();
    case 'RequestTimeout':
      return timeout();
    case 'AccessDenied':
    case 'Forbidden':
    case 'AllAccessDisabled':
    case 'AccountProblem':
      return accessDenied();
    default:
      break;
  }

  if (status === 301 || status === 307) return wrongRegion();
  if (status === 403) return accessDenied();
  if (status === 404) return notFound();
  if (status === 412) return alreadyExists();
  if (status === 501 || s3Code === 'NotImplemented') {
    return make('Server', `${capital(where)} does not support this request.`,
      'The server may not be fully S3-compatible; check its documentation.');
  }
  if (status !== undefined && status >= 500) {
    return make('Server', `${capital(where)} failed to handle the request (HTTP ${status}${s3Code ? ` ${s3Code}` : ''}).`,
      'The server had a problem; try again later.');
  }

  const tls = codes.find(isTlsCode);
  if (tls) {
    params.reason = tls;
    return make('Tls', `The secure (TLS) connection to ${where} failed (${tls}).`,
      "Check http:// versus https:// and the port in the endpoint, and that the server's certificate is trusted (NODE_EXTRA_CA_CERTS).");
  }
  if (r.name === 'TimeoutError' || codes.includes('ETIMEDOUT') || codes.includes('ESOCKETTIMEDOUT')) return timeout();
  const net = codes.find((c) => UNREACHABLE.has(c));
  if (net) {
    params.reason = net;
    const message =
      net === 'ECONNREFUSED' ? `${capital(where)} refused the connection.`
      : net.startsWith('EAI_') || net === 'ENOTFOUND' ? `The host name of ${where} could not be found.`
      : net === 'ECONNRESET' || net === 'ECONNABORTED' || net === 'EPIPE' ? `The connection to ${where} was dropped.`
      : `${capital(where)} could not be reached.`;
    return make('Unreachable', message, 'Check the endpoint (host and port) and the network connection.');
  }
  if (status !== undefined) {
    return make('Unknown', `${capital(where)} refused the request (HTTP ${status}${s3Code ? ` ${s3Code}` : ''}${detail ? `: ${detail}` : ''}).`,
      'Check the connection settings; the log has details.');
  }
  const fsCode = codes.find((c) => /^E[A-Z]+$/.test(c));
  if (fsCode) {
    params.reason = fsCode;
    return make('Io', `A file operation failed (${fsCode}${detail ? `: ${detail}` : ''}).`, 'Check the disk space and the permissions.');
  }
  return make('Unknown', `Unexpected error${detail ? `: ${detail}` : ''}.`.replace(/\.\.$/, '.'), 'The log has details.');

  function wrongRegion(): BackupError {
    const fromMessage = /expecting '([^']+)'/.exec(String(r.message ?? ''))?.[1];
    const expected = r.Region ?? r.$response?.headers?.['x-amz-bucket-region'] ?? fromMessage;
    if (expected) params.expectedRegion = expected;
    return make('WrongRegion',
      `The bucket "${bucket}" is in another region or behind another endpoint than the one configured.`,
      expected ? `Set the region to ${expected} (and use that region's endpoint).` : 'Check the region and the endpoint.');
  }
  function accessDenied(): BackupError {
    return make('AccessDenied', `Access to the bucket "${bucket}" was denied.`,
      'Check that this key may list, read, write and delete objects in the bucket (under the root path).');
  }
  function notFound(): BackupError {
    return make('NotFound', ctx.key ? `The object "${ctx.key}" was not found.` : 'The object was not found.',
      'It may have been deleted; refresh the list.');
  }
  function alreadyExists(): BackupError {
    return make('AlreadyExists', ctx.key ? `An object named "${ctx.key}" already exists; it was not overwritten.` : 'The object already exists; it was not overwritten.',
      'Try again: a new backup gets a new name.');
  }
  function timeout(): BackupError {
    return make('Timeout', `${capital(where)} did not answer in time.`, 'Check the network connection and the endpoint, then try again.');
  }
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
