// What a manifest may list, beyond being well-formed: only what a backup of
// ours can hold, and only what the restoring system can create. Pure (no file
// access), so any manifest format can call it; parseManifest does, so
// `verify` refuses such a backup before anything is planned or written.
import { BackupError } from '../util/engineErrors';
import { foldedPath, platformName, segmentProblemOn } from '../util/platformNames';
import { printable } from '../util/printable';
import { runSteps, STEP_ITEMS, type Steps } from '../util/timeSlice';
import { APPDATA_PREFIX, isAppDataFile } from './appDataLayout';
import { DEFAULT_EXCLUDES, excludeMatcher, isGitSegment, isLeftOut, type GitignoreRules, type SelectionRules } from './selectionRules';

/** The parts of a manifest the checks read. */
export interface CheckedManifest {
  files: readonly { path: string }[];
  /** Per backed-up folder (`workspace/<name>`): the rules it was selected with; absent in older backups. */
  selection?: Readonly<Record<string, SelectionRules>>;
}

const WORKSPACE = 'workspace/';
const HINT = 'Nothing was restored. Do not restore this backup: S3 Backup never writes such a backup, so it may have been planted or tampered with.';

/**
 * What a backup without recorded rules (made before they were recorded) is
 * checked against: the default excludes. Its .gitignore files may not have
 * been applied (`--no-gitignore`), so they are not.
 */
export const UNRECORDED_RULES: SelectionRules = { defaultExcludes: [...DEFAULT_EXCLUDES], excludes: [], gitignore: false };

/**
 * A check of each segment of a path, as `check` of the first segment that
 * fails it (undefined when none does), with each folder's answer kept: a
 * folder of many files is split and checked once, then each file's name.
 */
function firstSegment<T>(check: (segment: string) => T | undefined): (p: string) => T | undefined {
  const folders = new Map<string, T | undefined>();
  const ofFolder = (dir: string): T | undefined => {
    if (folders.has(dir)) return folders.get(dir);
    let found: T | undefined;
    for (const seg of dir.split('/')) if ((found = check(seg)) !== undefined) break;
    folders.set(dir, found);
    return found;
  };
  return (p) => {
    const slash = p.lastIndexOf('/');
    if (slash < 0) return check(p);
    return ofFolder(p.slice(0, slash)) ?? check(p.slice(slash + 1));
  };
}

function refuse(message: string, entry: string, detail: string, hint = HINT): BackupError {
  return new BackupError('UnsafeArchive', message, hint, { params: { entry: printable(entry), detail } });
}

/**
 * Throws `UnsafeArchive` naming the first path that a backup of ours never
 * holds or that `platform` cannot create: git internals (`.git/**` at any
 * depth, in any case), an app data file the backup does not take, a path its
 * own exclude rules leave out, a path listed together with a path under it,
 * a name the system refuses, or two names its file system sees as one.
 */
export function checkManifest(m: CheckedManifest, o: { platform?: NodeJS.Platform } = {}): void {
  runSteps(checkManifestSteps(m, o));
}

/** checkManifest as steps (see timeSlice.ts), for callers that give the event loop a turn between them. */
export function* checkManifestSteps(m: CheckedManifest, o: { platform?: NodeJS.Platform } = {}): Steps<void> {
  const platform = o.platform ?? process.platform;
  const inGit = firstSegment((s) => (isGitSegment(s) ? true : undefined));
  const problemOf = firstSegment((s) => segmentProblemOn(s, platform));
  let n = 0;
  for (const f of m.files) {
    if (++n % STEP_ITEMS === 0) yield;
    if (inGit(f.path)) {
      throw refuse(`The backup holds "${printable(f.path)}", which is inside a git repository's internals (.git); a backup never holds those.`, f.path, 'git');
    }
    if (f.path.startsWith(`${APPDATA_PREFIX}/`) && !isAppDataFile(f.path.slice(APPDATA_PREFIX.length + 1))) {
      throw refuse(`The backup holds "${printable(f.path)}", which is not a file an app data backup takes.`, f.path, 'appdata');
    }
  }
  const leftOut = yield* firstLeftOutSteps(m);
  if (leftOut) throw leftOutError(leftOut);
  yield* checkNesting(m.files, platform);
  for (const f of m.files) {
    if (++n % STEP_ITEMS === 0) yield;
    const problem = problemOf(f.path);
    if (problem) {
      throw new BackupError('UnsafeArchive', `The backup holds "${printable(f.path)}", which cannot be created on ${platformName(platform)}: ${problem}.`, 'Nothing was restored. Restore this backup on another system, or rename the file where it was backed up and back it up again.', {
        params: { entry: printable(f.path), detail: problem, reason: 'platform', platform: platformName(platform) },
      });
    }
  }
}

/** The refusal for a path the backup's own rules leave out. */
export function leftOutError(p: string): BackupError {
  return refuse(`The backup holds "${printable(p)}", which its own exclude rules leave out; a backup made with them never holds it.`, p, 'excluded');
}

/**
 * The first file under `workspace/<name>/` that the folder's own selection
 * rules (as recorded; the defaults for older backups) leave out, or undefined.
 * `gitignores` adds each folder's `.gitignore` rules (keyed by the folder's
 * prefix), for callers that have read them from the archive; without them
 * only the default and user excludes are applied.
 */
export function firstLeftOutPath(m: CheckedManifest, gitignores?: ReadonlyMap<string, readonly GitignoreRules[]>): string | undefined {
  return runSteps(firstLeftOutSteps(m, gitignores));
}

export function* firstLeftOutSteps(m: CheckedManifest, gitignores?: ReadonlyMap<string, readonly GitignoreRules[]>): Steps<string | undefined> {
  let n = 0;
  type Matcher = {
    excludes: ReturnType<typeof excludeMatcher>;
    gitignores: readonly GitignoreRules[];
    /** The .gitignore rules that apply at the folder's top. */
    top: readonly GitignoreRules[];
    /** Per folder (relative): whether the selection leaves it out, and the .gitignore rules that apply inside it. */
    dirs: Map<string, { out: boolean; rules: readonly GitignoreRules[] }>;
  };
  const matchers = new Map<string, Matcher>();
  const rulesIn = (r: Matcher, dir: string): readonly GitignoreRules[] => r.gitignores.filter((g) => g.base === '' || dir === g.base || dir.startsWith(`${g.base}/`));
  // A folder once, however many files it holds (100,000 files in 60 folders: ~4x fewer matches).
  const folder = (r: Matcher, dir: string): { out: boolean; rules: readonly GitignoreRules[] } => {
    let d = r.dirs.get(dir);
    if (!d) {
      const cut = dir.lastIndexOf('/');
      const parent = cut < 0 ? undefined : folder(r, dir.slice(0, cut));
      // The selection never walks into a folder it leaves out: one inside it is out too.
      const out = parent?.out === true || isLeftOut(dir, true, r.excludes, parent ? parent.rules : r.top);
      d = { out, rules: rulesIn(r, dir) };
      r.dirs.set(dir, d);
    }
    return d;
  };
  for (const f of m.files) {
    if (++n % STEP_ITEMS === 0) yield;
    if (!f.path.startsWith(WORKSPACE)) continue;
    const cut = f.path.indexOf('/', WORKSPACE.length);
    if (cut < 0) continue;
    const prefix = f.path.slice(0, cut);
    let r = matchers.get(prefix);
    if (!r) {
      const rules = m.selection?.[prefix] ?? UNRECORDED_RULES;
      const own = rules.gitignore ? (gitignores?.get(prefix) ?? []) : [];
      const sorted = [...own].sort((a, b) => depth(a.base) - depth(b.base));
      r = { excludes: excludeMatcher(rules), gitignores: sorted, top: sorted.filter((g) => g.base === ''), dirs: new Map() };
      matchers.set(prefix, r);
    }
    const rel = f.path.slice(cut + 1);
    // Every folder on the way, then the file.
    const slash = rel.lastIndexOf('/');
    const dir = slash < 0 ? undefined : folder(r, rel.slice(0, slash));
    if (dir?.out || isLeftOut(rel, false, r.excludes, dir ? dir.rules : r.top)) return f.path;
  }
  return undefined;
}

function depth(base: string): number {
  return base === '' ? 0 : base.split('/').length;
}

/** A path listed together with a path under it (`a` and `a/b`): one would have to be a file and a folder. */
function* checkNesting(files: readonly { path: string }[], platform: NodeJS.Platform): Steps<void> {
  let n = 0;
  const sameFile = (a: string, b: string): BackupError =>
    new BackupError('UnsafeArchive', `The backup holds "${printable(a)}" and "${printable(b)}", which are the same name on ${platformName(platform)}.`, 'Nothing was restored. Restore this backup on a system that tells the two names apart.', {
      params: { entry: printable(b), detail: 'case', reason: 'platform', platform: platformName(platform) },
    });
  // Where names fold (macOS, Windows), two files can be one; elsewhere the folded names are the names.
  const folds = platform === 'darwin' || platform === 'win32';
  const exact = new Set<string>();
  const folded = new Map<string, string>();
  for (const f of files) {
    if (++n % STEP_ITEMS === 0) yield;
    exact.add(f.path);
    if (!folds) continue;
    const key = foldedPath(f.path, platform);
    const other = folded.get(key);
    if (other !== undefined) throw sameFile(other, f.path);
    folded.set(key, f.path);
  }
  // Each folder is checked once, with the first file under it: the folders above it were checked then too.
  const checked = new Set<string>();
  for (const f of files) {
    if (++n % STEP_ITEMS === 0) yield;
    const last = f.path.lastIndexOf('/');
    if (last <= 0 || checked.has(f.path.slice(0, last))) continue;
    for (let at = f.path.indexOf('/'); at > 0; at = f.path.indexOf('/', at + 1)) {
      const up = f.path.slice(0, at);
      if (checked.has(up)) continue;
      checked.add(up);
      if (exact.has(up)) throw refuse(`The backup lists both "${printable(up)}" and "${printable(f.path)}": one name cannot be a file and a folder.`, f.path, 'nested');
      const other = folds ? folded.get(foldedPath(up, platform)) : undefined;
      if (other !== undefined) throw sameFile(other, f.path);
    }
  }
}
