import { BackupError } from '../util/engineErrors';
import { printable } from '../format/manifest';
import type { CheckFailure } from '../workers/messages';

const INTEGRITY_HINT = 'The backup is damaged or incomplete. Download it again, or pick another backup.';
const UNSAFE_HINT = 'This archive was not made by S3 Backup or was tampered with; nothing was restored.';

export function integrity(message: string, entry: string, detail?: string, cause?: unknown): BackupError {
  return new BackupError('Integrity', message, INTEGRITY_HINT, { cause, params: { entry: printable(entry), ...(detail ? { detail } : {}) } });
}

export function unsafe(message: string, entry: string, detail?: string): BackupError {
  return new BackupError('UnsafeArchive', message, UNSAFE_HINT, { params: { entry: printable(entry), ...(detail ? { detail } : {}) } });
}

/** An entry that failed its checks, as the same errors the in-thread checks throw. */
export function checkFailure(entry: { name: string }, f: CheckFailure): BackupError {
  const name = printable(entry.name);
  switch (f.check) {
    case 'big':
      return integrity(`"${name}" in the backup is larger than declared.`, entry.name, 'size');
    case 'small':
      return integrity(`"${name}" in the backup is smaller than declared.`, entry.name, 'size');
    case 'crc32':
      return integrity(`"${name}" in the backup is damaged (checksum mismatch).`, entry.name, 'crc32');
    case 'sha256':
      return integrity(`"${name}" in the backup does not match its recorded checksum.`, entry.name, 'sha256');
    default:
      return integrity(`"${name}" in the backup is damaged.`, entry.name, f.message ?? 'data');
  }
}

