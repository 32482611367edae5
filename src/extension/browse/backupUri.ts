// Files inside a backup as URIs of our own scheme, read-only:
// `s3backup:/<backup object name>/<archive path>`, e.g.
// `s3backup:/20261202-101500.123_laptop_workspace_k3j9x2ab.json.gz/workspace/app/src/index.ts`.
// The object name alone (not the key) keeps the path readable; the root path
// of the current settings completes the key. The archive path is last, so
// the editor's title and language come from the file's own name.
import * as vscode from 'vscode';
import { backupPrefix } from '../../core/format/backupKeys';

export const BACKUP_SCHEME = 's3backup';

/** The URI of archive path `archivePath` ('' = the top) of the backup `key`. */
export function backupUri(key: string, archivePath: string): vscode.Uri {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const rest = archivePath.replace(/^\/+|\/+$/g, '');
  return vscode.Uri.from({ scheme: BACKUP_SCHEME, path: rest ? `/${name}/${rest}` : `/${name}` });
}

/** The backup key and archive path a URI of ours names; undefined for anything else. */
export function parseBackupUri(uri: vscode.Uri, rootPath: string): { key: string; path: string } | undefined {
  if (uri.scheme !== BACKUP_SCHEME) return undefined;
  const parts = uri.path.split('/').filter((p) => p !== '');
  if (parts.length === 0) return undefined;
  return { key: `${backupPrefix(rootPath)}${parts[0]}`, path: parts.slice(1).join('/') };
}
