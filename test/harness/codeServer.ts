/*
 * Typed access to scripts/codeServer.js: code-server in the VS Code version under
 * test, from .cache/code-server-<version>. That version is S3B_VSCODE_VERSION
 * (`oldest`, `newest` or a version such as 1.139.1; scripts/test.js sets it for
 * each run), the oldest when unset.
 *
 *   const cs = await startCodeServer({ userDataDir, extensionsDir, folder, env });
 *   ... cs.url ...
 *   await cs.stop();
 *
 * `makeSandbox(name)` gives fresh user-data, extensions and workspace folders in one
 * temp dir (one per "machine" in e2e tests) and removes them in `dispose()`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT } from './paths';

export interface CodeServerOptions {
  userDataDir: string;
  extensionsDir: string;
  folder?: string;
  port?: number;
  /** The workbench will get a test payload (extensionTestsPath); never for a UI run. */
  testPayload?: boolean;
  /** More command-line options for code-server, e.g. `['--locale', 'zh-cn']`. */
  args?: string[];
  /** Extra environment for the server and thus its extension host. */
  env?: Record<string, string>;
  /** true: echo server output to stderr; a function receives each line. */
  log?: boolean | ((line: string) => void);
  timeoutMs?: number;
}

export interface CodeServer {
  url: string;
  port: number;
  pid: number;
  logFile: string;
  tmpDir: string;
  stop(): Promise<void>;
}

export interface VersionEntry {
  vscode: string;
  codeServer: string;
  node: string | null;
}

interface CodeServerModule {
  resolveVersion(name?: string): VersionEntry;
  install(version?: string): Promise<{ skipped: boolean; seconds: number }>;
  start(o: CodeServerOptions & { version?: string }): Promise<CodeServer>;
  installExtension(vsix: string, extensionsDir: string, version?: string): Promise<string>;
}

 
const mod: CodeServerModule = require(path.join(REPO_ROOT, 'scripts', 'codeServer.js'));

/** The VS Code version under test (throws for a name scripts/codeServer.js does not pin). */
export const VSCODE_UNDER_TEST: VersionEntry = mod.resolveVersion(process.env.S3B_VSCODE_VERSION || undefined);

/** Installs code-server once (minutes the first time, instant afterwards). */
export function installCodeServer(): Promise<{ skipped: boolean; seconds: number }> {
  return mod.install(VSCODE_UNDER_TEST.vscode);
}

/** Starts code-server on a free 127.0.0.1 port; resolves when /healthz answers. */
export function startCodeServer(o: CodeServerOptions): Promise<CodeServer> {
  return mod.start({ ...o, version: VSCODE_UNDER_TEST.vscode });
}

/** Installs a .vsix into an extensions dir with code-server's CLI. */
export function installExtension(vsix: string, extensionsDir: string): Promise<string> {
  return mod.installExtension(vsix, extensionsDir, VSCODE_UNDER_TEST.vscode);
}

export interface Sandbox {
  base: string;
  userDataDir: string;
  extensionsDir: string;
  folder: string;
  dispose(): void;
}

/**
 * Fresh folders for one code-server "machine". `files` are written into the workspace folder.
 */
export function makeSandbox(name: string, files: Record<string, string | Buffer> = {}): Sandbox {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `s3b-${name.replace(/[^\w-]/g, '_')}-`));
  const sb: Sandbox = {
    base,
    userDataDir: path.join(base, 'user-data'),
    extensionsDir: path.join(base, 'extensions'),
    folder: path.join(base, 'workspace', name.replace(/[^\w-]/g, '_')),
    dispose: () => {
      if (!process.env.S3B_KEEP_TMP) fs.rmSync(base, { recursive: true, force: true });
    },
  };
  for (const d of [sb.userDataDir, sb.extensionsDir, sb.folder]) fs.mkdirSync(d, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(sb.folder, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
  return sb;
}

/**
 * User settings that keep a test workbench quiet and offline: no marketplace
 * look-ups, no welcome page, no telemetry. Merge your own on top.
 */
export const TEST_USER_SETTINGS: Record<string, unknown> = {
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'chat.commandCenter.enabled': false,
  'security.workspace.trust.enabled': false,
};

/** Writes a User settings.json for a user-data dir before code-server starts. */
export function writeUserSettings(userDataDir: string, settings: Record<string, unknown>): void {
  const dir = path.join(userDataDir, 'User');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify(settings, null, 2) + '\n');
}
