import * as fs from 'fs';
import * as path from 'path';

// Tests run both from test/ (ts) and out/test/ (transpiled), so the repo root is
// found by walking up rather than by a fixed number of `..`.
function findRepoRoot(start: string): string {
  let dir = start;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if (JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 's3-backup') return dir;
      } catch {
        /* not ours */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`repository root (package.json "s3-backup") not found above ${start}`);
    dir = up;
  }
}

export const REPO_ROOT = findRepoRoot(__dirname);
export const ARTIFACTS_DIR = path.join(REPO_ROOT, '.test-artifacts');
