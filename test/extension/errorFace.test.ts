// The face of every engine error: one plain sentence in the user's language,
// a hint, the values it names, and "Open Settings" where the settings are the fix.
import * as assert from 'assert';
import { BackupError, CancelledError, type ErrorCode } from '../../src/core/util/engineErrors';
import { describeError, errorText } from '../../src/extension/ui/errorFace';

const CODES: ErrorCode[] = [
  'InvalidProfile', 'SignatureMismatch', 'InvalidAccessKey', 'AccessDenied', 'NoSuchBucket', 'WrongRegion', 'Unreachable', 'Timeout',
  'ClockSkew', 'Tls', 'NotFound', 'AlreadyExists', 'Integrity', 'UnsafeArchive', 'TooLarge', 'SourceChanged', 'Busy', 'Cancelled', 'Io',
  'Server', 'Unknown', 'WrongPassphrase', 'PassphraseNeeded', 'Unauthentic', 'PlainBackup',
];

describe('error face', () => {
  it('every code has a sentence and, unless cancelled, a hint', () => {
    const seen = new Set<string>();
    for (const code of CODES) {
      const f = describeError(new BackupError(code, 'engine text', 'engine hint', { params: {} }));
      assert.strictEqual(f.code, code);
      assert.match(f.message, /^[A-Z].+[.!]$/, `${code}: "${f.message}"`);
      if (code !== 'Cancelled') assert.ok(f.hint, `${code} has no hint`);
      assert.ok(!f.message.includes('engine text'), `${code}: the face translates by code, it does not echo the engine's English`);
      seen.add(f.message);
    }
    assert.ok(seen.size >= CODES.length - 2, 'codes are told apart');
  });

  it('names what the params say: bucket, endpoint, expected region, path', () => {
    assert.match(describeError(new BackupError('NoSuchBucket', '', '', { params: { bucket: 'my-backups' } })).message, /"my-backups"/);
    assert.match(describeError(new BackupError('Unreachable', '', '', { params: { endpoint: 'http://10.0.0.9:9000' } })).message, /10\.0\.0\.9:9000/);
    assert.match(describeError(new BackupError('WrongRegion', '', '', { params: { expectedRegion: 'eu-central-1' } })).hint ?? '', /eu-central-1/);
    assert.match(describeError(new BackupError('Io', '', '', { params: { path: '/tmp/x' } })).message, /\/tmp\/x/);
    assert.match(describeError(new BackupError('Busy', '', '', { params: { path: '/work/p', reason: 'running' } })).message, /^Another restore into p is running\.$/);
    assert.match(describeError(new BackupError('Busy', '', '', { params: { path: '/work/p', reason: 'interrupted' } })).message, /interrupted/);
    assert.match(describeError(new BackupError('NotFound', '', '', { params: { reason: 'staging' } })).message, /cannot be completed/);
    const space = describeError(new BackupError('TooLarge', '', '', { params: { reason: 'space', bytes: 5 * 1024 ** 3, path: '/home/me' } }));
    assert.match(space.message, /^The backup \([\d.,]+ GB\) does not fit in the free space of me\.$/, space.message);
    assert.match(space.hint ?? '', /restore the backup into a folder/);
  });

  it('offers the settings for connection problems only', () => {
    assert.strictEqual(describeError(new BackupError('SignatureMismatch', '')).settings, true);
    assert.strictEqual(describeError(new BackupError('Integrity', '')).settings, false);
  });

  it('an engine error from the other bundle (same shape, other class) is still recognised', () => {
    const foreign = Object.assign(new Error('x'), { name: 'BackupError', code: 'AccessDenied', params: { bucket: 'b' } });
    assert.strictEqual(describeError(foreign).code, 'AccessDenied');
    assert.strictEqual(describeError(new Error('plain')).code, 'Unknown');
    assert.strictEqual(describeError(new CancelledError()).code, 'Cancelled');
  });

  it('errorText is the sentence then the hint', () => {
    const f = describeError(new BackupError('Timeout', ''));
    assert.strictEqual(errorText(f), `${f.message} ${f.hint}`);
  });
});
