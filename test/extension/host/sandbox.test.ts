// src/sandbox.ts: the `npm start` keys reach SecretStorage only under all three conditions, and never the log.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { importSandboxCredentials, isLoopbackEndpoint, SANDBOX_CREDENTIALS_ENV } from '../../../src/extension/host/sandbox';
import type { Credentials } from '../../../src/extension/host/secrets';

class MemorySecrets {
  stored: Credentials = {};
  async get(): Promise<Credentials> {
    return { ...this.stored };
  }
  async store(c: Credentials): Promise<void> {
    this.stored = { ...this.stored, ...c };
  }
}

function logger(lines: string[]) {
  const add = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { trace: add('trace'), debug: add('debug'), info: add('info'), warn: add('warn'), error: add('error') };
}

describe('sandbox credentials (npm start)', () => {
  const secret = 'sandbox-secret-value-9f2c';
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-sandbox-'));
    file = path.join(dir, 'keys.json');
    fs.writeFileSync(file, JSON.stringify({ accessKeyId: 'S3RVER', secretAccessKey: secret }));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('knows loopback endpoints', () => {
    for (const e of ['http://127.0.0.1:4568', 'http://localhost:9000', 'https://127.1.2.3', 'http://[::1]:4568']) assert.ok(isLoopbackEndpoint(e), e);
    for (const e of ['https://s3.amazonaws.com', 'http://10.0.0.1:9000', 'http://127.0.0.1.nip.io', 'http://localhost.evil.com', '', 'not a url']) {
      assert.ok(!isLoopbackEndpoint(e), e);
    }
  });

  it('imports the keys once for a loopback endpoint, keeps the file, and logs no value', async () => {
    const secrets = new MemorySecrets();
    const lines: string[] = [];
    const env = { [SANDBOX_CREDENTIALS_ENV]: file };
    assert.strictEqual(await importSandboxCredentials(secrets, logger(lines), { env, endpoint: () => 'http://127.0.0.1:4568' }), 'imported');
    assert.deepStrictEqual(secrets.stored, { accessKeyId: 'S3RVER', secretAccessKey: secret });
    assert.ok(fs.existsSync(file), 'the file is left alone');
    assert.ok(!lines.join('\n').includes(secret) && !lines.join('\n').includes('S3RVER'), lines.join('\n'));
    // Keys are stored now: a second start changes nothing, even when the file says otherwise.
    fs.writeFileSync(file, JSON.stringify({ accessKeyId: 'OTHER', secretAccessKey: 'other' }));
    assert.strictEqual(await importSandboxCredentials(secrets, logger(lines), { env, endpoint: () => 'http://127.0.0.1:4568' }), 'present');
    assert.strictEqual(secrets.stored.accessKeyId, 'S3RVER');
  });

  it('does nothing without the variable, for a remote endpoint, or over a user\'s own keys', async () => {
    const lines: string[] = [];
    const none = new MemorySecrets();
    assert.strictEqual(await importSandboxCredentials(none, logger(lines), { env: {}, endpoint: () => 'http://127.0.0.1:4568' }), 'none');
    const remote = new MemorySecrets();
    const env = { [SANDBOX_CREDENTIALS_ENV]: file };
    assert.strictEqual(await importSandboxCredentials(remote, logger(lines), { env, endpoint: () => 'https://s3.eu-west-1.amazonaws.com' }), 'none');
    const own = new MemorySecrets();
    own.stored = { accessKeyId: 'MINE', secretAccessKey: 'mine' };
    assert.strictEqual(await importSandboxCredentials(own, logger(lines), { env, endpoint: () => 'http://localhost:9000' }), 'present');
    assert.deepStrictEqual([none.stored, remote.stored, own.stored], [{}, {}, { accessKeyId: 'MINE', secretAccessKey: 'mine' }]);
  });

  it('replaces the keys of the retired s3rver sandbox, which belong to no user', async () => {
    const secrets = new MemorySecrets();
    secrets.stored = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
    fs.writeFileSync(file, JSON.stringify({ accessKeyId: 'S3BACKUPTEST', secretAccessKey: secret }));
    const env = { [SANDBOX_CREDENTIALS_ENV]: file };
    assert.strictEqual(await importSandboxCredentials(secrets, logger([]), { env, endpoint: () => 'http://127.0.0.1:4568' }), 'imported');
    assert.deepStrictEqual(secrets.stored, { accessKeyId: 'S3BACKUPTEST', secretAccessKey: secret });
  });

  it('never logs the content of a malformed file', async () => {
    fs.writeFileSync(file, `{"secretAccessKey": "${secret}"`);
    const lines: string[] = [];
    const secrets = new MemorySecrets();
    const env = { [SANDBOX_CREDENTIALS_ENV]: file };
    assert.strictEqual(await importSandboxCredentials(secrets, logger(lines), { env, endpoint: () => 'http://127.0.0.1:1' }), 'none');
    assert.ok(lines.some((l) => l.startsWith('warn')), 'a warning says why');
    assert.ok(!lines.join('\n').includes(secret), lines.join('\n'));
    assert.deepStrictEqual(secrets.stored, {});
  });
});
