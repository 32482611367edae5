// The path checks every archive entry and restore target goes through.
import * as assert from 'assert';
import * as path from 'path';
import { archivePathProblem, isInside, resolveInside } from '../../src/core/util/paths';

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

  it('resolveInside joins safe paths and refuses escapes', () => {
    const root = path.resolve('/tmp/root');
    assert.strictEqual(resolveInside(root, 'a/b.txt'), path.join(root, 'a', 'b.txt'));
    for (const p of ['../x', '/abs', 'a/../../x', '', 'a\\..\\..\\x']) assert.strictEqual(resolveInside(root, p), undefined, p);
  });

  it('isInside is strict: a folder is not inside itself, nor is a sibling with the same prefix', () => {
    const root = path.resolve('/tmp/root');
    assert.strictEqual(isInside(root, path.join(root, 'a')), true);
    assert.strictEqual(isInside(root, root), false);
    assert.strictEqual(isInside(root, `${root}-other/a`), false);
    assert.strictEqual(isInside(root, path.dirname(root)), false);
  });
});
