// Format 2 against the real server: a chain of incremental backups, what
// each one adds to the bucket, restores that read only what they need,
// deleting and cleaning up without breaking a kept backup, the race between
// a backup and a clean-up on another machine, and format-1 backups made by
// the previous release.
import * as assert from 'assert';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { BackupEngine, type BackupResult } from '../../src/core/engine';
import { makeBackupKey } from '../../src/core/format/backupKeys';
import { BackupError } from '../../src/core/util/engineErrors';
import { createTestBucket, requireS3Server, startFaultProxy, type TestBucket } from '../helpers/s3';
import { makeTree, readTextTree } from '../helpers/tree';
import { v1Backup } from '../helpers/v1/v1Backup';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** Every file under `root` by relative path -> sha256 of its content. */
function digest(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(root, p).split(path.sep).join('/')] = sha(fs.readFileSync(p));
    }
  };
  walk(root);
  return out;
}

describe('incremental backups (format 2, real S3)', function () {
  this.timeout(300_000);
  let bucket: TestBucket;
  let work: string;
  const rootPath = 'inc';

  const engineFor = (host: string, o: ConstructorParameters<typeof BackupEngine>[1] = {}, endpoint?: string): BackupEngine => {
    const profile = bucket.profileAt(rootPath);
    return new BackupEngine(endpoint ? { ...profile, endpoint, forcePathStyle: true } : profile, {
      hostname: host,
      tmpDir: path.join(work, 'tmp'),
      snapshotRoot: path.join(work, 'snapshots'),
      ...o,
    });
  };

  /** Restores `key` into a fresh folder and returns its digest. */
  async function restoreFresh(engine: BackupEngine, key: string, name: string): Promise<Record<string, string>> {
    const dest = path.join(work, 'restore', name);
    const fetched = await engine.fetch(key);
    try {
      await engine.apply(await engine.plan(fetched, { 'workspace/app': dest }));
    } finally {
      await fetched.dispose();
    }
    return digest(dest);
  }

  async function bucketBytes(prefix = `${rootPath}/`): Promise<number> {
    return (await bucket.listObjects(prefix)).reduce((n, o) => n + o.size, 0);
  }

  before(async () => {
    requireS3Server();
    bucket = await createTestBucket('incremental');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-inc-'));
  });

  after(async () => {
    await bucket?.cleanup();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  describe('a chain of backups of one folder', () => {
    let src: string;
    let engine: BackupEngine;
    const backups: { res: BackupResult; tree: Record<string, string> }[] = [];

    before(async () => {
      src = path.join(work, 'src', 'app');
      await makeTree(src, { files: 300, dirs: 6, totalBytes: 12 * 1024 * 1024, textRatio: 0.5, seed: 7 });
      engine = engineFor('machine-a');
    });

    it('the first backup stores everything, in packs that are plain zips', async () => {
      const res = await engine.backup({ kind: 'workspace', folders: [{ name: 'app', path: src }] });
      assert.strictEqual(res.format, 2);
      assert.strictEqual(res.added.files, 300);
      assert.ok(res.added.packs >= 1);
      assert.strictEqual(res.unchanged, 0);
      const packs = (await bucket.listObjects(`${rootPath}/packs/`)).map((o) => o.key);
      assert.strictEqual(packs.length, res.added.packs);
      assert.ok(packs.every((k) => /\/packs\/[0-9a-f]{2}\/[0-9a-f]{32}\.zip$/.test(k)), packs.join(', '));
      backups.push({ res, tree: digest(src) });
    });

    it('an unchanged re-run reads no file and adds only its manifest (< 1% of the first backup)', async () => {
      const before = await bucketBytes();
      const res = await engine.backup({ kind: 'workspace', folders: [{ name: 'app', path: src }] });
      assert.strictEqual(res.unchanged, 300, 'every file known unchanged from its stat');
      assert.deepStrictEqual(res.added, { files: 0, bytes: 0, packs: 0, packBytes: 0 });
      const grew = (await bucketBytes()) - before;
      assert.strictEqual(grew, res.size, 'the manifest is all that was added');
      assert.ok(grew < backups[0].res.added.packBytes / 100, `${grew} bytes added`);
      backups.push({ res, tree: digest(src) });
    });

    it('one edited, one new (1 MB) and one deleted file: the next backup adds about that', async () => {
      const files = Object.keys(digest(src)).sort();
      fs.appendFileSync(path.join(src, files[10]), 'an edit\n');
      fs.writeFileSync(path.join(src, 'new-file.bin'), Buffer.alloc(1024 * 1024, 7).map((b, i) => (b + i * 31) & 0xff));
      fs.rmSync(path.join(src, files[20]));
      const before = await bucketBytes();
      const res = await engine.backup({ kind: 'workspace', folders: [{ name: 'app', path: src }] });
      assert.strictEqual(res.added.files, 2, 'the edited and the new file');
      assert.strictEqual(res.unchanged, 298);
      const grew = (await bucketBytes()) - before;
      assert.ok(grew <= 1.5 * 1024 * 1024, `${grew} bytes added`);
      backups.push({ res, tree: digest(src) });
    });

    it('each backup of the chain restores to exactly its own tree', async () => {
      for (let i = 0; i < backups.length; i++) {
        assert.deepStrictEqual(await restoreFresh(engine, backups[i].res.key, `chain-${i}`), backups[i].tree, `backup ${i}`);
      }
    });

    it('restoring reads ranges of the packs it needs, never a whole pack for one file', async () => {
      // Only one file differs from the target: its bytes, from the first backup's pack, are all a restore should fetch.
      const dest = path.join(work, 'restore', 'one-file');
      fs.cpSync(path.join(work, 'restore', 'chain-2'), dest, { recursive: true });
      const victim = Object.keys(backups[2].tree).sort()[50];
      fs.writeFileSync(path.join(dest, victim), 'locally changed');
      const seen: { key: string; range?: string }[] = [];
      const proxied = await startFaultProxy((req) => {
        if (req.method === 'GET' && req.url?.includes('/packs/')) seen.push({ key: req.url, range: req.headers.range });
        return undefined;
      });
      try {
        const e = engineFor('machine-a', {}, proxied.endpoint);
        const fetched = await e.fetch(backups[2].res.key);
        const plan = await e.plan(fetched, { 'workspace/app': dest });
        assert.strictEqual(plan.counts.overwrite, 1);
        await e.apply(plan);
        e.dispose();
      } finally {
        await proxied.close();
      }
      assert.strictEqual(seen.length, 1, JSON.stringify(seen));
      const [, from, to] = /bytes=(\d+)-(\d+)/.exec(seen[0].range ?? '') ?? [];
      const file = backups[2].res.manifest.files.find((f) => f.path === `workspace/app/${victim}`)!;
      assert.strictEqual(Number(to) - Number(from) + 1, file.refs![0][2], 'exactly the entry\'s stored bytes');
      assert.deepStrictEqual(digest(dest), backups[2].tree);
    });

    it('another machine with the same content uploads none of it', async () => {
      const copy = path.join(work, 'src-b', 'app');
      fs.cpSync(src, copy, { recursive: true });
      const res = await engineFor('machine-b').backup({ kind: 'workspace', folders: [{ name: 'app', path: copy }] });
      assert.strictEqual(res.unchanged, 0, 'another machine trusts no stat');
      assert.strictEqual(res.added.files, 0, 'every file found by its sha256');
      assert.strictEqual(res.added.packs, 0);
      await engine.delete(res.key);
    });

    it('the summary of a backup comes from the first bytes of its manifest', async () => {
      const ref = (await engine.listAll()).find((r) => r.key === backups[2].res.key)!;
      const s = await engine.summary(ref);
      assert.ok(s);
      assert.deepStrictEqual(s.totals, backups[2].res.manifest.totals);
      assert.deepStrictEqual(s.added, backups[2].res.added);
      assert.deepStrictEqual(s.sources, ['workspace/app']);
    });

    it('deleting earlier backups keeps every later one whole; their packs go once nothing needs them', async () => {
      const r0 = await engine.delete(backups[0].res.key);
      assert.strictEqual(r0.gc?.ran, true);
      assert.strictEqual(r0.gc?.deletedPacks, 0, 'backup 1 still references the first packs');
      await engine.delete(backups[1].res.key);
      assert.deepStrictEqual(await restoreFresh(engine, backups[2].res.key, 'after-delete'), backups[2].tree);
      // Delete the last one: nothing references any pack now.
      const r2 = await engine.delete(backups[2].res.key);
      assert.ok((r2.gc?.deletedPacks ?? 0) >= 2, JSON.stringify(r2.gc));
      assert.deepStrictEqual(await bucket.listObjects(`${rootPath}/packs/`), []);
    });
  });

  describe('a backup and a clean-up on two machines at once', () => {
    let src: string;

    before(async () => {
      src = path.join(work, 'race', 'app');
      await makeTree(src, { files: 40, dirs: 2, totalBytes: 2 * 1024 * 1024, textRatio: 0.5, seed: 11 });
    });

    it('a running backup keeps the packs it reuses: the clean-up waits for the next time', async () => {
      const a = engineFor('race-a');
      const first = await a.backup({ kind: 'workspace', folders: [{ name: 'app', path: src }] });
      let release!: () => void;
      let paused!: () => void;
      const atCommit = new Promise<void>((r) => (paused = r));
      const b = engineFor('race-b', {
        beforeCommit: () => {
          paused();
          return new Promise<void>((r) => (release = r));
        },
      });
      const copy = path.join(work, 'race', 'copy');
      fs.cpSync(src, copy, { recursive: true });
      const running = b.backup({ kind: 'workspace', folders: [{ name: 'app', path: copy }] });
      await atCommit;
      // Machine A deletes its backup while B, which reuses all of its content, is about to commit.
      const del = await a.delete(first.key);
      assert.strictEqual(del.gc?.ran, false, 'a backup holds a lock: no pack may go now');
      release();
      const second = await running;
      assert.strictEqual(second.added.files, 0, 'B stored nothing: it points at A\'s packs');
      const dest = path.join(work, 'race', 'restored');
      const f = await b.fetch(second.key);
      await b.apply(await b.plan(f, { 'workspace/app': dest }));
      assert.deepStrictEqual(digest(dest), digest(src));
      // Now nothing runs: the next clean-up has nothing to free, B still references every pack.
      assert.strictEqual((await b.collectGarbage()).deletedPacks, 0);
      await b.delete(second.key);
    });

    it('a backup whose lock went stale (a machine asleep) fails at commit rather than reference deleted packs', async () => {
      // Content of its own: no other backup in the bucket may hold it.
      src = path.join(work, 'stale', 'app');
      await makeTree(src, { files: 20, dirs: 2, totalBytes: 512 * 1024, textRatio: 0.5, seed: 4711 });
      const a = engineFor('stale-a');
      const first = await a.backup({ kind: 'workspace', folders: [{ name: 'app', path: src }] });
      let release!: () => void;
      let paused!: () => void;
      const atCommit = new Promise<void>((r) => (paused = r));
      const b = engineFor('stale-b', {
        beforeCommit: () => {
          paused();
          return new Promise<void>((r) => (release = r));
        },
      });
      const running = b.backup({ kind: 'workspace', folders: [{ name: 'app', path: src }] });
      running.catch(() => undefined);
      await atCommit;
      // A clean-up that takes B's lock for a dead machine's (as after 30 minutes without a refresh).
      const sweeper = engineFor('stale-a', { lock: { staleMs: 0 } });
      await sweeper.store.delete(first.key);
      const gc = await sweeper.collectGarbage();
      assert.strictEqual(gc.ran, true);
      assert.ok(gc.deletedPacks > 0);
      release();
      await assert.rejects(running, (e: BackupError) => e instanceof BackupError && e.code === 'Busy' && /deleted while it ran/.test(e.message));
      const left = (await bucket.listObjects(`${rootPath}/`)).filter((o) => o.key.endsWith('.json.gz'));
      assert.deepStrictEqual(left, [], 'no manifest that points at missing packs');
    });
  });

  describe("the lock's round trips and the scan", () => {
    const isLockPut = (req: { method?: string; url?: string }): boolean => req.method === 'PUT' && /\/locks\//.test(req.url ?? '');
    const scanFinished = (p: { phase: string; filesDone: number; filesTotal: number }): boolean => p.phase === 'scan' && p.filesTotal > 0 && p.filesDone === p.filesTotal;

    it('the folders are scanned while the lock goes to the server', async () => {
      const tree = path.join(work, 'overlap', 'app');
      await makeTree(tree, { files: 30, dirs: 3, totalBytes: 64 * 1024, textRatio: 1, seed: 606 });
      let scanned!: () => void;
      const scanDone = new Promise<void>((r) => (scanned = r));
      // The lock's write waits for the scan (5 s at most): a backup that scanned only once it held its lock waits it out.
      let scanDoneAtLock: boolean | undefined;
      const proxy = await startFaultProxy((req) => {
        if (!isLockPut(req) || scanDoneAtLock !== undefined) return undefined;
        const outcome = Promise.race([scanDone.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
        return { after: outcome.then((v) => (scanDoneAtLock = v)) };
      });
      try {
        const r = await engineFor('overlap', {}, proxy.endpoint).backup({ kind: 'workspace', folders: [{ name: 'app', path: tree }] }, { onProgress: (p) => (scanFinished(p) ? scanned() : undefined) });
        assert.strictEqual(r.files, 30);
        assert.strictEqual(scanDoneAtLock, true, 'the scan had finished when the lock was written');
        assert.deepStrictEqual(await restoreFresh(engineFor('overlap'), r.key, 'overlap'), digest(tree));
      } finally {
        await proxy.close();
      }
    });

    it('a lock the server refuses ends the backup (its scan stopped): it fails with the cause, and writes nothing', async () => {
      const tree = path.join(work, 'refused', 'app');
      await makeTree(tree, { files: 200, dirs: 4, totalBytes: 256 * 1024, textRatio: 1, seed: 607 });
      const prefix = 'refused-lock';
      const proxy = await startFaultProxy((req) => (isLockPut(req) ? { status: 403, code: 'AccessDenied', message: 'Access Denied' } : undefined));
      const phases: string[] = [];
      try {
        const engine = new BackupEngine({ ...bucket.profileAt(prefix), endpoint: proxy.endpoint, forcePathStyle: true }, { hostname: 'refused', tmpDir: path.join(work, 'tmp') });
        await assert.rejects(
          engine.backup({ kind: 'workspace', folders: [{ name: 'app', path: tree }] }, { onProgress: (p) => phases.push(p.phase) }),
          (e: BackupError) => e instanceof BackupError && e.code === 'AccessDenied',
        );
      } finally {
        await proxy.close();
      }
      assert.ok(!phases.includes('upload'), `no upload began (phases: ${[...new Set(phases)].join(', ')})`);
      assert.deepStrictEqual(await bucket.listObjects(`${prefix}/`), [], 'nothing in the bucket: no lock, no pack, no manifest');
    });
  });

  it('a manifest that cannot be read stops a clean-up: nothing is deleted until it is gone', async () => {
    const dir = path.join(work, 'junk', 'app');
    await makeTree(dir, { files: 5, dirs: 1, totalBytes: 64 * 1024, textRatio: 1, seed: 5 });
    const e = engineFor('junk-host');
    const res = await e.backup({ kind: 'workspace', folders: [{ name: 'app', path: dir }] });
    const junk = makeBackupKey(rootPath, { time: new Date(Date.UTC(2020, 0, 1)), host: 'somebody', kind: 'workspace' });
    await bucket.putObject(junk, 'not a manifest');
    const del = await e.delete(res.key);
    assert.strictEqual(del.gc?.ran, false);
    assert.ok((await bucket.listObjects(`${rootPath}/packs/`)).length >= 1, 'the packs are kept');
    await bucket.client.send(new (require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3')).DeleteObjectCommand({ Bucket: bucket.bucket, Key: junk }));
    const gc = await e.collectGarbage();
    assert.strictEqual(gc.ran, true);
    assert.ok(gc.deletedPacks >= 1);
  });

  it('links inside the folder come back as links, empty folders as folders; a link leaving the folder is reported, never followed; undo removes them', async () => {
    const src = path.join(work, 'links', 'app');
    fs.mkdirSync(path.join(src, 'docs'), { recursive: true });
    fs.mkdirSync(path.join(src, 'empty', 'deeper'), { recursive: true });
    fs.writeFileSync(path.join(src, 'docs', 'guide.md'), '# guide\n');
    fs.symlinkSync('docs/guide.md', path.join(src, 'README.md'));
    fs.symlinkSync('../../../etc/passwd', path.join(src, 'escape'));
    fs.symlinkSync('/etc/hostname', path.join(src, 'absolute'));
    // A root of its own: top-level tests run before the chain's, which counts the objects under `inc/`.
    const e = new BackupEngine(bucket.profileAt('links'), { hostname: 'links-host', tmpDir: path.join(work, 'tmp'), snapshotRoot: path.join(work, 'snapshots') });
    const res = await e.backup({ kind: 'workspace', folders: [{ name: 'app', path: src }] });
    assert.deepStrictEqual(res.manifest.links?.map((l) => [l.path, l.target]).sort(), [
      ['workspace/app/README.md', 'docs/guide.md'],
      ['workspace/app/absolute', '/etc/hostname'],
      ['workspace/app/escape', '../../../etc/passwd'],
    ]);
    assert.deepStrictEqual(res.manifest.dirs?.map((d) => d.path), ['workspace/app/empty/deeper']);
    assert.deepStrictEqual(res.skipped.filter((k) => k.reason === 'symlink').map((k) => k.relPath).sort(), ['workspace/app/absolute', 'workspace/app/escape']);

    const dest = path.join(work, 'links-restored');
    const fetched = await e.fetch(res.key);
    const plan = await e.plan(fetched, { 'workspace/app': dest });
    assert.deepStrictEqual(plan.skippedLinks?.map((l) => l.archivePath).sort(), ['workspace/app/absolute', 'workspace/app/escape']);
    const result = await e.apply(plan);
    assert.strictEqual(fs.readlinkSync(path.join(dest, 'README.md')), 'docs/guide.md');
    assert.strictEqual(fs.readFileSync(path.join(dest, 'README.md'), 'utf8'), '# guide\n', 'the link works in the restored tree');
    assert.ok(fs.statSync(path.join(dest, 'empty', 'deeper')).isDirectory());
    assert.ok(!fs.existsSync(path.join(dest, 'escape')) && !fs.existsSync(path.join(dest, 'absolute')), 'links that leave the folder are not made');

    // The download recreates them too.
    const zip = path.join(work, 'links.zip');
    await e.download(res.key, zip);
    const out = path.join(work, 'links-unzipped');
    assert.strictEqual(spawnSync('unzip', ['-q', zip, '-d', out]).status, 0);
    assert.strictEqual(fs.readlinkSync(path.join(out, 'workspace', 'app', 'README.md')), 'docs/guide.md');
    assert.ok(fs.statSync(path.join(out, 'workspace', 'app', 'empty', 'deeper')).isDirectory());

    await e.undo(result.snapshotDir!);
    assert.ok(!fs.existsSync(path.join(dest, 'README.md')), 'undo removed the link it made');
    assert.ok(!fs.existsSync(path.join(dest, 'empty')), 'and the folders');
  });

  describe('format-1 backups of the previous release', () => {
    it('still list, verify and restore', async () => {
      const src = path.join(work, 'v1', 'app');
      await makeTree(src, { files: 30, dirs: 2, totalBytes: 512 * 1024, textRatio: 0.5, seed: 3 });
      const files = Object.keys(readTextTree(src)).sort();
      const { key, body } = await v1Backup(rootPath, src, files);
      await bucket.putObject(key, body);

      const engine = engineFor('machine-a');
      const ref = (await engine.listAll()).find((r) => r.key === key);
      assert.ok(ref, 'listed');
      assert.strictEqual(ref.format, 1);
      assert.strictEqual((await engine.verify(key)).totals.files, 30);
      assert.deepStrictEqual(await restoreFresh(engine, key, 'v1'), digest(src));
      await engine.delete(key);
    });
  });
});
