import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from './paths';

/**
 * Fills S3_TEST_* from the shared RGW's env file (`export K=V` lines) when the
 * caller's environment does not already name a server. Returns whether a server is named.
 */
export function loadRgwEnv(file = path.join(REPO_ROOT, '.cache', 'rgw', 'env')): boolean {
  if (!process.env.S3_TEST_ENDPOINT && fs.existsSync(file)) {
    for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
      const m = /^\s*(?:export\s+)?(S3_TEST_[A-Z_]+)=(.*)$/.exec(raw);
      if (!m) continue;
      let v = m[2].trim();
      if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
      if (process.env[m[1]] === undefined) process.env[m[1]] = v;
    }
  }
  return Boolean(process.env.S3_TEST_ENDPOINT);
}
