// The settings panel's host side, inside a real VS Code extension host: real
// webview panel, real user settings, the extension's real SecretStorage, and
// (when S3_TEST_* is set) the real engine against a real S3 server. The panel's
// message handler is driven directly; every message it posts is recorded.
import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import { readConfig, writeConnectionSettings } from '../../src/extension/host/config';
import type { ConnectionReport } from '../../src/core/engine';
import type { ProfileInput } from '../../src/core/storage/profile';
import type { Log } from '../../src/extension/ui/extensionLog';
import type { SecretStore } from '../../src/extension/host/secrets';
import type { FormValues, HostMessage } from '../../src/webview/protocol';
import { SettingsPanel, type SettingsDeps } from '../../src/extension/settings/settingsPanel';
import { requireS3Server, waitFor } from './helpers';

const EXTENSION_ID = 's3-backup.s3-backup';
const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
// Recognisable, and long enough for the scrubber: must never leave the host.
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYsecret0001';
const KEY_ID = 'AKIASETTINGSTEST0001';
const CONFIG_KEYS = ['endpoint', 'region', 'bucket', 'rootPath', 'addressingStyle'] as const;

interface Api {
  secrets: SecretStore;
  log: Log;
  engineHost?: { engineFor(input: ProfileInput): Promise<{ testConnection(o?: { signal?: AbortSignal }): Promise<ConnectionReport> }> };
}

function s3Env(): { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string } | undefined {
  const e = process.env;
  if (!e.S3_TEST_ENDPOINT || !e.S3_TEST_ACCESS_KEY_ID || !e.S3_TEST_SECRET_ACCESS_KEY) return undefined;
  return {
    endpoint: e.S3_TEST_ENDPOINT,
    region: e.S3_TEST_REGION || 'us-east-1',
    accessKeyId: e.S3_TEST_ACCESS_KEY_ID,
    secretAccessKey: e.S3_TEST_SECRET_ACCESS_KEY,
  };
}

async function resetSettings(api: Api): Promise<void> {
  const c = vscode.workspace.getConfiguration('s3Backup');
  for (const k of CONFIG_KEYS) await c.update(k, undefined, vscode.ConfigurationTarget.Global);
  await api.secrets.clear();
}

/** The text of the user settings.json, read through the editor (its location differs per host). */
async function userSettingsText(): Promise<string> {
  await vscode.commands.executeCommand('workbench.action.openSettingsJson');
  const doc = vscode.window.activeTextEditor?.document;
  assert.ok(doc, 'the user settings.json did not open');
  const text = doc.getText();
  await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  return text;
}

describe('settings panel (host side)', function () {
  let api: Api;
  let panel: SettingsPanel;
  let posted: HostMessage[];
  let calls: string[];
  let logged: string[];

  const values = (o: Partial<FormValues> = {}): FormValues => ({
    endpoint: 'http://127.0.0.1:9',
    region: 'us-east-1',
    bucket: 'settings-test-bucket',
    accessKeyId: KEY_ID,
    rootPath: '/team/laptop/',
    addressingStyle: 'auto',
    ...o,
  });
  const results = (): Array<Extract<HostMessage, { type: 'result' }>> =>
    posted.filter((m): m is Extract<HostMessage, { type: 'result' }> => m.type === 'result');
  const lastResult = (): Extract<HostMessage, { type: 'result' }> => {
    const r = results();
    assert.ok(r.length > 0, 'no result was posted');
    return r[r.length - 1];
  };
  const assertNoSecretPosted = (secret = SECRET): void => {
    const all = JSON.stringify(posted);
    assert.ok(!all.includes(secret), 'the secret was posted to the webview');
  };

  before(async function () {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is not installed in this extension host`);
    const exported = (await ext.activate()) as Partial<Api> | undefined;
    assert.ok(exported?.secrets && exported.log, 'activate() returned no test API (secrets, log)');
    api = exported as Api;
  });

  beforeEach(async function () {
    await resetSettings(api);
    posted = [];
    calls = [];
    logged = [];
    const deps: SettingsDeps = {
      readConfig: () => readConfig(),
      saveConfig: (v) => writeConnectionSettings(v),
      secrets: api.secrets,
      testConnection: async (profile, signal) => {
        assert.ok(api.engineHost, 'activate() returned no engineHost');
        return (await api.engineHost.engineFor(profile)).testConnection({ signal });
      },
      backUpNow: async () => void calls.push('backUpNow'),
      revealTree: async () => void calls.push('revealTree'),
      setPassphrase: async () => void calls.push('setPassphrase'),
      hasPassphrase: async () => false,
      logger: {
        trace: (m) => logged.push(m),
        debug: (m) => logged.push(m),
        info: (m) => logged.push(m),
        warn: (m) => logged.push(m),
        error: (m) => logged.push(m),
        addSecrets: (...s) => api.log.addSecrets(...s),
      },
      onDidChange: api.secrets.onDidChange,
    };
    panel = SettingsPanel.show({ extensionUri: vscode.Uri.file(REPO_ROOT) }, deps);
    const webview = panel.panel.webview;
    const original = webview.postMessage.bind(webview);
    const spy = (m: HostMessage): Thenable<boolean> => {
      posted.push(JSON.parse(JSON.stringify(m)) as HostMessage);
      return original(m);
    };
    Object.defineProperty(webview, 'postMessage', { value: spy, configurable: true, writable: true });
  });

  afterEach(async function () {
    panel?.dispose();
    assert.strictEqual(SettingsPanel.currentPanel, undefined, 'the panel did not forget itself on dispose');
    const text = logged.join('\n') + (api.log.captured ?? []).join('\n');
    assert.ok(!text.includes(SECRET), 'the secret reached the log');
    await resetSettings(api);
  });

  it('is one editor panel with scripts, media-only resources and a strict CSP', async () => {
    const again = SettingsPanel.show({ extensionUri: vscode.Uri.file(REPO_ROOT) }, {} as SettingsDeps);
    assert.strictEqual(again, panel, 'a second show() opened another panel');
    const opts = panel.panel.webview.options;
    assert.strictEqual(opts.enableScripts, true);
    assert.deepStrictEqual(
      opts.localResourceRoots?.map((u) => u.toString()),
      [vscode.Uri.joinPath(vscode.Uri.file(REPO_ROOT), 'media').toString()],
    );
    assert.strictEqual(panel.panel.options.retainContextWhenHidden, false);
    const html = panel.panel.webview.html;
    const csp = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)?.[1] ?? '';
    assert.ok(csp.startsWith("default-src 'none'; script-src 'nonce-"), csp);
    assert.ok(csp.includes(`style-src ${panel.panel.webview.cspSource}`), csp);
    assert.ok(!csp.includes('unsafe-inline'));
  });

  it('the real page loads its script under the CSP and says ready', async function () {
    const received: unknown[] = [];
    const sub = panel.panel.webview.onDidReceiveMessage((m: unknown) => received.push(m));
    try {
      // The page may have said it before the listener was added: reload it.
      const html = panel.panel.webview.html;
      panel.panel.webview.html = html.replace('<title>', '<title> ');
      const deadline = Date.now() + 20000;
      while (!received.some((m) => (m as { type?: string })?.type === 'ready') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(received.some((m) => (m as { type?: string })?.type === 'ready'), 'the webview script never said ready');
      // The host answered it with the state.
      const deadline2 = Date.now() + 5000;
      while (!posted.some((m) => m.type === 'init') && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 50));
      assert.ok(posted.some((m) => m.type === 'init'), 'no init after ready');
    } finally {
      sub.dispose();
    }
  });

  it('posts the initial state only after ready, without the secret', async () => {
    await api.secrets.store({ accessKeyId: KEY_ID, secretAccessKey: SECRET });
    await writeConnectionSettings({ endpoint: 'https://s3.eu-west-1.amazonaws.com', bucket: 'b-one' });
    // Whatever the real webview did meanwhile, nothing came before a ready.
    const before = posted.length;
    assert.ok(await panel.handleMessage({ type: 'ready' }));
    const init = posted.slice(before).find((m) => m.type === 'init');
    assert.ok(init && init.type === 'init');
    assert.strictEqual(init.state.secretStored, true);
    assert.strictEqual(init.state.values.accessKeyId, KEY_ID);
    assert.strictEqual(init.state.values.endpoint, 'https://s3.eu-west-1.amazonaws.com');
    assert.strictEqual(init.state.values.bucket, 'b-one');
    assert.strictEqual(init.strings.secretStored.length > 0, true);
    assert.deepStrictEqual(Object.keys(init.state).sort(), ['passphraseStored', 'secretStored', 'values']);
    // Whether a passphrase is stored, never its value.
    assert.strictEqual(init.state.passphraseStored, false);
    assertNoSecretPosted();
  });

  it('saves both keys to SecretStorage and only the rest to settings.json; the secret never goes back', async () => {
    await panel.handleMessage({ type: 'ready' });
    assert.ok(await panel.handleMessage({ type: 'save', values: values(), secretAccessKey: SECRET }));
    const r = lastResult();
    assert.strictEqual(r.action, 'save');
    assert.strictEqual(r.ok, true, r.message);
    assert.deepStrictEqual(r.issues, []);

    const keys = await api.secrets.get();
    assert.strictEqual(keys.accessKeyId, KEY_ID);
    assert.strictEqual(keys.secretAccessKey, SECRET);

    const c = readConfig();
    assert.strictEqual(c.endpoint, 'http://127.0.0.1:9');
    assert.strictEqual(c.bucket, 'settings-test-bucket');
    assert.strictEqual(c.rootPath, 'team/laptop', 'the cleaned root path was saved');
    const all = JSON.stringify(vscode.workspace.getConfiguration('s3Backup'));
    assert.ok(!all.includes(SECRET) && !all.includes(KEY_ID), 'a key is in the s3Backup configuration');

    const text = await userSettingsText();
    assert.ok(text.includes('settings-test-bucket'), 'the saved settings are not in the user settings.json');
    assert.ok(!text.includes(SECRET), 'the secret is in settings.json');
    assert.ok(!text.includes(KEY_ID), 'the access key id is in settings.json');

    const state = posted.filter((m) => m.type === 'state').pop();
    assert.ok(state && state.type === 'state', 'no state was posted after saving');
    assert.strictEqual(state.state.secretStored, true);
    assert.strictEqual(state.state.values.rootPath, 'team/laptop');
    assert.ok(r.notes.length > 0, 'no note said what was cleaned');

    // A reload of the webview (hidden, then shown) asks again.
    await panel.handleMessage({ type: 'ready' });
    assertNoSecretPosted();
  });

  it('keeps the stored secret when none is typed, and Clear removes it', async () => {
    await panel.handleMessage({ type: 'ready' });
    await panel.handleMessage({ type: 'save', values: values(), secretAccessKey: SECRET });
    assert.strictEqual(lastResult().ok, true);
    await panel.handleMessage({ type: 'save', values: values({ bucket: 'another-bucket' }) });
    assert.strictEqual(lastResult().ok, true, lastResult().message);
    assert.strictEqual((await api.secrets.get()).secretAccessKey, SECRET);
    assert.strictEqual(readConfig().bucket, 'another-bucket');

    await panel.handleMessage({ type: 'clearSecret' });
    assert.strictEqual(lastResult().action, 'clearSecret');
    assert.strictEqual(lastResult().ok, true);
    assert.strictEqual(await api.secrets.hasSecret(), false);
    assert.strictEqual((await api.secrets.get()).accessKeyId, KEY_ID, 'Clear removed the access key id too');
    const state = posted.filter((m) => m.type === 'state').pop();
    assert.ok(state && state.type === 'state' && state.state.secretStored === false);
    assertNoSecretPosted();
  });

  it('refuses invalid messages and posts nothing for them', async () => {
    await panel.handleMessage({ type: 'ready' });
    const before = posted.length;
    const bad: unknown[] = [
      undefined,
      'save',
      { type: 'getSecret' },
      { type: 'save' },
      { type: 'save', values: values(), secretAccessKey: SECRET, extra: 1 },
      { type: 'save', values: { ...values(), secretAccessKey: SECRET } },
      { type: 'save', values: { ...values(), addressingStyle: 'dns' }, secretAccessKey: SECRET },
      { type: 'validate', seq: 'x', values: values() },
    ];
    for (const m of bad) assert.strictEqual(await panel.handleMessage(m), false, `accepted ${JSON.stringify(m)}`);
    assert.strictEqual(posted.length, before, 'something was posted for an invalid message');
    assert.strictEqual(await api.secrets.hasSecret(), false, 'an invalid message stored a secret');
    assert.strictEqual(readConfig().bucket, '', 'an invalid message saved settings');
    assert.ok(logged.some((l) => l.includes('Refused a message')), 'refusals are not logged');
  });

  it('returns validation errors per field, inline and on save, and saves nothing invalid', async () => {
    await panel.handleMessage({ type: 'ready' });
    await panel.handleMessage({
      type: 'validate',
      seq: 7,
      values: values({ endpoint: 'ftp://example.com', bucket: 'a', rootPath: 'x/../y', accessKeyId: 'has space', region: 'eu west' }),
    });
    const v = posted.filter((m) => m.type === 'validation').pop();
    assert.ok(v && v.type === 'validation');
    assert.strictEqual(v.seq, 7);
    const fields = v.issues.map((i) => i.field).sort();
    assert.deepStrictEqual(fields, ['accessKeyId', 'bucket', 'endpoint', 'region', 'rootPath']);
    for (const i of v.issues) assert.ok(i.message.length > 10, `empty message for ${i.field}`);

    // Inline validation does not nag about what is not typed yet.
    await panel.handleMessage({ type: 'validate', seq: 8, values: values({ accessKeyId: '' }) });
    const v2 = posted.filter((m) => m.type === 'validation').pop();
    assert.ok(v2 && v2.type === 'validation' && v2.seq === 8);
    assert.deepStrictEqual(v2.issues, []);

    // Save requires both keys.
    await panel.handleMessage({ type: 'save', values: values({ accessKeyId: '', bucket: '' }) });
    const r = lastResult();
    assert.strictEqual(r.ok, false);
    assert.deepStrictEqual(r.issues.map((i) => i.field).sort(), ['accessKeyId', 'bucket', 'secretAccessKey']);
    assert.strictEqual(readConfig().endpoint, '', 'an invalid form was saved');
    assert.strictEqual((await api.secrets.get()).accessKeyId, undefined);

    // Test Connection validates the same way, before touching the network.
    await panel.handleMessage({ type: 'test', values: values({ endpoint: '' }), secretAccessKey: SECRET });
    const t = lastResult();
    assert.strictEqual(t.action, 'test');
    assert.strictEqual(t.ok, false);
    assert.deepStrictEqual(t.issues.map((i) => i.field), ['endpoint']);
    assertNoSecretPosted();
  });

  it('Back Up Workspace and Manage run their commands', async () => {
    await panel.handleMessage({ type: 'ready' });
    await panel.handleMessage({ type: 'backUpNow' });
    await panel.handleMessage({ type: 'manage' });
    assert.deepStrictEqual(calls, ['backUpNow', 'revealTree']);
    assert.deepStrictEqual(
      results().map((r) => [r.action, r.ok]),
      [
        ['backUpNow', true],
        ['manage', true],
      ],
    );
  });

  it('"Set Up Automatic Backups…" opens the settings editor on s3Backup.autoBackup', async () => {
    await panel.handleMessage({ type: 'ready' });
    const before = results().length;
    await panel.handleMessage({ type: 'autoBackup' });
    const settingsTab = (): vscode.Tab | undefined => vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => /^(User )?Settings$/.test(t.label));
    const tab = await waitFor('the settings editor', () => settingsTab());
    assert.strictEqual(results().length, before, 'no result message: nothing ran in the page');
    // Closed again, so later suites find the window as they expect it.
    await vscode.window.tabGroups.close(tab);
    await waitFor('the settings editor to close', () => !settingsTab());
  });

  describe('Test Connection against the real S3 server', function () {
    let bucket: string;
    let dropBucket: (() => Promise<void>) | undefined;

    before(async function () {
      requireS3Server();
      const env = s3Env()!;
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
       
      const sdk = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
      const client = new sdk.S3Client({
        endpoint: env.endpoint,
        region: env.region,
        forcePathStyle: true,
        credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
      });
      bucket = `s3b-settings-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
      await client.send(new sdk.CreateBucketCommand({ Bucket: bucket }));
      dropBucket = async () => {
        await client.send(new sdk.DeleteBucketCommand({ Bucket: bucket }));
        client.destroy();
      };
    });

    after(async function () {
      await dropBucket?.();
    });

    it('a wrong secret: the bucket step fails with the plain message, the secret field is marked', async () => {
      const env = s3Env()!;
      const wrong = `${env.secretAccessKey.slice(0, -4)}XXXX`;
      await panel.handleMessage({ type: 'ready' });
      await panel.handleMessage({
        type: 'test',
        values: values({ endpoint: env.endpoint, region: env.region, bucket, accessKeyId: env.accessKeyId }),
        secretAccessKey: wrong,
      });
      const r = lastResult();
      assert.strictEqual(r.action, 'test');
      assert.strictEqual(r.ok, false);
      assert.ok(r.steps, 'no steps');
      assert.strictEqual(r.steps[0].step, 'bucket');
      assert.strictEqual(r.steps[0].status, 'failed');
      assert.ok(r.steps[0].message && /secret access key/i.test(r.steps[0].message), r.steps[0].message);
      assert.deepStrictEqual(r.steps.slice(1).map((s) => s.status), ['skipped', 'skipped', 'skipped']);
      assert.ok(r.issues.some((i) => i.field === 'secretAccessKey'));
      assertNoSecretPosted(wrong);
      assertNoSecretPosted(env.secretAccessKey);
      assert.ok(!logged.join('\n').includes(wrong), 'the typed secret reached the log');
    });

    it('the right secret, typed and then stored: every step passes', async () => {
      const env = s3Env()!;
      const form = values({ endpoint: env.endpoint, region: env.region, bucket, accessKeyId: env.accessKeyId, rootPath: 'probe' });
      await panel.handleMessage({ type: 'ready' });
      await panel.handleMessage({ type: 'test', values: form, secretAccessKey: env.secretAccessKey });
      let r = lastResult();
      assert.strictEqual(r.ok, true, r.message);
      assert.deepStrictEqual(
        r.steps?.map((s) => [s.step, s.status]),
        [
          ['bucket', 'ok'],
          ['write', 'ok'],
          ['read', 'ok'],
          ['delete', 'ok'],
        ],
      );
      // Saved, then tested with nothing typed: the stored secret is used.
      await panel.handleMessage({ type: 'save', values: form, secretAccessKey: env.secretAccessKey });
      assert.strictEqual(lastResult().ok, true);
      await panel.handleMessage({ type: 'test', values: form });
      r = lastResult();
      assert.strictEqual(r.action, 'test');
      assert.strictEqual(r.ok, true, r.message);
      assertNoSecretPosted(env.secretAccessKey);
    });
  });
});
