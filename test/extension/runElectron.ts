/*
 * The same extension-host suite under @vscode/test-electron, for a machine with a
 * desktop VS Code (none ships through npm or Debian, and downloading one is not
 * possible offline, so this is not part of `npm test`).
 *
 *   VSCODE_EXECUTABLE=/path/to/code node out/test/extension/runElectron.js
 *
 * Without VSCODE_EXECUTABLE it prints that it is skipped and exits 0.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runTests } from '@vscode/test-electron';
import { loadRgwEnv } from '../harness/env';
import { REPO_ROOT } from '../harness/paths';

async function main(): Promise<number> {
  const vscodeExecutablePath = process.env.VSCODE_EXECUTABLE;
  if (!vscodeExecutablePath) {
    console.log('[extension:electron] SKIPPED: VSCODE_EXECUTABLE is not set (path of a desktop VS Code binary)');
    return 0;
  }
  loadRgwEnv();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-electron-'));
  const folder = path.join(base, 'workspace');
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, 'README.md'), '# integration test workspace\n');
  const resultFile = process.env.S3B_RESULT_FILE ?? path.join(base, 'result.json');
  try {
    const code = await runTests({
      vscodeExecutablePath,
      extensionDevelopmentPath: REPO_ROOT,
      extensionTestsPath: path.join(REPO_ROOT, 'out', 'test', 'extension', 'index.js'),
      extensionTestsEnv: { S3B_RESULT_FILE: resultFile, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      launchArgs: [
        folder,
        '--disable-extensions',
        '--disable-workspace-trust',
        '--user-data-dir', path.join(base, 'user-data'),
        '--extensions-dir', path.join(base, 'extensions'),
      ],
    });
    try {
      const r = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as { passed: number; failed: number; skipped: number };
      console.log(`[extension:electron] passed ${r.passed}, failed ${r.failed}, skipped ${r.skipped}`);
    } catch {
      /* runTests already reported */
    }
    return code;
  } catch (e) {
    console.error('[extension:electron] failed:', e);
    return 1;
  } finally {
    if (!process.env.S3B_KEEP_TMP) fs.rmSync(base, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code));
