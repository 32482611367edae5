// What picking a provider on the settings page fills in, and how a saved endpoint is recognised.
import * as assert from 'assert';
import { normalizeProfile } from '../../src/core/storage/profile';
import { ACCOUNT_PLACEHOLDER, applyProvider, detectProvider, PROVIDERS, providerById } from '../../src/webview/providers';

describe('settings page providers', () => {
  it('offers AWS S3, Cloudflare R2, Alibaba OSS, Tencent COS, MinIO, Ceph and Other, in that order', () => {
    assert.deepStrictEqual(
      PROVIDERS.map((p) => p.id),
      ['aws', 'r2', 'oss', 'cos', 'minio', 'ceph', 'other'],
    );
  });

  it('fills an endpoint, a region and an addressing style the engine accepts as they are', () => {
    for (const p of PROVIDERS.filter((x) => x.id !== 'other' && x.id !== 'r2')) {
      const v = applyProvider(p, { endpoint: '', region: '' });
      assert.ok(v, p.id);
      const r = normalizeProfile({ ...v, bucket: 'my-bucket', accessKeyId: 'AKID', secretAccessKey: 'secret' }, { requireCredentials: true });
      assert.ok(r.ok, `${p.id}: ${JSON.stringify(!r.ok && r.errors)}`);
      assert.strictEqual(detectProvider(v.endpoint).id, p.id, `${p.id}: its own endpoint is recognised`);
    }
    assert.deepStrictEqual(applyProvider(providerById('aws'), { endpoint: '', region: '' }), {
      endpoint: 'https://s3.us-east-1.amazonaws.com',
      region: 'us-east-1',
      addressingStyle: 'auto',
    });
    assert.strictEqual(applyProvider(providerById('oss'), { endpoint: '', region: '' })?.addressingStyle, 'virtual');
    assert.strictEqual(applyProvider(providerById('minio'), { endpoint: '', region: '' })?.addressingStyle, 'path');
  });

  it('keeps a region the user typed where the endpoint names it, and R2 always gets auto', () => {
    assert.deepStrictEqual(applyProvider(providerById('aws'), { endpoint: '', region: 'eu-west-1' })?.endpoint, 'https://s3.eu-west-1.amazonaws.com');
    assert.deepStrictEqual(applyProvider(providerById('cos'), { endpoint: '', region: 'ap-shanghai' })?.endpoint, 'https://cos.ap-shanghai.myqcloud.com');
    const r2 = applyProvider(providerById('r2'), { endpoint: '', region: 'eu-west-1' });
    assert.strictEqual(r2?.region, 'auto');
    assert.ok(r2?.endpoint.includes(ACCOUNT_PLACEHOLDER), 'R2 leaves the account ID to type');
    assert.strictEqual(applyProvider(providerById('other'), { endpoint: 'http://x', region: '' }), undefined, 'Other changes nothing');
  });

  it('recognises saved endpoints', () => {
    const cases: Array<[string, string]> = [
      ['https://s3.eu-west-1.amazonaws.com', 'aws'],
      ['https://my-bucket.s3.eu-west-1.amazonaws.com', 'aws'],
      ['https://0123abc.r2.cloudflarestorage.com', 'r2'],
      ['https://oss-cn-beijing.aliyuncs.com', 'oss'],
      ['https://cos.ap-guangzhou.myqcloud.com', 'cos'],
      ['http://nas.local:9000', 'minio'],
      ['http://127.0.0.1:7480', 'ceph'],
      ['https://storage.example.com', 'other'],
      ['', 'other'],
    ];
    for (const [endpoint, id] of cases) assert.strictEqual(detectProvider(endpoint).id, id, endpoint);
  });
});
