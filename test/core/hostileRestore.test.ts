// Hostile backups planted in the bucket the way an attacker with write
// access would (a normal-looking key among real backups), restored through
// the engine: list -> fetch (download + verify) -> plan -> apply.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BackupEngine } from '../../src/core/engine';
import { DEFAULT_EXCLUDES } from '../../src/core/format/selectionRules';
import { codeFilesToWrite } from '../../src/core/restore/codeFileItems';
import { BackupError } from '../../src/core/util/engineErrors';
import { build, manifestFor, normalLookingKey, type Entry } from '../helpers/hostileArchive';
import { createTestBucket, requireS3Server, type TestBucket } from '../helpers/s3';
import { listTree } from '../helpers/tree';

const ROOT = 'team/backups';
const RULES = { defaultExcludes: [...DEFAULT_EXCLUDES], excludes: [] as string[], gitignore: true };
const file = (name: string, body: string, mode?: number): Entry => ({ name: `workspace/app/${name}`, data: Buffer.from(body), ...(mode !== undefined ? { mode } : {}) });

describe('hostile backups planted in the bucket (real S3, through the engine)', function () {
  this.timeout(120_000);
  let bucket: TestBucket;
  let engine: BackupEngine;
  let tmp: string;
  let downloads: string;
  let realKey: string;
  let n = 0;

  before(async () => {
    requireS3Server();
    bucket = await createTestBucket('hostile');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-hostile-rgw-'));
    downloads = path.join(tmp, 'downloads');
    engine = new BackupEngine(bucket.profileAt(ROOT), { tmpDir: downloads, snapshotRoot: path.join(tmp, 'snapshots'), hostname: 'dev-laptop' });
    // A real backup first: the planted ones sit among real ones and look the same in the list.
    const src = path.join(tmp, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'README.md'), '# real\n');
    realKey = (await engine.backup({ kind: 'workspace', folders: [{ name: 'app', path: src }] })).key;
  });
  after(async () => {
    engine?.dispose();
    await bucket?.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Uploads `entries` (with a manifest that verifies) under a normal backup key. */
  async function plant(entries: Entry[], manifestExtra: Record<string, unknown> = {}): Promise<string> {
    const key = normalLookingKey(ROOT);
    await bucket.putObject(key, await build(entries, manifestFor(entries, manifestExtra)));
    const listed = await engine.listAll();
    assert.ok(listed.some((b) => b.key === key) && listed.some((b) => b.key === realKey), 'planted among the real backups');
    return key;
  }

  /** A target folder with a file of its own, and how it looks before. */
  async function target(): Promise<{ dir: string; before: Awaited<ReturnType<typeof listTree>> }> {
    const dir = path.join(tmp, `target${n++}`);
    fs.mkdirSync(path.join(dir, '.vscode'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'mine.txt'), 'mine\n');
    fs.writeFileSync(path.join(dir, '.vscode', 'settings.json'), '{ "editor.fontSize": 12 }\n');
    return { dir, before: await listTree(dir) };
  }

  /** Fetch and verify both refuse the planted backup with UnsafeArchive and `message`; nothing is written anywhere. */
  async function refused(key: string, message: RegExp): Promise<BackupError> {
    const t = await target();
    let caught: unknown;
    try {
      const fetched = await engine.fetch(key);
      await engine.apply(await engine.plan(fetched, { 'workspace/app': t.dir }), { includeCodeFiles: true });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof BackupError, `restored: ${String(caught)}`);
    assert.strictEqual(caught.code, 'UnsafeArchive', caught.message);
    assert.match(caught.message, message);
    assert.ok(!caught.message.includes('\n'));
    await assert.rejects(engine.verify(key), (e: unknown) => e instanceof BackupError && e.code === 'UnsafeArchive' && message.test(e.message));
    assert.deepStrictEqual(await listTree(t.dir), t.before, 'the target changed');
    assert.deepStrictEqual(fs.readdirSync(downloads), [], 'a download was left behind');
    assert.ok(!fs.existsSync('/tmp/s3b-pwned'));
    return caught;
  }

  it('a planted .git/config with core.fsmonitor (and hooks) is refused', async () => {
    const key = await plant([file('src/index.ts', 'export {};\n'), file('.git/config', '[core]\n\tfsmonitor = "touch /tmp/s3b-pwned"\n'), file('.git/hooks/post-checkout', '#!/bin/sh\ntouch /tmp/s3b-pwned\n', 0o755)]);
    const e = await refused(key, /^The backup holds "workspace\/app\/\.git\/config", which is inside a git repository's internals \(\.git\); a backup never holds those\.$/);
    assert.match(e.hint ?? '', /Nothing was restored/);
  });

  it('a .git folder in another case or deeper down is refused too', async () => {
    await refused(await plant([file('vendor/lib/.GIT/config', '[core]\n\tfsmonitor = "touch /tmp/s3b-pwned"\n')]), /"workspace\/app\/vendor\/lib\/\.GIT\/config"/);
  });

  it('a file its own recorded exclude rules leave out is refused', async () => {
    const key = await plant([file('src/a.ts', 'a'), file('node_modules/.bin/tsc', '#!/bin/sh\ntouch /tmp/s3b-pwned\n', 0o755)], { selection: { 'workspace/app': RULES } });
    await refused(key, /^The backup holds "workspace\/app\/node_modules\/\.bin\/tsc", which its own exclude rules leave out/);
    const user = await plant([file('src/a.ts', 'a'), file('private/id_rsa', 'x')], { selection: { 'workspace/app': { ...RULES, excludes: ['private/'] } } });
    await refused(user, /"workspace\/app\/private\/id_rsa", which its own exclude rules/);
  });

  it('an older backup (no recorded rules) holding what the defaults leave out is refused', async () => {
    await refused(await plant([file('src/a.ts', 'a'), file('node_modules/evil/index.js', 'require("child_process")')]), /"workspace\/app\/node_modules\/evil\/index\.js"/);
  });

  it("a file the backup's own .gitignore leaves out is refused (read from the archive)", async () => {
    const key = await plant([file('.gitignore', 'dist/\n.env.local\n'), file('src/a.ts', 'a'), file('.env.local', 'NODE_OPTIONS=--require /tmp/evil.js\n')], { selection: { 'workspace/app': RULES } });
    await refused(key, /"workspace\/app\/\.env\.local", which its own exclude rules leave out/);
    // The same files with .gitignore not applied (--no-gitignore) are a backup we could have made.
    const fine = await plant([file('.gitignore', 'dist/\n'), file('src/a.ts', 'a'), file('dist/out.js', 'x')], { selection: { 'workspace/app': { ...RULES, gitignore: false } } });
    const fetched = await engine.fetch(fine);
    await fetched.dispose();
  });

  it('a path listed together with a path under it is refused', async () => {
    await refused(await plant([file('docs', 'a file'), file('docs/readme.md', 'and a folder')]), /both "workspace\/app\/docs" and "workspace\/app\/docs\/readme\.md"/);
  });

  it('app data other than what a backup takes is refused (a planted executable in a profile)', async () => {
    const entries: Entry[] = [
      { name: 'appdata/settings.json', data: Buffer.from('{}\n') },
      { name: 'appdata/profiles/1a2b3c/globalStorage/ms-python.python/python', data: Buffer.from('#!/bin/sh\ntouch /tmp/s3b-pwned\n'), mode: 0o755 },
    ];
    const key = normalLookingKey(ROOT, 'appdata');
    await bucket.putObject(key, await build(entries, manifestFor(entries, { kind: 'appdata', sources: ['appdata'] })));
    await refused(key, /"appdata\/profiles\/1a2b3c\/globalStorage\/ms-python\.python\/python", which is not a file an app data backup takes/);
  });

  it('files that run code are marked and left out unless the caller opts in', async () => {
    const tasks = JSON.stringify({ version: '2.0.0', tasks: [{ label: 'x', type: 'shell', command: 'touch /tmp/s3b-pwned', runOptions: { runOn: 'folderOpen' } }] });
    const key = await plant([file('src/index.ts', 'export {};\n'), file('.vscode/tasks.json', tasks), file('.vscode/settings.json', '{ "git.path": "/tmp/evil" }\n'), file('.envrc', 'touch /tmp/s3b-pwned\n')], { selection: { 'workspace/app': RULES } });
    const t = await target();
    const fetched = await engine.fetch(key);
    try {
      const plan = await engine.plan(fetched, { 'workspace/app': t.dir });
      assert.deepStrictEqual(codeFilesToWrite(plan.items).map((i) => [i.relPath, i.action]), [['.vscode/tasks.json', 'create'], ['.vscode/settings.json', 'overwrite'], ['.envrc', 'create']]);
      assert.ok(!plan.items.find((i) => i.relPath === 'src/index.ts')!.runsCode);

      const r = await engine.apply(plan);
      assert.strictEqual(r.written, 1, 'only the source file');
      const after = await listTree(t.dir);
      assert.ok(after['src/index.ts']);
      assert.ok(!after['.vscode/tasks.json'] && !after['.envrc'], 'code-running files were written');
      assert.deepStrictEqual(after['.vscode/settings.json'], t.before['.vscode/settings.json'], 'the local settings stay');

      const again = await engine.plan(fetched, { 'workspace/app': t.dir });
      const all = await engine.apply(again, { includeCodeFiles: true });
      assert.strictEqual(all.written, 3);
      assert.strictEqual(fs.readFileSync(path.join(t.dir, '.vscode', 'tasks.json'), 'utf8'), tasks);
      assert.strictEqual(fs.readFileSync(path.join(t.dir, '.vscode', 'settings.json'), 'utf8'), '{ "git.path": "/tmp/evil" }\n');
      // Undo of the opted-in restore puts the local settings back.
      await engine.undo(all.snapshotDir!);
      assert.strictEqual(fs.readFileSync(path.join(t.dir, '.vscode', 'settings.json'), 'utf8'), '{ "editor.fontSize": 12 }\n');
    } finally {
      await fetched.dispose();
    }
  });

  it('modes are sanitised: never world-writable under a umask that forbids it, never locked against the owner, never setuid', async () => {
    const key = await plant([file('open.txt', 'a', 0o666), file('locked.txt', 'b', 0o000), file('tool.sh', '#!/bin/sh\n', 0o4755), file('group.txt', 'c', 0o664)], { selection: { 'workspace/app': RULES } });
    const t = await target();
    const saved = process.umask(0o022);
    try {
      const fetched = await engine.fetch(key);
      try {
        await engine.apply(await engine.plan(fetched, { 'workspace/app': t.dir }));
      } finally {
        await fetched.dispose();
      }
    } finally {
      process.umask(saved);
    }
    const mode = (name: string): string => (fs.statSync(path.join(t.dir, name)).mode & 0o7777).toString(8);
    assert.deepStrictEqual(
      { open: mode('open.txt'), locked: mode('locked.txt'), tool: mode('tool.sh'), group: mode('group.txt') },
      { open: '644', locked: '600', tool: '755', group: '644' },
    );
  });
});
