// Which file names the restoring system can create. Pure functions of the
// name and the platform, so the Windows and macOS rules are tested anywhere.

// Windows reserves these device names in every folder, with or without an
// extension ("con.txt" is the console too), and with the superscript digits
// ¹²³ that Windows counts as digits.
const WINDOWS_RESERVED = /^(con|prn|aux|nul|conin\$|conout\$|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])(\..*)?$/i;
const WINDOWS_FORBIDDEN = /[<>:"|?*\u0000-\u001f]/;

/**
 * Why one path segment cannot be created on `platform`, or undefined when it
 * can. Linux refuses only NUL and `/`, which archive paths never hold (see
 * `archivePathProblem`); macOS accepts the same; Windows refuses its device
 * names, `<>:"|?*`, control characters and a trailing dot or space.
 */
export function segmentProblemOn(segment: string, platform: NodeJS.Platform): string | undefined {
  if (segment.includes('\0') || segment.includes('/')) return 'it contains NUL or "/"';
  if (platform !== 'win32') return undefined;
  if (WINDOWS_RESERVED.test(segment)) return 'it is a reserved device name on Windows';
  if (WINDOWS_FORBIDDEN.test(segment)) return 'it contains a character Windows does not allow (<>:"|?* or a control character)';
  if (/[. ]$/.test(segment)) return 'it ends with a dot or a space, which Windows drops';
  return undefined;
}

/** Why an archive path (POSIX, already safe) cannot be created on `platform`, naming the first bad segment. */
export function pathProblemOn(p: string, platform: NodeJS.Platform): string | undefined {
  for (const seg of p.split('/')) {
    const problem = segmentProblemOn(seg, platform);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * The key two paths share when `platform`'s default file system sees them as
 * one file: case folded on Windows and macOS, and on macOS (APFS, HFS+) also
 * Unicode normalisation. Elsewhere the path itself.
 */
export function foldedPath(p: string, platform: NodeJS.Platform): string {
  if (platform === 'darwin') return p.normalize('NFD').toLowerCase().normalize('NFD');
  if (platform === 'win32') return p.toLowerCase();
  return p;
}

/** The name of a platform for one plain sentence. */
export function platformName(platform: NodeJS.Platform): string {
  return platform === 'win32' ? 'Windows' : platform === 'darwin' ? 'macOS' : platform === 'linux' ? 'Linux' : platform;
}
