// The crash harness: a real restore (the s3-backup program, against the real
// S3 server) into a folder with existing files is killed with SIGKILL at each
// phase, at a point the engine announces (S3B_TEST_PAUSE_AT, see
// src/core/util/testPause.ts). Then the next run recovers: the folder must be
// exactly as before (content, mode, mtime, links; no extra file, no staging
// folder, no lock), with nothing left in the temp folder; or, finished, it
// must equal the backup, and undo must still put it back exactly.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cli, cliS3Env, ensureCliBundle, spawnCli } from '../helpers/cliProcess';
import { createTestBucket, requireS3Server, type TestBucket } from '../helpers/s3';
import { listTree, makeTree, textBytes, type ListedEntry } from '../helpers/tree';

type Tree = Record<string, ListedEntry>;

/** The base lacks four of the backup's folders, each staged whole and moved at once: a kill in the renames lands between those moves. */
const NEW_FOLDERS = ['dir05', 'dir06', 'dir07', 'dir08'];

describe('crash-safe restore: kill -9 at each phase, then recover', function () {
  this.timeout(300_000);
  let bucket: TestBucket;
  let work: string;
  let s3env: Record<string, string>;
  let src: string;
  let base: string;
  let key: string;
  let n = 0;

  before(async function () {
    requireS3Server();
    ensureCliBundle();
    bucket = await createTestBucket('crash');
    s3env = cliS3Env(bucket.bucket, 'crash');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-crash-'));
    src = path.join(work, 'project');
    // Enough files that the kill lands among them, and an archive big enough to be caught mid-download.
    await makeTree(src, { files: 400, dirs: 12, totalBytes: 4 * 1024 * 1024, textRatio: 0.5, seed: 23, empty: 2, unicode: true, deep: 6, bigIncompressible: 12 * 1024 * 1024 });
    const r = await cli(['backup', src, '--json'], { ...s3env, HOME: path.join(work, 'backup-home') });
    assert.strictEqual(r.code, 0, r.stderr);
    key = (JSON.parse(r.stdout) as { key: string }).key;

    // The folder restored into: an older state of the project, with files the backup
    // replaces (edited, other modes and times, one a link), lacks (a whole folder) and does not have.
    base = path.join(work, 'base');
    fs.cpSync(src, base, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    for (const d of NEW_FOLDERS) fs.rmSync(path.join(base, d), { recursive: true });
    const dir01 = fs.readdirSync(path.join(base, 'dir01')).sort();
    for (const [i, name] of dir01.entries()) {
      const p = path.join(base, 'dir01', name);
      fs.writeFileSync(p, textBytes(500 + i * 37, 9000 + i));
      fs.chmodSync(p, i % 2 ? 0o600 : 0o755);
      fs.utimesSync(p, new Date(Date.UTC(2023, 5, 1, 12, 0, i)), new Date(Date.UTC(2023, 5, 1, 12, 0, i, 123)));
    }
    const linked = path.join(base, 'dir02', fs.readdirSync(path.join(base, 'dir02')).sort()[0]);
    fs.rmSync(linked);
    fs.symlinkSync('../README-elsewhere.md', linked);
    fs.mkdirSync(path.join(base, 'local'));
    fs.writeFileSync(path.join(base, 'local', 'notes.txt'), 'only on this machine\n');
    fs.writeFileSync(path.join(base, 'dir03', 'local-only.txt'), 'mine\n');
  });

  after(async () => {
    await bucket?.cleanup();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  /** A fresh copy of the base folder, with its own HOME (undo records) and TMPDIR. */
  function scene(): { target: string; env: Record<string, string>; home: string; tmp: string; snapshots: string } {
    const dir = path.join(work, `scene-${++n}`);
    const target = path.join(dir, 'project');
    const home = path.join(dir, 'home');
    const tmp = path.join(dir, 'tmp');
    fs.mkdirSync(home, { recursive: true });
    fs.mkdirSync(tmp);
    fs.cpSync(base, target, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    return { target, home, tmp, snapshots: path.join(home, '.s3-backup', 'snapshots'), env: { ...s3env, HOME: home, TMPDIR: tmp } };
  }

  /** Runs `restore --yes` until it announces `pauseAt`, then kills it with SIGKILL. */
  async function killedRestore(s: ReturnType<typeof scene>, pauseAt: string): Promise<void> {
    const marker = path.join(s.home, 'paused');
    const child = spawnCli(['restore', key, s.target, '--yes'], { ...s.env, S3B_TEST_PAUSE_AT: pauseAt, S3B_TEST_PAUSE_FILE: marker });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdin!.end();
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let done = false;
    void exited.then(() => (done = true));
    while (!fs.existsSync(marker)) {
      if (done) assert.fail(`the restore ended (exit ${await exited}) before reaching "${pauseAt}": ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    await exited;
  }

  function names(dir: string): string[] {
    return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  }

  function records(snapshots: string): Array<{ state: string }> {
    return names(snapshots).map((d) => JSON.parse(fs.readFileSync(path.join(snapshots, d, 'snapshot.json'), 'utf8')) as { state: string });
  }

  function assertBetweenMoves(now: Tree): void {
    const moved = NEW_FOLDERS.filter((d) => now[d]);
    assert.ok(moved.length > 0 && moved.length < NEW_FOLDERS.length, `some new folders moved, not all (${moved.join(', ')})`);
    for (const d of moved) assert.ok(Object.keys(now).filter((k) => k.startsWith(`${d}/`)).length > 1, `${d} arrived with its files`);
  }

  const leftovers = (t: Tree): string[] => Object.keys(t).filter((k) => /(^|\/)\.s3-backup-/.test(k));

  const phases: Array<[string, string, (s: ReturnType<typeof scene>, before: Tree) => Promise<void>]> = [
    // Format 2 downloads (ranged GETs of the packs) and verifies each file while it stages: a kill then leaves staging and a 'preparing' record.
    ['download', 'download:2', async (s) => assert.ok(leftovers(await listTree(s.target)).length > 0 && records(s.snapshots).every((r) => r.state === 'preparing'), 'the kill left staging mid-download')],
    ['verify', 'verify:2', async (s) => assert.ok(leftovers(await listTree(s.target)).length > 0 && records(s.snapshots).every((r) => r.state === 'preparing'), 'the kill left staging mid-verify')],
    ['staging', 'staging:100', async (s) => assert.ok(leftovers(await listTree(s.target)).length > 0, 'the kill left a staging folder')],
    ['snapshot', 'snapshot', async (s) => assert.deepStrictEqual(records(s.snapshots).map((r) => r.state), ['preparing'])],
    [
      'renames',
      'renames:80',
      async (s, before) => {
        const now = await listTree(s.target);
        const changed = Object.keys({ ...before, ...now }).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(now[k]));
        assert.ok(changed.length > 0, 'the kill came after some renames');
        assertBetweenMoves(now);
        assert.deepStrictEqual(records(s.snapshots).map((r) => r.state), ['applying']);
      },
    ],
  ];

  for (const [phase, pauseAt, killedState] of phases) {
    it(`killed during ${phase}: the next run puts the folder back exactly and leaves nothing behind`, async () => {
      const s = scene();
      const before = await listTree(s.target);
      await killedRestore(s, pauseAt);
      await killedState(s, before);

      // The next run (any command) cleans up; `undo` lists what can be undone.
      const list = await cli(['undo', '--json'], s.env);
      assert.strictEqual(list.code, 0, list.stderr);
      const undoable = JSON.parse(list.stdout) as Array<{ snapshotDir: string; state: string; canFinish: boolean }>;
      if (phase === 'renames') {
        assert.deepStrictEqual(undoable.map((r) => [r.state, r.canFinish]), [['interrupted', true]]);
        const undo = await cli(['undo', undoable[0].snapshotDir], s.env);
        assert.strictEqual(undo.code, 0, undo.stderr);
        assert.match(undo.stderr, /^Undone: \d+ files put back, \d+ removed\.$/m);
        assert.deepStrictEqual(records(s.snapshots).map((r) => r.state), ['undone']);
      } else {
        // Nothing of the user's had changed: nothing to undo, and no record is kept.
        assert.deepStrictEqual(undoable, []);
        assert.deepStrictEqual(names(s.snapshots), []);
      }
      assert.deepStrictEqual(await listTree(s.target), before, 'the folder is exactly as before');
      assert.deepStrictEqual(names(s.tmp), [], 'nothing is left in the temp folder');
    });
  }

  it('killed during the renames, then a file edited: rolling back keeps the edit and puts back the rest', async () => {
    const s = scene();
    const before = await listTree(s.target);
    await killedRestore(s, 'renames:80');
    const now = await listTree(s.target);
    // A file the restore had already replaced, typed into after the crash.
    const edited = Object.keys(before).find((k) => before[k].type === 'file' && now[k]?.sha256 !== before[k].sha256);
    assert.ok(edited, 'the kill came after some replacements');
    fs.writeFileSync(path.join(s.target, edited), 'typed after the crash\n');
    const undo = await cli(['undo', '--last'], s.env);
    assert.strictEqual(undo.code, 0, undo.stderr);
    const after = await listTree(s.target);
    assert.strictEqual(fs.readFileSync(path.join(s.target, edited), 'utf8'), 'typed after the crash\n', 'a later edit is never touched');
    delete after[edited];
    const expected = { ...before };
    delete expected[edited];
    assert.deepStrictEqual(after, expected);
  });

  it('killed during the renames: finish completes the restore, and undo still puts the folder back exactly', async () => {
    const s = scene();
    const before = await listTree(s.target);
    await killedRestore(s, 'renames:40');
    assertBetweenMoves(await listTree(s.target));

    // Any command names the interrupted restore on stderr, with both ways out.
    const note = await cli(['list'], s.env);
    assert.strictEqual(note.code, 0, note.stderr);
    assert.match(note.stderr, /^Note: the restore into .*project of .* was interrupted\.$/m);
    const finishLine = /^ {2}Finish it: s3-backup finish (.+)$/m.exec(note.stderr);
    assert.ok(finishLine, note.stderr);
    assert.match(note.stderr, /^ {2}Roll it back: s3-backup undo /m);
    const snapshotDir = finishLine[1].replace(/^'|'$/g, '');

    // A new restore into the folder is refused until this one is dealt with.
    const blocked = await cli(['restore', key, s.target, '--yes'], s.env);
    assert.strictEqual(blocked.code, 1);
    assert.match(blocked.stderr, /^Error: An earlier restore into ".*project" was interrupted and is not finished\.$/m);

    const finish = await cli(['finish', snapshotDir], s.env);
    assert.strictEqual(finish.code, 0, finish.stderr);
    assert.match(finish.stderr, /^Finished the restore: \d+ more files? written\.$/m);
    const expected: Tree = { ...before };
    for (const [k, v] of Object.entries(await listTree(src))) expected[k] = v;
    const finished = await listTree(s.target);
    assert.deepStrictEqual(leftovers(finished), []);
    assert.deepStrictEqual(finished, expected, 'the folder holds the backup (and the files only it had)');
    assert.deepStrictEqual(records(s.snapshots).map((r) => r.state), ['complete']);

    const undo = await cli(['undo', '--last'], s.env);
    assert.strictEqual(undo.code, 0, undo.stderr);
    assert.deepStrictEqual(await listTree(s.target), before, 'undo after finish: exactly as before');
    assert.deepStrictEqual(names(s.tmp), []);
  });
});
