// New folders of a restore are staged whole and renamed into place once
// (src/core/restore/stagedTrees.ts); folders that exist get their files one
// by one, and so does a new folder that someone makes while the restore runs.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { verifyArchive } from '../../src/core/archive/verifyArchive';
import { applyRestore } from '../../src/core/restore/applyRestore';
import { extractEntries } from '../../src/core/restore/extract';
import { planRestore } from '../../src/core/restore/planRestore';
import { undoSnapshot } from '../../src/core/restore/snapshot';
import { TreeStaging } from '../../src/core/restore/stagedTrees';
import { archiveFolder } from '../helpers/folderArchive';
import { MIXED_TREE, listTree, makeTree } from '../helpers/tree';

interface RecordDoc {
  state: string;
  staging: string[];
  entries: Array<{ path: string; staged?: string }>;
  createdDirs: string[];
}

const recordOf = (snapshotDir: string): RecordDoc => JSON.parse(fs.readFileSync(path.join(snapshotDir, 'snapshot.json'), 'utf8')) as RecordDoc;

describe('restore: new folders staged whole', function () {
  this.timeout(180_000);
  let tmp: string;
  let src: string;
  let zip: string;
  let n = 0;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-trees-'));
    src = path.join(tmp, 'src');
    await makeTree(src, { ...MIXED_TREE, deep: 4 });
    zip = path.join(tmp, 'backup.zip');
    await archiveFolder(src, zip);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const topFolders = (): string[] => fs.readdirSync(src, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();

  it('finds the outermost missing folder of each folder, and stages its subtree', async () => {
    const root = path.join(tmp, 'finder');
    const staging = path.join(root, '.s3-backup-staging-x');
    fs.mkdirSync(path.join(root, 'old'), { recursive: true });
    fs.mkdirSync(staging);
    const folders = new Map([root, path.join(root, 'old'), path.join(root, 'new'), path.join(root, 'new', 'a', 'b'), path.join(root, 'old', 'fresh'), path.join(root, 'new', 'c')].map((f) => [f, staging]));
    const t = await TreeStaging.of(folders);
    assert.deepStrictEqual(
      t.trees.map((x) => [path.relative(root, x.targetPath), path.relative(root, x.staged)]),
      [
        ['new', '.s3-backup-staging-x/tree-0'],
        ['old/fresh', '.s3-backup-staging-x/tree-1'],
      ],
    );
    assert.strictEqual(t.treeOf(path.join(root, 'old', 'f.txt')), undefined);
    assert.strictEqual(t.treeOf(path.join(root, 'top.txt')), undefined);
    const deep = path.join(root, 'new', 'a', 'b', 'f.txt');
    assert.strictEqual(TreeStaging.stagedPath(t.treeOf(deep)!, deep), path.join(staging, 'tree-0', 'a', 'b', 'f.txt'));
    const fresh = path.join(root, 'old', 'fresh', 'g.txt');
    assert.strictEqual(TreeStaging.stagedPath(t.treeOf(fresh)!, fresh), path.join(staging, 'tree-1', 'g.txt'));
    await t.create();
    for (const d of ['tree-0/a/b', 'tree-0/c', 'tree-1']) assert.ok(fs.statSync(path.join(staging, d)).isDirectory(), d);
    assert.ok(!fs.existsSync(path.join(root, 'new')), 'nothing is made at the target');
  });

  it('a restore into a folder with one of its folders: the others move whole, and undo puts the folder back exactly', async () => {
    const dst = path.join(tmp, `target-${++n}`);
    const [kept] = topFolders();
    fs.mkdirSync(path.join(dst, kept), { recursive: true });
    fs.writeFileSync(path.join(dst, kept, 'local-only.txt'), 'mine\n');
    const before = await listTree(dst);
    const manifest = await verifyArchive(zip);
    const r = await applyRestore(await planRestore(zip, manifest, { 'workspace/app': dst }), { snapshotRoot: path.join(tmp, 'snap') });
    assert.strictEqual(r.written, manifest.files.length);
    const expected = { ...(await listTree(src)), [`${kept}/local-only.txt`]: before[`${kept}/local-only.txt`] };
    assert.deepStrictEqual(await listTree(dst), expected);

    // The record: files of the new folders staged in their folder's subtree, the others in the buckets.
    const doc = recordOf(r.snapshotDir!);
    assert.strictEqual(doc.state, 'complete');
    const stagedIn = (e: { path: string; staged?: string }): string => path.relative(doc.staging[0], e.staged!).split(path.sep)[0];
    const inKept = doc.entries.filter((e) => path.relative(dst, e.path).split(path.sep)[0] === kept);
    const inNew = doc.entries.filter((e) => !inKept.includes(e) && path.dirname(e.path) !== dst);
    assert.ok(inKept.length > 0 && inNew.length > 0);
    for (const e of inKept) assert.match(stagedIn(e), /^\d+$/, e.path);
    for (const e of inNew) {
      assert.match(stagedIn(e), /^tree-\d+$/, e.path);
      // Below the subtree: the same path as below the top folder.
      const inside = path.relative(dst, e.path).split(path.sep).slice(1).join(path.sep);
      assert.ok(e.staged!.endsWith(`${path.sep}${stagedIn(e)}${path.sep}${inside}`), e.staged);
    }
    assert.strictEqual(new Set(inNew.map(stagedIn)).size, topFolders().length - 1, 'one staged subtree per new top folder');
    for (const f of topFolders().slice(1)) assert.ok(doc.createdDirs.includes(path.join(dst, f)), `${f} is recorded as made by the restore`);
    assert.ok(!fs.readdirSync(dst).some((x) => x.startsWith('.s3-backup-')), 'no staging left');

    await undoSnapshot(r.snapshotDir!);
    assert.deepStrictEqual(await listTree(dst), before);
  });

  it('a new folder made by someone while the restore stages: its files go one by one, and what they put there stays', async () => {
    const dst = path.join(tmp, `target-${++n}`);
    fs.mkdirSync(dst);
    const folders = topFolders();
    const manifest = await verifyArchive(zip);
    const plan = await planRestore(zip, manifest, { 'workspace/app': dst });
    const theirs = path.join(dst, folders[1], 'theirs.txt');
    const r = await applyRestore(plan, {
      snapshotRoot: path.join(tmp, 'snap'),
      stage: async (select, so) => {
        await extractEntries(plan.archiveFile, plan.manifest, select, so);
        fs.mkdirSync(path.dirname(theirs));
        fs.writeFileSync(theirs, 'made during the restore\n');
      },
    });
    assert.strictEqual(r.written, manifest.files.length);
    const after = await listTree(dst);
    assert.strictEqual(fs.readFileSync(theirs, 'utf8'), 'made during the restore\n');
    delete after[`${folders[1]}/theirs.txt`];
    assert.deepStrictEqual(after, await listTree(src));
    const doc = recordOf(r.snapshotDir!);
    assert.ok(!doc.createdDirs.includes(path.dirname(theirs)), 'the folder they made is not recorded as the restore’s');

    await undoSnapshot(r.snapshotDir!);
    assert.deepStrictEqual(Object.keys(await listTree(dst)), [folders[1], `${folders[1]}/theirs.txt`], 'undo removes the restore’s files, never theirs');
  });
});
