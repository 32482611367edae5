import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import type { TestApi } from '../../src/extension/extension';
import { EXTENSION_ID } from './helpers';

// Runs first (files load in name order) and imports nothing heavy itself, so
// what is in require.cache afterwards is what activation loaded.
describe('activation', () => {
  it('activate() only wires: fast, and does not load the engine bundle (AWS SDK, archiver)', async () => {
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

    // The engine (AWS SDK, archiver) is its own bundle, dist/engine.js: activation must not have required it.
    const engineBundle = path.join(ext.extensionPath, 'dist', 'engine.js');
    const loaded = (): boolean => Object.keys(require.cache).some((k) => path.resolve(k) === engineBundle);
    assert.strictEqual(loaded(), false, `${engineBundle} was loaded during activation`);
    assert.strictEqual(api.engineHost.engineLoaded, false, 'the engine module was loaded during activation');

    // The same check sees the bundle once something needs the engine (so it can fail).
    await assert.rejects(api.engineHost.undo(path.join(ext.extensionPath, 'no-such-snapshot')), (e: { code?: string }) => e.code === 'NotFound');
    assert.strictEqual(loaded(), true, 'the engine bundle is not in require.cache after first use: the check above proves nothing');
    assert.strictEqual(api.engineHost.engineLoaded, true);
    // Compiled on a worker thread and loaded from its code cache (host/engineLoad.ts), here in the real extension host too;
    // an undo record needs no SDK, so dist/sdk.js is not loaded for it.
    const captured = api.log.captured ?? [];
    assert.ok(captured.some((l) => l.includes('[host] engine.js compiled: cached')), `log: ${captured.filter((l) => l.includes('[host]')).join(' | ')}`);
    const sdkBundle = path.join(ext.extensionPath, 'dist', 'sdk.js');
    assert.ok(!Object.keys(require.cache).some((k) => path.resolve(k) === sdkBundle), 'the SDK was loaded for an undo');
  });
});
