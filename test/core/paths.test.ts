// The path checks every archive entry and restore target goes through.
import * as assert from 'assert';
import * as path from 'path';
import { archivePathProblem, isInside, nameProblem, resolveInside } from '../../src/core/util/paths';

describe('archive path checks', () => {
  const safe = ['a', 'workspace/app/src/index.ts', 'a b/c d.txt', '.env', '..a/b..', 'ä/日本/файл', 'x'.repeat(200)];
  for (const p of safe) {
    it(`accepts ${JSON.stringify(p.length > 40 ? `${p.slice(0, 20)}…` : p)}`, () => assert.strictEqual(archivePathProblem(p), undefined));
  }

  const unsafe: Array<[string, RegExp]> = [
    ['', /empty/],
    ['/etc/passwd', /absolute/],
    ['../x', /"\.\."/],
    ['a/../../x', /"\.\."/],
    ['a/./b', /"\."/],
    ['a//b', /empty segment/],
    ['a/', /folder/],
    ['a\\b', /backslash/],
    ['C:/x', /drive letter/],
    ['c:x', /drive letter/],
    ['a\u0000b', /NUL/],
    ['a/' + 'b'.repeat(70000), /too long/],
  ];
  for (const [p, why] of unsafe) {
    it(`refuses ${JSON.stringify(p.length > 40 ? `${p.slice(0, 20)}…` : p)}`, () => assert.match(archivePathProblem(p) ?? 'accepted', why));
  }

  it('finds an empty, `.` or `..` segment wherever it is, and names the first, as a segment-by-segment check does', () => {
    const segments = ['', '.', '..', '...', 'a', '.a', 'a.', '..a'];
    const bySegments = (p: string): string | undefined => {
      for (const seg of p.split('/')) {
        if (seg === '') return p.endsWith('/') ? 'it names a folder' : 'it has an empty segment';
        if (seg === '.' || seg === '..') return `it contains "${seg}"`;
      }
      return undefined;
    };
    let paths = [''];
    let fine = 0;
    let refused = 0;
    for (let depth = 1; depth <= 4; depth++) {
      paths = paths.flatMap((p) => segments.map((s) => (depth === 1 ? s : `${p}/${s}`)));
      for (const p of paths) {
        if (p === '' || p.startsWith('/')) continue; // refused before the segments are looked at
        const want = bySegments(p);
        assert.strictEqual(archivePathProblem(p), want, JSON.stringify(p));
        if (want === undefined) fine++;
        else refused++;
      }
    }
    assert.ok(fine > 100 && refused > 1000, `${fine} fine, ${refused} refused`);
  });

  it('nameProblem (a fine folder plus one name) says what archivePathProblem says of the joined path', () => {
    const names = ['a', '.env', '..a', '.', '..', '', 'a\\b', 'a\u0000b', 'a/b', 'C:', 'c:x', 'ä日本', 'x'.repeat(30000), '名'.repeat(22000)];
    const dirs = ['src', 'a b/c', 'ä/日本', 'y'.repeat(40000)];
    let checked = 0;
    for (const dir of dirs) {
      for (const name of names) {
        const joined = `${dir}/${name}`;
        assert.strictEqual(nameProblem(name, joined), archivePathProblem(joined), JSON.stringify(joined.slice(0, 30)));
        checked++;
      }
    }
    // Both answers, fine and not, among the cases.
    assert.ok(names.some((n) => nameProblem(n, `src/${n}`) === undefined) && names.some((n) => nameProblem(n, `src/${n}`) !== undefined));
    assert.strictEqual(checked, dirs.length * names.length);
  });

  it('resolveInside joins safe paths and refuses escapes', () => {
    const root = path.resolve('/tmp/root');
    assert.strictEqual(resolveInside(root, 'a/b.txt'), path.join(root, 'a', 'b.txt'));
    for (const p of ['../x', '/abs', 'a/../../x', '', 'a\\..\\..\\x']) assert.strictEqual(resolveInside(root, p), undefined, p);
  });

  it('resolveInside gives what path.resolve gives, for normalised roots and others', () => {
    const roots = [path.resolve('/tmp/root'), path.resolve('/'), '/tmp/root/', '/tmp//root', '/tmp/./root', '/tmp/x/../root'];
    const rels = ['a', 'a/b.txt', '.env', '..a/b..', 'ä/日本/файл', 'a b/c d.txt', 'x'.repeat(300)];
    for (const root of roots) {
      for (const rel of rels) {
        const want = path.resolve(root, ...rel.split('/'));
        assert.strictEqual(resolveInside(root, rel), isInside(root, want) ? want : undefined, `${root} + ${rel}`);
      }
      for (const p of ['../x', '/abs', 'a/../../x', '', 'a/./b', 'a//b', 'a/']) assert.strictEqual(resolveInside(root, p), undefined, `${root} + ${p}`);
    }
  });

  it('isInside is strict: a folder is not inside itself, nor is a sibling with the same prefix', () => {
    const root = path.resolve('/tmp/root');
    assert.strictEqual(isInside(root, path.join(root, 'a')), true);
    assert.strictEqual(isInside(root, root), false);
    assert.strictEqual(isInside(root, `${root}-other/a`), false);
    assert.strictEqual(isInside(root, path.dirname(root)), false);
  });
});
