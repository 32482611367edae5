import * as assert from 'assert';
import * as vscode from 'vscode';
import type { TestApi } from '../../src/extension/extension';
import { EXTENSION_ID } from './helpers';

// Runs first (files load in name order) and imports nothing heavy itself, so
// what is in require.cache afterwards is what activation loaded.
describe('activation', () => {
  it('activate() only wires: fast, and loads neither the AWS SDK nor jszip', async () => {
    const ext = vscode.extensions.getExtension<TestApi | undefined>(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is not loaded in this extension host`);
    const wasActive = ext.isActive;
    const started = performance.now();
    const api = await ext.activate();
    const wallMs = performance.now() - started;
    assert.ok(api, 'no test API: the extension host is not in Test mode');
    console.log(
      `[activation] activate() took ${api.activationMs.toFixed(1)} ms; ext.activate() incl. loading the bundle ${wallMs.toFixed(1)} ms${
        wasActive ? ' (was already active)' : ''
      }`,
    );
    assert.ok(api.activationMs < 200, `activate() took ${api.activationMs.toFixed(1)} ms`);
    if (!wasActive) assert.ok(wallMs < 1000, `loading and activating took ${wallMs.toFixed(1)} ms`);

    const heavy = Object.keys(require.cache).filter((k) => /[\\/]node_modules[\\/](@aws-sdk|@smithy|jszip)[\\/]/.test(k));
    assert.deepStrictEqual(heavy, [], 'modules loaded by activation');
    // The bundle holds the engine too, but as a lazily initialised module: it must not have run.
    assert.strictEqual(api.engineHost.engineLoaded, false, 'the engine module was loaded during activation');
  });
});
