import * as assert from 'assert';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { BackupEngine } from '../../src/core/engine';
import { S3Store } from '../../src/core/storage/s3Store';
import { normalizeProfile, type Profile } from '../../src/core/storage/profile';
import { BackupError } from '../../src/core/util/engineErrors';
import { createTestBucket, requireS3Server, s3TestEnv, startFaultProxy, type TestBucket } from '../helpers/s3';

/** A TCP server that accepts every connection and never answers (keeps the sockets open). */
async function silentServer(): Promise<{ endpoint: string; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.resume(); // read the request, answer nothing
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function profileFor(endpoint: string): Profile {
  const r = normalizeProfile(
    { endpoint, region: 'us-east-1', bucket: 'silent', accessKeyId: 'AKSILENTTEST', secretAccessKey: 'silent-secret-value-1234567890', rootPath: 'backups' },
    { requireCredentials: true },
  );
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join(' '));
  return r.profile;
}

/** Runs `op`, expects the plain 'Timeout' sentence, and returns how long it took. */
async function timesOut(what: string, op: () => Promise<unknown>): Promise<{ what: string; ms: number }> {
  const t0 = Date.now();
  let caught: unknown;
  try {
    await op();
  } catch (e) {
    caught = e;
  }
  const ms = Date.now() - t0;
  assert.ok(caught instanceof BackupError, `${what}: expected a BackupError, got ${String(caught)}`);
  assert.strictEqual(caught.code, 'Timeout', `${what}: ${caught.code}: ${caught.message}`);
  assert.match(caught.message, /^The server at http:\/\/127\.0\.0\.1:\d+ did not answer in time\.$/, what);
  return { what, ms };
}

describe('a server that accepts connections and never answers', function () {
  this.timeout(180_000);
  let tmp: string;
  const servers: Array<Awaited<ReturnType<typeof silentServer>>> = [];
  const engines: BackupEngine[] = [];

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-silent-'));
    fs.writeFileSync(path.join(tmp, 'a.txt'), 'to back up\n');
  });
  after(async () => {
    for (const e of engines) e.dispose();
    for (const s of servers) await s.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('ends list, head, get, test-connection and backup with "did not answer" well before the SDK would (4 x 60 s), after retrying', async () => {
    // One server per operation, run side by side: each one's connections are its own attempts.
    const ops: Array<[string, (engine: BackupEngine) => Promise<unknown>]> = [
      ['list', (e) => e.listAll()],
      ['head (delete asks first)', (e) => e.delete('backups/20260101-000000_h_workspace_abcdef12.zip')],
      ['get (verify downloads)', (e) => e.verify('backups/20260101-000000_h_workspace_abcdef12.zip')],
      [
        'test-connection',
        async (e) => {
          const r = await e.testConnection();
          assert.deepStrictEqual(r.steps.map((s) => [s.step, s.ok]), [['bucket', false]]);
          throw r.steps[0].error;
        },
      ],
      ['backup', (e) => e.backup({ kind: 'workspace', folders: [{ name: 'app', path: tmp }] })],
    ];
    const runs = await Promise.all(
      ops.map(async ([what, op]) => {
        const server = await silentServer();
        servers.push(server);
        const engine = new BackupEngine(profileFor(server.endpoint), { tmpDir: tmp });
        engines.push(engine);
        const r = await timesOut(what, () => op(engine));
        return { ...r, attempts: server.connections() };
      }),
    );
    for (const r of runs) {
      console.log(`      ${r.what}: Timeout after ${(r.ms / 1000).toFixed(1)} s, ${r.attempts} connection(s)`);
      // A functional bound (about 30 s by design), not a benchmark: the SDK alone took about 250 s.
      assert.ok(r.ms < 45_000, `${r.what} took ${r.ms} ms`);
      assert.ok(r.attempts >= 2, `${r.what}: a silent attempt is retried within the budget (${r.attempts} connections)`);
    }
    assert.deepStrictEqual(fs.readdirSync(tmp).sort(), ['a.txt'], 'nothing left in the temp folder');
  });
});

describe('real transient errors are still retried', function () {
  this.timeout(120_000);
  let bucket: TestBucket;
  before(async () => {
    requireS3Server();
    bucket = await createTestBucket('transient');
  });
  after(async () => bucket?.cleanup());

  it('two 503 answers, then the real server: the listing succeeds on the third attempt', async () => {
    let failures = 0;
    const proxy = await startFaultProxy(() => (failures++ < 2 ? { status: 503, code: 'ServiceUnavailable' } : undefined));
    const store = new S3Store({ ...bucket.profile, endpoint: proxy.endpoint });
    try {
      await bucket.putObject('x/one.txt', 'one');
      const page = await store.listPage('x/');
      assert.deepStrictEqual(page.objects.map((o) => o.key), ['x/one.txt']);
      assert.strictEqual(proxy.requests.length, 3, JSON.stringify(proxy.requests));
    } finally {
      store.destroy();
      await proxy.close();
    }
  });
});

describe('a slow uplink is not a silent server', function () {
  this.timeout(120_000);
  let bucket: TestBucket;
  before(async () => {
    requireS3Server();
    bucket = await createTestBucket('slowput');
  });
  after(async () => bucket?.cleanup());

  /** Forwards to the real server, but holds every PUT's body for `holdMs` first, as a slow link would. */
  async function slowUplink(holdMs: number): Promise<{ endpoint: string; close: () => Promise<void> }> {
    const target = new URL(s3TestEnv().endpoint);
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        setTimeout(() => {
          const up = http.request({ host: target.hostname, port: target.port || 80, method: req.method, path: req.url, headers: req.headers }, (r) => {
            res.writeHead(r.statusCode ?? 502, r.headers);
            r.pipe(res);
          });
          up.on('error', () => res.destroy());
          up.end(Buffer.concat(chunks));
        }, req.method === 'PUT' ? holdMs : 0);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
    };
  }

  it('a small put gets time for its body on top of the budget; one with no body beyond the budget still times out', async () => {
    const proxy = await slowUplink(2500);
    // Budget 1 s; the body's 600 KiB at the slowest rate allowed (200 KiB/s) adds 3 s.
    const store = new S3Store({ ...bucket.profile, endpoint: proxy.endpoint }, { callBudgetMs: 1000, minUploadBytesPerSec: 200 * 1024 });
    try {
      const body = Buffer.alloc(600 * 1024, 7);
      await store.putBuffer('slow/manifest.bin', body, { contentType: 'application/octet-stream' });
      const back = await bucket.getObject('slow/manifest.bin');
      assert.ok(back.equals(body), 'the object arrived whole');
      // A tiny body adds almost nothing: held 2.5 s against a 1 s budget is "did not answer".
      await assert.rejects(store.putBuffer('slow/tiny.bin', Buffer.from('x')), (e: unknown) => e instanceof BackupError && e.code === 'Timeout');
    } finally {
      store.destroy();
      await proxy.close();
    }
  });
});
