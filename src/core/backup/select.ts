import * as fs from 'fs';
import * as path from 'path';
import ignore, { type Ignore } from 'ignore';
import { BackupError, throwIfAborted } from '../util/engineErrors';
import { archivePathProblem } from '../util/paths';

export interface SelectedFile {
  absPath: string;
  /** POSIX path relative to the selected root. */
  relPath: string;
  size: number;
  mtimeMs: number;
  mode: number;
}

export interface SkippedFile {
  relPath: string;
  reason: 'symlink' | 'unreadable' | 'special';
  detail?: string;
}

/**
 * Left out of every backup unless the user's settings say otherwise: version
 * control internals and things a tool regenerates on its own (dependency
 * folders and caches). Build outputs such as `dist/`, `build/` or `target/`
 * are NOT here: some projects keep hand-made files there. gitignore syntax.
 */
export const DEFAULT_EXCLUDES: string[] = [
  '.git/', // repository internals (the remote holds them)
  'node_modules/', // npm/yarn/pnpm install
  'bower_components/', // bower install
  '.cache/', // generic tool cache (parcel, babel-loader, eslint-loader, ...)
  '__pycache__/', // CPython bytecode
  '*.pyc', // CPython bytecode outside __pycache__ (Python 2)
  '.pytest_cache/',
  '.mypy_cache/',
  '.ruff_cache/',
  '.gradle/', // Gradle's project cache
  '.next/cache/', // Next.js build cache (the rest of .next is build output, kept)
  '.turbo/', // Turborepo cache
  '.parcel-cache/',
  '.sass-cache/',
  '.eslintcache',
  '.vscode-test/', // VS Code downloads for extension tests
  '.s3-backup-staging-*/', // our own restore staging folders
  '.s3-backup-restore.lock', // a restore running into this folder
];

const STAT_CONCURRENCY = 64;

interface Rules {
  /** Directory of the .gitignore these rules come from, relative to root ('' = root). */
  base: string;
  ig: Ignore;
}

/**
 * Lists the files of `root` to back up: regular files only, sorted by path.
 * Applies `.gitignore` files (root and nested, git's precedence), then
 * `DEFAULT_EXCLUDES` followed by `o.excludes` (gitignore syntax, relative to
 * root; a `!pattern` there re-includes something a default left out).
 * Symlinks are never followed and are reported, as are special files, names
 * that an archive cannot hold portably, and files or folders that cannot be
 * read; none of these is fatal. Only a missing or unreadable root throws.
 */
export async function selectFiles(
  root: string,
  o: { excludes?: string[]; useGitignore?: boolean; signal?: AbortSignal } = {},
): Promise<{ files: SelectedFile[]; skipped: SkippedFile[]; totalBytes: number }> {
  const absRoot = path.resolve(root);
  let rootStat: fs.Stats;
  try {
    rootStat = await fs.promises.stat(absRoot);
  } catch (e) {
    throw new BackupError('Io', `The folder "${absRoot}" cannot be read.`, 'Check that the folder exists and that you may read it.', {
      cause: e,
      params: { path: absRoot, detail: (e as NodeJS.ErrnoException).code ?? 'stat' },
    });
  }
  if (!rootStat.isDirectory()) {
    throw new BackupError('Io', `"${absRoot}" is not a folder.`, 'Pick a folder to back up.', { params: { path: absRoot, detail: 'ENOTDIR' } });
  }
  const useGitignore = o.useGitignore ?? true;
  const excludes = ignore().add([...DEFAULT_EXCLUDES, ...(o.excludes ?? [])]);
  const files: SelectedFile[] = [];
  const skipped: SkippedFile[] = [];
  let totalBytes = 0;

  const isIgnored = (rel: string, isDir: boolean, rules: Rules[]): boolean => {
    const probe = isDir ? `${rel}/` : rel;
    if (excludes.ignores(probe)) return true;
    let ignored = false;
    // Deeper .gitignore files win over shallower ones, as in git.
    for (const r of rules) {
      const local = r.base === '' ? probe : probe.slice(r.base.length + 1);
      const t = r.ig.test(local);
      if (t.ignored) ignored = true;
      else if (t.unignored) ignored = false;
    }
    return ignored;
  };

  const walk = async (relDir: string, inherited: Rules[]): Promise<void> => {
    throwIfAborted(o.signal);
    const absDir = relDir === '' ? absRoot : path.join(absRoot, ...relDir.split('/'));
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(absDir, { withFileTypes: true });
    } catch (e) {
      if (relDir === '') throw new BackupError('Io', `The folder "${absRoot}" cannot be read.`, 'Check that you may read the folder.', { cause: e, params: { path: absRoot } });
      skipped.push({ relPath: relDir, reason: 'unreadable', detail: (e as NodeJS.ErrnoException).code ?? String(e) });
      return;
    }
    let rules = inherited;
    if (useGitignore && entries.some((d) => d.name === '.gitignore' && (d.isFile() || d.isSymbolicLink()))) {
      try {
        const text = await fs.promises.readFile(path.join(absDir, '.gitignore'), 'utf8');
        rules = [...inherited, { base: relDir, ig: ignore().add(text) }];
      } catch (e) {
        skipped.push({ relPath: join(relDir, '.gitignore'), reason: 'unreadable', detail: (e as NodeJS.ErrnoException).code ?? String(e) });
      }
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const dirs: string[] = [];
    const candidates: string[] = [];
    for (const d of entries) {
      const rel = join(relDir, d.name);
      const isDir = d.isDirectory();
      if (isIgnored(rel, isDir, rules)) continue;
      const problem = archivePathProblem(rel);
      if (problem) {
        skipped.push({ relPath: rel, reason: 'special', detail: `name cannot be stored: ${problem}` });
      } else if (d.isSymbolicLink()) {
        let target = '';
        try {
          target = await fs.promises.readlink(path.join(absDir, d.name));
        } catch {
          // the link vanished; still worth reporting
        }
        skipped.push({ relPath: rel, reason: 'symlink', detail: target });
      } else if (isDir) {
        dirs.push(rel);
      } else if (d.isFile()) {
        candidates.push(rel);
      } else {
        skipped.push({ relPath: rel, reason: 'special', detail: kindOf(d) });
      }
    }
    for (let i = 0; i < candidates.length; i += STAT_CONCURRENCY) {
      throwIfAborted(o.signal);
      const batch = candidates.slice(i, i + STAT_CONCURRENCY);
      const stats = await Promise.all(
        batch.map(async (rel) => {
          const abs = path.join(absRoot, ...rel.split('/'));
          try {
            const st = await fs.promises.lstat(abs);
            // Root bypasses permission bits, so only ask when it can matter.
            if (process.getuid?.() !== 0) await fs.promises.access(abs, fs.constants.R_OK);
            return { rel, abs, st };
          } catch (e) {
            return { rel, abs, err: e as NodeJS.ErrnoException };
          }
        }),
      );
      for (const s of stats) {
        if ('err' in s && s.err) {
          skipped.push({ relPath: s.rel, reason: 'unreadable', detail: s.err.code ?? String(s.err) });
        } else if (s.st && s.st.isFile()) {
          files.push({ absPath: s.abs, relPath: s.rel, size: s.st.size, mtimeMs: s.st.mtimeMs, mode: s.st.mode & 0o777 });
          totalBytes += s.st.size;
        } else if (s.st?.isSymbolicLink()) {
          skipped.push({ relPath: s.rel, reason: 'symlink' });
        } else {
          skipped.push({ relPath: s.rel, reason: 'special' });
        }
      }
    }
    for (const d of dirs) await walk(d, rules);
  };

  await walk('', []);
  files.sort((a, b) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0));
  return { files, skipped, totalBytes };
}

function join(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

function kindOf(d: fs.Dirent): string {
  if (d.isFIFO()) return 'fifo';
  if (d.isSocket()) return 'socket';
  if (d.isBlockDevice()) return 'block device';
  if (d.isCharacterDevice()) return 'character device';
  return 'unknown';
}
