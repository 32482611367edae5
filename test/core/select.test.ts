import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { BackupError } from '../../src/core/util/engineErrors';
import ignore from 'ignore';
import { DEFAULT_EXCLUDES, selectFiles } from '../../src/core/backup/select';
import { excludeMatcher, isLeftOut } from '../../src/core/format/selectionRules';
import { WorkerPool } from '../../src/core/util/workerPool';

function tree(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, content);
  }
}

describe('selectFiles', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-select-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('leaves out the default excludes (dependencies, VCS, caches) but keeps build output', async () => {
    tree(tmp, {
      'src/index.ts': 'x',
      'node_modules/lib/index.js': 'x',
      'packages/a/node_modules/b/index.js': 'x',
      '.git/HEAD': 'x',
      '__pycache__/m.cpython-311.pyc': 'x',
      'pkg/mod.pyc': 'x',
      '.pytest_cache/v': 'x',
      '.mypy_cache/v': 'x',
      '.gradle/v': 'x',
      '.next/cache/v': 'x',
      '.next/server/page.js': 'kept',
      '.cache/v': 'x',
      '.turbo/v': 'x',
      '.eslintcache': 'x',
      '.s3-backup-staging-abc/0': 'x',
      'dist/app.js': 'kept',
      'target/release/app': 'kept',
      'build/out.o': 'kept',
    });
    const r = await selectFiles(tmp, { useGitignore: false });
    assert.deepStrictEqual(
      r.files.map((f) => f.relPath),
      ['.next/server/page.js', 'build/out.o', 'dist/app.js', 'src/index.ts', 'target/release/app'],
    );
    assert.ok(DEFAULT_EXCLUDES.includes('node_modules/') && DEFAULT_EXCLUDES.includes('.git/'));
  });

  it('applies root and nested .gitignore files with git precedence, and user globs', async () => {
    tree(tmp, {
      '.gitignore': '*.log\nsecret/\n!keep.log\n/rootonly.txt\n',
      'a.log': 'x',
      'keep.log': 'kept',
      'rootonly.txt': 'x',
      'sub/rootonly.txt': 'kept: anchored pattern only matches at the root',
      'secret/key': 'x',
      'sub/.gitignore': '!b.log\nlocal/\n',
      'sub/b.log': 'kept: re-included by the deeper file',
      'sub/c.log': 'x',
      'sub/local/x': 'x',
      'other/local/x': 'kept: the nested rule is scoped to sub/',
      'docs/readme.md': 'kept',
      'docs/draft.md': 'x',
      'vendor/big.bin': 'x',
    });
    const r = await selectFiles(tmp, { excludes: ['docs/draft.md', 'vendor/'] });
    assert.deepStrictEqual(
      r.files.map((f) => f.relPath),
      ['.gitignore', 'docs/readme.md', 'keep.log', 'other/local/x', 'sub/.gitignore', 'sub/b.log', 'sub/rootonly.txt'],
    );
    const noGit = await selectFiles(tmp, { useGitignore: false });
    assert.ok(noGit.files.some((f) => f.relPath === 'a.log'));
  });

  it('a user glob can re-include a default exclude', async () => {
    tree(tmp, { 'node_modules/patched/index.js': 'x', 'node_modules/other/index.js': 'x' });
    const r = await selectFiles(tmp, { excludes: ['!node_modules/', 'node_modules/other/'] });
    assert.deepStrictEqual(r.files.map((f) => f.relPath), ['node_modules/patched/index.js']);
  });

  it('keeps symlinks as links (never followed), reports those leaving the folder, special files and unportable names; records size, mode, mtime', async () => {
    tree(tmp, { 'real/file.txt': 'hello', 'a\\b.txt': 'backslash in a name' });
    fs.chmodSync(path.join(tmp, 'real/file.txt'), 0o640);
    fs.utimesSync(path.join(tmp, 'real/file.txt'), new Date(1700000000123), new Date(1700000000123));
    fs.symlinkSync(path.join(tmp, 'real'), path.join(tmp, 'dirlink'));
    fs.symlinkSync('real/file.txt', path.join(tmp, 'filelink'));
    fs.symlinkSync('/nonexistent', path.join(tmp, 'dangling'));
    execFileSync('mkfifo', [path.join(tmp, 'pipe')]);
    const threads = WorkerPool.create('fileWorker');
    assert.ok(threads, 'worker threads start here');
    try {
      // The same answers from the caller's thread pool and from a worker's stat batches.
      for (const o of [{}, { threads }, { threads, archivePrefix: 'workspace/app/' }]) checkLinksAndSpecials(await selectFiles(tmp, o), o.archivePrefix);
    } finally {
      await threads.close();
    }
  });

  function checkLinksAndSpecials(r: Awaited<ReturnType<typeof selectFiles>>, archivePrefix?: string): void {
    assert.deepStrictEqual(r.files.map((f) => f.relPath), ['real/file.txt']);
    const f = r.files[0];
    assert.strictEqual(f.archivePath, `${archivePrefix ?? ''}real/file.txt`, 'the path in a backup: the prefix and the relative path');
    assert.ok(f.ino > 0 && f.ctimeMs > 0, `the inode and ctime a later backup compares (${f.ino}, ${f.ctimeMs})`);
    assert.strictEqual(f.size, 5);
    assert.strictEqual(f.mode, 0o640);
    assert.strictEqual(Math.round(f.mtimeMs), 1700000000123);
    assert.strictEqual(f.absPath, path.join(tmp, 'real', 'file.txt'));
    assert.strictEqual(r.totalBytes, 5);
    assert.deepStrictEqual(
      r.links.map((l) => [l.relPath, l.target, l.inside]),
      [
        ['dangling', '/nonexistent', false],
        ['dirlink', path.join(tmp, 'real'), false],
        ['filelink', 'real/file.txt', true],
      ],
      'every link is kept; only a relative one that stays inside restores as a link',
    );
    const skipped = Object.fromEntries(r.skipped.map((s) => [s.relPath, s]));
    assert.strictEqual(skipped.dirlink.reason, 'symlink');
    assert.strictEqual(skipped.dangling.reason, 'symlink');
    assert.strictEqual(skipped.filelink, undefined, 'a link inside the folder is not worth a report');
    assert.strictEqual(skipped.pipe.reason, 'special');
    assert.strictEqual(skipped['a\\b.txt'].reason, 'special');
  }

  it('keeps empty folders, but not folders whose content is all left out', async () => {
    tree(tmp, { 'a/x.txt': 'x', 'node_modules/dep/index.js': 'x' });
    fs.mkdirSync(path.join(tmp, 'empty/deeper'), { recursive: true });
    fs.mkdirSync(path.join(tmp, 'only-ignored/node_modules/x'), { recursive: true });
    const r = await selectFiles(tmp);
    assert.deepStrictEqual(r.emptyDirs.map((d) => d.relPath), ['empty/deeper', 'only-ignored']);
    assert.deepStrictEqual(r.files.map((f) => f.relPath), ['a/x.txt']);
  });

  it('many folders listed at once: the same sorted selection, empty folders and skipped names as a walk one folder at a time would give', async () => {
    const files: Record<string, string> = {};
    for (let d = 0; d < 40; d++) {
      for (let f = 0; f < 30; f++) files[`d${d % 7}/sub${d}/f${f}.txt`] = `${d}-${f}`;
      files[`d${d % 7}/sub${d}/node_modules/x.js`] = 'left out';
      files[`d${d % 7}/sub${d}/bad\\name${d}.txt`] = 'not portable';
      fs.mkdirSync(path.join(tmp, `d${d % 7}/sub${d}/empty${d}`), { recursive: true });
    }
    tree(tmp, files);
    const threads = WorkerPool.create('fileWorker');
    try {
      for (const o of [{}, { threads }]) {
        const r = await selectFiles(tmp, o);
        const kept = Object.keys(files).filter((p) => !p.includes('node_modules') && !p.includes('\\')).sort();
        assert.deepStrictEqual(r.files.map((f) => f.relPath), kept);
        assert.strictEqual(r.totalBytes, kept.reduce((n, p) => n + Buffer.byteLength(files[p]), 0));
        assert.deepStrictEqual(r.emptyDirs.map((d) => d.relPath), Array.from({ length: 40 }, (_, d) => `d${d % 7}/sub${d}/empty${d}`).sort());
        const skipped = r.skipped.map((s) => s.relPath);
        assert.deepStrictEqual(skipped, [...skipped].sort(), 'skipped names in path order');
        assert.strictEqual(skipped.length, 40);
        assert.ok(r.skipped.every((s) => s.reason === 'special' && /backslash/.test(s.detail ?? '')));
      }
    } finally {
      await threads?.close();
    }
  });

  it('reports unreadable folders and files without failing', async () => {
    tree(tmp, { 'ok.txt': 'x', 'closed/inner.txt': 'x', 'locked.txt': 'x' });
    fs.chmodSync(tmp, 0o755);
    fs.chmodSync(path.join(tmp, 'closed'), 0o000);
    fs.chmodSync(path.join(tmp, 'locked.txt'), 0o000);
    try {
      for (const onThreads of [false, true]) {
        // Root reads everything: the selection runs as an unprivileged user, without and with a worker's stat batches.
        const script = `const { WorkerPool } = require(${JSON.stringify(require.resolve('../../src/core/util/workerPool'))});
          const threads = ${onThreads} ? WorkerPool.create('fileWorker') : undefined;
          if (${onThreads} && !threads) throw new Error('no worker thread');
          require(${JSON.stringify(require.resolve('../../src/core/backup/select'))}).selectFiles(${JSON.stringify(tmp)}, { threads })
            .then(async (r) => { await threads?.close(); process.stdout.write(JSON.stringify(r)); })`;
        const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
        const r = JSON.parse(execFileSync(process.execPath, ['-e', script], { ...asUser, encoding: 'utf8' })) as { files: { relPath: string }[]; skipped: { relPath: string; reason: string; detail?: string }[] };
        assert.deepStrictEqual(r.files.map((f) => f.relPath), ['ok.txt']);
        assert.deepStrictEqual(r.skipped.map((s) => `${s.reason} ${s.relPath} ${s.detail}`).sort(), ['unreadable closed EACCES', 'unreadable locked.txt EACCES']);
      }
    } finally {
      fs.chmodSync(path.join(tmp, 'closed'), 0o755);
    }
  });

  it('fails plainly on a missing root, and honours abort', async () => {
    await assert.rejects(selectFiles(path.join(tmp, 'missing')), (e: unknown) => e instanceof BackupError && e.code === 'Io');
    tree(tmp, { 'a/b.txt': 'x' });
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(selectFiles(tmp, { signal: ac.signal }), (e: unknown) => e instanceof BackupError && e.code === 'Cancelled');
  });

  it('the files matcher (folder-only rules left out) answers as all the rules do, for every file whose folders are kept', () => {
    const userSets = [
      [],
      ['dist/', '!dist/keep/', '*.log', '!important.log'],
      ['kee*', '!keep/', 'keep/'],
      ['build', '!build/', 'docs/**/*.tmp', 'out/ ', '#comment/', '\\#hash/', '!node_modules/', 'x/y/'],
      ['*', '!*/', '!*.ts'],
    ];
    const names = ['a.ts', 'b.log', 'important.log', 'x.pyc', '.eslintcache', 'keep', 'kee', 'build', 'dist', 'node_modules', 'y', 'c.tmp', '#hash', 'out', '.cache'];
    const paths: string[] = [];
    for (const a of names) {
      paths.push(a);
      for (const b of names) {
        paths.push(`${a}/${b}`);
        for (const c of ['f.ts', 'g.tmp', 'h.log']) paths.push(`${a}/${b}/${c}`);
      }
    }
    let checked = 0;
    let leftOut = 0;
    for (const excludes of userSets) {
      const m = excludeMatcher({ defaultExcludes: [...DEFAULT_EXCLUDES], excludes });
      const full = ignore().add([...DEFAULT_EXCLUDES, ...excludes]);
      for (const p of paths) {
        const parts = p.split('/');
        // Asked only when every folder above is kept, as the scan and the restore's check do.
        if (parts.slice(0, -1).some((_, i) => full.ignores(`${parts.slice(0, i + 1).join('/')}/`))) continue;
        checked++;
        const want = full.ignores(p);
        if (want) leftOut++;
        assert.strictEqual(isLeftOut(p, false, m, []), want, `${JSON.stringify(excludes)}: ${p}`);
        assert.strictEqual(isLeftOut(p, true, m, []), full.ignores(`${p}/`), `${JSON.stringify(excludes)}: ${p}/`);
      }
    }
    assert.ok(checked > 2000 && leftOut > 300, `${checked} paths checked, ${leftOut} left out`);
  });
});
