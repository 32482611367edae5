import { createCipheriv, createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

/** What `makeTree` generates. Same spec, same seed: byte-identical tree. */
export interface TreeSpec {
  /** Regular files with content (text or random), spread over `dirs` folders. */
  files: number;
  dirs: number;
  /** Approximate sum of those files' sizes. */
  totalBytes: number;
  /** Share of those files that are text-like (the rest are random bytes). */
  textRatio?: number;
  seed?: number;
  /** Extra empty files. */
  empty?: number;
  /** Extra files and folders with non-ASCII names. */
  unicode?: boolean;
  /** Depth of one extra deeply nested file (0 = none). */
  deep?: number;
  /** Size of one extra incompressible file `big/random.bin` (0 = none). */
  bigIncompressible?: number;
}

/** The reference tree of the benchmark (issue 6): 2,000 files in 20 folders, ~50 MiB, half text, half random. */
export const REFERENCE_TREE: TreeSpec = { files: 2000, dirs: 20, totalBytes: 50 * 1024 * 1024, textRatio: 0.5, seed: 1 };

/** A small tree with every kind of file the round-trip tests need. */
export const MIXED_TREE: TreeSpec = {
  files: 120,
  dirs: 6,
  totalBytes: 3 * 1024 * 1024,
  textRatio: 0.5,
  seed: 7,
  empty: 3,
  unicode: true,
  deep: 40,
  bigIncompressible: 0,
};

export interface TreeFile {
  rel: string;
  size: number;
  kind: 'text' | 'random' | 'empty';
}

// A tiny deterministic PRNG (mulberry32): tests must produce the same tree everywhere.
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'const let var function return if else for while import export from class extends new this await async ' +
  'try catch finally throw true false null undefined string number boolean interface type public private ' +
  'backup restore archive manifest bucket object upload download stream buffer file folder path size time ' +
  'error warning info debug value result options signal progress config profile region endpoint secret key ' +
  'the a an of to in and or is are was be with on at by it as not this that from which when where there'
).split(' ');
const PUNCT = [' ', ' ', ' ', ' ', ', ', '.', '(', ')', ' = ', ';\n', '\n', ' {\n  ', '\n}\n', ': ', '.', ' + ', ' === '];
const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789';

/**
 * Text-like content: keywords, made-up identifiers and numbers with
 * punctuation; deflate -6 takes it to about 30% like real source code.
 */
export function textBytes(size: number, seed: number): Buffer {
  const rnd = prng(seed);
  // Each file has its own identifiers, as real files do.
  const idents = Array.from({ length: 60 }, () => {
    let w = '';
    const n = 3 + Math.floor(rnd() * 10);
    for (let i = 0; i < n; i++) w += LETTERS[Math.floor(rnd() * 52)];
    return w;
  });
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  while (at < size) {
    const r = rnd();
    let w: string;
    if (r < 0.55) w = WORDS[Math.floor(rnd() * WORDS.length)];
    else if (r < 0.92) w = idents[Math.floor(rnd() * rnd() * idents.length)];
    else if (r < 0.98) w = String(Math.floor(rnd() * 100000));
    else {
      w = '';
      const n = 4 + Math.floor(rnd() * 12);
      for (let i = 0; i < n; i++) w += LETTERS[Math.floor(rnd() * LETTERS.length)];
    }
    at += buf.write(w + PUNCT[Math.floor(rnd() * PUNCT.length)], at, 'latin1');
  }
  return buf;
}

/** Incompressible content from AES-CTR: fast, deterministic. */
export function randomStream(seed: number): (size: number) => Buffer {
  const key = createHash('sha256').update(`tree-seed-${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return (size) => cipher.update(Buffer.alloc(size));
}

/** Generates the tree under `root` (created; must be empty or missing). Returns its files. */
export async function makeTree(root: string, spec: TreeSpec): Promise<TreeFile[]> {
  const seed = spec.seed ?? 1;
  const rnd = prng(seed);
  const textRatio = spec.textRatio ?? 0.5;
  await fs.promises.mkdir(root, { recursive: true });
  const out: TreeFile[] = [];
  const random = randomStream(seed);

  // Sizes from a skewed distribution (many small, a few large), scaled to the total.
  const weights = Array.from({ length: spec.files }, () => Math.exp(rnd() * 4));
  const wsum = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.max(1, Math.round((w / wsum) * spec.totalBytes)));
  const baseTime = Date.UTC(2024, 0, 15, 10, 30, 0);

  for (let i = 0; i < spec.files; i++) {
    const dir = `dir${String(i % Math.max(1, spec.dirs)).padStart(2, '0')}`;
    // Spreads text and random files evenly (0.5: every other file).
    const isText = Math.floor((i + 1) * textRatio) > Math.floor(i * textRatio);
    const rel = `${dir}/${isText ? 'file' : 'blob'}${String(i).padStart(4, '0')}.${isText ? 'txt' : 'dat'}`;
    const content = isText ? textBytes(sizes[i], seed * 100003 + i) : random(sizes[i]);
    await writeFile(root, rel, content, i % 7 === 0 ? 0o755 : i % 11 === 0 ? 0o600 : 0o644, baseTime + i * 1000 + (i % 1000));
    out.push({ rel, size: content.length, kind: isText ? 'text' : 'random' });
  }
  for (let i = 0; i < (spec.empty ?? 0); i++) {
    const rel = i === 0 ? 'empty.txt' : `dir00/empty-${i}`;
    await writeFile(root, rel, Buffer.alloc(0), 0o644, baseTime - i * 3600_000);
    out.push({ rel, size: 0, kind: 'empty' });
  }
  if (spec.unicode) {
    const names = ['ünïcødé/naïve café.txt', '日本語/ファイル名.md', 'emoji 🎉/party 🎈.json', 'spaces and (parens)/a file [1].txt', 'Ελληνικά/αρχείο.txt'];
    for (let i = 0; i < names.length; i++) {
      const content = textBytes(1000 + i * 777, seed + 900 + i);
      await writeFile(root, names[i], content, 0o644, baseTime + 5_000_000 + i);
      out.push({ rel: names[i], size: content.length, kind: 'text' });
    }
  }
  if (spec.deep && spec.deep > 0) {
    const rel = `${Array.from({ length: spec.deep }, (_, i) => `level${i}`).join('/')}/deep file.txt`;
    const content = textBytes(4321, seed + 77);
    await writeFile(root, rel, content, 0o640, baseTime + 7_000_000);
    out.push({ rel, size: content.length, kind: 'text' });
  }
  if (spec.bigIncompressible && spec.bigIncompressible > 0) {
    const rel = 'big/random.bin';
    const abs = path.join(root, rel);
    await fs.promises.mkdir(path.dirname(abs), { recursive: true });
    const fh = await fs.promises.open(abs, 'w');
    const big = randomStream(seed + 4242);
    try {
      for (let left = spec.bigIncompressible; left > 0; ) {
        const n = Math.min(left, 4 * 1024 * 1024);
        await fh.write(big(n));
        left -= n;
      }
    } finally {
      await fh.close();
    }
    await fs.promises.utimes(abs, new Date(baseTime + 9_000_000), new Date(baseTime + 9_000_000));
    out.push({ rel, size: spec.bigIncompressible, kind: 'random' });
  }
  return out;
}

async function writeFile(root: string, rel: string, content: Buffer, mode: number, mtimeMs: number): Promise<void> {
  const abs = path.join(root, ...rel.split('/'));
  await fs.promises.mkdir(path.dirname(abs), { recursive: true });
  await fs.promises.writeFile(abs, content);
  await fs.promises.chmod(abs, mode);
  const t = new Date(mtimeMs);
  await fs.promises.utimes(abs, t, t);
}

export interface ListedEntry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  size?: number;
  mode?: number;
  mtimeMs?: number;
  sha256?: string;
  link?: string;
}

/**
 * Everything under `root` (files, folders, symlinks) with size, mode, mtime
 * (ms) and sha256: compare two listings to prove a tree identical, or untouched.
 */
export async function listTree(root: string, o: { mtimes?: boolean } = {}): Promise<Record<string, ListedEntry>> {
  const res: Record<string, ListedEntry> = {};
  if (!fs.existsSync(root)) return res;
  const walk = async (rel: string): Promise<void> => {
    const abs = rel === '' ? root : path.join(root, rel);
    for (const d of await fs.promises.readdir(abs, { withFileTypes: true })) {
      const r = rel === '' ? d.name : `${rel}/${d.name}`;
      const p = path.join(root, r);
      const st = await fs.promises.lstat(p);
      if (st.isSymbolicLink()) {
        res[r] = { type: 'symlink', link: await fs.promises.readlink(p) };
      } else if (st.isDirectory()) {
        res[r] = { type: 'dir', mode: st.mode & 0o777 };
        await walk(r);
      } else if (st.isFile()) {
        const e: ListedEntry = { type: 'file', size: st.size, mode: st.mode & 0o777, sha256: await sha256File(p) };
        if (o.mtimes !== false) e.mtimeMs = Math.round(st.mtimeMs);
        res[r] = e;
      } else {
        res[r] = { type: 'other' };
      }
    }
  };
  await walk('');
  return res;
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of fs.createReadStream(file, { highWaterMark: 1024 * 1024 })) h.update(c as Buffer);
  return h.digest('hex');
}

/** Total size of the regular files under `root`. */
export function treeBytes(files: TreeFile[]): number {
  return files.reduce((a, f) => a + f.size, 0);
}

/** Every file under `dir`, keyed by its POSIX path relative to `dir`, mapped by `f`. */
export function mapTree<T>(dir: string, f: (file: string) => T): Record<string, T> {
  const out: Record<string, T> = {};
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p).split(path.sep).join('/')] = f(p);
    }
  };
  walk(dir);
  return out;
}

/** Every file under `dir` as UTF-8 text, keyed by its POSIX path relative to `dir`. */
export function readTextTree(dir: string): Record<string, string> {
  return mapTree(dir, (p) => fs.readFileSync(p, 'utf8'));
}

/** Every file under `dir` as the sha256 of its content; {} when `dir` does not exist. */
export function digestTree(dir: string): Record<string, string> {
  return fs.existsSync(dir) ? mapTree(dir, (p) => createHash('sha256').update(fs.readFileSync(p)).digest('hex')) : {};
}
