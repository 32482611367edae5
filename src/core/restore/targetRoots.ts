import * as path from 'path';
import { BackupError } from '../util/engineErrors';
import { printable } from '../format/manifest';
import { archivePathProblem } from '../util/paths';

/** One restore target: the archive prefix and the folder it lands in. */
export interface Root {
  prefix: string;
  dir: string;
}

export function unsafeTarget(name: string, detail: string): BackupError {
  return new BackupError('UnsafeArchive', `The backup would write "${printable(name)}" outside the target folder (${detail}).`, 'Nothing was restored. Check the target folder for symbolic links.', {
    params: { entry: printable(name), detail },
  });
}

export function conflict(name: string, target: string, what: string): BackupError {
  return new BackupError('AlreadyExists', `${what} is in the way of "${printable(name)}" at ${target}.`, 'Move it away, or restore into another folder.', {
    params: { entry: printable(name), path: target },
  });
}

export function ioError(message: string, e: unknown, params: Record<string, string | number> = {}): BackupError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return new BackupError('Io', code ? `${message} (${code})` : message, 'Check the folder and free space, then try again.', {
    cause: e,
    params: { ...params, ...(code ? { detail: code } : {}) },
  });
}

export function rootsOf(targets: Record<string, string>): Root[] {
  const roots: Root[] = [];
  for (const [rawPrefix, dir] of Object.entries(targets)) {
    const prefix = rawPrefix.replace(/\/+$/, '');
    if (prefix !== '' && archivePathProblem(prefix)) throw new TypeError(`invalid restore prefix ${JSON.stringify(rawPrefix)}`);
    if (!path.isAbsolute(dir)) throw new TypeError(`restore target must be absolute: ${dir}`);
    roots.push({ prefix, dir: path.resolve(dir) });
  }
  // The longest prefix wins when prefixes nest.
  return roots.sort((a, b) => b.prefix.length - a.prefix.length);
}

export function rootFor(roots: Root[], archivePath: string): { root: Root; rel: string } | undefined {
  for (const root of roots) {
    if (root.prefix === '') return { root, rel: archivePath };
    if (archivePath.startsWith(root.prefix + '/')) return { root, rel: archivePath.slice(root.prefix.length + 1) };
  }
  return undefined;
}
