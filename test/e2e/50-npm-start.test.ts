// Step 50: a newcomer's `npm start`. The real script in a temp state folder:
// it prints the URL and nothing of npm's or vsce's package trees; the URL opens
// on the S3 Backup view, already connected to the signature-checking local
// server; the first click, "Back Up Workspace", works.
// `npm start` runs the oldest supported VS Code only, so the step is part of
// that version's run (said in the log for the others, not counted as a skip).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, type ChildProcess } from 'child_process';
import { launchBrowser, closeBrowser, openWorkbench } from '../harness/browser';
import { REPO_ROOT } from '../harness/paths';
import { VSCODE_UNDER_TEST } from '../harness/codeServer';
import { assert, backupRows, log, shot, step, toast, VIEWPORT, welcomeButton, type Machine } from './world';

const { resolveVersion } = require(path.join(REPO_ROOT, 'scripts', 'codeServer.js')) as { resolveVersion(name?: string): { vscode: string } };
const START_VERSION = resolveVersion('oldest').vscode;

/** Waits until `re` matches the output so far; fails with the output when the process ends first. */
function waitForOutput(child: ChildProcess, output: () => string, re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const timer = setInterval(check, 250);
    const deadline = Date.now() + timeoutMs;
    function check(): void {
      const m = re.exec(output());
      if (m) done(() => resolve(m));
      else if (child.exitCode !== null) done(() => reject(new Error(`npm start exited (${child.exitCode}) before it was ready:\n${output()}`)));
      else if (Date.now() > deadline) done(() => reject(new Error(`npm start was not ready after ${timeoutMs / 1000} s:\n${output()}`)));
    }
    function done(f: () => void): void {
      clearInterval(timer);
      f();
    }
  });
}

if (VSCODE_UNDER_TEST.vscode !== START_VERSION) {
  log(`npm start runs VS Code ${START_VERSION}: its step is in that version's run`);
} else {
  describe('Step 50: npm start, as a newcomer runs it', () => {
    it(
      'prints the URL and no package trees; the URL opens on the S3 Backup view, connected; Back Up Workspace works',
      step('50-npm-start', async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-npm-start-'));
        let out = '';
        const child = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts', 'start.js')], {
          cwd: REPO_ROOT,
          env: { ...process.env, S3B_START_DIR: dir },
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
        child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
        const browser = await launchBrowser();
        try {
          const ready = await waitForOutput(child, () => out, /^\s+(http:\/\/127\.0\.0\.1:\d+\/\?folder=\S+)\s*$/m, 240_000);
          // What a newcomer reads: our own lines, no npm/vsce listing of packed or installed files.
          assert.doesNotMatch(out, /[├└]──|npm (WARN|notice)|added \d+ packages/, `npm start printed package noise:\n${out}`);
          assert.match(out, /S3 Backup is ready/);
          const page = await openWorkbench(browser, ready[1], { viewport: VIEWPORT, timeoutMs: 90_000 });
          const m = { name: 'A', page } as unknown as Machine;
          // Opened on the S3 Backup view by itself (no click), and connected: the empty-bucket welcome, not "Configure".
          await page.locator('.activitybar .action-item.checked a[aria-label^="S3 Backup"]').waitFor({ state: 'visible', timeout: 90_000 });
          const welcome = page.locator('.sidebar .welcome-view-content');
          await welcome.filter({ hasText: 'There are no backups in the bucket yet.' }).waitFor({ state: 'visible', timeout: 60_000 });
          assert.doesNotMatch(await welcome.innerText(), /Configure S3 Storage/);
          await welcomeButton(m, 'Back Up Workspace').click();
          await toast(m, /Backed up \d+ files/, 120_000).catch(async (e: unknown) => {
            await shot(m, 'failed-50-npm-start').catch(() => undefined);
            throw e;
          });
          // The new backup is listed under this machine.
          await backupRows(m).first().waitFor({ state: 'visible', timeout: 30_000 });
        } finally {
          await closeBrowser(browser);
          // Ctrl-C, as the README says: both servers stop.
          try {
            process.kill(-child.pid!, 'SIGINT');
          } catch {
            /* already gone */
          }
          const stopped = await new Promise<boolean>((resolve) => {
            if (child.exitCode !== null) return resolve(true);
            const t = setTimeout(() => resolve(false), 60_000);
            child.on('exit', () => {
              clearTimeout(t);
              resolve(true);
            });
          });
          if (!stopped) process.kill(-child.pid!, 'SIGKILL');
          fs.rmSync(dir, { recursive: true, force: true });
          assert.ok(stopped, `npm start did not stop on Ctrl-C:\n${out}`);
        }
        assert.match(out, /\[start\] stopped/);
      }),
    );
  });
}
