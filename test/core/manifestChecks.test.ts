import * as assert from 'assert';
import { checkManifest, firstLeftOutPath } from '../../src/core/format/manifestChecks';
import { parseManifest } from '../../src/core/format/manifest';
import { DEFAULT_EXCLUDES, gitignoreRules, isGitPath } from '../../src/core/format/selectionRules';
import { isAppDataFile } from '../../src/core/format/appDataLayout';
import { foldedPath, pathProblemOn, segmentProblemOn } from '../../src/core/util/platformNames';
import { BackupError } from '../../src/core/util/engineErrors';
import { manifestFor } from '../helpers/hostileArchive';

const files = (...paths: string[]) => ({ files: paths.map((p) => ({ path: p })) });
const RECORDED = { defaultExcludes: [...DEFAULT_EXCLUDES], excludes: [] as string[], gitignore: true };

/** The refusal checkManifest throws: UnsafeArchive, one sentence naming `entry`. */
function refused(m: Parameters<typeof checkManifest>[0], entry: RegExp, platform: NodeJS.Platform = 'linux'): BackupError {
  let caught: unknown;
  try {
    checkManifest(m, { platform });
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof BackupError, `not refused: ${JSON.stringify(m.files)}`);
  assert.strictEqual(caught.code, 'UnsafeArchive');
  assert.match(caught.message, entry);
  assert.ok(!caught.message.includes('\n'));
  return caught;
}

describe('manifest checks: only what a backup of ours holds, only what this system can create', () => {
  describe('git internals are never restored', () => {
    const bad = [
      'workspace/app/.git/config',
      'workspace/app/.GIT/hooks/post-checkout',
      'workspace/app/vendor/lib/.git/config',
      'workspace/app/.git', // a worktree's pointer file: gitdir can name another repository
      'workspace/app/.git./config', // Windows drops the trailing dot
      'workspace/app/.git /config', // and the trailing space
      'workspace/app/.g\u200cit/config', // HFS+ ignores the zero-width non-joiner
      'workspace/app/git~1/config', // the 8.3 short name of .git
      'workspace/app/.git::$INDEX_ALLOCATION/config', // an NTFS stream of the folder
      'appdata/.git/config',
    ];
    for (const p of bad) {
      it(`refuses ${JSON.stringify(p)}`, () => {
        const e = refused(files('workspace/app/a.txt', p), /git repository's internals/);
        assert.ok(isGitPath(p));
        assert.ok(String(e.params.entry).startsWith('workspace/app') || String(e.params.entry).startsWith('appdata'));
      });
    }
    it('accepts names that only look alike', () => {
      for (const p of ['workspace/app/.github/workflows/ci.yml', 'workspace/app/.gitignore', 'workspace/app/.gitkeep', 'workspace/app/a.git/x', 'workspace/app/git/config', 'workspace/app/.gitattributes']) {
        assert.ok(!isGitPath(p), p);
        checkManifest(files(p), { platform: 'linux' });
      }
    });
  });

  describe("the backup's own exclude rules", () => {
    it('refuses a file the default excludes leave out (also in backups without recorded rules)', () => {
      refused({ ...files('workspace/app/src/a.ts', 'workspace/app/node_modules/evil/index.js'), selection: { 'workspace/app': RECORDED } }, /node_modules\/evil\/index\.js.*own exclude rules/);
      refused(files('workspace/app/src/a.ts', 'workspace/app/sub/__pycache__/x.cpython-312.pyc'), /__pycache__/);
      refused(files('workspace/app/.s3-backup-staging-abc/0/1'), /staging/);
    });
    it("applies the user's excludes as recorded, re-includes too", () => {
      const m = { ...files('workspace/app/src/a.ts', 'workspace/app/secrets/prod.key'), selection: { 'workspace/app': { ...RECORDED, excludes: ['secrets/'] } } };
      refused(m, /secrets\/prod\.key/);
      checkManifest({ ...files('workspace/app/node_modules/kept/index.js'), selection: { 'workspace/app': { ...RECORDED, excludes: ['!node_modules/'] } } }, { platform: 'linux' });
      // Each folder has its own rules.
      checkManifest({ ...files('workspace/a/dist/x.js', 'workspace/b/src/y.js'), selection: { 'workspace/a': RECORDED, 'workspace/b': { ...RECORDED, excludes: ['dist/'] } } }, { platform: 'linux' });
      refused({ ...files('workspace/a/src/x.js', 'workspace/b/dist/y.js'), selection: { 'workspace/a': RECORDED, 'workspace/b': { ...RECORDED, excludes: ['dist/'] } } }, /workspace\/b\/dist\/y\.js/);
    });
    it('applies .gitignore files the way the backup did: nested ones, deeper ones win, not when not applied', () => {
      const m = { ...files('workspace/app/.gitignore', 'workspace/app/src/a.ts', 'workspace/app/sub/.gitignore', 'workspace/app/sub/keep.log', 'workspace/app/x.log'), selection: { 'workspace/app': RECORDED } };
      const rules = new Map([['workspace/app', [gitignoreRules('', '*.log\n.env\n'), gitignoreRules('sub', '!keep.log\n')]]]);
      assert.strictEqual(firstLeftOutPath(m, rules), 'workspace/app/x.log');
      const ok = { ...m, files: m.files.filter((f) => f.path !== 'workspace/app/x.log') };
      assert.strictEqual(firstLeftOutPath(ok, rules), undefined, 'sub/.gitignore re-includes keep.log');
      assert.strictEqual(firstLeftOutPath({ ...ok, files: [...ok.files, { path: 'workspace/app/deep/er/.env' }] }, rules), 'workspace/app/deep/er/.env');
      assert.strictEqual(firstLeftOutPath({ ...m, selection: { 'workspace/app': { ...RECORDED, gitignore: false } } }, rules), undefined, 'made with --no-gitignore');
      // A .gitignore applies only below its own folder.
      const scoped = new Map([['workspace/app', [gitignoreRules('sub', '*.txt\n')]]]);
      assert.strictEqual(firstLeftOutPath(files('workspace/app/a.txt', 'workspace/app/other/b.txt'), scoped), undefined);
      assert.strictEqual(firstLeftOutPath({ ...files('workspace/app/sub/c.txt'), selection: { 'workspace/app': RECORDED } }, scoped), 'workspace/app/sub/c.txt');
    });
  });

  describe('app data holds only the files a backup takes', () => {
    it('accepts the set of a profile and of the default profile', () => {
      for (const p of ['settings.json', 'keybindings.json', 'tasks.json', 'snippets/ts.json', 'snippets/a/b.code-snippets', 'profiles.json', 'extensions.json', 'left-out-settings.json', 'profiles/7a1b/settings.json', 'profiles/7a1b/extensions.json', 'profiles/7a1b/snippets/x.json']) {
        assert.ok(isAppDataFile(p), p);
      }
    });
    it('refuses anything else, a planted executable in a profile above all', () => {
      for (const p of ['profiles/7a1b/globalStorage/ms-python.python/bin/python', 'profiles/7a1b/extensions/evil/index.js', 'globalStorage/storage.json', 'profiles/7a1b', 'extensions/x/package.json', 'snippets/', 'machineid', 'profiles/a/b/settings.json']) {
        assert.ok(!isAppDataFile(p), p);
      }
      refused(files('appdata/settings.json', 'appdata/profiles/7a1b/globalStorage/x/tool.exe'), /appdata\/profiles\/7a1b\/globalStorage\/x\/tool\.exe.*not a file an app data backup takes/);
    });
  });

  describe('a path and a path under it', () => {
    it('refuses "a" with "a/b", naming both', () => {
      refused(files('workspace/app/a', 'workspace/app/a/b'), /"workspace\/app\/a" and "workspace\/app\/a\/b"/);
      refused(files('workspace/app/x/y/z', 'workspace/app/x/y'), /both "workspace\/app\/x\/y" and "workspace\/app\/x\/y\/z"/);
      checkManifest(files('workspace/app/a', 'workspace/app/ab/c', 'workspace/app/a.b/c'), { platform: 'linux' });
    });
    it('on Windows and macOS also when only the case differs', () => {
      for (const platform of ['win32', 'darwin'] as const) refused(files('workspace/app/Docs', 'workspace/app/docs/readme.md'), /same name on/, platform);
      checkManifest(files('workspace/app/Docs', 'workspace/app/docs/readme.md'), { platform: 'linux' });
    });
  });

  describe('names the restoring system cannot create (rules as pure functions of the platform)', () => {
    const windowsBad = ['CON', 'con.txt', 'Prn', 'aux.tar.gz', 'NUL', 'COM1', 'com9.log', 'LPT1', 'lpt\u00b9', 'a:b', 'what?', 'star*', 'pipe|', 'quote"', '<x>', 'tab\there', 'dot.', 'space '];
    for (const name of windowsBad) {
      it(`${JSON.stringify(name)}: refused on Windows only`, () => {
        assert.ok(segmentProblemOn(name, 'win32'), name);
        assert.strictEqual(segmentProblemOn(name, 'linux'), undefined);
        assert.strictEqual(segmentProblemOn(name, 'darwin'), undefined);
        const e = refused(files(`workspace/app/ok.txt`, `workspace/app/dir/${name}`), /cannot be created on Windows/, 'win32');
        assert.strictEqual(e.params.reason, 'platform');
        checkManifest(files(`workspace/app/dir/${name}`), { platform: 'linux' });
      });
    }
    it('Windows accepts ordinary names that merely contain a device name', () => {
      for (const name of ['console.txt', 'CONFIG', 'com10', 'lpt', 'auxiliary', 'nul_', '.nul', 'a.b.c', 'naïve café.txt']) assert.strictEqual(segmentProblemOn(name, 'win32'), undefined, name);
      assert.strictEqual(pathProblemOn('workspace/app/src/con/x', 'win32'), 'it is a reserved device name on Windows');
    });
    it('names that differ only in case are one file on Windows and macOS, two on Linux', () => {
      for (const platform of ['win32', 'darwin'] as const) {
        const e = refused(files('workspace/app/README.md', 'workspace/app/readme.md'), /"workspace\/app\/README\.md" and "workspace\/app\/readme\.md", which are the same name on/, platform);
        assert.strictEqual(e.params.reason, 'platform');
      }
      checkManifest(files('workspace/app/README.md', 'workspace/app/readme.md'), { platform: 'linux' });
    });
    it('macOS also folds Unicode normalisation; Windows and Linux do not', () => {
      const nfc = 'workspace/app/caf\u00e9.txt';
      const nfd = 'workspace/app/cafe\u0301.txt';
      assert.strictEqual(foldedPath(nfc, 'darwin'), foldedPath(nfd, 'darwin'));
      refused(files(nfc, nfd), /same name on macOS/, 'darwin');
      checkManifest(files(nfc, nfd), { platform: 'win32' });
      checkManifest(files(nfc, nfd), { platform: 'linux' });
    });
  });

  describe('each folder is checked once: the same answers as path by path', () => {
    const many = (dir: string, n = 50): string[] => Array.from({ length: n }, (_, i) => `workspace/app/${dir}/f${i}.ts`);
    const selected = (paths: string[]) => ({ ...files(...paths), selection: { 'workspace/app': RECORDED } });
    it('a problem in a name after its folder was found clean, or in a folder first met later', () => {
      refused(files(...many('src'), 'workspace/app/src/.git'), /src\/\.git".*git repository's internals/);
      refused(files(...many('lib'), 'workspace/app/lib/.git/config'), /lib\/\.git\/config/);
      refused(files(...many('dir'), 'workspace/app/dir/CON'), /dir\/CON".*cannot be created on Windows/, 'win32');
      refused(files(...many('ok'), 'workspace/app/con/x'), /con\/x".*cannot be created on Windows/, 'win32');
      checkManifest(files(...many('dir'), 'workspace/app/dir/CON', 'workspace/app/con/x'), { platform: 'linux' });
    });
    it('a file listed as a folder of files before or after it; one folder two ways on Windows', () => {
      refused(files(...many('d/e'), 'workspace/app/d/e'), /both "workspace\/app\/d\/e" and "workspace\/app\/d\/e\/f0\.ts"/);
      refused(files('workspace/app/d', ...many('d/e')), /both "workspace\/app\/d" and "workspace\/app\/d\/e\/f0\.ts"/);
      refused(files(...many('Docs/a'), 'workspace/app/docs'), /same name on Windows/, 'win32');
      checkManifest(files(...many('Docs/a'), 'workspace/app/docs'), { platform: 'linux' });
    });
    it('a left-out folder or name among kept ones of the same folder', () => {
      assert.strictEqual(firstLeftOutPath(selected([...many('src'), 'workspace/app/src/node_modules/x.js'])), 'workspace/app/src/node_modules/x.js');
      assert.strictEqual(firstLeftOutPath(selected([...many('src/node_modules/pkg').slice(1), ...many('src')])), 'workspace/app/src/node_modules/pkg/f1.ts');
      assert.strictEqual(firstLeftOutPath(selected([...many('src'), 'workspace/app/src/x.pyc', 'workspace/app/src/y.ts'])), 'workspace/app/src/x.pyc');
      assert.strictEqual(firstLeftOutPath(selected([...many('src'), ...many('src/deep/er')])), undefined);
    });
  });

  describe('parseManifest runs the checks and reads the recorded rules', () => {
    const good = { name: 'workspace/app/a.txt', data: Buffer.from('a') };
    const evil = { name: 'workspace/app/.git/config', data: Buffer.from('[core]\n\tfsmonitor = "touch /tmp/pwned"\n') };
    it('refuses what checkManifest refuses', () => {
      assert.throws(() => parseManifest(JSON.stringify(manifestFor([good, evil]))), (e: unknown) => e instanceof BackupError && e.code === 'UnsafeArchive' && /\.git\/config/.test(e.message));
    });
    it('keeps valid rules, refuses malformed ones (older manifests have none)', () => {
      const m = parseManifest(JSON.stringify(manifestFor([good], { selection: { 'workspace/app': RECORDED } })));
      assert.deepStrictEqual(m.selection, { 'workspace/app': RECORDED });
      assert.strictEqual(parseManifest(JSON.stringify(manifestFor([good]))).selection, undefined);
      for (const selection of [[], 'x', { 'workspace/app': { ...RECORDED, gitignore: 'yes' } }, { 'workspace/app': { excludes: [] } }, JSON.parse('{"__proto__": {"defaultExcludes": [], "excludes": [], "gitignore": false}}'), { 'elsewhere/app': RECORDED }]) {
        assert.throws(() => parseManifest(JSON.stringify(manifestFor([good], { selection }))), (e: unknown) => e instanceof BackupError && e.code === 'Integrity', JSON.stringify(selection));
      }
    });
  });
});
