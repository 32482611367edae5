import * as path from 'path';

// A segment that is empty, `.` or `..`: at the start or after a `/`, up to the next `/` or the end.
const BAD_SEGMENT = /(?:^|\/)\.{0,2}(?:\/|$)/;

/** Whether `p` takes more UTF-8 bytes than a zip entry's name holds; cheap first: a UTF-16 unit is at most 3 bytes. */
function isTooLong(p: string): boolean {
  return p.length * 3 > 65535 && Buffer.byteLength(p, 'utf8') > 65535;
}

/**
 * Why an archive path is unsafe or not portable, or undefined when it is fine.
 * Archive paths are POSIX, relative, normalised, with no empty, `.` or `..`
 * segment, no backslash (a separator on Windows), no drive letter, no NUL and
 * no trailing slash (we never store folders).
 */
export function archivePathProblem(p: string): string | undefined {
  if (typeof p !== 'string' || p.length === 0) return 'it is empty';
  if (p.includes('\0')) return 'it contains a NUL character';
  if (p.includes('\\')) return 'it contains a backslash';
  if (p.startsWith('/')) return 'it is an absolute path';
  if (/^[A-Za-z]:/.test(p)) return 'it starts with a drive letter';
  if (isTooLong(p)) return 'it is too long';
  // Called for every file of a restore, three times (parse, plan, apply):
  // one scan for an empty, `.` or `..` segment, the split only to name it.
  if (!BAD_SEGMENT.test(p)) return undefined;
  for (const seg of p.split('/')) {
    if (seg === '') return p.endsWith('/') ? 'it names a folder' : 'it has an empty segment';
    if (seg === '.' || seg === '..') return `it contains "${seg}"`;
  }
  return undefined;
}

/**
 * archivePathProblem(`path`) for a path that is a folder's path, already
 * found fine, joined with one more `name`: the same answer, from the name
 * alone (and the whole path's length).
 */
export function nameProblem(name: string, path: string): string | undefined {
  if (name === '' || name.includes('/')) return archivePathProblem(path);
  if (name.includes('\0')) return 'it contains a NUL character';
  if (name.includes('\\')) return 'it contains a backslash';
  if (name === '.' || name === '..') return `it contains "${name}"`;
  if (isTooLong(path)) return 'it is too long';
  return undefined;
}

/**
 * Joins a safe relative POSIX path onto `root`; undefined when the result would
 * not be strictly inside `root` (belt and braces after `archivePathProblem`).
 */
export function resolveInside(root: string, rel: string): string | undefined {
  if (archivePathProblem(rel) !== undefined) return undefined;
  // POSIX, a normalised root: a safe path's segments (none empty, `.` or `..`)
  // join as they are, which is what path.resolve would give (100,000 files: ~0.3 s less).
  if (path.sep === '/' && isNormalRoot(root)) return root === '/' ? `/${rel}` : `${root}/${rel}`;
  const abs = path.resolve(root, ...rel.split('/'));
  return isInside(root, abs) ? abs : undefined;
}

let lastRoot = '';
function isNormalRoot(root: string): boolean {
  if (root === lastRoot) return true;
  if (!path.isAbsolute(root) || path.resolve(root) !== root) return false;
  lastRoot = root;
  return true;
}

/** True when `child` is strictly below `parent` (both absolute). */
export function isInside(parent: string, child: string): boolean {
  const r = path.relative(parent, child);
  return r !== '' && !r.startsWith('..' + path.sep) && r !== '..' && !path.isAbsolute(r);
}
