// The first command after the window opens: npm start's keys are imported
// after activate() returned, and EngineHost makes every reader of the keys
// wait for that import, so the command never sees "not valid (accessKeyId,
// secretAccessKey)". Real extension host, real settings, the real import.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { writeConnectionSettings } from '../../../src/extension/host/config';
import { EngineHost } from '../../../src/extension/host/engineHost';
import { importSandboxCredentials, SANDBOX_CREDENTIALS_ENV } from '../../../src/extension/host/sandbox';
import { SecretStore } from '../../../src/extension/host/secrets';
import { getApi } from '../helpers';

/** SecretStorage in memory: this test must not touch the extension's own keys. */
function memoryStorage(): vscode.SecretStorage {
  const values = new Map<string, string>();
  const changed = new vscode.EventEmitter<vscode.SecretStorageChangeEvent>();
  return {
    get: async (k: string) => values.get(k),
    store: async (k: string, v: string) => {
      values.set(k, v);
      changed.fire({ key: k });
    },
    delete: async (k: string) => {
      values.delete(k);
      changed.fire({ key: k });
    },
    onDidChange: changed.event,
  } as unknown as vscode.SecretStorage;
}

describe('EngineHost waits for the sandbox key import', () => {
  let dir: string;
  let file: string;
  const hosts: EngineHost[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-ready-'));
    file = path.join(dir, 'sandbox-credentials.json');
    fs.writeFileSync(file, JSON.stringify({ accessKeyId: 'SANDBOXKEY', secretAccessKey: 'sandbox-secret-0123456789' }));
    await writeConnectionSettings({ endpoint: 'http://127.0.0.1:4568', bucket: 'sandbox', region: 'us-east-1' });
  });

  after(async () => {
    for (const h of hosts) h.dispose();
    await writeConnectionSettings({ endpoint: '', bucket: '', region: '' });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function hostAfterImport(gated: boolean): Promise<EngineHost> {
    const api = await getApi();
    const secrets = new SecretStore(memoryStorage());
    // As activate() does it: the import starts, and is not awaited.
    const ready = importSandboxCredentials(secrets, api.log.for('sandbox'), { env: { [SANDBOX_CREDENTIALS_ENV]: file } });
    const host = new EngineHost({ secrets, log: api.log, storageDir: dir, ready: gated ? ready : undefined });
    hosts.push(host);
    return host;
  }

  it('a profile read right after activation has the imported keys', async () => {
    const host = await hostAfterImport(true);
    const p = await host.profile();
    assert.strictEqual(p.accessKeyId, 'SANDBOXKEY');
    assert.strictEqual(p.endpoint, 'http://127.0.0.1:4568');
    assert.strictEqual(await host.isConfigured(), true);
  });

  it('without the gate the same read fails as users saw it (so the test above can fail)', async () => {
    const host = await hostAfterImport(false);
    await assert.rejects(host.profile(), (e: { code?: string; params?: { fields?: string } }) => {
      assert.strictEqual(e.code, 'InvalidProfile');
      return true;
    });
  });

  it('activation hands the import to the extension\'s own EngineHost without waiting for it', async () => {
    const api = await getApi();
    assert.ok(api.sandbox, 'the test API has no sandbox promise');
    // This host was started without the variable: nothing to import, and the gate is open.
    assert.strictEqual(await api.sandbox, 'none');
    await api.engineHost.whenReady();
  });
});
