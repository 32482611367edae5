import * as fs from 'fs';
import * as path from 'path';

let cached: string | undefined;

/**
 * The tool version written into every manifest. Read from the package.json
 * next to the running code: dist/ (bundles, .vsix) and out/src/core (tests)
 * both find it by walking up, so no build step has to inline it.
 */
export function toolVersion(): string {
  if (cached !== undefined) return cached;
  cached = '0.0.0';
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 's3-backup' && typeof pkg.version === 'string') {
        cached = pkg.version;
        break;
      }
    } catch {
      // not here; keep walking up
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return cached;
}
