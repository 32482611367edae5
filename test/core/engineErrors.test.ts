// toBackupError: the stable code, the one plain sentence and the hint for
// each kind of failure (as the SDK, Node and the file system report them),
// with secrets scrubbed from anything copied from the cause.
import * as assert from 'assert';
import { BackupError, CancelledError, isCancelled, scrubSecrets, toBackupError, type ErrorCode } from '../../src/core/util/engineErrors';

const ctx = { bucket: 'b1', endpoint: 'https://s3.example.com', key: 'k/1.zip', secrets: ['SuperSecretKey123'] };
const s3 = (name: string, status: number, extra: object = {}) => Object.assign(new Error(`${name} happened`), { name, Code: name, $metadata: { httpStatusCode: status }, ...extra });
const sys = (code: string) => Object.assign(new Error(`${code}: failed`), { code });

describe('engine errors', () => {
  const table: Array<[string, unknown, ErrorCode, RegExp]> = [
    ['wrong secret', s3('SignatureDoesNotMatch', 403), 'SignatureMismatch', /secret access key was rejected/],
    ['unknown key', s3('InvalidAccessKeyId', 403), 'InvalidAccessKey', /not known to the server at https:\/\/s3\.example\.com/],
    ['missing bucket', s3('NoSuchBucket', 404), 'NoSuchBucket', /"b1" does not exist/],
    ['wrong region', s3('PermanentRedirect', 301, { Region: 'eu-west-1' }), 'WrongRegion', /another region/],
    ['clock', s3('RequestTimeTooSkewed', 403), 'ClockSkew', /clock differs/],
    ['missing key', s3('NoSuchKey', 404), 'NotFound', /"k\/1\.zip" was not found/],
    ['exists', s3('PreconditionFailed', 412), 'AlreadyExists', /already exists; it was not overwritten/],
    ['denied', s3('AccessDenied', 403), 'AccessDenied', /"b1" was denied/],
    ['bare 403', Object.assign(new Error('x'), { $metadata: { httpStatusCode: 403 } }), 'AccessDenied', /denied/],
    ['5xx', Object.assign(new Error('x'), { name: 'InternalError', $metadata: { httpStatusCode: 503 } }), 'Server', /HTTP 503/],
    ['refused', sys('ECONNREFUSED'), 'Unreachable', /refused the connection/],
    ['no host', sys('ENOTFOUND'), 'Unreachable', /host name .* could not be found/],
    ['reset', sys('ECONNRESET'), 'Unreachable', /was dropped/],
    ['timeout', Object.assign(new Error('t'), { name: 'TimeoutError' }), 'Timeout', /did not answer in time/],
    ['tls', sys('CERT_HAS_EXPIRED'), 'Tls', /TLS/],
    ['file system', sys('EACCES'), 'Io', /file operation failed \(EACCES/],
  ];
  for (const [what, raw, code, message] of table) {
    it(`${what} -> ${code}`, () => {
      const e = toBackupError(raw, ctx);
      assert.ok(e instanceof BackupError);
      assert.strictEqual(e.code, code);
      assert.match(e.message, message);
      assert.ok(e.hint && e.hint.length > 10, 'a hint says what to do');
      assert.strictEqual(e.cause, raw, 'the cause is kept');
    });
  }

  it('the expected region from the server becomes the hint', () => {
    const e = toBackupError(s3('PermanentRedirect', 301, { Region: 'eu-west-1' }), ctx);
    assert.strictEqual(e.params.expectedRegion, 'eu-west-1');
    assert.match(e.hint ?? '', /eu-west-1/);
  });

  it('a secret in the cause never reaches the message or the params', () => {
    const e = toBackupError(Object.assign(new Error('bad request with SuperSecretKey123 inside'), { $metadata: { httpStatusCode: 418 } }), ctx);
    assert.strictEqual(e.code, 'Unknown');
    assert.ok(!e.message.includes('SuperSecretKey123'), e.message);
    assert.ok(!JSON.stringify(e.params).includes('SuperSecretKey123'));
    assert.strictEqual(scrubSecrets('a SuperSecretKey123 b', ['SuperSecretKey123']), 'a *** b');
  });

  it('an abort is a cancel, by class or by shape', () => {
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
    assert.ok(toBackupError(abort) instanceof CancelledError);
    assert.ok(isCancelled({ name: 'BackupError', code: 'Cancelled' }), 'an engine error from the other bundle');
    assert.ok(!isCancelled(new Error('x')));
  });

  it('a BackupError passes through unchanged', () => {
    const e = new BackupError('Integrity', 'x', 'y');
    assert.strictEqual(toBackupError(e, ctx), e);
  });
});
