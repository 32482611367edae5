// The engine's first use in turns of the event loop (src/extension/host/engineLoad.ts).
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { isBuiltin } from 'module';
import * as path from 'path';
import { SDK_LAYERS } from '../../src/core/storage/sdkModules';
import { ENGINE_BUILTINS, loadInTurns } from '../../src/extension/host/engineLoad';

const ROOT = path.join(__dirname, '..', '..', '..');
const BUNDLE = path.join(ROOT, 'dist', 'engine.js');
const SDK_BUNDLE = path.join(ROOT, 'dist', 'sdk.js');
const PROFILE = path.join(ROOT, 'out', 'src', 'core', 'storage', 'profile.js');

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
});
