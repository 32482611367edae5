import * as assert from 'assert';
import * as path from 'path';
import { folderName, targetsInFolder, targetsOnFolders, workspacePrefixes } from '../../src/core/restore/targets';

// The one rule for where a backup's folders land, which the CLI (into a folder)
// and the extension (onto open folders, or into a chosen one) both use.
describe('restore targets: where a backup\'s folders land', () => {
  it('workspacePrefixes: from the sources and from the files, sorted, app data and stray names ignored', () => {
    const manifest = {
      sources: ['workspace/web', 'appdata', 'workspace/', 'workspace/a/b'],
      files: [{ path: 'workspace/api/src/x.ts' }, { path: 'workspace/web/index.html' }, { path: 'appdata/settings.json' }, { path: 'workspace/loose' }],
    };
    assert.deepStrictEqual(workspacePrefixes(manifest), ['workspace/api', 'workspace/web']);
    assert.strictEqual(folderName('workspace/api'), 'api');
  });

  it('into one folder: a one-folder backup lands in it directly; several land side by side, by name', () => {
    const dir = path.join(path.sep, 'restore', 'here');
    assert.deepStrictEqual(targetsInFolder(['workspace/app'], dir), { 'workspace/app': dir });
    assert.deepStrictEqual(targetsInFolder(['workspace/api', 'workspace/web'], dir), {
      'workspace/api': path.join(dir, 'api'),
      'workspace/web': path.join(dir, 'web'),
    });
  });

  it('onto open folders: by name; a one-folder backup onto the only open folder whatever its name; a folder with no match asks', () => {
    const open = [{ name: 'web', path: '/w/web' }, { name: 'api', path: '/w/api' }];
    assert.deepStrictEqual(targetsOnFolders(['workspace/api', 'workspace/web'], open), { 'workspace/api': '/w/api', 'workspace/web': '/w/web' });
    assert.deepStrictEqual(targetsOnFolders(['workspace/old-name'], [{ name: 'new-name', path: '/w/new' }]), { 'workspace/old-name': '/w/new' });
    assert.strictEqual(targetsOnFolders(['workspace/api', 'workspace/docs'], open), undefined, 'docs has no open folder: the user is asked');
    assert.strictEqual(targetsOnFolders(['workspace/old-name'], open), undefined, 'one folder but two open: no guessing');
    assert.strictEqual(targetsOnFolders([], open), undefined);
  });
});
