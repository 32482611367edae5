// npm start's S3 server (scripts/sandboxS3.js) checks signatures like a real
// provider: Test Connection with a wrong secret fails with SignatureMismatch,
// with the right one every step passes. Starts its own RGW (about 15 s).
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BackupEngine } from '../../src/core/engine';
import { normalizeProfile, type Profile } from '../../src/core/storage/profile';

const ROOT = path.resolve(__dirname, '..', '..', '..');

interface Sandbox {
  endpoint: string;
  region: string;
  keys: { accessKeyId: string; secretAccessKey: string };
  stop(): void;
}

describe('npm start sandbox S3 server', function () {
  this.timeout(240000);
  let sandbox: Sandbox | undefined;
  let dir: string;

  before(async function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-sbx-'));
    const { startSandboxS3 } = require(path.join(ROOT, 'scripts', 'sandboxS3.js')) as {
      startSandboxS3(o: { dir: string; bucket: string }): Promise<Sandbox>;
    };
    sandbox = await startSandboxS3({ dir, bucket: 'sandbox' });
  });

  after(() => {
    sandbox?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function profile(secretAccessKey: string): Profile {
    const r = normalizeProfile(
      { endpoint: sandbox!.endpoint, region: sandbox!.region, bucket: 'sandbox', accessKeyId: sandbox!.keys.accessKeyId, secretAccessKey },
      { requireCredentials: true },
    );
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    return r.profile;
  }

  it('listens on loopback (the only endpoints the extension imports sandbox keys for)', () => {
    assert.match(sandbox!.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('a wrong secret fails Test Connection with SignatureMismatch, as on a real provider', async () => {
    const wrong = `${sandbox!.keys.secretAccessKey.slice(0, -4)}XXXX`;
    const report = await new BackupEngine(profile(wrong), { hostname: 'sandbox-test' }).testConnection();
    assert.strictEqual(report.ok, false);
    const first = report.steps[0];
    assert.strictEqual(first.step, 'bucket');
    assert.strictEqual(first.ok, false);
    assert.strictEqual(first.error?.code, 'SignatureMismatch');
  });

  it('the sandbox keys pass every step', async () => {
    const report = await new BackupEngine(profile(sandbox!.keys.secretAccessKey), { hostname: 'sandbox-test' }).testConnection();
    assert.ok(report.ok, JSON.stringify(report.steps.map((s) => [s.step, s.ok, s.error?.code])));
  });
});
