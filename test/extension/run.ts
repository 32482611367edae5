/*
 * Runs the extension-host suite (out/test/extension/**\/*.test.js) inside code-server's
 * extension host, driven by headless Chromium. Builds nothing: run
 * `node esbuild.js && node esbuild.js --tests` first.
 *
 *   node out/test/extension/run.js
 *
 * Environment: S3_TEST_* (from .cache/rgw/env when unset) reach the extension host;
 * S3B_GREP filters tests; S3B_RESULT_FILE receives {passed, failed, skipped} as JSON;
 * S3B_EXTENSION_DEV_PATH replaces the repo root as the extension under test;
 * S3B_TIMEOUT_MS bounds the whole run (default 15 min); S3B_VERBOSE=1 relays everything;
 * S3B_VSCODE_VERSION picks the VS Code version (default the oldest, see scripts/codeServer.js).
 * Exits non-zero on any failure, on zero tests, or when no exit code arrives.
 */
import * as fs from 'fs';
import * as path from 'path';
import { VSCODE_UNDER_TEST } from '../harness/codeServer';
import { loadRgwEnv } from '../harness/env';
import { runExtensionTests } from '../harness/extensionTests';
import { REPO_ROOT } from '../harness/paths';

async function main(): Promise<number> {
  const testsEntry = path.join(REPO_ROOT, 'out', 'test', 'extension', 'index.js');
  if (!fs.existsSync(testsEntry)) {
    console.error(`${path.relative(REPO_ROOT, testsEntry)} is missing: run \`node esbuild.js --tests\` first`);
    return 2;
  }
  const extRoot = process.env.S3B_EXTENSION_DEV_PATH || REPO_ROOT;
  const pkg = JSON.parse(fs.readFileSync(path.join(extRoot, 'package.json'), 'utf8')) as { main?: string };
  if (pkg.main && !fs.existsSync(path.join(extRoot, pkg.main))) {
    console.error(`${pkg.main} is missing: run \`node esbuild.js\` first`);
    return 2;
  }
  if (!loadRgwEnv() && !process.env.S3_TEST_ENDPOINT) console.log('[extension] no S3_TEST_ENDPOINT: the tests that need S3 will fail');

  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && (k.startsWith('S3_TEST_') || k.startsWith('S3B_'))) env[k] = v;

  const { exitCode, result, timedOut } = await runExtensionTests({
    extensionTestsPath: testsEntry,
    // Another build of the extension (e.g. a stub while src/ is being written).
    extensionDevelopmentPath: process.env.S3B_EXTENSION_DEV_PATH || undefined,
    env,
    timeoutMs: Number(process.env.S3B_TIMEOUT_MS) || 15 * 60 * 1000,
    artifactsGroup: `extension@${VSCODE_UNDER_TEST.vscode}`,
    screenshotName: 'final',
    verbose: Boolean(process.env.S3B_VERBOSE),
  });

  if (result) console.log(`[extension] passed ${result.passed}, failed ${result.failed}, skipped ${result.skipped}`);
  else console.log('[extension] no result file was written (the suite did not finish)');
  if (timedOut || exitCode === undefined) return 1;
  if (exitCode !== 0) return exitCode || 1;
  if (!result || result.failed > 0) return 1;
  if (result.total === 0) {
    console.log('[extension] no tests ran');
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
