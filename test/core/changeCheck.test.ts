// BackupEngine.hasChanges against the real server: the cheap "anything new
// since the last backup of this machine and kind?" that automatic backups
// and `backup --if-changed` ask before backing up.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BackupEngine } from '../../src/core/engine';
import { createTestBucket, requireS3Server, type TestBucket } from '../helpers/s3';

describe('hasChanges: nothing changed means no new backup (real S3)', function () {
  this.timeout(120_000);
  let bucket: TestBucket;
  let work: string;
  let app: string;
  const engineFor = (host: string, rootPath = 'chg'): BackupEngine => new BackupEngine(bucket.profileAt(rootPath), { hostname: host, tmpDir: path.join(work, 'tmp'), cacheDir: path.join(work, 'cache') });
  const folders = (): Array<{ name: string; path: string }> => [{ name: 'app', path: app }];
  const appData = (text: string) => [{ archivePath: 'appdata/settings.json', data: Buffer.from(text), size: Buffer.byteLength(text), mtimeMs: Date.now(), mode: 0o644 }];

  before(async () => {
    requireS3Server();
    bucket = await createTestBucket('changes');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-chg-'));
    app = path.join(work, 'app');
    fs.mkdirSync(path.join(app, 'src'), { recursive: true });
    fs.mkdirSync(path.join(app, 'empty'));
    fs.writeFileSync(path.join(app, 'README.md'), '# app\n');
    fs.writeFileSync(path.join(app, 'src', 'a.ts'), 'export const a = 1;\n');
  });

  after(async () => {
    fs.rmSync(work, { recursive: true, force: true });
    await bucket?.cleanup();
  });

  it('says changed (noPrevious) before the first backup, unchanged right after it', async () => {
    const e = engineFor('box-a');
    try {
      const before = await e.hasChanges({ kind: 'workspace', folders: folders() });
      assert.deepStrictEqual([before.changed, before.reason], [true, 'noPrevious']);
      const b = await e.backup({ kind: 'workspace', folders: folders() });
      const after = await e.hasChanges({ kind: 'workspace', folders: folders() });
      assert.deepStrictEqual([after.changed, after.reason, after.previous?.key], [false, 'unchanged', b.key]);
    } finally {
      e.dispose();
    }
  });

  // Each row changes one thing after a fresh backup; every one must be seen.
  const rows: Array<[string, () => void, string | undefined]> = [
    ['an edited file', () => fs.appendFileSync(path.join(app, 'src', 'a.ts'), '// more\n'), 'workspace/app/src/a.ts'],
    ['a new file', () => fs.writeFileSync(path.join(app, 'src', 'b.ts'), 'b\n'), 'workspace/app/src/b.ts'],
    ['a deleted file', () => fs.rmSync(path.join(app, 'src', 'b.ts')), 'workspace/app/src/b.ts'],
    ['a touched file (same bytes, new mtime)', () => fs.utimesSync(path.join(app, 'README.md'), new Date(), new Date(Date.now() - 3_600_000)), 'workspace/app/README.md'],
    ['a new empty folder', () => fs.mkdirSync(path.join(app, 'empty2')), 'workspace/app/empty2'],
    ['a new link', () => fs.symlinkSync('README.md', path.join(app, 'link')), 'workspace/app/link'],
  ];
  for (const [what, change, changedPath] of rows) {
    it(`sees ${what}`, async () => {
      const e = engineFor('box-a');
      try {
        await e.backup({ kind: 'workspace', folders: folders() });
        assert.strictEqual((await e.hasChanges({ kind: 'workspace', folders: folders() })).changed, false);
        change();
        const c = await e.hasChanges({ kind: 'workspace', folders: folders() });
        assert.strictEqual(c.changed, true);
        assert.strictEqual(c.reason, 'files');
        assert.strictEqual(c.path, changedPath);
      } finally {
        e.dispose();
      }
    });
  }

  it('sees changed excludes, and compares only with this machine, kind and folder path', async () => {
    const e = engineFor('box-a');
    const other = engineFor('box-b');
    try {
      await e.backup({ kind: 'workspace', folders: folders() });
      const excl = await e.hasChanges({ kind: 'workspace', folders: [{ ...folders()[0], excludes: ['*.log'] }] });
      assert.deepStrictEqual([excl.changed, excl.reason], [true, 'selection']);
      // Another machine has no backup of its own yet, though the bucket holds this one's.
      assert.deepStrictEqual([(await other.hasChanges({ kind: 'workspace', folders: folders() })).reason], ['noPrevious']);
      // The same folder name elsewhere on this machine is another folder.
      const copy = path.join(work, 'elsewhere', 'app');
      fs.cpSync(app, copy, { recursive: true, verbatimSymlinks: true });
      assert.strictEqual((await e.hasChanges({ kind: 'workspace', folders: [{ name: 'app', path: copy }] })).reason, 'noPrevious');
      // A full backup is another kind: the workspace backup does not answer for it.
      assert.strictEqual((await e.hasChanges({ kind: 'full', folders: folders(), extra: appData('{}') })).reason, 'noPrevious');
    } finally {
      e.dispose();
      other.dispose();
    }
  });

  it('compares app data by content', async () => {
    const e = engineFor('box-c', 'chg-app');
    try {
      await e.backup({ kind: 'appdata', folders: [], extra: appData('{"a": 1}') });
      const same = await e.hasChanges({ kind: 'appdata', folders: [], extra: appData('{"a": 1}') });
      assert.strictEqual(same.changed, false, JSON.stringify(same));
      const c = await e.hasChanges({ kind: 'appdata', folders: [], extra: appData('{"a": 2}') });
      assert.deepStrictEqual([c.changed, c.path], [true, 'appdata/settings.json']);
    } finally {
      e.dispose();
    }
  });
});
