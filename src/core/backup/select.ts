import * as fs from 'fs';
import * as path from 'path';
import { DEFAULT_EXCLUDES, excludeMatcher, gitignoreRules, isGitSegment, isLeftOut, type GitignoreRules, type SelectionRules } from '../format/selectionRules';
import { BackupError, throwIfAborted } from '../util/engineErrors';
import { archivePathProblem, nameProblem } from '../util/paths';
import { slots } from '../util/slots';
import { sortSliced, yieldIfDue } from '../util/timeSlice';
import type { WorkerPool } from '../util/workerPool';
import { putStat, STAT_FAILED, STAT_FILE, STAT_LINK, statColumns, type StatBatchReply, type StatBatchRequest } from '../workers/messages';

export interface SelectedFile {
  absPath: string;
  /** POSIX path relative to the selected root. */
  relPath: string;
  /** `relPath` under `archivePrefix` (selectFiles' option): the file's path in a backup. */
  archivePath: string;
  size: number;
  mtimeMs: number;
  mode: number;
  /** With size and the times: how the next backup tells an unchanged file without reading it (0 where the file system has none). */
  ino: number;
  ctimeMs: number;
}

/**
 * A selected file as the scan keeps it: its path, and its stat read from the
 * columns its batch of up to 512 files came back in. As plain objects a
 * 100,000-file scan held ~370 bytes a file (the fields, four boxed numbers,
 * the path three times as joined strings) and left as much again to the old
 * generation's garbage; a row is its relative path and three references.
 */
class ScannedFile implements SelectedFile {
  readonly archivePath: string;

  constructor(
    readonly relPath: string,
    archivePrefix: string,
    /** The folder's absolute path with a separator at the end, shared by its files. */
    private readonly dirPrefix: string,
    private readonly found: StatBatchReply,
    private readonly k: number,
  ) {
    // One joined string: the prefix ends with its separator.
    this.archivePath = archivePrefix === '' ? relPath : archivePrefix + relPath;
  }

  get absPath(): string {
    return this.dirPrefix + this.relPath.slice(this.relPath.lastIndexOf('/') + 1);
  }
  get size(): number {
    return this.found.size[this.k];
  }
  get mtimeMs(): number {
    return this.found.mtimeMs[this.k];
  }
  get mode(): number {
    return this.found.mode[this.k] & 0o777;
  }
  get ino(): number {
    return safeIno(this.found.ino[this.k]);
  }
  get ctimeMs(): number {
    return this.found.ctimeMs[this.k];
  }
}

/** A symbolic link, kept as a link (never followed). */
export interface SelectedLink {
  relPath: string;
  target: string;
  mtimeMs: number;
  /** Whether the target stays inside the selected folder (only then is it restored as a link). */
  inside: boolean;
}

/** A folder with nothing selected in it, kept so a restore recreates it. */
export interface SelectedDir {
  relPath: string;
  mtimeMs: number;
  mode: number;
}

export interface Selection {
  files: SelectedFile[];
  links: SelectedLink[];
  emptyDirs: SelectedDir[];
  skipped: SkippedFile[];
  totalBytes: number;
}

export interface SkippedFile {
  relPath: string;
  /** 'symlink': a link whose target leaves the folder (kept in the backup, not restored as a link). */
  reason: 'symlink' | 'unreadable' | 'special';
  detail?: string;
}

export { DEFAULT_EXCLUDES } from '../format/selectionRules';

const STAT_CONCURRENCY = 64;
// Folders listed at once (see selectFiles).
const SCAN_FOLDERS = 4;
// With worker threads, a folder's files are stat'ed in batches of this many, one message each.
const STAT_BATCH = 512;

/** One batch of a folder's files, stat'ed: their paths, and the answers as columns (see StatBatchRequest). */
interface StatBatch {
  rels: string[];
  found: StatBatchReply;
}

/** lstat (and, unless root, an access check) of each path: in batches on a worker thread, or 64 at a time on libuv's pool. */
async function statAll(rels: string[], absOf: (rel: string) => string, threads: WorkerPool | undefined): Promise<StatBatch[]> {
  // Root bypasses permission bits, so only ask when it can matter.
  const access = process.getuid?.() !== 0;
  const out: StatBatch[] = [];
  const step = threads ? STAT_BATCH : STAT_CONCURRENCY;
  for (let i = 0; i < rels.length; i += step) {
    const batch = rels.slice(i, i + step);
    const abs = batch.map(absOf);
    if (threads) {
      const request: StatBatchRequest = { kind: 'statBatch', paths: abs.join('\0'), access };
      out.push({ rels: batch, found: await threads.call<StatBatchReply>(request) });
      continue;
    }
    const found = statColumns(batch.length);
    await Promise.all(
      abs.map(async (p, k) => {
        try {
          const st = await fs.promises.lstat(p);
          if (access) await fs.promises.access(p, fs.constants.R_OK);
          putStat(found, k, st);
        } catch (e) {
          putStat(found, k, undefined, e);
        }
      }),
    );
    out.push({ rels: batch, found });
  }
  return out;
}

/**
 * Lists what of `root` to back up, sorted by path: regular files, symbolic
 * links (never followed; a link whose target leaves the folder is also
 * reported) and folders left empty. Applies `.gitignore` files (root and
 * nested, git's precedence), then `DEFAULT_EXCLUDES` followed by
 * `o.excludes` (gitignore syntax, relative to root; a `!pattern` there
 * re-includes something a default left out). Special files, names that an
 * archive cannot hold portably, and files or folders that cannot be read are
 * reported; none of these is fatal. Only a missing or unreadable root throws.
 * `o.archivePrefix` (ending with '/', or empty) goes before each file's
 * `archivePath`.
 */
export async function selectFiles(
  root: string,
  o: { excludes?: string[]; useGitignore?: boolean; signal?: AbortSignal; threads?: WorkerPool; archivePrefix?: string } = {},
): Promise<Selection> {
  const absRoot = path.resolve(root);
  const archivePrefix = o.archivePrefix ?? '';
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
  const excludes = excludeMatcher(selectionRulesOf(o));
  const files: SelectedFile[] = [];
  const links: SelectedLink[] = [];
  const emptyDirs: SelectedDir[] = [];
  const skipped: SkippedFile[] = [];
  let totalBytes = 0;

  // Folders listed at once: while a worker thread stats one folder's files,
  // this thread lists and matches the next (one at a time, each waited).
  const listing = slots(SCAN_FOLDERS);

  /** Walks one folder; resolves to how many things it selected, below it included. */
  const walk = async (relDir: string, inherited: GitignoreRules[]): Promise<number> => {
    const { selected, dirs, rules } = await listing(() => listFolder(relDir, inherited));
    const below = await Promise.all(
      dirs.map(async (d) => {
        const n = await walk(d, rules);
        if (n > 0) return n;
        const st = await fs.promises.lstat(path.join(absRoot, ...d.split('/'))).catch(() => undefined);
        if (st?.isDirectory()) emptyDirs.push({ relPath: d, mtimeMs: st.mtimeMs, mode: st.mode & 0o777 });
        return 1;
      }),
    );
    return below.reduce((a, b) => a + b, selected);
  };

  /** One folder's own files and links (selected, and counted), and the folders in it to walk next. */
  const listFolder = async (relDir: string, inherited: GitignoreRules[]): Promise<{ selected: number; dirs: string[]; rules: GitignoreRules[] }> => {
    throwIfAborted(o.signal);
    const absDir = relDir === '' ? absRoot : path.join(absRoot, ...relDir.split('/'));
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(absDir, { withFileTypes: true });
    } catch (e) {
      if (relDir === '') throw new BackupError('Io', `The folder "${absRoot}" cannot be read.`, 'Check that you may read the folder.', { cause: e, params: { path: absRoot } });
      skipped.push({ relPath: relDir, reason: 'unreadable', detail: (e as NodeJS.ErrnoException).code ?? String(e) });
      // Not empty as far as anyone knows: do not record it as an empty folder.
      return { selected: 1, dirs: [], rules: inherited };
    }
    let selected = 0;
    let rules = inherited;
    if (useGitignore && entries.some((d) => d.name === '.gitignore' && (d.isFile() || d.isSymbolicLink()))) {
      try {
        const text = await fs.promises.readFile(path.join(absDir, '.gitignore'), 'utf8');
        rules = [...inherited, gitignoreRules(relDir, text)];
      } catch (e) {
        skipped.push({ relPath: join(relDir, '.gitignore'), reason: 'unreadable', detail: (e as NodeJS.ErrnoException).code ?? String(e) });
      }
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const dirs: string[] = [];
    const candidates: string[] = [];
    for (let k = 0; k < entries.length; k++) {
      // The rules' matching takes a turn of the event loop now and then (a folder of a few thousand files: 20-40 ms).
      if ((k & 255) === 255) await yieldIfDue();
      const d = entries[k];
      const rel = join(relDir, d.name);
      const isDir = d.isDirectory();
      // Git's internals never go into a backup, whatever the excludes say: a restore refuses them.
      if (isGitSegment(d.name) || isLeftOut(rel, isDir, excludes, rules)) continue;
      // The folder's path passed already: only the new name can add a problem.
      const problem = relDir === '' ? archivePathProblem(rel) : nameProblem(d.name, rel);
      if (problem) {
        skipped.push({ relPath: rel, reason: 'special', detail: `name cannot be stored: ${problem}` });
      } else if (d.isSymbolicLink()) {
        const link = await readLink(absRoot, path.join(absDir, d.name), rel);
        if (!link) {
          skipped.push({ relPath: rel, reason: 'unreadable', detail: 'link' });
          continue;
        }
        links.push(link);
        selected++;
        if (!link.inside) skipped.push({ relPath: rel, reason: 'symlink', detail: link.target });
      } else if (isDir) {
        dirs.push(rel);
      } else if (d.isFile()) {
        candidates.push(rel);
      } else {
        skipped.push({ relPath: rel, reason: 'special', detail: kindOf(d) });
      }
    }
    throwIfAborted(o.signal);
    // A candidate is a checked name in this folder: its path is the folder's and the name (path.join and a split a file cost ~1 KB of garbage each).
    const dirPrefix = absDir.endsWith(path.sep) ? absDir : absDir + path.sep;
    const baseAt = relDir === '' ? 0 : relDir.length + 1;
    for (const { rels, found } of await statAll(candidates, (rel) => dirPrefix + rel.slice(baseAt), o.threads)) {
      const failed = new Map(found.errors.map((e) => [e.index, e]));
      for (let k = 0; k < rels.length; k++) {
        const type = found.type[k];
        if (type === STAT_FILE) {
          files.push(new ScannedFile(rels[k], archivePrefix, dirPrefix, found, k));
          totalBytes += found.size[k];
          selected++;
        } else if (type === STAT_FAILED) {
          const e = failed.get(k);
          skipped.push({ relPath: rels[k], reason: 'unreadable', detail: e?.code ?? `Error: ${e?.message ?? 'lstat'}` });
        } else {
          skipped.push({ relPath: rels[k], reason: type === STAT_LINK ? 'symlink' : 'special' });
        }
      }
    }
    return { selected, dirs, rules };
  };

  await walk('', []);
  const byPath = <T extends { relPath: string }>(a: T, b: T): number => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0);
  await sortSliced(files, byPath);
  links.sort(byPath);
  emptyDirs.sort(byPath);
  // Folders are listed several at once: the order they finish in is not the tree's.
  skipped.sort(byPath);
  return { files, links, emptyDirs, skipped, totalBytes };
}

/** A link as found: its target, and whether that stays inside the root when resolved from the link's folder. */
async function readLink(absRoot: string, abs: string, rel: string): Promise<SelectedLink | undefined> {
  try {
    const [target, st] = await Promise.all([fs.promises.readlink(abs), fs.promises.lstat(abs)]);
    const resolved = path.resolve(path.dirname(abs), target);
    const inside = !path.isAbsolute(target) && (resolved === absRoot || resolved.startsWith(absRoot + path.sep));
    return { relPath: rel, target, mtimeMs: st.mtimeMs, inside };
  } catch {
    // The link vanished since the listing.
    return undefined;
  }
}

/** Inode numbers as JSON-safe integers; 0 (unknown) where they are not. */
function safeIno(ino: number): number {
  return Number.isSafeInteger(ino) && ino > 0 ? ino : 0;
}

/** The rules `selectFiles` applies for these options, as the manifest records them. */
export function selectionRulesOf(o: { excludes?: readonly string[]; useGitignore?: boolean }): SelectionRules {
  return { defaultExcludes: [...DEFAULT_EXCLUDES], excludes: [...(o.excludes ?? [])], gitignore: o.useGitignore ?? true };
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
