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
