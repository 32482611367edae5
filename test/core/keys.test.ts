import * as assert from 'assert';
import {
  backupPrefix,
  compareNewestFirst,
  makeBackupKey,
  parseBackupKey,
  randomSuffix,
  sanitizeHost,
  type BackupKind,
  type BackupRef,
} from '../../src/core/format/backupKeys';

describe('backup keys', () => {
  const time = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));

  it('has the documented form', () => {
    assert.strictEqual(
      makeBackupKey('backups/vscode', { time, host: 'dev-box', kind: 'workspace', random: 'abc123' }),
      'backups/vscode/20260102-030405.678_dev-box_workspace_abc123.json.gz',
    );
    assert.strictEqual(
      makeBackupKey('backups/vscode', { time, host: 'dev-box', kind: 'workspace', random: 'abc123', format: 1 }),
      'backups/vscode/20260102-030405_dev-box_workspace_abc123.zip',
    );
  });

  it('tells the format by the name: .zip is one archive (format 1), .json.gz a manifest (format 2)', () => {
    assert.strictEqual(parseBackupKey('', '20260102-030405_h_full_zzzzzz.zip')?.format, 1);
    assert.strictEqual(parseBackupKey('', '20260102-030405_h_full_zzzzzz.json.gz')?.format, 2);
    assert.strictEqual(parseBackupKey('', '20260102-030405_h_full_zzzzzz.json'), undefined);
    assert.strictEqual(parseBackupKey('', '20260102-030405.678_h_full_zzzzzz.json.gz')?.time.getTime(), Date.UTC(2026, 0, 2, 3, 4, 5, 678), 'milliseconds');
    assert.strictEqual(parseBackupKey('', '20260102-030405.678_h_full_zzzzzz.zip'), undefined, 'format 1 names have none');
  });

  it('has no leading slash when rootPath is empty', () => {
    const key = makeBackupKey('', { time, host: 'h', kind: 'full', random: 'zzzzzz' });
    assert.strictEqual(key, '20260102-030405.678_h_full_zzzzzz.json.gz');
    assert.strictEqual(makeBackupKey('/', { time, host: 'h', kind: 'full', random: 'zzzzzz' }), key);
  });

  it('round-trips every kind, with and without a root path', () => {
    for (const root of ['', 'a', 'a/b/c', 'équipe/backups']) {
      for (const kind of ['workspace', 'appdata', 'full'] as BackupKind[]) {
        const key = makeBackupKey(root, { time, host: 'My_Laptop.local', kind });
        const ref = parseBackupKey(root, key, 1234);
        assert.ok(ref, key);
        assert.strictEqual(ref.key, key);
        assert.strictEqual(ref.kind, kind);
        assert.strictEqual(ref.host, 'My-Laptop-local');
        assert.strictEqual(ref.size, 1234);
        assert.strictEqual(ref.time.getTime(), Date.UTC(2026, 0, 2, 3, 4, 5, 678), 'millisecond precision, UTC');
      }
    }
  });

  it('sanitizes host names: only letters, digits and -', () => {
    const rows: Array<[string, string]> = [
      ['dev-box', 'dev-box'],
      ['my_host', 'my-host'],
      ['host.example.com', 'host-example-com'],
      ['Café PC', 'Cafe-PC'],
      ['__a__b__', 'a-b'],
      ['计算机', 'host'],
      ['', 'host'],
      ['x'.repeat(100), 'x'.repeat(63)],
    ];
    for (const [input, expected] of rows) assert.strictEqual(sanitizeHost(input), expected, input);
    const key = makeBackupKey('', { time, host: 'a_b_c', kind: 'workspace', random: 'abcdef' });
    assert.strictEqual(key.split('_').length, 4, 'underscore separates exactly the four fields');
  });

  it('random suffixes are 8 base36 characters and differ', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const r = randomSuffix();
      assert.match(r, /^[0-9a-z]{8}$/);
      seen.add(r);
    }
    assert.strictEqual(seen.size, 2000);
    const k1 = makeBackupKey('r', { time, host: 'h', kind: 'workspace' });
    const k2 = makeBackupKey('r', { time, host: 'h', kind: 'workspace' });
    assert.notStrictEqual(k1, k2, 'two backups in the same second get different keys');
  });

  it('sorts by time as plain strings', () => {
    const times = [Date.UTC(2025, 11, 31, 23, 59, 59), Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1, 0, 0, 1), Date.UTC(2026, 9, 10)];
    const keys = times.map((t) => makeBackupKey('r', { time: new Date(t), host: 'zzz', kind: 'workspace' }));
    assert.deepStrictEqual([...keys].sort(), keys);
  });

  it('rejects foreign objects', () => {
    const foreign = [
      'r/notes.txt',
      'r/20260102-030405_host_workspace_abc123.tar.gz',
      'r/20260102-030405_host_other_abc123.zip',
      'r/20260102-030405_host_workspace_ABC123.zip',
      'r/20260102-030405_host_workspace_abc12.zip',
      'r/20260102-030405_host_workspace_abc123456.zip',
      'r/20260102-030405_ho_st_workspace_abc123.zip',
      'r/20260102-030405__workspace_abc123.zip',
      'r/20260102-030405_-host_workspace_abc123.zip',
      'r/2026010-030405_host_workspace_abc123.zip',
      'r/20261302-030405_host_workspace_abc123.zip',
      'r/20260230-030405_host_workspace_abc123.zip',
      'r/20260102-250405_host_workspace_abc123.zip',
      'r/sub/20260102-030405_host_workspace_abc123.zip',
      'other/20260102-030405_host_workspace_abc123.zip',
      '20260102-030405_host_workspace_abc123.zip',
      'r/.s3-backup-probe-0123456789ab',
      'r/',
    ];
    for (const key of foreign) assert.strictEqual(parseBackupKey('r', key), undefined, key);
    assert.ok(parseBackupKey('r', 'r/20260102-030405_host_workspace_abc123.zip'));
    assert.ok(parseBackupKey('', '20260102-030405_host_workspace_abc123.zip'));
    assert.strictEqual(parseBackupKey('', 'r/20260102-030405_host_workspace_abc123.zip'), undefined, 'nested under an empty root');
  });

  it('root path prefix', () => {
    assert.strictEqual(backupPrefix(''), '');
    assert.strictEqual(backupPrefix('a/b'), 'a/b/');
    assert.strictEqual(backupPrefix('/a/b/'), 'a/b/');
  });

  it('refuses bad input to makeBackupKey', () => {
    assert.throws(() => makeBackupKey('', { time, host: 'h', kind: 'nope' as BackupKind }));
    assert.throws(() => makeBackupKey('', { time, host: 'h', kind: 'full', random: 'UPPER1' }));
    assert.throws(() => makeBackupKey('', { time: new Date(NaN), host: 'h', kind: 'full' }));
  });

  it('compareNewestFirst: newest first, key breaks ties', () => {
    const ref = (t: number, key: string): BackupRef => ({ key, time: new Date(t), host: 'h', kind: 'workspace', size: 0, format: 2 });
    const list = [ref(1000, 'a'), ref(3000, 'c'), ref(2000, 'b'), ref(3000, 'd')];
    assert.deepStrictEqual(list.sort(compareNewestFirst).map((r) => r.key), ['d', 'c', 'b', 'a']);
  });
});
