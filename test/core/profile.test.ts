import * as assert from 'assert';
import { normalizeProfile, type Profile, type ProfileInput } from '../../src/core/storage/profile';

const keys = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

type Expect = Partial<Profile>;
const ok: Array<[string, ProfileInput, Expect]> = [
  // scheme, slashes, spaces
  ['adds https://', { endpoint: 's3.eu-west-1.amazonaws.com', bucket: 'b1x' }, { endpoint: 'https://s3.eu-west-1.amazonaws.com', region: 'eu-west-1' }],
  ['keeps http://', { endpoint: 'http://minio.lan', bucket: 'b1x' }, { endpoint: 'http://minio.lan', forcePathStyle: true }],
  ['drops trailing slashes', { endpoint: 'https://minio.example.com///', bucket: 'b1x' }, { endpoint: 'https://minio.example.com' }],
  ['trims spaces', { endpoint: '  https://minio.example.com  ', bucket: ' b1x ', region: ' eu-1 ', rootPath: ' a/b ' }, { endpoint: 'https://minio.example.com', bucket: 'b1x', region: 'eu-1', rootPath: 'a/b' }],
  ['lower-cases the host', { endpoint: 'HTTPS://S3.EU-WEST-1.AmazonAWS.com', bucket: 'b1x' }, { endpoint: 'https://s3.eu-west-1.amazonaws.com', region: 'eu-west-1' }],
  ['drops the default port', { endpoint: 'https://s3.us-east-2.amazonaws.com:443', bucket: 'b1x' }, { endpoint: 'https://s3.us-east-2.amazonaws.com', forcePathStyle: false }],
  // regions
  ['empty region defaults to us-east-1', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x' }, { region: 'us-east-1' }],
  ['region from AWS host', { endpoint: 'https://s3.ap-southeast-2.amazonaws.com', bucket: 'b1x' }, { region: 'ap-southeast-2' }],
  ['s3.amazonaws.com is us-east-1', { endpoint: 'https://s3.amazonaws.com', bucket: 'b1x' }, { region: 'us-east-1', endpoint: 'https://s3.us-east-1.amazonaws.com' }],
  ['legacy s3-<region> host', { endpoint: 'https://s3-eu-west-1.amazonaws.com', bucket: 'b1x' }, { region: 'eu-west-1', endpoint: 'https://s3.eu-west-1.amazonaws.com' }],
  ['dualstack host', { endpoint: 'https://s3.dualstack.us-west-2.amazonaws.com', bucket: 'b1x' }, { region: 'us-west-2', endpoint: 'https://s3.dualstack.us-west-2.amazonaws.com', forcePathStyle: false }],
  ['China host', { endpoint: 'https://s3.cn-north-1.amazonaws.com.cn', bucket: 'b1x' }, { region: 'cn-north-1', endpoint: 'https://s3.cn-north-1.amazonaws.com.cn' }],
  ['explicit matching region kept', { endpoint: 'https://s3.eu-central-1.amazonaws.com', region: 'eu-central-1', bucket: 'b1x' }, { region: 'eu-central-1' }],
  ['R2 region auto accepted', { endpoint: 'https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com', region: 'auto', bucket: 'b1x' }, { region: 'auto', forcePathStyle: true }],
  ['R2 empty region becomes auto', { endpoint: 'https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com', bucket: 'b1x' }, { region: 'auto' }],
  ['custom region kept (Ceph zonegroup)', { endpoint: 'http://ceph.lan:7480', region: 'default', bucket: 'b1x' }, { region: 'default' }],
  // bucket in the host
  ['AWS virtual-host URL', { endpoint: 'https://my-bucket.s3.eu-west-1.amazonaws.com' }, { bucket: 'my-bucket', endpoint: 'https://s3.eu-west-1.amazonaws.com', region: 'eu-west-1', forcePathStyle: false, addressingStyle: 'auto' }],
  ['AWS <bucket>.<region>.amazonaws.com', { endpoint: 'https://my-bucket.eu-west-3.amazonaws.com' }, { bucket: 'my-bucket', endpoint: 'https://s3.eu-west-3.amazonaws.com', region: 'eu-west-3', forcePathStyle: false }],
  ['AWS global virtual host', { endpoint: 'my-bucket.s3.amazonaws.com' }, { bucket: 'my-bucket', endpoint: 'https://s3.us-east-1.amazonaws.com', region: 'us-east-1' }],
  ['AWS dotted bucket in host', { endpoint: 'https://logs.example.com.s3.us-west-1.amazonaws.com' }, { bucket: 'logs.example.com', endpoint: 'https://s3.us-west-1.amazonaws.com' }],
  ['bucket in host equal to bucket field', { endpoint: 'https://my-bucket.s3.eu-west-1.amazonaws.com', bucket: 'my-bucket' }, { bucket: 'my-bucket', endpoint: 'https://s3.eu-west-1.amazonaws.com' }],
  ['AWS virtual host, region given and equal', { endpoint: 'https://my-bucket.s3.eu-west-1.amazonaws.com', region: 'eu-west-1' }, { region: 'eu-west-1' }],
  ['OSS bucket host', { endpoint: 'https://photos.oss-cn-hangzhou.aliyuncs.com' }, { bucket: 'photos', endpoint: 'https://oss-cn-hangzhou.aliyuncs.com', region: 'cn-hangzhou', forcePathStyle: false }],
  ['OSS endpoint', { endpoint: 'oss-eu-central-1.aliyuncs.com', bucket: 'photos' }, { endpoint: 'https://oss-eu-central-1.aliyuncs.com', region: 'eu-central-1', forcePathStyle: false }],
  ['OSS S3-compatible endpoint', { endpoint: 'https://s3.oss-cn-beijing.aliyuncs.com', bucket: 'photos' }, { endpoint: 'https://s3.oss-cn-beijing.aliyuncs.com', region: 'cn-beijing' }],
  ['OSS internal endpoint', { endpoint: 'https://photos.oss-cn-hangzhou-internal.aliyuncs.com' }, { bucket: 'photos', endpoint: 'https://oss-cn-hangzhou-internal.aliyuncs.com', region: 'cn-hangzhou' }],
  ['COS bucket host', { endpoint: 'https://backup-1250000000.cos.ap-guangzhou.myqcloud.com' }, { bucket: 'backup-1250000000', endpoint: 'https://cos.ap-guangzhou.myqcloud.com', region: 'ap-guangzhou', forcePathStyle: false }],
  ['COS endpoint', { endpoint: 'cos.ap-shanghai.myqcloud.com', bucket: 'backup-1250000000' }, { endpoint: 'https://cos.ap-shanghai.myqcloud.com', region: 'ap-shanghai', forcePathStyle: false }],
  ['R2 bucket host', { endpoint: 'https://media.0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com' }, { bucket: 'media', endpoint: 'https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com', region: 'auto', forcePathStyle: false, addressingStyle: 'virtual' }],
  ['R2 EU jurisdiction', { endpoint: 'https://0123456789abcdef0123456789abcdef.eu.r2.cloudflarestorage.com', bucket: 'media' }, { endpoint: 'https://0123456789abcdef0123456789abcdef.eu.r2.cloudflarestorage.com', region: 'auto' }],
  ['unknown provider: host starting with the bucket', { endpoint: 'https://media.minio.example.com', bucket: 'media' }, { endpoint: 'https://minio.example.com', forcePathStyle: false, addressingStyle: 'virtual' }],
  ['unknown provider without bucket prefix', { endpoint: 'https://storage.example.com', bucket: 'media' }, { endpoint: 'https://storage.example.com', forcePathStyle: true, addressingStyle: 'auto' }],
  // path in the endpoint
  ['bucket as path, bucket empty', { endpoint: 'http://127.0.0.1:9000/media' }, { bucket: 'media', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true }],
  ['bucket as path, same bucket', { endpoint: 'https://minio.example.com/media/', bucket: 'media' }, { bucket: 'media', endpoint: 'https://minio.example.com', forcePathStyle: true }],
  ['AWS path-style URL', { endpoint: 'https://s3.eu-west-1.amazonaws.com/my-bucket' }, { bucket: 'my-bucket', endpoint: 'https://s3.eu-west-1.amazonaws.com', forcePathStyle: true, addressingStyle: 'path' }],
  // addressing style
  ['IP address -> path', { endpoint: '10.0.0.5', bucket: 'b1x' }, { endpoint: 'https://10.0.0.5', forcePathStyle: true }],
  ['IPv6 -> path', { endpoint: 'http://[::1]:7480', bucket: 'b1x' }, { endpoint: 'http://[::1]:7480', forcePathStyle: true }],
  ['localhost -> path', { endpoint: 'http://localhost:9000', bucket: 'b1x' }, { forcePathStyle: true }],
  ['host with port -> path', { endpoint: 'https://minio.example.com:9000', bucket: 'b1x' }, { endpoint: 'https://minio.example.com:9000', forcePathStyle: true }],
  ['AWS -> virtual', { endpoint: 'https://s3.eu-west-1.amazonaws.com', bucket: 'b1x' }, { forcePathStyle: false, addressingStyle: 'auto' }],
  ['user forces path on AWS', { endpoint: 'https://s3.eu-west-1.amazonaws.com', bucket: 'b1x', addressingStyle: 'path' }, { forcePathStyle: true, addressingStyle: 'path' }],
  ['user forces virtual on MinIO', { endpoint: 'http://127.0.0.1:9000', bucket: 'b1x', addressingStyle: 'Virtual' }, { forcePathStyle: false, addressingStyle: 'virtual' }],
  ['explicit auto', { endpoint: 'https://cos.ap-shanghai.myqcloud.com', bucket: 'b1x', addressingStyle: 'auto' }, { forcePathStyle: false, addressingStyle: 'auto' }],
  // root path
  ['root path slashes removed', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x', rootPath: '/backups/vscode/' }, { rootPath: 'backups/vscode' }],
  ['empty root path', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x', rootPath: '' }, { rootPath: '' }],
  ['root path of slashes only', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x', rootPath: '///' }, { rootPath: '' }],
  ['unicode root path', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x', rootPath: 'sauvegardes/équipe' }, { rootPath: 'sauvegardes/équipe' }],
  ['dots inside names allowed', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x', rootPath: 'a.b/..c/d..' }, { rootPath: 'a.b/..c/d..' }],
  // credentials
  ['keys trimmed', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x', accessKeyId: ' AKIA1 ', secretAccessKey: ' s/e+c ' }, { accessKeyId: 'AKIA1', secretAccessKey: 's/e+c' }],
  ['keys optional by default', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x' }, { accessKeyId: '', secretAccessKey: '' }],
  ['bucket with dots and dashes', { endpoint: 'http://127.0.0.1:7480', bucket: 'my.bucket-01' }, { bucket: 'my.bucket-01' }],
];

const bad: Array<[string, ProfileInput, Array<[string, string]>, { requireCredentials?: boolean }?]> = [
  ['missing endpoint', { bucket: 'b1x' }, [['endpoint', 'required']]],
  ['missing bucket', { endpoint: 'http://127.0.0.1:7480' }, [['bucket', 'required']]],
  ['everything missing', {}, [['endpoint', 'required'], ['bucket', 'required']]],
  ['ftp scheme', { endpoint: 'ftp://example.com', bucket: 'b1x' }, [['endpoint', 'endpointScheme']]],
  ['s3:// URI', { endpoint: 's3://my-bucket', bucket: 'b1x' }, [['endpoint', 'endpointScheme']]],
  ['garbage endpoint', { endpoint: 'https://exa mple.com', bucket: 'b1x' }, [['endpoint', 'endpointInvalid']]],
  ['credentials in endpoint', { endpoint: 'https://user:pw@minio.example.com', bucket: 'b1x' }, [['endpoint', 'endpointCredentials']]],
  ['query in endpoint', { endpoint: 'https://minio.example.com/?x=1', bucket: 'b1x' }, [['endpoint', 'endpointQuery']]],
  ['path that is not the bucket', { endpoint: 'https://minio.example.com/other', bucket: 'b1x' }, [['endpoint', 'endpointPath']]],
  ['path with two segments', { endpoint: 'https://minio.example.com/b1x/backups', bucket: 'b1x' }, [['endpoint', 'endpointPath']]],
  ['path when the host names the bucket', { endpoint: 'https://b1x.s3.eu-west-1.amazonaws.com/b1x' }, [['endpoint', 'endpointPath']]],
  ['bucket in host differs from field', { endpoint: 'https://one.s3.eu-west-1.amazonaws.com', bucket: 'two' }, [['bucket', 'bucketMismatch']]],
  ['region differs from AWS host', { endpoint: 'https://s3.eu-west-1.amazonaws.com', region: 'us-east-1', bucket: 'b1x' }, [['region', 'regionMismatch']]],
  ['region with spaces', { endpoint: 'http://127.0.0.1:7480', region: 'eu west', bucket: 'b1x' }, [['region', 'regionInvalid']]],
  ['bucket with slash', { endpoint: 'http://127.0.0.1:7480', bucket: 'a/b' }, [['bucket', 'bucketInvalid']]],
  ['bucket too short', { endpoint: 'http://127.0.0.1:7480', bucket: 'ab' }, [['bucket', 'bucketInvalid']]],
  ['bucket ending with dash', { endpoint: 'http://127.0.0.1:7480', bucket: 'abc-' }, [['bucket', 'bucketInvalid']]],
  ['root path with ..', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x', rootPath: 'a/../b' }, [['rootPath', 'rootPathDotSegment']]],
  ['root path with .', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x', rootPath: './a' }, [['rootPath', 'rootPathDotSegment']]],
  ['root path with //', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x', rootPath: 'a//b' }, [['rootPath', 'rootPathEmptySegment']]],
  ['root path with blank segment', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x', rootPath: 'a/ /b' }, [['rootPath', 'rootPathEmptySegment']]],
  ['root path with backslash', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x', rootPath: 'a\\b' }, [['rootPath', 'rootPathBackslash']]],
  ['root path with control char', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x', rootPath: 'a\nb' }, [['rootPath', 'rootPathInvalid']]],
  ['unknown addressing style', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x', addressingStyle: 'dns' }, [['addressingStyle', 'addressingStyleInvalid']]],
  ['key id with inner space', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x', accessKeyId: 'AK IA' }, [['accessKeyId', 'accessKeyIdInvalid']]],
  ['secret with inner space', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x', secretAccessKey: 'ab cd' }, [['secretAccessKey', 'secretAccessKeyInvalid']]],
  ['credentials required', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x' }, [['accessKeyId', 'required'], ['secretAccessKey', 'required']], { requireCredentials: true }],
  ['secret required', { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x', accessKeyId: 'AK' }, [['secretAccessKey', 'required']], { requireCredentials: true }],
];

const FIELD_WORD: Record<string, RegExp> = {
  endpoint: /Endpoint/,
  region: /Region/,
  bucket: /Bucket/,
  accessKeyId: /Access key ID/,
  secretAccessKey: /Secret access key/,
  rootPath: /Root path/,
  addressingStyle: /Addressing style/,
};

describe('normalizeProfile', () => {
  for (const [name, input, expect] of ok) {
    it(`ok: ${name}`, () => {
      const r = normalizeProfile(input);
      assert.ok(r.ok, `expected ok, got ${JSON.stringify(!r.ok && r.errors)}`);
      for (const [k, v] of Object.entries(expect)) {
        assert.strictEqual((r.profile as unknown as Record<string, unknown>)[k], v, `${k}`);
      }
      // Stable: normalizing the result again changes nothing.
      const again = normalizeProfile(r.profile);
      assert.ok(again.ok);
      assert.deepStrictEqual(again.profile, r.profile);
    });
  }

  for (const [name, input, expect, opts] of bad) {
    it(`error: ${name}`, () => {
      const r = normalizeProfile(input, opts);
      assert.ok(!r.ok, `expected errors, got ${JSON.stringify(r.ok && r.profile)}`);
      assert.deepStrictEqual(
        r.errors.map((e) => [e.field, e.code]),
        expect,
      );
      for (const e of r.errors) {
        assert.match(e.message, FIELD_WORD[e.field], 'the message names the field');
        assert.match(e.message, /^[A-Z].*\.$/s, 'one plain sentence');
      }
    });
  }

  it('notes say what was changed', () => {
    const r = normalizeProfile({ endpoint: 'my-bucket.s3.eu-west-1.amazonaws.com' });
    assert.ok(r.ok);
    assert.ok(r.notes.some((n) => n.includes('https://')));
    assert.ok(r.notes.some((n) => n.includes('my-bucket')));
    assert.ok(r.notes.some((n) => n.includes('eu-west-1')));
  });

  it('requireCredentials passes with both keys', () => {
    const r = normalizeProfile({ endpoint: 'http://127.0.0.1:7480', bucket: 'b1x', ...keys }, { requireCredentials: true });
    assert.ok(r.ok);
    assert.strictEqual(r.profile.secretAccessKey, keys.secretAccessKey);
  });

  it('never puts the secret in an error message or note', () => {
    const inputs: ProfileInput[] = [
      { endpoint: `https://x/${keys.secretAccessKey}`, bucket: 'b1x', ...keys },
      { endpoint: 'ftp://x', bucket: '', rootPath: '../x', ...keys },
      { endpoint: 'http://127.0.0.1:7480', bucket: 'b1x', ...keys },
    ];
    for (const input of inputs) {
      const r = normalizeProfile(input);
      const text = JSON.stringify(r.ok ? r.notes : r.errors);
      assert.ok(!text.includes(keys.secretAccessKey), text);
    }
  });

  it('ignores non-string values instead of throwing', () => {
    const r = normalizeProfile({ endpoint: 42 as unknown as string, bucket: null as unknown as string });
    assert.ok(!r.ok);
    assert.deepStrictEqual(r.errors.map((e) => e.field), ['endpoint', 'bucket']);
  });
});
