/*
 * Runs a mocha entry (`extensionTestsPath`, exports run()) inside code-server's
 * extension host, the way VS Code's own browser integration tests do: the
 * workbench is opened with a payload naming the extension under development and
 * the tests entry; the workbench calls window.codeAutomationExit(code) when
 * run() settles. The host's console (mocha's spec output) is relayed to stdout.
 *
 *   const r = await runExtensionTests({ extensionTestsPath, folder, env, screenshotName: 'smoke' });
 *   r.exitCode  // 0 when run() resolved; undefined when it never reported
 *   r.result    // {passed, failed, skipped, ...} written by test/integration/index.ts
 *
 * Two "machines" = two calls with different userDataDir values.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Browser, ConsoleMessage } from 'playwright-core';
import { closeBrowser, launchBrowser, openWorkbench, remoteUri, screenshot } from './browser';
import { type CodeServer, startCodeServer, TEST_USER_SETTINGS, VSCODE_UNDER_TEST, writeUserSettings } from './codeServer';
import { REPO_ROOT } from './paths';

export interface ExtensionTestResult {
  passed: number;
  failed: number;
  skipped: number;
  total: number;
  durationMs: number;
  failures: { title: string; error: string }[];
}

export interface RunExtensionTestsOptions {
  /** Absolute path of the compiled mocha entry (exports run()). */
  extensionTestsPath: string;
  /** Defaults to the repository root (package.json + dist/). */
  extensionDevelopmentPath?: string;
  /** Workspace folder to open; when omitted, a temp folder with one file inside a .code-workspace file. */
  folder?: string;
  userDataDir?: string;
  extensionsDir?: string;
  /** Extra environment for code-server and its extension host. */
  env?: Record<string, string>;
  /** Default 15 minutes. */
  timeoutMs?: number;
  /** Screenshot at the end: .test-artifacts/<artifactsGroup>/<screenshotName>.png */
  artifactsGroup?: string;
  screenshotName?: string;
  /** Relay every page console message, not only the extension host's. */
  verbose?: boolean;
  /** Where lines go (default stdout). */
  out?: (line: string) => void;
}

export interface RunExtensionTestsOutcome {
  exitCode: number | undefined;
  result: ExtensionTestResult | undefined;
  screenshot?: string;
  timedOut: boolean;
}

let cleanupHooks: (() => Promise<void>)[] = [];
let signalsInstalled = false;
function onSignalCleanup(fn: () => Promise<void>): () => void {
  cleanupHooks.push(fn);
  if (!signalsInstalled) {
    signalsInstalled = true;
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(sig, () => {
        const hooks = cleanupHooks;
        cleanupHooks = [];
        void Promise.allSettled(hooks.map((h) => h())).then(() => process.exit(sig === 'SIGINT' ? 130 : 143));
      });
    }
  }
  return () => {
    cleanupHooks = cleanupHooks.filter((h) => h !== fn);
  };
}

/**
 * Streams what the tests entry appends to S3B_OUTPUT_FILE. In code-server the host's
 * console reaches the page only as the workbench's own "%c INFO" log lines, mixed with
 * the workbench's messages, so the tests entry writes its output to a file as well.
 */
function tailFile(file: string, out: (line: string) => void): { stop(): void } {
  let pos = 0;
  let partial = '';
  const pump = () => {
    let fd: number | undefined;
    try {
      fd = fs.openSync(file, 'r');
      const size = fs.fstatSync(fd).size;
      if (size > pos) {
        const buf = Buffer.alloc(size - pos);
        fs.readSync(fd, buf, 0, buf.length, pos);
        pos = size;
        const lines = (partial + buf.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) out(l);
      }
    } catch {
      /* not created yet */
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  };
  const timer = setInterval(pump, 200);
  return {
    stop() {
      clearInterval(timer);
      pump();
      if (partial) out(partial);
    },
  };
}

/** Page console arguments to one line: drops the "%c LEVEL" and CSS arguments of workbench log lines. */
async function consoleLine(msg: ConsoleMessage): Promise<string> {
  const args = await Promise.all(msg.args().map((a) => a.jsonValue().catch(() => undefined)));
  if (typeof args[0] === 'string' && args[0].startsWith('%c')) {
    return `${args[0].slice(2).trim()} ${args.slice(2).map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`;
  }
  return msg.text();
}

/**
 * A temp folder with one file, opened through a .code-workspace file: there, as
 * in every multi-root window, a folder's own .vscode/settings.json is seen only
 * by reads that name the folder, so tests can tell resource-scoped reads apart.
 */
function defaultWorkspace(base: string): { folder: string; workspace: string } {
  const folder = path.join(base, 'workspace');
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, 'README.md'), '# integration test workspace\n');
  const workspace = path.join(base, 'tests.code-workspace');
  fs.writeFileSync(workspace, JSON.stringify({ folders: [{ path: 'workspace' }] }, null, 2) + '\n');
  return { folder, workspace };
}

/** Starts code-server and Chromium, runs the tests entry in the extension host, cleans everything up. */
export async function runExtensionTests(o: RunExtensionTestsOptions): Promise<RunExtensionTestsOutcome> {
  const out = o.out ?? ((l: string) => process.stdout.write(l + '\n'));
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-exttests-'));
  const userDataDir = o.userDataDir ?? path.join(base, 'user-data');
  const extensionsDir = o.extensionsDir ?? path.join(base, 'extensions');
  const { folder, workspace } = o.folder ? { folder: o.folder, workspace: undefined } : defaultWorkspace(base);
  const resultFile = o.env?.S3B_RESULT_FILE ?? process.env.S3B_RESULT_FILE ?? path.join(base, 'result.json');
  fs.rmSync(resultFile, { force: true });
  const outputFile = path.join(base, 'output.log');
  const tail = tailFile(outputFile, out);
  const extensionDevelopmentPath = o.extensionDevelopmentPath ?? REPO_ROOT;
  if (!fs.existsSync(path.join(userDataDir, 'User', 'settings.json'))) writeUserSettings(userDataDir, TEST_USER_SETTINGS);

  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  // One cleanup shared by the signal handler and the normal path: whoever comes
  // second waits for the first instead of exiting half-way.
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      await closeBrowser(browser);
      await server?.stop();
      if (!process.env.S3B_KEEP_TMP) fs.rmSync(base, { recursive: true, force: true });
    })());
  const unhook = onSignalCleanup(cleanup);

  const t0 = Date.now();
  let exitCode: number | undefined;
  let timedOut = false;
  let shot: string | undefined;
  try {
    server = await startCodeServer({
      userDataDir,
      extensionsDir,
      folder,
      testPayload: true,
      env: { ...(o.env ?? {}), S3B_VSCODE_VERSION: VSCODE_UNDER_TEST.vscode, S3B_RESULT_FILE: resultFile, S3B_OUTPUT_FILE: outputFile },
      log: o.verbose ? (l) => out(`[code-server] ${l}`) : undefined,
    });
    out(`[harness] code-server ${VSCODE_UNDER_TEST.codeServer} (VS Code ${VSCODE_UNDER_TEST.vscode}) up at ${server.url} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    browser = await launchBrowser();

    let reportExit!: (code: number) => void;
    const exited = new Promise<number>((resolve) => (reportExit = resolve));
    const page = await openWorkbench(browser, server.url, {
      ...(workspace ? { workspace } : { folder }),
      payload: [
        ['extensionDevelopmentPath', remoteUri(server.url, extensionDevelopmentPath)],
        ['extensionTestsPath', remoteUri(server.url, o.extensionTestsPath)],
        ['skipWelcome', 'true'],
      ],
      expose: { codeAutomationExit: (code: number) => reportExit(Number(code)) },
      onConsoleMessage: async (msg) => {
        if (!o.verbose && msg.type() !== 'error') return;
        const line = await consoleLine(msg);
        // Errors about extensions (activation failures, host crashes) matter; the
        // rest (marketplace unreachable, 404s) is noise on an offline machine.
        if (o.verbose || (/extension|activat/i.test(line) && !/ENOTFOUND|ERR_NAME_NOT_RESOLVED/.test(line))) out(`[workbench] ${line}`);
      },
      waitReady: false,
    });
    const timeoutMs = o.timeoutMs ?? 15 * 60 * 1000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
    exitCode = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    if (exitCode === undefined) {
      timedOut = true;
      out(`[harness] no exit code from the workbench within ${Math.round(timeoutMs / 1000)} s`);
    }
    try {
      shot = await screenshot(page, o.artifactsGroup ?? 'integration', o.screenshotName ?? 'final');
    } catch (e) {
      out(`[harness] screenshot failed: ${(e as Error).message}`);
    }
  } catch (e) {
    out(`[harness] error: ${(e as Error)?.stack ?? e}`);
  }
  tail.stop();
  let result: ExtensionTestResult | undefined;
  try {
    result = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as ExtensionTestResult;
  } catch {
    result = undefined;
  }
  await cleanup();
  unhook();
  out(`[harness] finished in ${((Date.now() - t0) / 1000).toFixed(1)} s, exit code ${exitCode ?? 'none'}`);
  return { exitCode, result, screenshot: shot, timedOut };
}
