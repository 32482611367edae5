'use strict';
// Deterministic benchmark trees. The same seed gives the same bytes on every
// machine and Node version: text comes from a seeded PRNG, incompressible
// bytes from an AES-128-CTR keystream keyed by the seed.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const GENERATOR_VERSION = 1;

/** Small, fast, seedable PRNG (sfc32), seeded through splitmix32. */
function makeRng(seed) {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split(), b = split(), c = split(), d = split();
  const next = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
  };
}

/** Incompressible, reproducible bytes: AES-128-CTR keystream of (seed, stream id). */
function randomBytesStream(seed, id) {
  const key = crypto.createHash('sha256').update(`bench-key:${seed}`).digest().subarray(0, 16);
  const iv = crypto.createHash('sha256').update(`bench-iv:${id}`).digest().subarray(0, 16);
  const cipher = crypto.createCipheriv('aes-128-ctr', key, iv);
  const zeros = Buffer.alloc(1 << 20);
  return (n) => cipher.update(n === zeros.length ? zeros : zeros.subarray(0, n));
}

const WORDS = (
  'account active adapter address agent alias allocate amount anchor append apply archive array asset async ' +
  'attach attempt attribute audit author backup balance base batch binary bind block body bound branch buffer ' +
  'build bundle byte cache call cancel capture cell change channel check child chunk claim class clear client ' +
  'clone close cluster code collect column command commit compare compile config connect console context copy ' +
  'count create cursor data debug decode default delay delete depth detail device digest directory dispatch ' +
  'document domain draft driver edge editor element emit empty encode endpoint entry error event expand export ' +
  'extension factory feature fetch field file filter flag flush folder format frame handle hash header health ' +
  'history host image import index input insert instance item job journal key label layout length limit line ' +
  'link list listener load local lock log lookup manager manifest map mark match member memory merge message ' +
  'meta method metric mode model module monitor mount name node notify number object offset option order ' +
  'origin output owner package page panel param parent parse part patch path pattern payload peer pending ' +
  'period policy pool port position prefix process profile progress project prompt provider proxy publish ' +
  'query queue range reader record reduce ref region register release remote remove render replace reply ' +
  'report request reset resolve resource response result retry revision root route rule runtime sample ' +
  'schema scope score search section secret select send sequence server service session setting shape ' +
  'signal size slice snapshot socket source span split stack stage state status step storage store stream ' +
  'string style subject summary sync table tag target task template tenant text theme thread token total ' +
  'trace track transform tree trigger type unit update upload user value version view volume watch window ' +
  'worker write zone'
).split(' ');
const VERBS = 'get set make read write find load save parse build create update remove handle resolve apply check ensure compute format render emit to from with has is'.split(' ');
const TYPES = 'string number boolean void unknown Buffer Date Promise<void> Uint8Array Record<string, string> string[] number[]'.split(' ');
const KEYWORDS_LINE = ['export ', '', '', 'async ', 'export async '];

function camel(parts) {
  return parts.map((p, i) => (i === 0 ? p : p[0].toUpperCase() + p.slice(1))).join('');
}
function pascal(parts) {
  return parts.map((p) => p[0].toUpperCase() + p.slice(1)).join('');
}

/**
 * Source-like text of about `size` bytes: TypeScript-shaped lines over a
 * per-file vocabulary, with numbers, hex constants and comments mixed in so
 * that DEFLATE-6 shrinks it about 3-4x, like real code (not a repeated block).
 */
function makeText(rng, size) {
  const local = [];
  const n = 24 + rng.int(40);
  for (let i = 0; i < n; i++) {
    const parts = [rng.pick(WORDS)];
    if (rng.next() < 0.7) parts.push(rng.pick(WORDS));
    if (rng.next() < 0.25) parts.push(rng.pick(WORDS));
    local.push(parts);
  }
  const id = () => {
    const r = rng.next();
    if (r < 0.75) return camel(rng.pick(local));
    if (r < 0.9) return camel([rng.pick(VERBS), ...rng.pick(local)]);
    return camel([rng.pick(WORDS), rng.pick(WORDS)]);
  };
  const typeName = () => (rng.next() < 0.5 ? rng.pick(TYPES) : pascal(rng.pick(local)));
  const num = () => {
    const r = rng.next();
    if (r < 0.4) return String(rng.int(10));
    if (r < 0.8) return String(rng.int(100000));
    return '0x' + (rng.int(0x7fffffff) >>> 0).toString(16).padStart(8, '0');
  };
  const words = (k) => {
    const w = [];
    for (let i = 0; i < k; i++) w.push(rng.next() < 0.85 ? rng.pick(WORDS) : rng.pick(local).join('-'));
    return w.join(' ');
  };
  const expr = () => {
    const r = rng.next();
    if (r < 0.25) return `${id()}.${id()}(${id()}, ${num()})`;
    if (r < 0.45) return `${id()} ${rng.pick(['+', '-', '*', '??', '||', '&&'])} ${num()}`;
    if (r < 0.6) return `'${words(1 + rng.int(5))}'`;
    if (r < 0.75) return `await ${id()}(${id()})`;
    if (r < 0.85) return `{ ${id()}: ${num()}, ${id()}: ${id()} }`;
    return `new ${pascal(rng.pick(local))}(${id()}, '${rng.pick(WORDS)}')`;
  };
  const out = [];
  let len = 0;
  let depth = 0;
  const push = (s) => {
    const line = '  '.repeat(depth) + s + '\n';
    out.push(line);
    len += line.length;
  };
  const imports = 2 + rng.int(6);
  for (let i = 0; i < imports; i++) push(`import { ${id()}, ${id()} } from '../${rng.pick(WORDS)}/${camel(rng.pick(local))}';`);
  push('');
  while (len < size) {
    const r = rng.next();
    if (depth === 0) {
      if (r < 0.3) push(`/** ${words(4 + rng.int(10))}. */`);
      if (rng.next() < 0.8) {
        push(`${rng.pick(KEYWORDS_LINE)}function ${id()}(${id()}: ${typeName()}, ${id()}: ${typeName()}): ${typeName()} {`);
      } else {
        push(`export class ${pascal(rng.pick(local))} {`);
      }
      depth = 1;
      continue;
    }
    if (r < 0.3) push(`const ${id()} = ${expr()};`);
    else if (r < 0.42 && depth < 4) { push(`if (${id()} ${rng.pick(['===', '!==', '<', '>='])} ${num()}) {`); depth++; }
    else if (r < 0.5 && depth < 4) { push(`for (const ${id()} of ${id()}.${id()}) {`); depth++; }
    else if (r < 0.62) push(`${id()}.${id()}(${expr()});`);
    else if (r < 0.7) push(`// ${words(3 + rng.int(9))}`);
    else if (r < 0.78) push(`${id()} = ${expr()};`);
    else if (r < 0.84) push(`throw new Error(\`${words(2 + rng.int(6))} \${${id()}}\`);`);
    else if (r < 0.9) push(`return ${expr()};`);
    else { depth--; push('}'); if (depth === 0) push(''); }
  }
  while (depth > 0) { depth--; push('}'); }
  const buf = Buffer.from(out.join(''), 'utf8');
  return buf.length > size ? buf.subarray(0, size) : buf;
}

const EXT_TEXT = ['.ts', '.ts', '.ts', '.js', '.md', '.json', '.css', '.py'];
const EXT_BIN = ['.png', '.jpg', '.bin', '.gz', '.woff2', '.pdf', '.zip'];

/**
 * The plan of a tree: relative paths, sizes and kinds, before any byte is written.
 * `totalBytes` is met exactly; half the files and half the bytes are text.
 */
function planTree({ seed, files, folders, totalBytes }) {
  const rng = makeRng(seed ^ 0x5eed);
  const perFolder = Math.ceil(files / folders);
  const entries = [];
  for (let i = 0; i < files; i++) {
    const folder = Math.floor(i / perFolder);
    const text = i % 2 === 0;
    // Log-uniform weights from 1 to 64: many small files, a few large ones.
    const weight = Math.pow(2, rng.next() * 6);
    const fname = camel([rng.pick(WORDS), rng.pick(WORDS)]) + '-' + String(i).padStart(4, '0') + rng.pick(text ? EXT_TEXT : EXT_BIN);
    const dir = `${rng.pick(WORDS)}-${String(folder).padStart(2, '0')}`;
    entries.push({ folder, dirSeed: dir, relPath: null, text, weight, name: fname });
  }
  // Folder names must not depend on which file was drawn first.
  const dirNames = new Map();
  for (const e of entries) if (!dirNames.has(e.folder)) dirNames.set(e.folder, e.dirSeed);
  for (const kind of [true, false]) {
    const group = entries.filter((e) => e.text === kind);
    const budget = kind ? Math.floor(totalBytes / 2) : totalBytes - Math.floor(totalBytes / 2);
    const wsum = group.reduce((s, e) => s + e.weight, 0);
    let used = 0;
    group.forEach((e, k) => {
      e.size = k === group.length - 1 ? budget - used : Math.floor((budget * e.weight) / wsum);
      used += e.size;
    });
  }
  return entries.map((e, i) => ({ index: i, relPath: `${dirNames.get(e.folder)}/${e.name}`, size: e.size, text: e.text }));
}

/**
 * Writes a tree into `dir` (created; must be empty or absent). Returns the
 * plan with totals. `bigFiles` adds large incompressible files at the top.
 */
async function writeTree(dir, spec) {
  const plan = planTree(spec);
  fs.mkdirSync(dir, { recursive: true });
  let textBytes = 0, textDeflated = 0;
  const zlib = require('zlib');
  for (const e of plan) {
    const abs = path.join(dir, e.relPath);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    if (e.text) {
      const buf = makeText(makeRng(spec.seed * 7919 + e.index), e.size);
      if (buf.length !== e.size) throw new Error(`text generator short: ${buf.length} < ${e.size}`);
      if (spec.measureText !== false && e.size > 0) { textBytes += e.size; textDeflated += zlib.deflateRawSync(buf, { level: 6 }).length; }
      fs.writeFileSync(abs, buf);
    } else {
      await writeRandomFile(abs, e.size, spec.seed, `f${e.index}`);
    }
  }
  for (const b of spec.bigFiles || []) {
    await writeRandomFile(path.join(dir, b.relPath), b.size, spec.seed, `big:${b.relPath}`);
    plan.push({ index: plan.length, relPath: b.relPath, size: b.size, text: false });
  }
  const total = plan.reduce((s, e) => s + e.size, 0);
  return { files: plan.length, bytes: total, textRatio: textDeflated ? textBytes / textDeflated : undefined };
}

async function writeRandomFile(abs, size, seed, id) {
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  const gen = randomBytesStream(seed, id);
  const fd = fs.openSync(abs, 'w');
  try {
    let left = size;
    while (left > 0) {
      const n = Math.min(left, 1 << 20);
      fs.writeSync(fd, gen(n));
      left -= n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The reference tree of the issue: 2,000 files in 20 folders, 48.8 MiB, half text. */
const REFERENCE = { name: 'reference', seed: 20240601, files: 2000, folders: 20, totalBytes: 51_200_000 };

/** The 1 GiB tree for the memory test: one 600 MiB incompressible file plus 424 MiB of mixed files. */
const LARGE = {
  name: 'large',
  seed: 1,
  files: 400,
  folders: 8,
  totalBytes: 1024 * 1024 * 1024 - 600 * 1024 * 1024,
  bigFiles: [{ relPath: 'big/incompressible-600MiB.bin', size: 600 * 1024 * 1024 }],
  measureText: false,
};

/**
 * Returns a ready tree for `spec`, generating it once into `cacheDir/<name>-v<n>-<seed>`
 * (a marker file holds its summary, so an interrupted generation is redone).
 */
async function ensureTree(cacheDir, spec) {
  const dir = path.join(cacheDir, `${spec.name}-v${GENERATOR_VERSION}-${spec.seed}`);
  const marker = dir + '.json';
  if (fs.existsSync(marker) && fs.existsSync(dir)) return { dir, ...JSON.parse(fs.readFileSync(marker, 'utf8')) };
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(marker, { force: true });
  const summary = await generate(dir, spec);
  fs.writeFileSync(marker, JSON.stringify(summary));
  return { dir, ...summary };
}

/**
 * Many small source-like text files (about 0.7-1.4 KB each) in `folders`
 * folders: the tree that shows the cost per file (issue 15).
 */
async function writeSmallFiles(dir, spec) {
  fs.mkdirSync(dir, { recursive: true });
  const rng = makeRng(spec.seed ^ 0x51a11);
  let bytes = 0;
  for (let d = 0; d < spec.folders; d++) fs.mkdirSync(path.join(dir, `${rng.pick(WORDS)}-${String(d).padStart(3, '0')}`), { recursive: true });
  const dirs = fs.readdirSync(dir).sort();
  for (let i = 0; i < spec.files; i++) {
    const size = 700 + rng.int(700);
    const buf = makeText(makeRng(spec.seed * 7919 + i), size);
    fs.writeFileSync(path.join(dir, dirs[i % dirs.length], `${camel([rng.pick(WORDS), rng.pick(WORDS)])}-${i}.ts`), buf);
    bytes += buf.length;
  }
  return { files: spec.files, bytes };
}

/** `spec.small`: many small files; otherwise planTree's mixed tree. */
const generate = (dir, spec) => (spec.small ? writeSmallFiles(dir, spec) : writeTree(dir, spec));

/** Small-file trees of the scaling table: 2,000 / 30,000 / 100,000 files of about 1 KB. */
const small = (files) => ({ name: `small${files}`, small: true, seed: 15, files, folders: Math.max(20, Math.round(files / 500)), measureText: false });

/** The 5 GiB tree: a 4 GiB incompressible file plus 1 GiB of mixed files. */
const HUGE = {
  name: 'huge',
  seed: 5,
  files: 4000,
  folders: 40,
  totalBytes: 1024 * 1024 * 1024,
  bigFiles: [{ relPath: 'big/incompressible-4GiB.bin', size: 4 * 1024 * 1024 * 1024 }],
  measureText: false,
};

/** The 50 MiB tree of the scaling table: the reference tree's shape at 50 MiB. */
const MEDIUM = { name: 'medium', seed: 50, files: 2000, folders: 20, totalBytes: 50 * 1024 * 1024, measureText: false };

module.exports = { makeRng, makeText, planTree, writeTree, writeSmallFiles, ensureTree, small, REFERENCE, LARGE, HUGE, MEDIUM, GENERATOR_VERSION };

if (require.main === module) {
  // `node bench/tree.js <dir> [reference|large]`: writes a tree, prints its summary.
  const [dir, which = 'reference'] = process.argv.slice(2);
  if (!dir) { console.error('usage: node bench/tree.js <dir> [reference|large]'); process.exit(2); }
  const t0 = Date.now();
  writeTree(dir, which === 'large' ? LARGE : REFERENCE).then((s) => {
    console.log(JSON.stringify({ ...s, ms: Date.now() - t0 }));
  }, (e) => { console.error(e); process.exit(1); });
}
