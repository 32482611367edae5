import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';

// The engine is shared by the CLI and the benchmark: it must run in plain Node.
const root = path.resolve(__dirname, '..', '..', '..');

function sourcesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourcesUnder(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

describe('engine layering', () => {
  const core = path.join(root, 'src', 'core');

  it('no file in src/core imports vscode or the face', () => {
    const files = sourcesUnder(core);
    assert.ok(files.length >= 10, `expected the engine's sources, found ${files.length}`);
    const offenders = files.filter((f) => {
      const text = fs.readFileSync(f, 'utf8');
      // Relative imports are fine between the engine's own folders, never out of src/core.
      const leaves = [...text.matchAll(/from\s+['"](\.[^'"]*)['"]/g)].some((m) => !path.resolve(path.dirname(f), m[1]).startsWith(core + path.sep));
      return /from\s+['"]vscode['"]|require\(\s*['"]vscode['"]\s*\)/.test(text) || leaves;
    });
    assert.deepStrictEqual(offenders.map((f) => path.relative(root, f)), []);
  });

  it('the compiled engine loads in plain Node without vscode', () => {
    const engine = require(path.join(root, 'out', 'src', 'core', 'engine.js'));
    assert.strictEqual(typeof engine.BackupEngine, 'function');
    assert.ok(!Object.keys(require.cache).some((k) => /[\\/]vscode[\\/]/.test(k) && !k.includes('node_modules')));
  });
});
