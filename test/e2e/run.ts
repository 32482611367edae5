/*
 * The browser end-to-end suite: the user's whole path through the real UI of
 * code-server (headless Debian Chromium, playwright-core) against a real S3
 * server. Runs out/test/e2e/*.test.js in file order, one test per step;
 * screenshots go to .test-artifacts/e2e@<version>/. Builds nothing: run
 * `node esbuild.js && node esbuild.js --tests` first.
 *
 *   node out/test/e2e/run.js
 *
 * Environment: S3_TEST_* (from .cache/rgw/env when unset); S3B_RESULT_FILE
 * receives {passed, failed, skipped}; S3B_GREP filters steps; S3B_KEEP_TMP=1
 * keeps the computers' folders; S3B_VSCODE_VERSION picks the VS Code version
 * (default the oldest, see scripts/codeServer.js). Exits non-zero on any failure or when no step ran.
 */
import * as fs from 'fs';
import * as path from 'path';
import Mocha from 'mocha';
import { installCodeServer, VSCODE_UNDER_TEST } from '../harness/codeServer';
import { loadRgwEnv } from '../harness/env';
import { ARTIFACTS_DIR, REPO_ROOT } from '../harness/paths';
import { countsOf, writeResultFile } from '../helpers/mochaCount';

async function main(): Promise<number> {
  const t0 = Date.now();
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { main?: string };
  if (pkg.main && !fs.existsSync(path.join(REPO_ROOT, pkg.main))) {
    console.error(`${pkg.main} is missing: run \`node esbuild.js\` first`);
    writeResultFile({ passed: 0, failed: 1, skipped: 0 });
    return 2;
  }
  if (!loadRgwEnv()) {
    console.error('[e2e] no S3 server: set S3_TEST_* or start Ceph RGW (test/setup/rgw.sh); the e2e steps need one');
    writeResultFile({ passed: 0, failed: 1, skipped: 0 });
    return 1;
  }
  // Loaded once the environment is complete: the SDK reads its flags when it loads.
   
  const { ARTIFACT_GROUP, tearDown } = require('./world') as typeof import('./world');
  fs.rmSync(path.join(ARTIFACTS_DIR, ARTIFACT_GROUP), { recursive: true, force: true });
  await installCodeServer();
  console.log(`[e2e] VS Code ${VSCODE_UNDER_TEST.vscode} (code-server ${VSCODE_UNDER_TEST.codeServer})`);

  const dir = __dirname;
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.test.js'))
    .sort()
    .map((f) => path.join(dir, f));
  if (files.length === 0) {
    console.error('[e2e] no out/test/e2e/*.test.js: run `node esbuild.js --tests` first');
    writeResultFile({ passed: 0, failed: 1, skipped: 0 });
    return 2;
  }

  const mocha = new Mocha({
    timeout: 5 * 60 * 1000,
    slow: 30000,
    color: process.stdout.isTTY,
    grep: process.env.S3B_GREP || undefined,
    rootHooks: {
      afterAll: async function (this: Mocha.Context) {
        this.timeout(120000);
        await tearDown();
      },
    },
  });
  for (const f of files) mocha.addFile(f);

  let cleaned = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (cleaned) return;
    cleaned = true;
    console.error(`[e2e] ${sig}: stopping`);
    void tearDown().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const counts = await new Promise<{ passed: number; failed: number; skipped: number }>((resolve) => {
    const runner = mocha.run(() => resolve(countsOf(runner)));
  });
  cleaned = true;
  writeResultFile(counts);
  console.log(`[e2e] ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (counts.failed > 0) return 1;
  if (counts.passed === 0) return 1;
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    writeResultFile({ passed: 0, failed: 1, skipped: 0 });
    process.exit(1);
  },
);
