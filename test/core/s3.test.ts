import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Readable } from 'stream';
import { BackupError, CancelledError, toBackupError } from '../../src/core/util/engineErrors';
import { makeBackupKey } from '../../src/core/format/backupKeys';
import type { Profile } from '../../src/core/storage/profile';
import { PART_SIZE, S3Store, type S3StoreOptions } from '../../src/core/storage/s3Store';
import { createTestBucket, s3TestEnv, startFaultProxy, unusedPort, type FaultProxy, type FaultRule, type TestBucket } from '../helpers/s3';

const MiB = 1024 * 1024;

/** A readable of `size` random bytes, produced in 1 MiB chunks; `gate(offset)` may hold it back. */
function randomStream(data: Buffer, gate?: (offset: number) => Promise<void> | undefined): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= data.length) {
        this.push(null);
        return;
      }
      const wait = gate?.(offset);
      const push = (): void => {
        const chunk = data.subarray(offset, Math.min(offset + MiB, data.length));
        offset += chunk.length;
        this.push(chunk);
      };
      if (wait) void wait.then(push);
      else push();
    },
  });
}

async function expectError(p: Promise<unknown>, code: string): Promise<BackupError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof BackupError, `expected a BackupError, got ${String(e)}`);
    assert.strictEqual(e.code, code, `${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

/** Everything a user or a log could see of an error. */
function visible(e: BackupError): string {
  return `${e.message} ${e.hint ?? ''} ${JSON.stringify(e.params)} ${e.stack ?? ''}`;
}

describe('S3Store (real S3)', function () {
  this.timeout(180_000);
  let tb: TestBucket;
  let store: S3Store;
  let work: string;
  const stores: S3Store[] = [];
  const proxies: FaultProxy[] = [];

  const makeStore = (profile: Profile, o: S3StoreOptions = {}): S3Store => {
    const s = new S3Store(profile, { tmpDir: work, ...o });
    stores.push(s);
    return s;
  };
  const viaProxy = async (rule: FaultRule, o: S3StoreOptions = {}, rootPath = ''): Promise<{ store: S3Store; proxy: FaultProxy }> => {
    const proxy = await startFaultProxy(rule);
    proxies.push(proxy);
    return { store: makeStore({ ...tb.profileAt(rootPath), endpoint: proxy.endpoint }, o), proxy };
  };

  before(async () => {
    tb = await createTestBucket('s3store');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-s3-'));
    store = makeStore(tb.profile);
  });

  after(async () => {
    for (const p of proxies) await p.close();
    for (const s of stores) s.destroy();
    await tb?.cleanup();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('importing s3Store.ts does not load the AWS SDK; first use does', () => {
    const mod = path.resolve(__dirname, '../../src/core/storage/s3Store.js');
    const script = `
      require(${JSON.stringify(mod)});
      const before = Object.keys(require.cache).filter((p) => p.includes('@aws-sdk')).length;
      const { S3Store } = require(${JSON.stringify(mod)});
      const s = new S3Store({ endpoint: 'http://127.0.0.1:1', region: 'us-east-1', bucket: 'bbb', accessKeyId: 'a', secretAccessKey: 'b', rootPath: '', addressingStyle: 'auto', forcePathStyle: true });
      s.listPage('', { maxKeys: 1 }).catch(() => undefined).finally(() => {
        const after = Object.keys(require.cache).filter((p) => p.includes('@aws-sdk')).length;
        console.log(JSON.stringify({ before, after }));
        s.destroy();
      });`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim()) as { before: number; after: number };
    assert.strictEqual(out.before, 0, 'no @aws-sdk module in require.cache after importing s3Store.js');
    assert.ok(out.after > 0, 'the SDK is loaded on first use');
  });

  describe('upload and download', () => {
    it('round-trips a small object', async () => {
      const data = crypto.randomBytes(1234);
      const key = makeBackupKey('rt', { time: new Date(), host: 'test', kind: 'workspace' });
      const sent: number[] = [];
      const res = await store.upload(key, Readable.from([data]), { onProgress: (b) => sent.push(b) });
      assert.strictEqual(res.size, data.length);
      assert.strictEqual(res.multipart, false);
      assert.ok(res.etag && res.etag.length > 2, 'etag from HeadObject');
      assert.strictEqual(sent[sent.length - 1], data.length);
      assert.ok((await tb.getObject(key)).equals(data));

      const dest = path.join(work, 'small.bin');
      const seen: Array<[number, number]> = [];
      const dl = await store.download(key, dest, { onProgress: (b, t) => seen.push([b, t]) });
      assert.strictEqual(dl.size, data.length);
      assert.ok(fs.readFileSync(dest).equals(data));
      assert.deepStrictEqual(seen[seen.length - 1], [data.length, data.length]);
      assert.deepStrictEqual(fs.readdirSync(work).filter((f) => f.endsWith('.part')), []);
      const head = await store.head(key);
      assert.strictEqual(head?.size, data.length);
      assert.strictEqual(await store.head(`${key}.missing`), undefined);
    });

    it('round-trips 20 MB through multipart (5 MiB parts, real ETag, progress)', async () => {
      const partCount = Math.ceil((20 * MiB) / PART_SIZE);
      const data = crypto.randomBytes(20 * MiB);
      const { store: s, proxy } = await viaProxy(() => undefined);
      const key = 'rt/20mb.zip';
      const sent: number[] = [];
      const t0 = Date.now();
      const res = await s.upload(key, randomStream(data), { onProgress: (b) => sent.push(b) });
      const upMs = Date.now() - t0;
      assert.strictEqual(res.size, data.length);
      assert.strictEqual(res.multipart, true);
      assert.strictEqual(partCount, 4);
      assert.ok(res.etag && new RegExp(`-${partCount}"?$`).test(res.etag), `multipart ETag from HeadObject: ${res.etag}`);
      assert.strictEqual(proxy.requests.filter((r) => r.startsWith('PUT') && r.includes('partNumber=')).length, partCount);
      assert.ok(proxy.requests.some((r) => r.startsWith('POST') && r.includes('uploads')));
      assert.ok(sent.length >= partCount && sent[sent.length - 1] === data.length, `progress: ${sent.join(',')}`);
      for (let i = 1; i < sent.length; i++) assert.ok(sent[i] >= sent[i - 1]);

      const dest = path.join(work, 'big.bin');
      const t1 = Date.now();
      await store.download(key, dest);
      const downMs = Date.now() - t1;
      assert.ok(fs.readFileSync(dest).equals(data));
      assert.deepStrictEqual(await tb.listMultipartUploads(), []);
      console.log(`      20 MiB: upload ${upMs} ms, download ${downMs} ms`);
    });

    it('passes the size through and checks it', async () => {
      const data = crypto.randomBytes(9 * MiB);
      const res = await store.upload('rt/sized.zip', randomStream(data), { size: data.length });
      assert.strictEqual(res.size, data.length);
      await expectError(store.upload('rt/sized-wrong.zip', randomStream(data), { size: data.length + 10 }), 'Integrity');
      assert.deepStrictEqual(await tb.listObjects('rt/sized-wrong'), []);
      assert.deepStrictEqual(await tb.listMultipartUploads(), []);
    });

    it('never overwrites: an existing key fails with AlreadyExists, small and multipart', async () => {
      await tb.putObject('rt/exists.zip', 'original');
      const e1 = await expectError(store.upload('rt/exists.zip', Readable.from([Buffer.from('new')])), 'AlreadyExists');
      assert.match(e1.message, /rt\/exists\.zip/);
      await expectError(store.upload('rt/exists.zip', randomStream(crypto.randomBytes(20 * MiB))), 'AlreadyExists');
      await expectError(store.putBuffer('rt/exists.zip', Buffer.from('new')), 'AlreadyExists');
      assert.strictEqual((await tb.getObject('rt/exists.zip')).toString(), 'original');
      assert.deepStrictEqual(await tb.listMultipartUploads(), []);
    });

    it('If-None-Match is enforced by the server on PutObject (not only our HeadObject)', async () => {
      // The object appears after our HeadObject, before the single PutObject.
      const key = 'rt/race-small.zip';
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const body = randomStream(Buffer.from('mine'), () => gate);
      const p = store.upload(key, body);
      await new Promise((r) => setTimeout(r, 300));
      await tb.putObject(key, 'theirs');
      release();
      await expectError(p, 'AlreadyExists');
      assert.strictEqual((await tb.getObject(key)).toString(), 'theirs');
    });

    it('a key created during a multipart upload is not overwritten', async () => {
      const key = 'rt/race-big.zip';
      const data = crypto.randomBytes(20 * MiB);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const p = store.upload(key, randomStream(data, (off) => (off >= 17 * MiB ? gate : undefined)));
      while ((await tb.listMultipartUploads(key)).length === 0) await new Promise((r) => setTimeout(r, 50));
      await tb.putObject(key, 'theirs');
      release();
      await expectError(p, 'AlreadyExists');
      assert.strictEqual((await tb.getObject(key)).toString(), 'theirs');
      assert.deepStrictEqual(await tb.listMultipartUploads(), []);
    });

    it('cancel mid-upload leaves no object and no pending multipart upload', async () => {
      for (const when of ['after the first part', 'during the first part'] as const) {
        const key = `cancel/${when.replace(/ /g, '-')}.zip`;
        const data = crypto.randomBytes(40 * MiB);
        const ac = new AbortController();
        let read = 0;
        const body = randomStream(data, (off) => {
          read = off;
          return when === 'during the first part' && off >= 9 * MiB && !ac.signal.aborted ? new Promise((r) => setTimeout(r, 30)) : undefined;
        });
        let destroyed = false;
        body.on('close', () => (destroyed = true));
        const p = store.upload(key, body, {
          signal: ac.signal,
          onProgress: (b) => {
            if (when === 'after the first part' && b > 0) ac.abort();
          },
        });
        if (when === 'during the first part') {
          while ((await tb.listMultipartUploads(key)).length === 0) await new Promise((r) => setTimeout(r, 20));
          ac.abort();
        }
        const t0 = Date.now();
        await assert.rejects(p, (e: unknown) => e instanceof CancelledError && (e as BackupError).code === 'Cancelled');
        const ms = Date.now() - t0;
        assert.ok(destroyed, 'the body stream was destroyed');
        assert.ok(read < data.length - MiB, `stopped reading (${read} of ${data.length})`);
        assert.deepStrictEqual(await tb.listObjects(key), [], when);
        assert.deepStrictEqual(await tb.listMultipartUploads(), [], when);
        console.log(`      cancel ${when}: settled ${ms} ms after abort, read ${(read / MiB).toFixed(0)} MiB`);
      }
    });

    it('sends exactly one part size as one PutObject, two as two parts; a body that fails leaves nothing', async () => {
      const { store: s, proxy } = await viaProxy(() => undefined);
      const one = crypto.randomBytes(PART_SIZE);
      await s.upload('edge/one.zip', randomStream(one));
      assert.deepStrictEqual(proxy.requests.filter((r) => r.startsWith('PUT') || r.startsWith('POST')).length, 1);
      assert.ok((await tb.getObject('edge/one.zip')).equals(one));

      proxy.requests.length = 0;
      const two = crypto.randomBytes(2 * PART_SIZE);
      const res = await s.upload('edge/two.zip', randomStream(two));
      assert.strictEqual(proxy.requests.filter((r) => r.startsWith('PUT') && r.includes('partNumber=')).length, 2);
      assert.ok(res.etag && /-2"?$/.test(res.etag), res.etag);
      assert.ok((await tb.getObject('edge/two.zip')).equals(two));

      // The archive writer fails its stream when a file changes: the upload must fail with that error.
      const data = crypto.randomBytes(3 * PART_SIZE);
      let sentChunks = 0;
      const failing = new Readable({
        read() {
          if (sentChunks === 12) {
            this.destroy(new BackupError('SourceChanged', '"a.txt" changed while it was being backed up.', 'Back up again.'));
            return;
          }
          this.push(data.subarray(sentChunks * MiB, ++sentChunks * MiB));
        },
      });
      await expectError(s.upload('edge/failing.zip', failing), 'SourceChanged');
      assert.deepStrictEqual(await tb.listObjects('edge/failing'), []);
      assert.deepStrictEqual(await tb.listMultipartUploads(), []);
    });

    it('an already aborted signal fails at once with CancelledError', async () => {
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(store.upload('cancel/pre.zip', Readable.from([Buffer.from('x')]), { signal: ac.signal }), CancelledError);
      await assert.rejects(store.listPage('', { signal: ac.signal }), CancelledError);
      await assert.rejects(store.download('rt/20mb.zip', path.join(work, 'x'), { signal: ac.signal }), CancelledError);
    });

    it('retries a 503 on a part, then succeeds', async () => {
      let failed = 0;
      const { store: s } = await viaProxy((req) => {
        if (req.method === 'PUT' && req.url?.includes('partNumber=2') && failed === 0) {
          failed++;
          return { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' };
        }
        return undefined;
      });
      const data = crypto.randomBytes(20 * MiB);
      await s.upload('retry/part.zip', randomStream(data));
      assert.strictEqual(failed, 1);
      assert.ok((await tb.getObject('retry/part.zip')).equals(data));
    });

    it('a part that keeps failing fails the upload with Server and cleans up', async () => {
      const { store: s } = await viaProxy((req) =>
        req.method === 'PUT' && req.url?.includes('partNumber=2') ? { status: 500, code: 'InternalError', message: 'boom' } : undefined,
      );
      const e = await expectError(s.upload('fail/part.zip', randomStream(crypto.randomBytes(30 * MiB))), 'Server');
      assert.match(e.message, /HTTP 500/);
      assert.deepStrictEqual(await tb.listObjects('fail/'), []);
      assert.deepStrictEqual(await tb.listMultipartUploads(), []);
    });

    it('falls back to a single PutObject when the server refuses multipart (501)', async () => {
      const { store: s, proxy } = await viaProxy((req) =>
        req.method === 'POST' && /[?&]uploads(=|&|$)/.test(req.url ?? '') ? { status: 501, code: 'NotImplemented', message: 'A header you provided implies functionality that is not implemented.' } : undefined,
      );
      const data = crypto.randomBytes(20 * MiB);
      const sent: number[] = [];
      const res = await s.upload('fallback/one.zip', randomStream(data), { onProgress: (b) => sent.push(b) });
      assert.strictEqual(res.multipart, false);
      assert.strictEqual(res.size, data.length);
      assert.ok((await tb.getObject('fallback/one.zip')).equals(data));
      assert.strictEqual(proxy.requests.filter((r) => r.startsWith('PUT') && r.includes('partNumber')).length, 0);
      assert.strictEqual(proxy.requests.filter((r) => r.startsWith('PUT /')).length, 1);
      assert.deepStrictEqual(fs.readdirSync(work).filter((f) => f.startsWith('s3-backup-put-')), [], 'spool file removed');
      // 405 too, and a cancelled fallback leaves nothing.
      const { store: s405 } = await viaProxy((req) =>
        req.method === 'POST' && /[?&]uploads/.test(req.url ?? '') ? { status: 405, code: 'MethodNotAllowed' } : undefined,
      );
      await s405.upload('fallback/two.zip', randomStream(data));
      assert.ok((await tb.getObject('fallback/two.zip')).equals(data));
    });

    it('download: missing key is NotFound and leaves no file; cancel leaves no file', async () => {
      const dest = path.join(work, 'dl', 'out.bin');
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      const e = await expectError(store.download('nope/missing.zip', dest), 'NotFound');
      assert.match(e.message, /nope\/missing\.zip/);
      const ac = new AbortController();
      await assert.rejects(
        store.download('rt/20mb.zip', dest, { signal: ac.signal, onProgress: (b) => b > 2 * MiB && ac.abort() }),
        CancelledError,
      );
      assert.deepStrictEqual(fs.readdirSync(path.dirname(dest)), []);
    });

    it('delete removes the object', async () => {
      await tb.putObject('del/x.zip', 'x');
      await store.delete('del/x.zip');
      assert.deepStrictEqual(await tb.listObjects('del/'), []);
    });
  });

  describe('listing', () => {
    it('follows continuation tokens past 1,000 objects', async () => {
      const n = 1234;
      const keys = Array.from({ length: n }, (_, i) => `many/${String(i).padStart(5, '0')}.zip`);
      const t0 = Date.now();
      await tb.putMany([...keys, 'many/sub/nested.zip'], Buffer.from('x'), 48);
      const putMs = Date.now() - t0;
      const first = await store.listPage('many/');
      assert.strictEqual(first.objects.length, 1000);
      assert.ok(first.nextToken);
      const t1 = Date.now();
      const all = await store.listAll('many/');
      const listMs = Date.now() - t1;
      assert.strictEqual(all.length, n + 1);
      assert.deepStrictEqual(all.slice(0, n).map((o) => o.key), keys);
      assert.ok(all.every((o) => o.size === 1 && o.lastModified instanceof Date));
      const flat = await store.listAll('many/', { delimiter: '/' });
      assert.strictEqual(flat.length, n, 'delimiter leaves out sub-folders');
      const small = await store.list({ prefix: 'many/', maxKeys: 10 });
      assert.strictEqual(small.objects.length, 10);
      console.log(`      ${n + 1} objects written in ${putMs} ms, listed in ${listMs} ms`);
    });
  });

  describe('testConnection', () => {
    it('passes every step and leaves no probe behind', async () => {
      const s = makeStore(tb.profileAt('conn/ok'));
      const r = await s.testConnection();
      assert.deepStrictEqual(r.steps.map((x) => [x.step, x.ok]), [['bucket', true], ['write', true], ['read', true], ['delete', true]]);
      assert.strictEqual(r.ok, true);
      assert.deepStrictEqual(await tb.listObjects('conn/'), []);
    });

    const failing: Array<[string, FaultRule, string[], string]> = [
      ['bucket', (req) => (req.method === 'GET' && req.url?.includes('list-type=2') ? { status: 403, code: 'AccessDenied' } : undefined), ['bucket'], 'AccessDenied'],
      ['write', (req) => (req.method === 'PUT' ? { status: 403, code: 'AccessDenied' } : undefined), ['bucket', 'write'], 'AccessDenied'],
      [
        'read',
        (req) => (req.method === 'GET' && req.url?.includes('s3-backup-probe') ? { status: 200, body: 'something else' } : undefined),
        ['bucket', 'write', 'read', 'delete'],
        'Integrity',
      ],
      ['delete', (req) => (req.method === 'DELETE' ? { status: 403, code: 'AccessDenied' } : undefined), ['bucket', 'write', 'read', 'delete'], 'AccessDenied'],
    ];
    for (const [step, rule, steps, code] of failing) {
      it(`reports a failing ${step} step`, async () => {
        const { store: s } = await viaProxy(rule, { maxAttempts: 1 }, `conn/${step}`);
        const r = await s.testConnection();
        assert.strictEqual(r.ok, false);
        assert.deepStrictEqual(r.steps.map((x) => x.step), steps);
        const bad = r.steps.filter((x) => !x.ok);
        assert.deepStrictEqual(bad.map((x) => x.step), [step]);
        assert.strictEqual(bad[0].error?.code, code);
        if (step !== 'delete') assert.deepStrictEqual(await tb.listObjects(`conn/${step}/`), [], 'probe deleted');
      });
    }

    it('a cancelled test throws CancelledError', async () => {
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(store.testConnection({ signal: ac.signal }), CancelledError);
    });
  });

  describe('errors, produced for real', () => {
    const wrongSecret = 'Wr0ngSecretValue-DoNotLeak-1234567890abcd';

    it('wrong secret -> SignatureMismatch, secret never in the message', async () => {
      const s = makeStore({ ...tb.profile, secretAccessKey: wrongSecret });
      const e = await expectError(s.listPage(''), 'SignatureMismatch');
      assert.strictEqual(e.message, 'The secret access key was rejected by the server.');
      assert.match(e.hint ?? '', /secret/);
      const r = await s.testConnection();
      assert.strictEqual(r.steps[0].error?.code, 'SignatureMismatch');
      for (const err of [e, r.steps[0].error!]) {
        assert.ok(!visible(err).includes(wrongSecret));
        assert.ok(!visible(err).includes(s3TestEnv().secretAccessKey));
      }
      // HeadObject's 403 has no body; the store still names the real cause.
      await expectError(s.upload('x/y.zip', Readable.from([Buffer.from('x')])), 'SignatureMismatch');
      await expectError(s.head('x/y.zip'), 'SignatureMismatch');
    });

    it('unknown access key id -> InvalidAccessKey', async () => {
      const s = makeStore({ ...tb.profile, accessKeyId: 'NOSUCHKEY0000000' });
      const e = await expectError(s.listPage(''), 'InvalidAccessKey');
      assert.match(e.message, /access key ID/);
    });

    it('missing bucket -> NoSuchBucket naming the bucket', async () => {
      const s = makeStore({ ...tb.profile, bucket: `${tb.bucket}-missing` });
      const e = await expectError(s.listPage(''), 'NoSuchBucket');
      assert.match(e.message, new RegExp(`${tb.bucket}-missing`));
      assert.strictEqual(e.params.bucket, `${tb.bucket}-missing`);
      const r = await s.testConnection();
      assert.deepStrictEqual(r.steps.map((x) => [x.step, x.ok, x.error?.code]), [['bucket', false, 'NoSuchBucket']]);
    });

    it('closed port -> Unreachable naming the endpoint', async () => {
      const port = await unusedPort();
      const endpoint = `http://127.0.0.1:${port}`;
      const s = makeStore({ ...tb.profile, endpoint });
      const t0 = Date.now();
      const e = await expectError(s.listPage(''), 'Unreachable');
      const ms = Date.now() - t0;
      assert.ok(e.message.includes(endpoint), e.message);
      assert.strictEqual(e.params.reason, 'ECONNREFUSED');
      console.log(`      closed port: Unreachable after ${ms} ms (with retries)`);
    });

    it('unknown host -> Unreachable', async () => {
      const s = makeStore({ ...tb.profile, endpoint: 'http://no-such-host.invalid:7480' }, { maxAttempts: 1 });
      const e = await expectError(s.listPage(''), 'Unreachable');
      assert.match(e.message, /could not be found/);
    });

    it('https to a plain-http server -> Tls', async () => {
      const s = makeStore({ ...tb.profile, endpoint: s3TestEnv().endpoint.replace(/^http:/, 'https:') }, { maxAttempts: 1 });
      const e = await expectError(s.listPage(''), 'Tls');
      assert.match(e.message, /TLS/);
    });

    it('another user on this bucket -> AccessDenied', async function () {
      const other = s3TestEnv().other;
      assert.ok(other, 'S3_TEST_OTHER_ACCESS_KEY_ID / S3_TEST_OTHER_SECRET_ACCESS_KEY are not set (test/setup/rgw.sh exports a second user)');
      const s = makeStore({ ...tb.profile, ...other });
      const e = await expectError(s.listPage(''), 'AccessDenied');
      assert.match(e.message, new RegExp(tb.bucket));
      await expectError(s.upload('other/x.zip', Readable.from([Buffer.from('x')])), 'AccessDenied');
      const r = await s.testConnection();
      assert.strictEqual(r.steps[0].error?.code, 'AccessDenied');
      assert.ok(!visible(e).includes(other.secretAccessKey));
      assert.deepStrictEqual(await tb.listObjects('other/'), []);
    });

    it('a silent server -> Timeout', async () => {
      const { store: s } = await viaProxy((req) => (req.method === 'GET' ? 'hang' : undefined), { socketTimeoutMs: 1000, maxAttempts: 1 });
      const t0 = Date.now();
      await expectError(s.listPage(''), 'Timeout');
      assert.ok(Date.now() - t0 < 10_000);
    });

    const injected: Array<[string, FaultRule, string, (e: BackupError) => void]> = [
      [
        'PermanentRedirect',
        () => ({ status: 301, code: 'PermanentRedirect', message: 'The bucket you are attempting to access must be addressed using the specified endpoint.', extra: '<Endpoint>b.s3.eu-west-1.amazonaws.com</Endpoint>', headers: { 'x-amz-bucket-region': 'eu-west-1' } }),
        'WrongRegion',
        (e) => assert.strictEqual(e.params.expectedRegion, 'eu-west-1'),
      ],
      [
        'AuthorizationHeaderMalformed',
        () => ({ status: 400, code: 'AuthorizationHeaderMalformed', message: "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'ap-south-1'", extra: '<Region>ap-south-1</Region>' }),
        'WrongRegion',
        (e) => assert.match(e.hint ?? '', /ap-south-1/),
      ],
      ['RequestTimeTooSkewed', () => ({ status: 403, code: 'RequestTimeTooSkewed', message: 'The difference between the request time and the server time is too large.' }), 'ClockSkew', () => undefined],
      ['503 on every attempt', () => ({ status: 503, code: 'ServiceUnavailable' }), 'Server', (e) => assert.match(e.message, /503/)],
    ];
    for (const [name, rule, code, check] of injected) {
      it(`${name} -> ${code}`, async () => {
        const { store: s, proxy } = await viaProxy(rule, { maxAttempts: 2 });
        const e = await expectError(s.listPage(''), code);
        check(e);
        if (code === 'Server') assert.strictEqual(proxy.requests.length, 2, '5xx retried');
      });
    }
  });
});

describe('toBackupError', () => {
  const ctx = { bucket: 'bkt', endpoint: 'https://s3.example.com', key: 'a/b.zip', secrets: ['TopSecretValue123'] };
  const sdkErr = (name: string, status: number, message = 'UnknownError'): Error =>
    Object.assign(new Error(message), { name, Code: name, $metadata: { httpStatusCode: status } });
  const rows: Array<[string, unknown, string]> = [
    ['AbortError', Object.assign(new Error('aborted'), { name: 'AbortError' }), 'Cancelled'],
    ['DOMException abort', new DOMException('This operation was aborted', 'AbortError'), 'Cancelled'],
    ['NoSuchKey', sdkErr('NoSuchKey', 404), 'NotFound'],
    ['HEAD 404', Object.assign(new Error('UnknownError'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } }), 'NotFound'],
    ['HEAD 403', Object.assign(new Error('UnknownError'), { name: 'Forbidden', $metadata: { httpStatusCode: 403 } }), 'AccessDenied'],
    ['PreconditionFailed', sdkErr('PreconditionFailed', 412), 'AlreadyExists'],
    ['InternalError', sdkErr('InternalError', 500), 'Server'],
    ['NotImplemented', sdkErr('NotImplemented', 501), 'Server'],
    ['RequestTimeout (S3)', sdkErr('RequestTimeout', 400), 'Timeout'],
    ['ECONNREFUSED in AggregateError', Object.assign(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })], 'x'), { code: 'ECONNREFUSED' }), 'Unreachable'],
    ['EAI_AGAIN', Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' }), 'Unreachable'],
    ['EHOSTUNREACH', Object.assign(new Error('x'), { code: 'EHOSTUNREACH' }), 'Unreachable'],
    ['TimeoutError', Object.assign(new Error('socket did not establish'), { name: 'TimeoutError' }), 'Timeout'],
    ['CERT_HAS_EXPIRED', Object.assign(new Error('certificate has expired'), { code: 'CERT_HAS_EXPIRED' }), 'Tls'],
    ['SELF_SIGNED_CERT_IN_CHAIN', Object.assign(new Error('self-signed'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }), 'Tls'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', Object.assign(new Error('x'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }), 'Tls'],
    ['ENOSPC', Object.assign(new Error('no space'), { code: 'ENOSPC' }), 'Io'],
    ['plain Error', new Error('odd'), 'Unknown'],
  ];
  for (const [name, err, code] of rows) {
    it(`${name} -> ${code}`, () => {
      const b = toBackupError(err, ctx);
      assert.strictEqual(b.code, code, b.message);
      assert.match(b.message, /^[A-Z"].*\.$/s, b.message);
      if (code === 'Cancelled') assert.ok(b instanceof CancelledError);
      else assert.ok(b.hint, 'has a hint');
    });
  }

  it('passes a BackupError through', () => {
    const b = new BackupError('Integrity', 'x.');
    assert.strictEqual(toBackupError(b), b);
  });

  it('scrubs secrets from copied text', () => {
    const b = toBackupError(new Error('failed with TopSecretValue123 in it'), ctx);
    assert.ok(!b.message.includes('TopSecretValue123'), b.message);
    const c = toBackupError(Object.assign(new Error('weird TopSecretValue123'), { $metadata: { httpStatusCode: 400 }, name: 'Odd', Code: 'Odd' }), ctx);
    assert.strictEqual(c.code, 'Unknown');
    assert.ok(!c.message.includes('TopSecretValue123'), c.message);
  });

  it('names the bucket, the endpoint and the key', () => {
    assert.match(toBackupError(sdkErr('NoSuchBucket', 404), ctx).message, /"bkt".*https:\/\/s3\.example\.com/);
    assert.match(toBackupError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), ctx).message, /https:\/\/s3\.example\.com/);
    assert.match(toBackupError(sdkErr('NoSuchKey', 404), ctx).message, /a\/b\.zip/);
  });
});
