// The architecture as a test: three front ends over one engine. What ESLint
// checks file by file (eslint.config.mjs), this checks on the whole graph:
// directions between layers, and no cycles between modules or folders.
import * as assert from 'assert';
import * as path from 'path';
import { builtinModules } from 'module';
import { findCycles, importGraph, type ImportEdge } from '../helpers/importGraph';

const root = path.resolve(__dirname, '..', '..', '..');
const graph = importGraph(root);
const local = (e: ImportEdge): boolean => e.to.startsWith('src/');
const layer = (f: string): string => f.split('/')[1];
const dir = (f: string): string => path.posix.dirname(f);
const isBuiltin = (m: string): boolean => m.startsWith('node:') || builtinModules.includes(m.split('/')[0]);

function edgesFrom(prefix: string): ImportEdge[] {
  return graph.edges.filter((e) => e.from.startsWith(prefix));
}

function show(edges: ImportEdge[]): string[] {
  return edges.map((e) => `${e.from} -> ${e.spec}`);
}

describe('layering', () => {
  it('sees the whole source tree', () => {
    assert.ok(graph.files.length >= 60, `expected the sources, found ${graph.files.length}`);
    assert.deepStrictEqual([...new Set(graph.files.map(layer))].sort(), ['cli', 'core', 'extension', 'webview']);
  });

  it('src/core imports only src/core, Node and its npm packages (never vscode)', () => {
    const bad = edgesFrom('src/core/').filter((e) => (local(e) ? layer(e.to) !== 'core' : e.to === 'vscode'));
    assert.deepStrictEqual(show(bad), []);
    const packageOf = (e: ImportEdge): string => e.to.split('/').slice(0, e.to.startsWith('@') ? 2 : 1).join('/');
    const npm = edgesFrom('src/core/').filter((e) => !local(e) && !isBuiltin(e.to));
    // The SDK's load in layers requires some of client-s3's own dependencies, there only
    // (engineLoad.test.ts checks that each is one, in client-s3's copy).
    const LAYERS = 'src/core/storage/sdkModules.ts';
    const packages = new Set(npm.filter((e) => e.from !== LAYERS).map(packageOf));
    assert.deepStrictEqual([...packages].sort(), ['@aws-sdk/client-s3', 'ignore', 'jsonc-parser', 'yauzl']);
    assert.deepStrictEqual(show(npm.filter((e) => e.from === LAYERS && !/^@(aws-sdk|smithy)\//.test(packageOf(e)))), []);
    assert.ok(npm.some((e) => e.from === LAYERS && packageOf(e) === '@smithy/core'), `${LAYERS} is not where the SDK's layers are`);
  });

  it('src/cli and src/extension never import each other; the webview imports only its own folder', () => {
    const bad = [
      ...edgesFrom('src/cli/').filter((e) => local(e) && layer(e.to) === 'extension'),
      ...edgesFrom('src/extension/').filter((e) => local(e) && layer(e.to) === 'cli'),
      ...edgesFrom('src/webview/').filter((e) => local(e) && layer(e.to) !== 'webview'),
      ...edgesFrom('src/cli/').filter((e) => e.to === 'vscode'),
    ];
    assert.deepStrictEqual(show(bad), []);
  });

  it('the face loads the engine at run time in one place only: EngineHost', () => {
    const runtime = edgesFrom('src/extension/').filter((e) => local(e) && !e.typeOnly && (e.to === 'src/core/index.ts' || e.to === 'src/core/engine.ts'));
    assert.deepStrictEqual(show(runtime), ["src/extension/host/engineHost.ts -> ../../core/index"]);
  });

  it('no module imports itself through others (no cycles between files)', () => {
    const next = new Map<string, string[]>();
    for (const e of graph.edges.filter(local)) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
    assert.deepStrictEqual(findCycles(graph.files, (f) => next.get(f) ?? []), []);
  });

  it('no folder imports itself through others (no cycles between folders)', () => {
    const next = new Map<string, Set<string>>();
    for (const e of graph.edges.filter(local)) {
      const [a, b] = [dir(e.from), dir(e.to)];
      if (a !== b) next.set(a, (next.get(a) ?? new Set()).add(b));
    }
    assert.deepStrictEqual(findCycles(new Set(graph.files.map(dir)), (d) => next.get(d) ?? []), []);
  });

  it('no file name appears in two layers', () => {
    const byName = new Map<string, Set<string>>();
    for (const f of graph.files) byName.set(path.posix.basename(f), (byName.get(path.posix.basename(f)) ?? new Set()).add(layer(f)));
    const shared = [...byName].filter(([n, layers]) => layers.size > 1 && n !== 'index.ts').map(([n]) => n);
    assert.deepStrictEqual(shared, []);
  });

  it('the cycle finder finds a cycle (the checks above can fail)', () => {
    const g: Record<string, string[]> = { a: ['b'], b: ['c'], c: ['a'], d: ['a'] };
    assert.deepStrictEqual(findCycles(Object.keys(g), (n) => g[n]), [['a', 'b', 'c', 'a']]);
  });

  it('the compiled engine loads in plain Node without vscode', () => {
    const engine = require(path.join(root, 'out', 'src', 'core', 'index.js'));
    assert.strictEqual(typeof engine.BackupEngine, 'function');
    assert.ok(!Object.keys(require.cache).some((k) => /[\\/]node_modules[\\/]vscode[\\/]/.test(k)));
  });
});
