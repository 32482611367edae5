// The import graph of src/: every module's imports, resolved to files, with
// whether each is type-only. Used by the layering test; plain text parsing
// is enough because the code base has one import style.
import * as fs from 'fs';
import * as path from 'path';

export interface ImportEdge {
  from: string;
  /** A repository-relative file, or the bare module name for packages and Node built-ins. */
  to: string;
  spec: string;
  typeOnly: boolean;
  /** `require()` or `import()`, not a static import. */
  dynamic: boolean;
}

function sourcesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourcesUnder(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

function resolveSpec(fromFile: string, spec: string, root: string): string {
  if (!spec.startsWith('.')) return spec;
  const base = path.resolve(path.dirname(fromFile), spec);
  for (const c of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(c) && fs.statSync(c).isFile()) return path.relative(root, c).split(path.sep).join('/');
  }
  throw new Error(`${path.relative(root, fromFile)}: cannot resolve "${spec}"`);
}

/** Every import of every .ts file below `root/src`, comments ignored. */
export function importGraph(root: string): { files: string[]; edges: ImportEdge[] } {
  const files = sourcesUnder(path.join(root, 'src'));
  const edges: ImportEdge[] = [];
  for (const file of files) {
    const text = fs
      .readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    const from = path.relative(root, file).split(path.sep).join('/');
    const add = (spec: string, typeOnly: boolean, dynamic: boolean): void => {
      edges.push({ from, to: resolveSpec(file, spec, root), spec, typeOnly, dynamic });
    };
    for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]/gm)) add(m[4], !!m[2], false);
    for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) add(m[1], false, false);
    for (const m of text.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)) add(m[1], false, true);
    // `typeof import('x')` is a type; a bare `import('x')` loads code.
    for (const m of text.matchAll(/(typeof\s+)?\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) add(m[2], !!m[1], true);
  }
  return { files: files.map((f) => path.relative(root, f).split(path.sep).join('/')), edges };
}

/** The cycles of a directed graph (each as a list of nodes, the first repeated at the end); empty when it has none. */
export function findCycles(nodes: Iterable<string>, next: (n: string) => Iterable<string>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of next(n)) {
      const s = state.get(m);
      if (s === 'open') cycles.push([...stack.slice(stack.indexOf(m)), m]);
      else if (s === undefined) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of nodes) if (!state.has(n)) visit(n);
  return cycles;
}
