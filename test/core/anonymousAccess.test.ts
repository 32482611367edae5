// The private-bucket check against the real server: a bucket made public by a
// bucket policy (or an ACL) is seen as strangers see it, and seen private
// again once the policy is gone.
import * as assert from 'assert';
import type { PutBucketPolicyCommandInput } from '@aws-sdk/client-s3';
import { anonymousUrl, checkAnonymousAccess, isCleartextEndpoint } from '../../src/core/storage/anonymousAccess';
import { S3Store } from '../../src/core/storage/s3Store';
import type { Profile } from '../../src/core/storage/profile';
import { CancelledError } from '../../src/core/util/engineErrors';
import { createTestBucket, startFaultProxy, type FaultProxy, type FaultRule, type TestBucket } from '../helpers/s3';

const sdk = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');

const ROOT = 'team/backups';

describe('anonymous access: cleartext endpoints and URLs', () => {
  const cases: Array<[string, boolean]> = [
    ['https://s3.eu-west-1.amazonaws.com', false],
    ['http://127.0.0.1:7480', false],
    ['http://127.8.9.10', false],
    ['http://localhost:9000', false],
    ['http://minio.localhost:9000', false],
    ['http://[::1]:9000', false],
    ['http://192.168.1.20:9000', true],
    ['http://10.0.0.5', true],
    ['http://nas.example.com', true],
    ['http://128.0.0.1', true],
    ['http://[::2]:9000', true],
    ['http://localhost.example.com', true],
    ['https://192.168.1.20:9000', false],
    ['not a url', false],
  ];
  for (const [endpoint, flagged] of cases) {
    it(`${endpoint}: ${flagged ? 'flagged' : 'not flagged'}`, () => {
      assert.strictEqual(isCleartextEndpoint(endpoint), flagged);
    });
  }

  it('builds path-style and virtual-hosted URLs as the SDK addresses them', () => {
    const base = { endpoint: 'https://s3.eu-west-1.amazonaws.com', bucket: 'my-bucket' };
    assert.strictEqual(anonymousUrl({ ...base, forcePathStyle: false }, 'a b/c+d(1).json.gz'), 'https://my-bucket.s3.eu-west-1.amazonaws.com/a%20b/c%2Bd%281%29.json.gz');
    assert.strictEqual(anonymousUrl({ ...base, forcePathStyle: true }, 'x/y'), 'https://s3.eu-west-1.amazonaws.com/my-bucket/x/y');
    assert.strictEqual(anonymousUrl({ endpoint: 'http://127.0.0.1:7480', bucket: 'b1', forcePathStyle: true }, '', 'list-type=2'), 'http://127.0.0.1:7480/b1/?list-type=2');
    assert.strictEqual(anonymousUrl({ ...base, forcePathStyle: false }, '', 'list-type=2'), 'https://my-bucket.s3.eu-west-1.amazonaws.com/?list-type=2');
  });
});

describe('anonymous access (real S3)', function () {
  this.timeout(120_000);
  let tb: TestBucket;
  let profile: Profile;
  const stores: S3Store[] = [];
  const proxies: FaultProxy[] = [];
  const store = (p: Profile = profile): S3Store => {
    const s = new S3Store(p, { maxAttempts: 1 });
    stores.push(s);
    return s;
  };
  const policy = (statements: Array<{ action: string[]; resource: string[] }>): PutBucketPolicyCommandInput => ({
    Bucket: tb.bucket,
    Policy: JSON.stringify({
      Version: '2012-10-17',
      Statement: statements.map((s) => ({ Effect: 'Allow', Principal: '*', Action: s.action, Resource: s.resource })),
    }),
  });
  const makePublic = (): Promise<unknown> =>
    tb.client.send(
      new sdk.PutBucketPolicyCommand(
        policy([{ action: ['s3:GetObject', 's3:ListBucket'], resource: [`arn:aws:s3:::${tb.bucket}`, `arn:aws:s3:::${tb.bucket}/*`] }]),
      ),
    );
  const makePrivate = (): Promise<unknown> => tb.client.send(new sdk.DeleteBucketPolicyCommand({ Bucket: tb.bucket }));

  before(async () => {
    tb = await createTestBucket('anon');
    profile = tb.profileAt(ROOT);
    await tb.putObject(`${ROOT}/20260101-000000.000_host_workspace_abc.json.gz`, 'not really a manifest');
  });

  after(async () => {
    for (const p of proxies) await p.close();
    for (const s of stores) s.destroy();
    await makePrivate().catch(() => undefined);
    await tb?.cleanup();
  });

  it('a private bucket: nothing found, every check answered', async () => {
    const a = await checkAnonymousAccess(store());
    assert.deepStrictEqual(a, { listable: false, readable: false, policyPublic: false, aclPublic: false, unknown: [], exposed: false });
  });

  it('public-read by a bucket policy: listable, readable and the policy public; Test Connection says so', async () => {
    await makePublic();
    const a = await checkAnonymousAccess(store());
    assert.deepStrictEqual(a, { listable: true, readable: true, policyPublic: true, aclPublic: false, unknown: [], exposed: true });

    const report = await store().testConnection();
    assert.strictEqual(report.ok, true, 'a public bucket still works');
    assert.strictEqual(report.access?.exposed, true);
    assert.strictEqual(report.access?.readable, true, 'the probe object was read without keys');
    assert.strictEqual(report.cleartext, false, 'the test server is on loopback');
    assert.deepStrictEqual(await tb.listObjects(`${ROOT}/.s3-backup-probe`), [], 'the probe is deleted');
  });

  it('the policy deleted: private again, nothing found', async () => {
    await makePrivate();
    const a = await checkAnonymousAccess(store());
    assert.strictEqual(a.exposed, false);
    assert.deepStrictEqual([a.listable, a.readable, a.policyPublic, a.aclPublic], [false, false, false, false]);
    const report = await store().testConnection();
    assert.strictEqual(report.access?.exposed, false);
  });

  it('objects readable under the root path only (no listing): readable, not listable', async () => {
    await tb.client.send(new sdk.PutBucketPolicyCommand(policy([{ action: ['s3:GetObject'], resource: [`arn:aws:s3:::${tb.bucket}/${ROOT}/*`] }])));
    try {
      const a = await checkAnonymousAccess(store());
      assert.deepStrictEqual([a.listable, a.readable, a.policyPublic], [false, true, true]);
      assert.strictEqual(a.exposed, true);
      // Another root path of the same bucket is not covered by that policy: only the policy status says "public".
      const other = await checkAnonymousAccess(store(tb.profileAt('elsewhere')));
      assert.deepStrictEqual([other.listable, other.readable, other.policyPublic], [false, false, true]);
      assert.ok(other.unknown.includes('read'), 'no object under that root path to try');
    } finally {
      await makePrivate();
    }
  });

  it('a public-read bucket ACL: the ACL and the listing are found', async () => {
    await tb.client.send(new sdk.PutBucketAclCommand({ Bucket: tb.bucket, ACL: 'public-read' }));
    try {
      const a = await checkAnonymousAccess(store());
      assert.deepStrictEqual([a.aclPublic, a.listable, a.exposed], [true, true, true]);
    } finally {
      await tb.client.send(new sdk.PutBucketAclCommand({ Bucket: tb.bucket, ACL: 'private' }));
    }
    assert.strictEqual((await checkAnonymousAccess(store())).aclPublic, false);
  });

  it('a provider without GetBucketPolicyStatus and GetBucketAcl: "unknown", not an error', async () => {
    const rule: FaultRule = (req) => {
      if (req.url?.includes('policyStatus')) return { status: 501, code: 'NotImplemented' };
      if (/[?&]acl(=|&|$)/.test(req.url ?? '')) return { status: 405, code: 'MethodNotAllowed' };
      return undefined;
    };
    const proxy = await startFaultProxy(rule);
    proxies.push(proxy);
    await makePublic();
    try {
      const a = await checkAnonymousAccess(store({ ...profile, endpoint: proxy.endpoint }));
      assert.deepStrictEqual(a.unknown, ['policy', 'acl']);
      assert.deepStrictEqual([a.listable, a.readable, a.policyPublic, a.aclPublic, a.exposed], [true, true, false, false, true]);
      assert.ok(proxy.requests.some((r) => r.includes('policyStatus')), 'the policy status was asked');
    } finally {
      await makePrivate();
    }
  });

  it('a server that does not answer the unsigned requests: "unknown" within the time given', async () => {
    const proxy = await startFaultProxy((req) => (req.headers.authorization ? undefined : 'hang'));
    proxies.push(proxy);
    const started = Date.now();
    const a = await checkAnonymousAccess(store({ ...profile, endpoint: proxy.endpoint }), { timeoutMs: 500 });
    assert.ok(Date.now() - started < 5_000, 'bounded by the timeout');
    assert.deepStrictEqual(a.unknown, ['list', 'read']);
    assert.strictEqual(a.exposed, false);
  });

  it('a cancel ends the check with CancelledError', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(checkAnonymousAccess(store(), { signal: ac.signal }), CancelledError);
  });
});
