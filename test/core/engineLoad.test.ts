// The engine's first use in turns of the event loop (src/extension/host/engineLoad.ts).
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { isBuiltin } from 'module';
import * as os from 'os';
import * as path from 'path';
import { SDK_LAYERS } from '../../src/core/storage/sdkModules';
import { ENGINE_BUILTINS, loadInTurns } from '../../src/extension/host/engineLoad';

const ROOT = path.join(__dirname, '..', '..', '..');
const BUNDLE = path.join(ROOT, 'dist', 'engine.js');
const SDK_BUNDLE = path.join(ROOT, 'dist', 'sdk.js');
const PROFILE = path.join(ROOT, 'out', 'src', 'core', 'storage', 'profile.js');
const ENGINE_LOAD = path.join(ROOT, 'out', 'src', 'extension', 'host', 'engineLoad.js');

// Put before a fresh process's code: the files require() compiled itself (from their source), by name.
const COMPILED_BY_REQUIRE = `
const Module = require('module');
const compiledByRequire = [];
const compile = Module.prototype._compile;
Module.prototype._compile = function (content, filename) { compiledByRequire.push(require('path').basename(filename)); return compile.call(this, content, filename); };
`;

/** Runs `code` in a fresh Node process (its own require cache) and parses what it printed. */
function inFreshProcess<T>(code: string): T {
  const r = spawnSync(process.execPath, ['-e', COMPILED_BY_REQUIRE + code], { encoding: 'utf8', timeout: 60_000 });
  assert.strictEqual(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
}

describe('the engine\'s first use in turns of the event loop', () => {
  it('loads, then runs each step, with a turn for timers before, between and after', async () => {
    const order: string[] = [];
    const timer = (name: string): void => void setTimeout(() => order.push(name), 0);
    timer('before');
    const got = await loadInTurns(
      () => {
        order.push('load');
        timer('after load');
        return { answer: 42 };
      },
      function* (m) {
        order.push(`step 1 of ${m.answer}`);
        timer('after step 1');
        yield;
        order.push('step 2');
        timer('after step 2');
      },
    );
    order.push('done');
    assert.deepStrictEqual(got, { answer: 42 });
    assert.deepStrictEqual(order, ['before', 'load', 'after load', 'step 1 of 42', 'after step 1', 'step 2', 'after step 2', 'done']);
  });

  it('loads the SDK in steps: its own bundle apart from the engine\'s, each layer one of client-s3\'s own dependencies', () => {
    // The same copy as client-s3's, or loading it first would load a second one for nothing.
    const client = path.dirname(require.resolve('@aws-sdk/client-s3/package.json'));
    const deps = (JSON.parse(fs.readFileSync(path.join(client, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies;
    assert.ok(SDK_LAYERS.length >= 3, `${SDK_LAYERS.length} layers`);
    for (const [name] of SDK_LAYERS) {
      assert.ok(name in deps, `${name} is not a dependency of @aws-sdk/client-s3`);
      assert.strictEqual(require.resolve(name), require.resolve(name, { paths: [client] }), `${name}: not the copy client-s3 loads`);
    }
    const code = `
const loaded = (f) => Object.keys(require.cache).includes(f);
const { BackupEngine } = require(${JSON.stringify(BUNDLE)});
const atLoad = loaded(${JSON.stringify(SDK_BUNDLE)});
let steps = 0;
for (const _ of BackupEngine.sdkSteps()) steps++;
process.stdout.write(JSON.stringify({ atLoad, after: loaded(${JSON.stringify(SDK_BUNDLE)}), steps }));`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 60_000 });
    assert.strictEqual(r.status, 0, r.stderr);
    // One step compiles dist/sdk.js, one per layer, one sets up the client.
    assert.deepStrictEqual(JSON.parse(r.stdout), { atLoad: false, after: true, steps: SDK_LAYERS.length + 1 });
  });

  it('names every Node module that loading the engine bundle and its first request require', () => {
    for (const m of ENGINE_BUILTINS) assert.ok(isBuiltin(m), `${m} is not one of Node's modules`);
    assert.ok(fs.existsSync(BUNDLE), `${BUNDLE} is missing: run node esbuild.js first`);
    // A fresh process: what this one has loaded already says nothing.
    const code = `
const before = () => new Set(process.moduleLoadList);
const publicOf = (list) => list.filter((x) => x.startsWith('NativeModule ') && !x.includes('internal/')).map((x) => x.slice(13));
for (const m of ${JSON.stringify(ENGINE_BUILTINS)}) require(m);
const seen = before();
const { BackupEngine } = require(${JSON.stringify(BUNDLE)});
for (const _ of BackupEngine.sdkSteps());
const { normalizeProfile } = require(${JSON.stringify(PROFILE)});
const r = normalizeProfile({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', bucket: 'no-such-bucket', accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x'.repeat(40), addressingStyle: 'path' });
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
new BackupEngine(r.profile, { logger: quiet, hostname: 'test' }).list({ pageSize: 1 }).then(
  () => process.stdout.write('listed'),
  (e) => process.stdout.write(JSON.stringify({ code: e.code, loaded: publicOf([...process.moduleLoadList].filter((x) => !seen.has(x))) })),
);`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 60_000 });
    assert.strictEqual(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { code: string; loaded: string[] };
    // Nothing listens on port 9: the request was made and failed, after every module it needs was loaded.
    assert.strictEqual(out.code, 'Unreachable', r.stdout);
    assert.deepStrictEqual(out.loaded, [], `Node modules the list misses: ${out.loaded.join(', ')}`);
  });

  it('compiles the bundles on a worker thread, and loads them here from its code cache, before the engine and the SDK need them', () => {
    const code = `
const { loadInTurns } = require(${JSON.stringify(ENGINE_LOAD)});
const outcomes = [];
const files = [{ file: ${JSON.stringify(BUNDLE)} }, { file: ${JSON.stringify(SDK_BUNDLE)}, setUp: 'setUpAll' }];
loadInTurns(() => require(${JSON.stringify(BUNDLE)}), (m) => m.BackupEngine.sdkSteps(), { files, onOutcome: (f, o, d) => outcomes.push([require('path').basename(f), o, d || '']) }).then((m) => {
  const { normalizeProfile } = require(${JSON.stringify(PROFILE)});
  const r = normalizeProfile({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', bucket: 'no-such-bucket', accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x'.repeat(40), addressingStyle: 'path' });
  const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
  const cached = (f) => require.cache[f] && require.cache[f].loaded;
  const same = m === require.cache[${JSON.stringify(BUNDLE)}].exports;
  return new m.BackupEngine(r.profile, { logger: quiet, hostname: 'test' }).list({ pageSize: 1 }).catch((e) => e.code).then((code) =>
    process.stdout.write(JSON.stringify({ outcomes, same, engine: cached(${JSON.stringify(BUNDLE)}), sdk: cached(${JSON.stringify(SDK_BUNDLE)}), code, compiledByRequire })));
});`;
    const got = inFreshProcess<{ outcomes: string[][]; same: boolean; engine: boolean; sdk: boolean; code: string; compiledByRequire: string[] }>(code);
    assert.deepStrictEqual(got.outcomes, [['engine.js', 'cached', ''], ['sdk.js', 'cached', '']]);
    // Neither was parsed and compiled here: require() found them loaded.
    assert.ok(!got.compiledByRequire.includes('engine.js') && !got.compiledByRequire.includes('sdk.js'), got.compiledByRequire.join(', '));
    assert.ok(got.compiledByRequire.includes('profile.js'), 'the hook sees what require() compiles');
    // load() got the module loaded from the cache, not a second copy; the SDK so loaded makes requests.
    assert.deepStrictEqual({ same: got.same, engine: got.engine, sdk: got.sdk, code: got.code }, { same: true, engine: true, sdk: true, code: 'Unreachable' });
  });

  it('loads a precompiled module as require() would: its own require, __filename, __dirname and exports', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-precompile-'));
    try {
      fs.writeFileSync(path.join(dir, 'b.js'), 'module.exports = 41;\n');
      fs.writeFileSync(path.join(dir, 'a.js'), 'exports.answer = require("./b") + 1;\nexports.where = [__filename, __dirname];\nexports.self = module.id === __filename && this === exports;\n');
      const a = fs.realpathSync(path.join(dir, 'a.js'));
      const code = `
const { loadInTurns } = require(${JSON.stringify(ENGINE_LOAD)});
const outcomes = [];
loadInTurns(() => require(${JSON.stringify(a)}), function* () {}, { files: [{ file: ${JSON.stringify(a)} }], onOutcome: (f, o) => outcomes.push(o) }).then((m) =>
  process.stdout.write(JSON.stringify({ outcomes, m, loaded: require.cache[${JSON.stringify(a)}].loaded, compiledByRequire: compiledByRequire.filter((f) => f.length === 4) })));`;
      // a.js came from the worker's cache; the b.js it requires, the usual way.
      assert.deepStrictEqual(inFreshProcess(code), { outcomes: ['cached'], m: { answer: 42, where: [a, path.dirname(a)], self: true }, loaded: true, compiledByRequire: ['b.js'] });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves to require() a bundle the worker cannot set up, one it takes too long with, and one that is not there', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-precompile-'));
    try {
      // A set-up that throws on the worker, one that never ends: both still load here, the usual way.
      fs.writeFileSync(path.join(dir, 'throws.js'), 'exports.value = "throws";\nexports.setUp = () => { throw new Error("no set-up here"); };\n');
      fs.writeFileSync(path.join(dir, 'hangs.js'), 'exports.value = "hangs";\nexports.setUp = () => { for (;;); };\n');
      const file = (n: string): string => fs.realpathSync(path.join(dir, n));
      const run = (files: { file: string; setUp?: string }[]): { outcomes: string[][]; values: string[]; ms: number } => inFreshProcess(`
const { loadInTurns } = require(${JSON.stringify(ENGINE_LOAD)});
const outcomes = [];
const files = ${JSON.stringify(files)};
const t0 = Date.now();
loadInTurns(() => files.map((f) => require(f.file).value), function* () {}, { files, timeoutMs: 1500, onOutcome: (f, o, d) => outcomes.push([require('path').basename(f), o, d]) }).then((values) =>
  process.stdout.write(JSON.stringify({ outcomes, values, ms: Date.now() - t0 })));`);
      const thrown = run([{ file: file('throws.js'), setUp: 'setUp' }]);
      assert.deepStrictEqual(thrown.outcomes, [['throws.js', 'failed', 'no set-up here']]);
      assert.deepStrictEqual(thrown.values, ['throws']);
      const hung = run([{ file: file('hangs.js'), setUp: 'setUp' }]);
      assert.deepStrictEqual(hung.outcomes, [['hangs.js', 'failed', 'timeout']]);
      assert.deepStrictEqual(hung.values, ['hangs']);
      assert.ok(hung.ms >= 1500, `gave up after ${hung.ms} ms`);
      // The worker was stopped: the process ended (inFreshProcess waits for it).
      const missing = path.join(dir, 'missing.js');
      const none = inFreshProcess<{ outcomes: string[][] }>(`
const { loadInTurns } = require(${JSON.stringify(ENGINE_LOAD)});
const outcomes = [];
loadInTurns(() => 1, function* () {}, { files: [{ file: ${JSON.stringify(missing)} }], onOutcome: (f, o, d) => outcomes.push([f, o, d]) }).then(() => process.stdout.write(JSON.stringify({ outcomes })));`);
      assert.deepStrictEqual(none.outcomes, [[missing, 'absent', 'ENOENT']]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
