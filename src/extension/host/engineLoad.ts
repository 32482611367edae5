// The engine's first use in a session, in turns of the extension host's
// event loop, which every extension shares. Loading it all at once held the
// loop ~115 ms: Node's own modules compiled on their first require (http,
// tls, http2, zlib, ...), compiling the engine bundle (~850 KB, most of it
// the SDK) and the SDK's module set-up. The SDK is now a bundle of its own
// (dist/sdk.js), set up in layers; each piece runs in a turn of its own,
// with a timer's turn between (other timers and I/O run). Compiling the
// SDK's bundle was still one ~35 ms stretch, the engine's ~12 ms, and setting
// up client-s3 ~25 ms (most of it compiling its one big module function): a
// worker thread now compiles both bundles and runs their set-up meanwhile,
// and hands over V8's code cache of each, so that this thread deserializes
// what it would have parsed and compiled. No `vscode` here: the bench loads
// the engine the same way (bench/rss.js).
import * as fs from 'fs';
import Module from 'module';
import * as path from 'path';
import * as vm from 'vm';
import { Worker } from 'worker_threads';

/**
 * Node's modules that loading dist/engine.js and the SDK's first request
 * require (`process.moduleLoadList`; test/core/engineLoad.test.ts keeps
 * this list whole).
 */
export const ENGINE_BUILTINS: readonly string[] = [
  'assert',
  'crypto',
  'diagnostics_channel',
  'fs/promises',
  'http',
  'http2',
  'https',
  'net',
  'os',
  'perf_hooks',
  'process',
  'stream',
  'stream/promises',
  'string_decoder',
  'tls',
  'worker_threads',
  'zlib',
];

const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** CommonJS bundles to compile and set up on a worker thread first, in this order (see loadInTurns). */
export interface Precompile {
  /** `setUp` names a function the bundle exports that sets the rest of it up (run on the worker only). */
  files: readonly { file: string; setUp?: string }[];
  /** How each went: 'cached' (compiled here from the worker's cache), 'rejected' (V8 refused the cache: compiled here in full), 'failed' (left to require() to load the usual way), 'absent' (no such file), 'loaded' (it was already). */
  onOutcome?: (file: string, outcome: PrecompileOutcome, detail?: string) => void;
  /** Given up on after this long (default 10 s): what is left loads the usual way. */
  timeoutMs?: number;
}
export type PrecompileOutcome = 'cached' | 'rejected' | 'failed' | 'absent' | 'loaded';

/** The bundles in `dir` (dist/, see esbuild.js) for a first use: the engine's unless it is loaded, the SDK's (set up on the worker) when wanted. */
export function engineBundles(dir: string, o: { engine: boolean; sdk: boolean }): Precompile['files'] {
  return [...(o.engine ? [{ file: path.join(dir, 'engine.js') }] : []), ...(o.sdk ? [{ file: path.join(dir, 'sdk.js'), setUp: 'setUpAll' }] : [])];
}

/** How one bundle was compiled, in a line: `sdk.js compiled: cached`. */
export function outcomeLine(file: string, outcome: PrecompileOutcome, detail?: string): string {
  return `${path.basename(file)} compiled: ${outcome}${detail ? ` (${detail})` : ''}`;
}

/**
 * Node's modules, then `load()` (the engine module), then each step of
 * `steps(module)` (the SDK, see BackupEngine.sdkSteps), with a turn of the
 * loop after each. With `precompile`, a worker thread compiles and sets up
 * each of its bundles meanwhile, and each is loaded here from the worker's
 * code cache, in a turn of its own, before `load()`: `load()` and the steps
 * then find them loaded.
 */
export async function loadInTurns<T>(load: () => T, steps: (module: T) => Iterable<void>, precompile?: Precompile): Promise<T> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  for (const m of ENGINE_BUILTINS) require(m);
  await turn();
  // Reading the bundles and starting the worker is a stretch too (~7 ms): a turn of its own.
  const compiled = precompile ? compileOnWorker(precompile.files, precompile.timeoutMs ?? COMPILE_TIMEOUT_MS) : [];
  await turn();
  for (const next of compiled) {
    const c = await next;
    const outcome = c.cache ? loadCompiled(c.file, c.source, c.cache) : c.outcome;
    precompile?.onOutcome?.(c.file, outcome, c.detail);
    await turn();
  }
  const module = load();
  await turn();
  for (const _ of steps(module)) await turn();
  await turn();
  return module;
}

// The worker: compiles each module as Node would (wrapped), runs it and its set-up, so that its cache
// also holds every function they compiled, and sends the cache. Its own copies die with it.
const COMPILE_WORKER = `
const { parentPort, workerData } = require('worker_threads');
const vm = require('vm');
const path = require('path');
const { createRequire, wrap } = require('module');
for (const [k, { file, source, setUp }] of workerData.entries()) {
  const script = new vm.Script(wrap(source), { filename: file });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  if (setUp) module.exports[setUp]();
  parentPort.postMessage({ k, cache: script.createCachedData() });
}
`;
const COMPILE_TIMEOUT_MS = 10_000;

interface Compiled {
  file: string;
  source: string;
  cache?: Buffer;
  outcome: PrecompileOutcome;
  detail?: string;
}

/** Reads each file and has one worker thread compile and set them up, in order: a promise each, none rejects. */
function compileOnWorker(files: Precompile['files'], timeoutMs: number): Promise<Compiled>[] {
  const results: Promise<Compiled>[] = [];
  const jobs: { file: string; source: string; setUp?: string; resolve: (c: Compiled) => void }[] = [];
  for (const f of files) {
    let file: string;
    let source: string;
    try {
      // The path require() looks up: the real one.
      file = fs.realpathSync(f.file);
      source = fs.readFileSync(file, 'utf8');
    } catch (e) {
      results.push(Promise.resolve({ file: f.file, source: '', outcome: 'absent', detail: (e as NodeJS.ErrnoException).code }));
      continue;
    }
    let resolve: (c: Compiled) => void = () => undefined;
    results.push(new Promise<Compiled>((r) => (resolve = r)));
    jobs.push({ file, source, setUp: f.setUp, resolve });
  }
  if (jobs.length === 0) return results;
  // The worker is given the sources read here, not their paths: V8 checks a cache against the
  // source's length only, and a file rewritten in between could keep its length.
  const worker = new Worker(COMPILE_WORKER, { eval: true, workerData: jobs.map(({ file, source, setUp }) => ({ file, source, setUp })) });
  let sent = 0;
  /** The worker is done with, for `why` when some file is still waiting. */
  const end = (why: string): void => {
    clearTimeout(timer);
    worker.removeAllListeners();
    void worker.terminate();
    for (const j of jobs.slice(sent)) j.resolve({ file: j.file, source: j.source, outcome: 'failed', detail: why });
    sent = jobs.length;
  };
  const timer = setTimeout(() => end('timeout'), timeoutMs);
  worker.on('message', ({ k, cache }: { k: number; cache: Uint8Array }) => {
    const j = jobs[k];
    j.resolve({ file: j.file, source: j.source, cache: Buffer.from(cache.buffer, cache.byteOffset, cache.byteLength), outcome: 'cached' });
    sent = k + 1;
    if (sent === jobs.length) end('');
  });
  worker.once('error', (e) => end(e.message.split('\n')[0]));
  worker.once('exit', (code) => end(`exit ${code}`));
  return results;
}

type ModuleInternals = typeof Module & { new (id: string): NodeJS.Module; wrap(source: string): string };

/**
 * Loads `file` into require's cache, compiled from `source` with V8's
 * `cache` of it, as require() would have loaded it. A module loaded
 * meanwhile is left as it is; one whose set-up throws is taken out again, for
 * require() to load (and throw) in its usual place.
 */
function loadCompiled(file: string, source: string, cache: Buffer): PrecompileOutcome {
  if (require.cache[file]) return 'loaded';
  const M = Module as ModuleInternals;
  const script = new vm.Script(M.wrap(source), { filename: file, cachedData: cache });
  const m = new M(file);
  m.filename = file;
  require.cache[file] = m;
  try {
    (script.runInThisContext() as (...a: unknown[]) => void).call(m.exports, m.exports, Module.createRequire(file), m, file, path.dirname(file));
  } catch {
    delete require.cache[file];
    return 'failed';
  }
  m.loaded = true;
  return script.cachedDataRejected ? 'rejected' : 'cached';
}
