import * as vscode from 'vscode';
import { BackupError, isCancelled, type ErrorCode } from '../../core/util/engineErrors';
import { folderName, formatBytes } from './format';

/** An error as the user sees it: one plain sentence, a hint, and whether the settings can fix it. */
export interface ErrorFace {
  code: ErrorCode;
  message: string;
  hint?: string;
  /** The connection settings are the likely fix: offer "Open Settings". */
  settings: boolean;
}

const SETTINGS_CODES = new Set<ErrorCode>([
  'InvalidProfile', 'SignatureMismatch', 'InvalidAccessKey', 'AccessDenied', 'NoSuchBucket', 'WrongRegion', 'Unreachable', 'Tls',
]);

/**
 * Translates an engine error by its `code` (and `params`) into the user's
 * language. Anything that is not a `BackupError` becomes code `Unknown`; its
 * own text is left to the log.
 */
export function describeError(e: unknown): ErrorFace {
  if (isCancelled(e)) return { code: 'Cancelled', message: vscode.l10n.t('The operation was cancelled.'), settings: false };
  if (!isBackupError(e)) {
    return { code: 'Unknown', message: vscode.l10n.t('Something unexpected went wrong.'), hint: vscode.l10n.t('The log has the details.'), settings: false };
  }
  const p = e.params;
  const str = (k: string): string | undefined => (p[k] === undefined || p[k] === '' ? undefined : String(p[k]));
  const bucket = str('bucket');
  const endpoint = str('endpoint');
  const face = (message: string, hint?: string): ErrorFace => ({ code: e.code, message, hint, settings: SETTINGS_CODES.has(e.code) });

  switch (e.code) {
    case 'InvalidProfile':
      if (str('reason') === 'notConfigured') {
        return face(vscode.l10n.t('S3 storage is not configured yet.'), vscode.l10n.t('Open the S3 Backup settings and enter the endpoint, bucket and keys.'));
      }
      if (str('reason') === 'empty') return { ...face(vscode.l10n.t('There is nothing to back up.'), vscode.l10n.t('Open a folder first.')), settings: false };
      return face(
        str('fields') ? vscode.l10n.t('The S3 settings are not valid ({0}).', str('fields') as string) : vscode.l10n.t('The S3 settings are not valid.'),
        vscode.l10n.t('Open the S3 Backup settings to correct them.'),
      );
    case 'SignatureMismatch':
      return face(
        vscode.l10n.t('The secret access key was rejected by the server.'),
        vscode.l10n.t('Check the secret access key: it must be the one issued together with this access key ID.'),
      );
    case 'InvalidAccessKey':
      return face(
        endpoint ? vscode.l10n.t('The access key ID is not known to {0}.', endpoint) : vscode.l10n.t('The access key ID is not known to the server.'),
        vscode.l10n.t('Check the access key ID, and that the key is active on this server.'),
      );
    case 'AccessDenied':
      return face(
        bucket ? vscode.l10n.t('Access to the bucket "{0}" was denied.', bucket) : vscode.l10n.t('Access to the bucket was denied.'),
        vscode.l10n.t('Check that these keys may list, read, write and delete objects in the bucket.'),
      );
    case 'NoSuchBucket':
      return face(
        bucket ? vscode.l10n.t('The bucket "{0}" does not exist.', bucket) : vscode.l10n.t('The bucket does not exist.'),
        vscode.l10n.t('Check the bucket name, the endpoint and the region; the bucket must exist before the first backup.'),
      );
    case 'WrongRegion':
      return face(
        vscode.l10n.t('The bucket is in another region or behind another endpoint than the one configured.'),
        str('expectedRegion') ? vscode.l10n.t('Set the region to {0}.', str('expectedRegion') as string) : vscode.l10n.t('Check the region and the endpoint.'),
      );
    case 'Unreachable':
      return face(
        endpoint ? vscode.l10n.t('The S3 server at {0} could not be reached.', endpoint) : vscode.l10n.t('The S3 server could not be reached.'),
        vscode.l10n.t('Check the endpoint (host and port) and the network connection.'),
      );
    case 'Timeout':
      return face(vscode.l10n.t('The S3 server did not answer in time.'), vscode.l10n.t('Check the network connection and the endpoint, then try again.'));
    case 'ClockSkew':
      return face(vscode.l10n.t("This computer's clock differs too much from the server's."), vscode.l10n.t('Set the system clock right, then try again.'));
    case 'Tls':
      return face(
        vscode.l10n.t('The secure (TLS) connection to the S3 server failed.'),
        vscode.l10n.t("Check http:// versus https:// and the port in the endpoint, and that the server's certificate is trusted."),
      );
    case 'NotFound':
      if (str('reason') === 'snapshot') return face(vscode.l10n.t('The undo record of this restore is gone.'), vscode.l10n.t('The restore cannot be undone.'));
      if (str('reason') === 'staging') {
        return face(vscode.l10n.t('The files this restore had prepared are gone, so it cannot be completed.'), vscode.l10n.t('Roll it back with "Undo Last Restore", then restore again.'));
      }
      if (str('reason') === 'undone') return face(vscode.l10n.t('This restore was undone, so it cannot be completed.'), vscode.l10n.t('Restore the backup again instead.'));
      return face(vscode.l10n.t('The backup no longer exists in the bucket.'), vscode.l10n.t('Refresh the list of backups.'));
    case 'AlreadyExists':
      return face(vscode.l10n.t('An object with this name already exists; it was not overwritten.'), vscode.l10n.t('Try again: a new backup gets a new name.'));
    case 'Integrity':
      return face(
        vscode.l10n.t('The backup is damaged: its contents do not match its manifest. Nothing was written.'),
        vscode.l10n.t('Restore another backup, and check the storage provider.'),
      );
    case 'UnsafeArchive':
      if (str('reason') === 'platform') {
        return face(
          vscode.l10n.t('The backup holds a file name that cannot be created on {0} ({1}), so nothing was written.', str('platform') ?? process.platform, str('entry') ?? ''),
          vscode.l10n.t('Restore this backup on another system, or rename the file where it was backed up and back it up again.'),
        );
      }
      if (['git', 'excluded', 'appdata', 'nested'].includes(str('detail') ?? '') && str('entry')) {
        return face(
          vscode.l10n.t('The backup holds "{0}", which a backup made by S3 Backup never holds, so nothing was written.', str('entry') as string),
          vscode.l10n.t('Do not restore this backup: it may have been planted or tampered with.'),
        );
      }
      return face(
        vscode.l10n.t('The backup holds unsafe file paths, so nothing was written.'),
        vscode.l10n.t('Do not restore this backup: it may have been tampered with.'),
      );
    case 'TooLarge':
      if (str('reason') === 'space') {
        return face(
          vscode.l10n.t('The backup ({0}) does not fit in the free space of {1}.', formatBytes(Number(p.bytes) || 0), folderName(str('path') ?? '')),
          vscode.l10n.t('Free some space, or restore the backup into a folder instead.'),
        );
      }
      return face(
        vscode.l10n.t('The selection is too large for one backup.'),
        vscode.l10n.t('Exclude large or generated folders with the setting s3Backup.workspace.excludes.'),
      );
    case 'SourceChanged':
      return face(vscode.l10n.t('Files changed while they were being backed up.'), vscode.l10n.t('Try again when nothing is writing to the workspace.'));
    case 'Cancelled':
      return face(vscode.l10n.t('The operation was cancelled.'));
    case 'Io':
      return face(
        str('path') ? vscode.l10n.t('A file could not be read or written: {0}.', str('path') as string) : vscode.l10n.t('A file could not be read or written.'),
        vscode.l10n.t('Check the free disk space and the permissions.'),
      );
    case 'Busy':
      if (str('reason') === 'prune') {
        return face(vscode.l10n.t('Another prune is running on this bucket.'), vscode.l10n.t('Wait for it to finish, then run Prune again.'));
      }
      if (str('reason') === 'bucket') {
        return face(vscode.l10n.t('Another machine is changing the backups in this bucket right now.'), vscode.l10n.t('Wait a minute, then try again.'));
      }
      if (str('reason') === 'packsDeleted') {
        return face(vscode.l10n.t('Another machine cleaned up the bucket while this backup ran, so it was not saved.'), vscode.l10n.t('Back up again.'));
      }
      if (str('reason') === 'interrupted') {
        return face(
          str('path') ? vscode.l10n.t('An earlier restore into {0} was interrupted and is not finished.', folderName(str('path') as string)) : vscode.l10n.t('An earlier restore into this folder was interrupted and is not finished.'),
          vscode.l10n.t('Complete it or roll it back first with "Undo Last Restore".'),
        );
      }
      return face(
        str('path') ? vscode.l10n.t('Another restore into {0} is running.', folderName(str('path') as string)) : vscode.l10n.t('Another restore into this folder is running.'),
        vscode.l10n.t('Wait for it to finish, then try again.'),
      );
    case 'WrongPassphrase':
      return face(vscode.l10n.t("The passphrase does not open this bucket's encryption key."), vscode.l10n.t('Enter the passphrase these backups were made with; without it they cannot be read.'));
    case 'PassphraseNeeded':
      return face(vscode.l10n.t('These backups are encrypted, and no passphrase is set.'), vscode.l10n.t('Enter the passphrase in the S3 Backup settings.'));
    case 'Unauthentic':
      return face(
        vscode.l10n.t("The backup was not made with this bucket's encryption key, or it was changed since, so nothing was written."),
        vscode.l10n.t('Do not restore it: restore another backup, and check who can write to the bucket.'),
      );
    case 'PlainBackup':
      if (str('reason') === 'older') {
        return face(
          vscode.l10n.t('This backup is not encrypted: it was made before encryption was turned on, so nothing proves it is yours.'),
          vscode.l10n.t('Restore it only if you made it.'),
        );
      }
      return face(
        vscode.l10n.t('This backup is not encrypted although it was made after encryption was turned on, so it may have been planted; nothing was written.'),
        vscode.l10n.t('Do not restore it; delete it, and check who can write to the bucket.'),
      );
    case 'Server':
      return face(vscode.l10n.t('The S3 server failed to handle the request.'), vscode.l10n.t('The server had a problem; try again later. The log has the details.'));
    case 'Unknown':
    default:
      return face(vscode.l10n.t('Something unexpected went wrong.'), vscode.l10n.t('The log has the details.'));
  }
}

const CODES = new Set<string>([
  'InvalidProfile', 'SignatureMismatch', 'InvalidAccessKey', 'AccessDenied', 'NoSuchBucket', 'WrongRegion', 'Unreachable', 'Timeout',
  'ClockSkew', 'Tls', 'NotFound', 'AlreadyExists', 'Integrity', 'UnsafeArchive', 'TooLarge', 'SourceChanged', 'Busy', 'Cancelled', 'Io',
  'Server', 'Unknown', 'WrongPassphrase', 'PassphraseNeeded', 'Unauthentic', 'PlainBackup',
] satisfies ErrorCode[]);

// By shape, not only by class: an engine error may come from another copy of
// the engine module (the test bundle, a second build), where instanceof fails.
function isBackupError(e: unknown): e is BackupError {
  if (e instanceof BackupError) return true;
  const x = e as { code?: unknown; params?: unknown } | undefined;
  return e instanceof Error && typeof x?.code === 'string' && CODES.has(x.code) && typeof x.params === 'object' && x.params !== null;
}

/** The face as one line: the sentence, then the hint. */
export function errorText(f: ErrorFace): string {
  return f.hint ? `${f.message} ${f.hint}` : f.message;
}
