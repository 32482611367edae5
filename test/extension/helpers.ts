// Shared by the integration tests: the extension's test API, a scripted
// stand-in for the prompt seam, polling, and file-tree comparison.
import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { TestApi } from '../../src/extension/extension';
import type { Prompts } from '../../src/extension/ui/prompts';

export const EXTENSION_ID = 's3-backup.s3-backup';

/** Activates the extension and returns its Test-mode API. */
export async function getApi(): Promise<TestApi> {
  const ext = vscode.extensions.getExtension<TestApi | undefined>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is not loaded in this extension host`);
  const api = await ext.activate();
  assert.ok(api, 'the extension returned no test API: is extensionMode Test?');
  return api;
}

export interface ShownMessage {
  kind: 'info' | 'warning' | 'error';
  message: string;
  options: vscode.MessageOptions;
  items: string[];
}

type Answer<T> = T | undefined | Promise<T | undefined>;

/**
 * Replaces every function of the prompt seam while installed: records each
 * message, and answers through the handlers a test sets (no handler: the user
 * dismissed it). Nothing reaches a real dialog, so nothing can hang a test.
 */
export class ScriptedPrompts {
  readonly shown: ShownMessage[] = [];
  readonly picks: Array<{ items: readonly vscode.QuickPickItem[]; options: vscode.QuickPickOptions }> = [];
  onMessage: (m: ShownMessage) => Answer<string> = () => undefined;
  onQuickPick: (items: readonly vscode.QuickPickItem[], options: vscode.QuickPickOptions) => Answer<vscode.QuickPickItem> = () => undefined;
  onOpenDialog: (o: vscode.OpenDialogOptions) => Answer<vscode.Uri[]> = () => undefined;
  onSaveDialog: (o: vscode.SaveDialogOptions) => Answer<vscode.Uri> = () => undefined;
  onInputBox: (o: vscode.InputBoxOptions) => Answer<string> = () => undefined;
  readonly inputs: vscode.InputBoxOptions[] = [];
  private waiters: Array<{ re: RegExp; resolve: (m: ShownMessage) => void }> = [];
  private readonly saved: Prompts;

  constructor(private readonly target: Prompts) {
    this.saved = { ...target };
    const message =
      (kind: ShownMessage['kind']) =>
      async (text: string, options: vscode.MessageOptions, ...items: string[]): Promise<string | undefined> => {
        const m: ShownMessage = { kind, message: text, options: options ?? {}, items };
        this.shown.push(m);
        this.waiters = this.waiters.filter((w) => {
          if (!w.re.test(text)) return true;
          w.resolve(m);
          return false;
        });
        return this.onMessage(m);
      };
    const fake: Prompts = {
      quickPick: async <T extends vscode.QuickPickItem>(items: readonly T[], options: vscode.QuickPickOptions) => {
        this.picks.push({ items, options });
        return (await this.onQuickPick(items, options)) as T | undefined;
      },
      quickPickMany: async <T extends vscode.QuickPickItem>(items: readonly T[], options: vscode.QuickPickOptions) => {
        this.picks.push({ items, options });
        const one = (await this.onQuickPick(items, options)) as T | undefined;
        return one ? [one] : undefined;
      },
      showInformationMessage: message('info'),
      showWarningMessage: message('warning'),
      showErrorMessage: message('error'),
      showOpenDialog: async (o) => this.onOpenDialog(o),
      showSaveDialog: async (o) => this.onSaveDialog(o),
      inputBox: async (o) => {
        this.inputs.push(o);
        return this.onInputBox(o);
      },
    };
    Object.assign(target, fake);
  }

  /**
   * Answers both kinds of quick pick through one handler that may return one
   * item or several (several picks take more than one item); each pick is
   * still recorded in `picks`. Undone by `dispose` like the rest.
   */
  answerPicks(handler: (items: readonly vscode.QuickPickItem[], options: vscode.QuickPickOptions) => vscode.QuickPickItem[] | vscode.QuickPickItem | undefined): void {
    const pick = async (items: readonly vscode.QuickPickItem[], options: vscode.QuickPickOptions) => {
      this.picks.push({ items, options });
      return handler(items, options);
    };
    this.target.quickPick = (async (items: readonly vscode.QuickPickItem[], options: vscode.QuickPickOptions) => {
      const r = await pick(items, options);
      return Array.isArray(r) ? r[0] : r;
    }) as Prompts['quickPick'];
    this.target.quickPickMany = (async (items: readonly vscode.QuickPickItem[], options: vscode.QuickPickOptions) => {
      const r = await pick(items, options);
      return r === undefined ? undefined : Array.isArray(r) ? r : [r];
    }) as Prompts['quickPickMany'];
  }

  /** The first message (already shown or still to come) whose text matches. */
  waitForMessage(re: RegExp, timeoutMs = 60_000): Promise<ShownMessage> {
    const seen = this.shown.find((m) => re.test(m.message));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message matching ${re} within ${timeoutMs} ms; shown: ${JSON.stringify(this.shown.map((m) => m.message))}`)), timeoutMs);
      this.waiters.push({
        re,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  errors(): string[] {
    return this.shown.filter((m) => m.kind === 'error').map((m) => m.message);
  }

  /** Puts the real prompts back. */
  dispose(): void {
    Object.assign(this.target, this.saved);
  }
}

/** Removes the connection settings a suite saved (user settings) and the stored keys. */
export async function clearConnection(api: TestApi): Promise<void> {
  const s = vscode.workspace.getConfiguration('s3Backup');
  for (const k of ['endpoint', 'region', 'bucket', 'rootPath', 'addressingStyle']) await s.update(k, undefined, vscode.ConfigurationTarget.Global);
  await api.secrets.clear();
}

/** Polls until `check` returns a truthy value; fails with `what` after the timeout. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every regular file under `dir`: POSIX relative path -> sha256. */
export function treeDigest(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(path.relative(dir, p).split(path.sep).join('/'), crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

/** Writes a small but varied tree: text, binary, empty, nested, non-ASCII names. Returns the file count. */
export function writeFixture(dir: string): number {
  const files: Record<string, Buffer | string> = {
    'README.md': '# fixture\n\nBacked up by the integration tests.\n',
    'src/index.ts': 'export const answer = 42;\n'.repeat(200),
    'src/deep/a/b/c/d/leaf.txt': 'deep\n',
    'empty.txt': '',
    'data/random.bin': crypto.randomBytes(300_000),
    'données/naïve café.txt': 'unicode ✓\n',
  };
  for (const [rel, body] of Object.entries(files)) {
    const p = path.join(dir, ...rel.split('/'));
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, body);
  }
  return Object.keys(files).length;
}

/** The user settings.json of this VS Code (code-server: <user-data-dir>/User/settings.json). */
export function userSettingsFile(context: vscode.ExtensionContext): string {
  // globalStorageUri = <user-data-dir>/User/globalStorage/<publisher.name>
  return path.join(context.globalStorageUri.fsPath, '..', '..', 'settings.json');
}

/** Log files of this extension's output channel, if the host writes them where `logUri` points. */
export function extensionLogFiles(context: vscode.ExtensionContext): string[] {
  const found: string[] = [];
  const walk = (d: string, depth: number): void => {
    if (depth > 3 || !fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (e.name.endsWith('.log') && e.name.includes('S3 Backup')) found.push(p);
    }
  };
  walk(context.logUri.fsPath, 0);
  if (found.length === 0) walk(path.dirname(context.logUri.fsPath), 0);
  return found;
}

/**
 * For suites that need the S3 server: fails (never skips) when S3_TEST_* is
 * not set, so a run without a server cannot pass by testing less. Checks the
 * environment only: the SDK-based helpers load later, after activation is measured.
 */
export function requireS3Server(): void {
  const missing = ['S3_TEST_ENDPOINT', 'S3_TEST_ACCESS_KEY_ID', 'S3_TEST_SECRET_ACCESS_KEY'].filter((n) => !process.env[n]);
  if (missing.length) throw new Error(`These tests need a real S3 server: ${missing.join(', ')} not set (npm test starts Ceph RGW).`);
}
