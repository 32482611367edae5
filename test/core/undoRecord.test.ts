// The undo record (format 2, and format 1 of 0.1.0), the restore lock, the
// recovery list, clean-up of leftovers and pruning, in-process. What a kill
// does at each phase is proved by crash.test.ts.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { verifyArchive } from '../../src/core/archive/verifyArchive';
import { applyRestore } from '../../src/core/restore/applyRestore';
import { finishRestore } from '../../src/core/restore/finishRestore';
import { planRestore } from '../../src/core/restore/planRestore';
import { cleanUpLeftovers, listRestores, pruneSnapshots } from '../../src/core/restore/recovery';
import { LOCK_NAME } from '../../src/core/restore/restoreLock';
import { undoSnapshot } from '../../src/core/restore/snapshot';
import { expectCode } from '../helpers/assertions';
import { archiveFolder } from '../helpers/folderArchive';
import { listTree, makeTree } from '../helpers/tree';

const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

/** The pid of a process that has exited: a lock or owner file naming it is stale. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('undo record, lock and recovery', function () {
  this.timeout(120_000);
  let tmp: string;
  let src: string;
  let zip: string;
  let n = 0;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-undo-'));
    src = path.join(tmp, 'src');
    await makeTree(src, { files: 60, dirs: 4, totalBytes: 1024 * 1024, seed: 5, bigIncompressible: 8 * 1024 * 1024 });
    zip = path.join(tmp, 'backup.zip');
    await archiveFolder(src, zip);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  function fresh(name: string): { target: string; snapshots: string } {
    const dir = path.join(tmp, `${name}-${++n}`);
    return { target: path.join(dir, 'target'), snapshots: path.join(dir, 'snapshots') };
  }

  async function restore(target: string, snapshots: string): Promise<string> {
    const manifest = await verifyArchive(zip);
    const r = await applyRestore(await planRestore(zip, manifest, { 'workspace/app': target }), { snapshotRoot: snapshots });
    assert.ok(r.snapshotDir);
    return r.snapshotDir;
  }

  it('lists every change before the first rename; the complete record is listed, undone after undo', async () => {
    const { target, snapshots } = fresh('record');
    fs.mkdirSync(target, { recursive: true });
    fs.writeFileSync(path.join(target, 'empty-0.txt'), 'not in the backup');
    const dir = await restore(target, snapshots);
    const doc = JSON.parse(fs.readFileSync(path.join(dir, 'snapshot.json'), 'utf8'));
    assert.strictEqual(doc.format, 2);
    assert.strictEqual(doc.state, 'complete');
    assert.strictEqual(doc.owner.pid, process.pid);
    assert.ok(doc.entries.every((e: { path: string; sha256: string; staged: string }) => path.isAbsolute(e.path) && /^[0-9a-f]{64}$/.test(e.sha256) && e.staged.includes('.s3-backup-staging-')));
    assert.ok(doc.createdDirs.includes(path.join(target, 'dir00')), 'the folders it creates are listed');
    assert.ok(!fs.existsSync(path.join(target, LOCK_NAME)), 'the lock is released');

    const [listed] = await listRestores(snapshots);
    assert.deepStrictEqual([listed.state, listed.snapshotDir, listed.folders, listed.canFinish], ['complete', dir, [target], false]);
    assert.strictEqual(listed.newFiles + listed.replacedFiles, doc.entries.length);
    const u = await undoSnapshot(dir);
    assert.strictEqual(u.removed, doc.entries.length);
    assert.deepStrictEqual((await listRestores(snapshots)).map((r) => r.state), ['undone']);
    assert.deepStrictEqual(Object.keys(await listTree(target)), ['empty-0.txt'], 'created folders removed, the local file kept');
  });

  it('still undoes a format-1 record written by 0.1.0', async () => {
    const { target, snapshots } = fresh('format1');
    fs.mkdirSync(path.join(target, 'sub'), { recursive: true });
    const original = path.join(target, 'a.txt');
    const created = path.join(target, 'sub', 'new.txt');
    fs.writeFileSync(original, 'restored content');
    fs.writeFileSync(created, 'created content');
    const dir = path.join(snapshots, '20250101T000000Z-abcdef');
    fs.mkdirSync(path.join(dir, 'files'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'files', '0'), 'my original\n');
    const mtimeMs = Date.UTC(2024, 1, 2, 3, 4, 5, 678);
    // Exactly the fields and layout 0.1.0's SnapshotWriter wrote.
    const v1 = {
      format: 1,
      created: '2025-01-01T00:00:00.000Z',
      backup: { created: '2024-12-31T00:00:00.000Z', hostname: 'old-host', kind: 'workspace' },
      targets: { 'workspace/app': target },
      overwritten: [{ targetPath: original, restoredSha256: sha('restored content'), kind: 'file', stored: 'files/0', mode: 0o640, mtimeMs }],
      createdFiles: [{ targetPath: created, restoredSha256: sha('created content') }],
      createdDirs: [path.join(target, 'sub')],
      complete: true,
    };
    fs.writeFileSync(path.join(dir, 'snapshot.json'), JSON.stringify(v1, null, 1));
    assert.deepStrictEqual((await listRestores(snapshots)).map((r) => [r.state, r.backup.hostname, r.newFiles, r.replacedFiles]), [['complete', 'old-host', 1, 1]]);
    assert.deepStrictEqual(await undoSnapshot(dir), { restored: 1, removed: 1 });
    assert.strictEqual(fs.readFileSync(original, 'utf8'), 'my original\n');
    assert.strictEqual(fs.statSync(original).mode & 0o777, 0o640);
    assert.strictEqual(Math.round(fs.statSync(original).mtimeMs), mtimeMs);
    assert.ok(!fs.existsSync(path.join(target, 'sub')));
    const after = JSON.parse(fs.readFileSync(path.join(dir, 'snapshot.json'), 'utf8'));
    assert.strictEqual(after.format, 1, 'a format-1 record stays format 1');
    assert.ok(after.undoneAt);
    assert.deepStrictEqual(await undoSnapshot(dir), { restored: 0, removed: 0 });
  });

  it('a damaged or missing record is a plain error, and undo writes nothing', async () => {
    const { snapshots } = fresh('damaged');
    const dir = path.join(snapshots, 'x');
    fs.mkdirSync(dir, { recursive: true });
    await assert.rejects(undoSnapshot(dir), expectCode('NotFound'));
    fs.writeFileSync(path.join(dir, 'snapshot.json'), '{"format":2,"targets":{},"state":"complete","roots":[],"entries":[{"path":"relative","sha256":"x"}]}');
    await assert.rejects(undoSnapshot(dir), expectCode('Integrity'));
  });

  it('two restores into one folder: one runs, the other stops with Busy', async () => {
    const { target, snapshots } = fresh('concurrent');
    const manifest = await verifyArchive(zip);
    const plan = await planRestore(zip, manifest, { 'workspace/app': target });
    const results = await Promise.allSettled([applyRestore(plan, { snapshotRoot: snapshots }), applyRestore(plan, { snapshotRoot: snapshots })]);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.strictEqual(failed.length, 1, `exactly one restore stops: ${results.map((r) => r.status).join(', ')}`);
    expectCode('Busy')(failed[0].reason);
    assert.match(failed[0].reason.message, /^Another restore into ".*target" is running \(process \d+ on .+, since .+\)\.$/);
    assert.deepStrictEqual(await listTree(target, { mtimes: false }), await listTree(src, { mtimes: false }));
    assert.strictEqual((await listRestores(snapshots)).length, 1, 'the stopped restore left no record');
  });

  it('a lock left by a dead process is taken over; one of a live process is not', async () => {
    const { target, snapshots } = fresh('stale');
    fs.mkdirSync(target, { recursive: true });
    const lock = path.join(target, LOCK_NAME);
    fs.writeFileSync(lock, JSON.stringify({ pid: deadPid(), host: os.hostname(), started: new Date().toISOString(), snapshotDir: path.join(snapshots, 'gone') }));
    await restore(target, snapshots);
    assert.ok(!fs.existsSync(lock));

    const other = fresh('live');
    fs.mkdirSync(other.target, { recursive: true });
    fs.writeFileSync(path.join(other.target, LOCK_NAME), JSON.stringify({ pid: process.ppid, host: os.hostname(), started: new Date().toISOString(), snapshotDir: '/elsewhere' }));
    const manifest = await verifyArchive(zip);
    await assert.rejects(applyRestore(await planRestore(zip, manifest, { 'workspace/app': other.target }), { snapshotRoot: other.snapshots }), expectCode('Busy'));
    assert.deepStrictEqual(Object.keys(await listTree(other.target)), [LOCK_NAME], 'nothing was written');
  });

  /** `n` restores of the tree into one fresh target, one after the other: their snapshot dirs, oldest first. */
  async function restoresInto(name: string, n: number): Promise<{ snapshots: string; dirs: string[] }> {
    const { target, snapshots } = fresh(name);
    const dirs: string[] = [];
    for (let i = 0; i < n; i++) {
      fs.rmSync(target, { recursive: true, force: true });
      dirs.push(await restore(target, snapshots));
    }
    return { snapshots, dirs };
  }

  it('prunes old records beyond the newest N, never an interrupted one', async () => {
    const { snapshots, dirs } = await restoresInto('prune', 4);
    // The oldest one stopped half-way (its record says so): it stays whatever the limit.
    const interrupted = path.join(dirs[0], 'snapshot.json');
    fs.writeFileSync(interrupted, JSON.stringify({ ...JSON.parse(fs.readFileSync(interrupted, 'utf8')), state: 'applying' }));
    assert.strictEqual(await pruneSnapshots(snapshots, { keep: 1, except: dirs[3] }), 2);
    assert.deepStrictEqual(fs.readdirSync(snapshots).sort(), [path.basename(dirs[0]), path.basename(dirs[3])].sort());
    assert.strictEqual(await pruneSnapshots(snapshots, { keep: 0, days: 0 }), 0, 'no limit, nothing pruned');
  });

  it("counts the restore that has just finished as the newest without reading its record back (a record has an entry a file)", async () => {
    const { snapshots, dirs } = await restoresInto('prune-current', 4);
    // Were the current record read, this one would not count: the newest of the others would stay as well.
    fs.writeFileSync(path.join(dirs[3], 'snapshot.json'), 'not read');
    assert.strictEqual(await pruneSnapshots(snapshots, { keep: 1, except: dirs[3] }), 3);
    assert.deepStrictEqual(fs.readdirSync(snapshots), [path.basename(dirs[3])]);
  });

  it('prunes records older than N days, keeps younger ones and interrupted ones of any age', async () => {
    const { snapshots, dirs } = await restoresInto('prune-days', 3);
    const age = (dir: string, days: number, state?: string): void => {
      const f = path.join(dir, 'snapshot.json');
      const r = JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>;
      fs.writeFileSync(f, JSON.stringify({ ...r, created: new Date(Date.now() - days * 86_400_000).toISOString(), ...(state ? { state } : {}) }));
    };
    age(dirs[0], 40); // complete, 40 days old: goes
    age(dirs[1], 40, 'applying'); // interrupted, as old: stays (recovery needs it)
    age(dirs[2], 2); // complete, 2 days old: stays
    assert.strictEqual(await pruneSnapshots(snapshots, { days: 30 }), 1);
    assert.deepStrictEqual(fs.readdirSync(snapshots).sort(), [path.basename(dirs[1]), path.basename(dirs[2])].sort());
  });

  it('cleans up what dead processes left, and keeps what live ones and interrupted restores need', async () => {
    const { target, snapshots } = fresh('cleanup');
    fs.mkdirSync(target, { recursive: true });
    const day = 25 * 60 * 60 * 1000;
    const old = (p: string, ms: number): void => fs.utimesSync(p, new Date(Date.now() - ms), new Date(Date.now() - ms));
    // Staging folders: 0.1.0's (no record) two days old, and one of this hour.
    const oldStaging = path.join(target, '.s3-backup-staging-Ab12Cd');
    const youngStaging = path.join(target, '.s3-backup-staging-Ef34Gh');
    for (const s of [oldStaging, youngStaging]) fs.mkdirSync(path.join(s, '0'), { recursive: true });
    old(oldStaging, 2 * day);
    // Undo records: one without a record, an hour and a half old; one being made right now.
    const noRecord = path.join(snapshots, '20250101T000000Z-000000');
    const making = path.join(snapshots, '20250101T000000Z-111111');
    for (const d of [noRecord, making]) fs.mkdirSync(path.join(d, 'files'), { recursive: true });
    old(noRecord, 90 * 60 * 1000);
    // Temp downloads: of a dead process, of this one, and an unmarked one of 0.1.0 two days old.
    const tmpDir = path.join(tmp, `tmp-${n}`);
    const write = (p: string, o: object): void => {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, JSON.stringify(o));
    };
    write(path.join(tmpDir, 's3-backup-Dead01', '.s3-backup-owner'), { pid: deadPid(), host: os.hostname(), started: new Date().toISOString() });
    write(path.join(tmpDir, 's3-backup-Live01', '.s3-backup-owner'), { pid: process.pid, host: os.hostname(), started: new Date().toISOString() });
    fs.mkdirSync(path.join(tmpDir, 's3-backup-Old001'));
    fs.writeFileSync(path.join(tmpDir, 's3-backup-Old001', 'backup.zip'), 'x');
    old(path.join(tmpDir, 's3-backup-Old001'), 2 * day);
    fs.mkdirSync(path.join(tmpDir, 's3-backup-snapshots'));
    old(path.join(tmpDir, 's3-backup-snapshots'), 2 * day);

    const report = await cleanUpLeftovers({ snapshotRoot: snapshots, tmpDir, folders: [target] });
    assert.deepStrictEqual(report, { records: 1, staging: 1, temp: 2, locks: 0 });
    assert.deepStrictEqual(fs.readdirSync(target).sort(), [path.basename(youngStaging)]);
    assert.deepStrictEqual(fs.readdirSync(snapshots), [path.basename(making)]);
    assert.deepStrictEqual(fs.readdirSync(tmpDir).sort(), ['s3-backup-Live01', 's3-backup-snapshots'], 'never a folder that is not a temp download');
  });

  it('finish refuses, changing nothing, when the staged files are gone; undo still works', async () => {
    const { target, snapshots } = fresh('finish');
    const dir = await restore(target, snapshots);
    const doc = JSON.parse(fs.readFileSync(path.join(dir, 'snapshot.json'), 'utf8'));
    // As if the restore had stopped before its renames: the record says applying, the files are not there yet.
    fs.rmSync(target, { recursive: true });
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(dir, 'snapshot.json'), JSON.stringify({ ...doc, state: 'applying' }));
    assert.deepStrictEqual((await listRestores(snapshots)).map((r) => [r.state, r.canFinish]), [['interrupted', false]]);
    await assert.rejects(finishRestore(dir), (e: unknown) => expectCode('NotFound')(e) && /cannot be finished/.test((e as Error).message));
    assert.deepStrictEqual(fs.readdirSync(target), [], 'nothing written, no lock left');
    assert.deepStrictEqual(await undoSnapshot(dir), { restored: 0, removed: 0 });
    assert.deepStrictEqual((await listRestores(snapshots)).map((r) => r.state), ['undone']);
  });
});
