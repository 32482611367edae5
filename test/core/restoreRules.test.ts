import * as assert from 'assert';
import ignore from 'ignore';
import { CODE_FILE_HINTS, CODE_FILE_RULES, runsCode } from '../../src/core/restore/codeFiles';
import { codeFilesToWrite } from '../../src/core/restore/codeFileItems';
import { restoredMode } from '../../src/core/restore/restoredMode';
import { printable, printableLines } from '../../src/core/util/printable';

describe('restore rules', () => {
  describe('files that run code by themselves', () => {
    const code = [
      '.vscode/tasks.json',
      '.vscode/launch.json',
      '.vscode/settings.json',
      '.vscode/mcp.json',
      'packages/web/.vscode/tasks.json',
      '.VSCode/Tasks.json',
      'app.code-workspace',
      'tools/all.CODE-WORKSPACE',
      '.devcontainer/devcontainer.json',
      '.devcontainer.json',
      '.idea/workspace.xml',
      '.git/config',
      'sub/.git/hooks/pre-commit',
      '.husky/pre-commit',
      '.githooks/post-checkout',
      '.pre-commit-config.yaml',
      'lefthook.yml',
      '.lefthook-local.yaml',
      '.lintstagedrc.json',
      'lint-staged.config.mjs',
      '.envrc',
      'services/api/.envrc',
      '.env',
      '.npmrc',
      '.yarnrc',
      '.yarnrc.yml',
      '.yarn/releases/yarn-4.1.0.cjs',
      '.yarn/plugins/@yarnpkg/plugin-x.cjs',
      '.yarn/sdks/typescript/lib/tsserver.js',
      '.pnp.cjs',
      '.pnp.loader.mjs',
      '.pnpmfile.cjs',
      'bunfig.toml',
      '.venv/bin/python',
      'venv/lib/python3.12/site-packages/x.pth',
      'gradle/wrapper/gradle-wrapper.properties',
      'android/gradle/wrapper/gradle-wrapper.jar',
      '.mvn/wrapper/maven-wrapper.properties',
    ];
    for (const p of code) it(`marks ${p}`, () => assert.ok(runsCode(p), p));

    const plain = [
      'src/index.ts',
      'package.json',
      'Makefile',
      'build.gradle',
      'setup.py',
      'README.md',
      '.gitignore',
      '.gitattributes',
      '.gitmodules',
      '.editorconfig',
      '.nvmrc',
      '.python-version',
      '.env.example',
      'docs/vscode/tasks.json',
      'env/settings.json',
      'myvenv/bin/python',
      'src/gradle/other.properties',
      'eslint.config.js',
    ];
    for (const p of plain) it(`does not mark ${p}`, () => assert.ok(!runsCode(p), p));

    it('the quick check by literal pieces gives the matcher\'s answer: each rule holds a piece, and on paths built from every rule', () => {
      const full = ignore().add(CODE_FILE_RULES.map((r) => r.pattern));
      for (const r of CODE_FILE_RULES) {
        const literal = r.pattern.replace(/\*\*\//g, '').toLowerCase();
        assert.ok(CODE_FILE_HINTS.some((h) => literal.replace(/\*/g, '').includes(h) && literal.split('*').some((part) => part.includes(h))), `no piece of ${r.pattern} in the hints`);
      }
      const names = CODE_FILE_RULES.flatMap((r) => {
        const base = r.pattern.replace(/^\*\*\//, '').replace(/\/$/, '');
        const filled = [base.replace(/\*/g, ''), base.replace(/\*/g, 'x'), base.replace(/\*/g, 'Ab-c')];
        return filled.flatMap((n) => [n, n.toUpperCase(), `${n}.bak`, `x${n}`]);
      });
      const paths = [...plain, ...code];
      for (const n of names) paths.push(n, `${n}/child.txt`, `deep/er/${n}`, `deep/${n}/a/b.json`);
      let marked = 0;
      for (const p of paths) {
        assert.strictEqual(runsCode(p), full.ignores(p), p);
        if (full.ignores(p)) marked++;
      }
      assert.ok(marked > 100 && marked < paths.length - 100, `both answers were tried (${marked} of ${paths.length} marked)`);
    });

    it('every rule says why', () => {
      for (const r of CODE_FILE_RULES) assert.ok(r.why.length > 20, r.pattern);
      assert.strictEqual(new Set(CODE_FILE_RULES.map((r) => r.pattern)).size, CODE_FILE_RULES.length);
    });

    it('only items that write count: created or overwritten, not unchanged or only here', () => {
      const items = [
        { relPath: 'a', action: 'create', runsCode: true },
        { relPath: 'b', action: 'overwrite', runsCode: true },
        { relPath: 'c', action: 'unchanged', runsCode: true },
        { relPath: 'd', action: 'create' },
        { relPath: 'e', action: 'onlyLocal' },
      ];
      assert.deepStrictEqual(codeFilesToWrite(items).map((i) => i.relPath), ['a', 'b']);
    });
  });

  describe('restored modes', () => {
    const rows: Array<[number, number, number, string]> = [
      [0o644, 0o022, 0o644, 'ordinary file'],
      [0o755, 0o022, 0o755, 'executable kept'],
      [0o666, 0o022, 0o644, 'never world-writable where the umask forbids it'],
      [0o777, 0o022, 0o755, 'group and world write dropped'],
      [0o666, 0o002, 0o664, 'group write allowed by the umask'],
      [0o666, 0o000, 0o666, 'world write only where the umask allows it'],
      [0o000, 0o022, 0o600, 'never unreadable by the owner'],
      [0o444, 0o022, 0o644, 'the owner keeps write'],
      [0o4755, 0o022, 0o755, 'never setuid'],
      [0o2775, 0o002, 0o775, 'never setgid'],
      [0o1777, 0o022, 0o755, 'never sticky'],
      [0o777, 0o077, 0o700, 'a strict umask'],
    ];
    for (const [mode, umask, want, what] of rows) {
      it(`${mode.toString(8)} with umask ${umask.toString(8).padStart(3, '0')} -> ${want.toString(8)} (${what})`, () => assert.strictEqual(restoredMode(mode, umask), want));
    }
  });

  describe('printable names', () => {
    it('escapes what could rewrite or hide a line, keeps what is visible', () => {
      const forged = 'a.txt\r\x1b[2Knew        /home/me/.bashrc\n\u202egnp.exe\u2028\u200b\x7f\x9b';
      const p = printable(forged);
      assert.strictEqual(p, 'a.txt\\u000d\\u001b[2Knew        /home/me/.bashrc\\u000a\\u202egnp.exe\\u2028\\u200b\\u007f\\u009b');
      assert.ok(!/[\u0000-\u001f\u007f-\u009f\u2028\u202e\u200b]/.test(p));
      assert.strictEqual(printable('données/naïve café ✓.txt'), 'données/naïve café ✓.txt');
    });
    it('whole lines keep their own line feeds and tabs', () => {
      assert.strictEqual(printableLines('one\ttwo\nthree\r\x1b[1A'), 'one\ttwo\nthree\\u000d\\u001b[1A');
    });
  });
});
