import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { verifyArchive } from '../../src/core/archive/verifyArchive';
import { applyRestore } from '../../src/core/restore/applyRestore';
import { planRestore } from '../../src/core/restore/planRestore';
import { undoSnapshot as undoRestore } from '../../src/core/restore/snapshot';
import { archiveFolder as archiveOf } from '../helpers/folderArchive';
import { MIXED_TREE, listTree, makeTree, textBytes } from '../helpers/tree';
import { expectCode } from '../helpers/assertions';

describe('restore', function () {
  this.timeout(180_000);
  let tmp: string;
  let src: string;
  let zip: string;
  let snapshots: string;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-restore-'));
    src = path.join(tmp, 'src');
    snapshots = path.join(tmp, 'snapshots');
    await makeTree(src, { ...MIXED_TREE, bigIncompressible: 20 * 1024 * 1024 });
    zip = path.join(tmp, 'backup.zip');
    await archiveOf(src, zip);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('round trip into an empty folder: byte-identical, with modes and mtimes', async () => {
    const dst = path.join(tmp, 'fresh', 'nested', 'target');
    const manifest = await verifyArchive(zip);
    const plan = await planRestore(zip, manifest, { 'workspace/app': dst });
    assert.strictEqual(plan.counts.create, manifest.files.length);
    assert.strictEqual(plan.counts.overwrite + plan.counts.unchanged + plan.counts.onlyLocal, 0);
    const phases = new Set<string>();
    const r = await applyRestore(plan, { snapshotRoot: snapshots, onProgress: (p) => phases.add(p.phase) });
    assert.strictEqual(r.written, manifest.files.length);
    assert.ok(phases.has('write'));
    assert.deepStrictEqual(await listTree(dst), await listTree(src));
    // Nothing overwritten, so the snapshot lists only what it created.
    const doc = JSON.parse(fs.readFileSync(path.join(r.snapshotDir!, 'snapshot.json'), 'utf8'));
    assert.strictEqual(doc.state, 'complete');
    assert.strictEqual(doc.entries.filter((e: { before?: unknown }) => e.before).length, 0);
    assert.strictEqual(doc.entries.length, manifest.files.length);
    assert.ok(!fs.readdirSync(dst).some((n) => n.startsWith('.s3-backup-staging-')), 'staging folder removed');

    // Restoring again changes nothing.
    const again = await planRestore(zip, manifest, { 'workspace/app': dst });
    assert.strictEqual(again.counts.unchanged, manifest.files.length);
    assert.deepStrictEqual(await applyRestore(again, { snapshotRoot: snapshots }), { written: 0 });
  });

  it('restore over a modified folder: plan, safety snapshot, undo', async () => {
    const dst = path.join(tmp, 'modified');
    const manifest = await verifyArchive(zip);
    await applyRestore(await planRestore(zip, manifest, { 'workspace/app': dst }), { snapshotRoot: snapshots });
    // The user's changes since the backup:
    fs.writeFileSync(path.join(dst, 'dir01/file0001.txt'), 'edited after the backup\n'); // other size
    const same = path.join(dst, 'dir03/file0003.txt');
    const sameSize = textBytes(fs.statSync(same).size, 4242);
    fs.writeFileSync(same, sameSize); // same size, other bytes
    fs.rmSync(path.join(dst, 'dir02/blob0002.dat'));
    fs.writeFileSync(path.join(dst, 'local-only.txt'), 'mine');
    fs.mkdirSync(path.join(dst, 'node_modules/x'), { recursive: true });
    fs.writeFileSync(path.join(dst, 'node_modules/x/index.js'), 'excluded by default');
    const before = await listTree(dst);

    const plan = await planRestore(zip, manifest, { 'workspace/app': dst });
    assert.deepStrictEqual(plan.counts, { create: 1, overwrite: 2, unchanged: manifest.files.length - 3, onlyLocal: 1 });
    assert.deepStrictEqual(
      plan.items.filter((i) => i.action !== 'unchanged').map((i) => `${i.action} ${i.relPath}`).sort(),
      ['create dir02/blob0002.dat', 'onlyLocal local-only.txt', 'overwrite dir01/file0001.txt', 'overwrite dir03/file0003.txt'],
    );
    const r = await applyRestore(plan, { snapshotRoot: snapshots });
    assert.strictEqual(r.written, 3);
    const after = await listTree(dst);
    const srcList = await listTree(src);
    for (const [k, v] of Object.entries(srcList)) assert.deepStrictEqual(after[k], v, k);
    assert.ok(after['local-only.txt'], 'only-local files are never deleted');
    assert.strictEqual(fs.readFileSync(path.join(r.snapshotDir!, 'files', '0'), 'utf8'), 'edited after the backup\n');

    const u = await undoRestore(r.snapshotDir!);
    assert.deepStrictEqual(u, { restored: 2, removed: 1 });
    assert.deepStrictEqual(await listTree(dst), before);
    assert.deepStrictEqual(await undoRestore(r.snapshotDir!), { restored: 0, removed: 0 }, 'a second undo does nothing');
  });

  it('undo keeps files edited after the restore', async () => {
    const dst = path.join(tmp, 'edited-later');
    const manifest = await verifyArchive(zip);
    await applyRestore(await planRestore(zip, manifest, { 'workspace/app': dst }), { snapshotRoot: snapshots });
    fs.writeFileSync(path.join(dst, 'dir01/file0001.txt'), 'v1');
    const r = await applyRestore(await planRestore(zip, manifest, { 'workspace/app': dst }), { snapshotRoot: snapshots });
    fs.writeFileSync(path.join(dst, 'dir01/file0001.txt'), 'v2, typed after the restore');
    assert.deepStrictEqual(await undoRestore(r.snapshotDir!), { restored: 0, removed: 0 });
    assert.strictEqual(fs.readFileSync(path.join(dst, 'dir01/file0001.txt'), 'utf8'), 'v2, typed after the restore');
  });

  it('a cancel before the rename phase leaves the target untouched', async () => {
    const dst = path.join(tmp, 'cancelled');
    fs.mkdirSync(dst);
    fs.writeFileSync(path.join(dst, 'dir01-keep.txt'), 'keep');
    fs.mkdirSync(path.join(dst, 'dir01'));
    fs.writeFileSync(path.join(dst, 'dir01/file0001.txt'), 'old');
    const before = await listTree(dst);
    const manifest = await verifyArchive(zip);
    const plan = await planRestore(zip, manifest, { 'workspace/app': dst });
    const ac = new AbortController();
    let writes = 0;
    await assert.rejects(
      applyRestore(plan, { snapshotRoot: path.join(tmp, 'snap-cancel'), signal: ac.signal, onProgress: (p) => p.phase === 'write' && ++writes === 3 && ac.abort() }),
      expectCode('Cancelled'),
    );
    assert.deepStrictEqual(await listTree(dst), before);
    assert.ok(!fs.existsSync(path.join(tmp, 'snap-cancel')) || fs.readdirSync(path.join(tmp, 'snap-cancel')).length === 0);

    // A target that did not exist is not left behind either.
    const fresh = path.join(tmp, 'cancelled-fresh', 'x');
    const ac2 = new AbortController();
    const plan2 = await planRestore(zip, manifest, { 'workspace/app': fresh });
    await assert.rejects(applyRestore(plan2, { snapshotRoot: snapshots, signal: ac2.signal, onProgress: (p) => p.phase === 'write' && ac2.abort() }), expectCode('Cancelled'));
    assert.ok(!fs.existsSync(path.join(tmp, 'cancelled-fresh')));
  });

  it('refuses a folder where the backup has a file, and a file where it has a folder', async () => {
    const manifest = await verifyArchive(zip);
    const a = path.join(tmp, 'conflict-a');
    fs.mkdirSync(path.join(a, 'empty.txt'), { recursive: true });
    await assert.rejects(planRestore(zip, manifest, { 'workspace/app': a }), expectCode('AlreadyExists'));
    const b = path.join(tmp, 'conflict-b');
    fs.mkdirSync(b);
    fs.writeFileSync(path.join(b, 'dir01'), 'a file, not a folder');
    await assert.rejects(planRestore(zip, manifest, { 'workspace/app': b }), expectCode('AlreadyExists'));
  });

  it('maps several prefixes to their own folders and skips the rest', async () => {
    const manifest = await verifyArchive(zip);
    const d = path.join(tmp, 'only-dir00');
    const plan = await planRestore(zip, manifest, { 'workspace/app/dir00': d });
    const expected = manifest.files.filter((f) => f.path.startsWith('workspace/app/dir00/')).length;
    assert.strictEqual(plan.counts.create, expected);
    await applyRestore(plan, { snapshotRoot: snapshots });
    assert.strictEqual(Object.values(await listTree(d)).filter((e) => e.type === 'file').length, expected);
  });
});
