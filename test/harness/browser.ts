/*
 * Headless Debian Chromium (playwright-core, never `playwright install`) driving
 * code-server's workbench.
 *
 *   const browser = await launchBrowser();
 *   const page = await openWorkbench(browser, cs.url, { folder });      // waits for the workbench
 *   await runCommand(page, 'S3 Backup: Back Up Workspace');             // F1, type, Enter
 *   await waitForNotification(page, /Backup .* complete/);
 *   await screenshot(page, 'e2e', '03-backup-done');                    // .test-artifacts/e2e/03-backup-done.png
 *   await closeBrowser(browser);
 *
 * Webviews are nested iframes: use `webviewFrame(page, title)` to get the inner frame.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Frame, type Locator, type Page } from 'playwright-core';
import { ARTIFACTS_DIR } from './paths';

export const CHROMIUM_PATH = process.env.S3B_CHROMIUM || '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const browserTmp = new WeakMap<Browser, string>();

/** Launches headless Chromium with its profile and config in a temp dir (nothing in ~/.config). */
export async function launchBrowser(o: { viewport?: { width: number; height: number } } = {}): Promise<Browser> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-chromium-'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    // Our own signal handlers close the browser and code-server in order;
    // Playwright's would exit the process half-way through that.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    env: { ...process.env, XDG_CONFIG_HOME: path.join(tmp, 'config'), XDG_CACHE_HOME: path.join(tmp, 'cache'), HOME: process.env.HOME ?? tmp } as Record<string, string>,
  });
  browserTmp.set(browser, tmp);
  void o;
  return browser;
}

/** Closes the browser and removes its temp dir. */
export async function closeBrowser(browser: Browser | undefined): Promise<void> {
  if (!browser) return;
  const tmp = browserTmp.get(browser);
  await browser.close().catch(() => undefined);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}

/** Builds the workbench URL: `/?folder=...&payload=...` (payload: VS Code's [key, value] pairs); `workspace` opens a .code-workspace file. */
export function workbenchUrl(baseUrl: string, o: { folder?: string; workspace?: string; payload?: [string, string][] } = {}): string {
  const q: string[] = [];
  if (o.folder) q.push(`folder=${encodeURIComponent(o.folder)}`);
  if (o.workspace) q.push(`workspace=${encodeURIComponent(o.workspace)}`);
  if (o.payload) q.push(`payload=${encodeURIComponent(JSON.stringify(o.payload))}`);
  return `${baseUrl}/${q.length ? `?${q.join('&')}` : ''}`;
}

/** A `vscode-remote://host:port/abs/path` URI for a path on the server's machine (payload values). */
export function remoteUri(baseUrl: string, absPath: string): string {
  return `vscode-remote://${new URL(baseUrl).host}${absPath.split(path.sep).join('/')}`;
}

export interface OpenOptions {
  folder?: string;
  /** A .code-workspace file to open instead of a folder. */
  workspace?: string;
  payload?: [string, string][];
  viewport?: { width: number; height: number };
  /** Functions exposed on `window` before the page loads (e.g. codeAutomationExit). */
  expose?: Record<string, (...args: any[]) => unknown>;
  /** Receives every console message of the page. */
  onConsole?: (text: string, type: string) => void;
  /** Same, with the message object (arguments, location). */
  onConsoleMessage?: (msg: ConsoleMessage) => void | Promise<void>;
  /** Wait for the workbench to be interactive (default true). */
  waitReady?: boolean;
  timeoutMs?: number;
}

/** Opens a new page (own context) on code-server's workbench. */
export async function openWorkbench(browser: Browser, baseUrl: string, o: OpenOptions = {}): Promise<Page> {
  const context: BrowserContext = await browser.newContext({ viewport: o.viewport ?? { width: 1400, height: 900 } });
  const page = await context.newPage();
  for (const [name, fn] of Object.entries(o.expose ?? {})) await page.exposeFunction(name, fn);
  if (o.onConsole) page.on('console', (m) => o.onConsole!(m.text(), m.type()));
  if (o.onConsoleMessage) page.on('console', (m) => void o.onConsoleMessage!(m));
  await page.goto(workbenchUrl(baseUrl, o), { waitUntil: 'domcontentloaded', timeout: o.timeoutMs ?? 60000 });
  if (o.waitReady !== false) await waitForWorkbench(page, o.timeoutMs);
  return page;
}

/** Resolves when the workbench shell and its status bar are on screen. */
export async function waitForWorkbench(page: Page, timeoutMs = 60000): Promise<void> {
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: timeoutMs });
  await page.locator('.statusbar').waitFor({ state: 'visible', timeout: timeoutMs });
}

/**
 * Runs a command from the palette: F1, type the title, click the matching row.
 * `title` is what the palette shows, e.g. "S3 Backup: Back Up Workspace".
 * Retries until the command shows up: right after the workbench appears, the
 * extension host may not have registered the extension's contributions yet.
 */
export async function runCommand(page: Page, title: string, o: { timeoutMs?: number } = {}): Promise<void> {
  const timeout = o.timeoutMs ?? 30000;
  const deadline = Date.now() + timeout;
  const widget = page.locator('.quick-input-widget');
  const input = widget.locator('input.input');
  const row = widget.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  for (;;) {
    if (!(await widget.isVisible())) {
      // Focus the workbench first; a key press on a blurred page goes nowhere.
      await page.locator('.monaco-workbench').focus().catch(() => undefined);
      await page.keyboard.press('F1');
      await widget.waitFor({ state: 'visible', timeout: Math.max(1000, deadline - Date.now()) });
    }
    await input.fill(`>${title}`);
    try {
      await row.waitFor({ state: 'visible', timeout: Math.min(3000, Math.max(500, deadline - Date.now())) });
      break;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`command "${title}" not found in the palette within ${timeout} ms`, { cause: e });
      await page.keyboard.press('Escape');
      await page.waitForTimeout(500);
    }
  }
  await row.click();
  await widget.waitFor({ state: 'hidden', timeout: 5000 }).catch(() => undefined);
}

/** Picks an item in an open QuickPick (after a command asked something). */
export async function pickQuickPickItem(page: Page, label: string | RegExp, o: { timeoutMs?: number } = {}): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  await widget.waitFor({ state: 'visible', timeout: o.timeoutMs ?? 20000 });
  const row = widget.locator('.quick-input-list .monaco-list-row', { hasText: label }).first();
  await row.waitFor({ state: 'visible', timeout: o.timeoutMs ?? 20000 });
  await row.click();
}

/** Types into an open InputBox / QuickPick and presses Enter. */
export async function answerInput(page: Page, text: string, o: { timeoutMs?: number } = {}): Promise<void> {
  const input = page.locator('.quick-input-widget input.input');
  await input.waitFor({ state: 'visible', timeout: o.timeoutMs ?? 20000 });
  await input.fill(text);
  await input.press('Enter');
}

/** The toast whose text matches; waits until it is visible and returns it. */
export async function waitForNotification(page: Page, text: string | RegExp, o: { timeoutMs?: number } = {}): Promise<Locator> {
  const toast = page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();
  await toast.waitFor({ state: 'visible', timeout: o.timeoutMs ?? 60000 });
  return toast;
}

/** Clicks a button (e.g. "Reveal in Tree", "Undo") on the toast matching `text`. */
export async function clickNotificationButton(page: Page, text: string | RegExp, button: string, o: { timeoutMs?: number } = {}): Promise<void> {
  const toast = await waitForNotification(page, text, o);
  await toast.getByRole('button', { name: button }).click();
}

/** Clicks a button in a modal dialog (e.g. Delete confirmation). */
export async function clickDialogButton(page: Page, button: string, o: { timeoutMs?: number } = {}): Promise<void> {
  const dialog = page.locator('.monaco-dialog-box');
  await dialog.waitFor({ state: 'visible', timeout: o.timeoutMs ?? 20000 });
  await dialog.getByRole('button', { name: button }).click();
}

/** Opens a view container from the activity bar by its title (e.g. "S3 Backup"). */
export async function openViewContainer(page: Page, title: string, o: { timeoutMs?: number } = {}): Promise<void> {
  const item = page.locator(`.activitybar .action-item a[aria-label^="${title.replace(/"/g, '\\"')}"]`).first();
  await item.waitFor({ state: 'visible', timeout: o.timeoutMs ?? 30000 });
  const selected = await item.evaluate((el) => el.closest('.action-item')?.classList.contains('checked') ?? false);
  if (!selected) await item.click();
}

/** A tree row in the side bar whose label matches. */
export function treeItem(page: Page, label: string | RegExp): Locator {
  return page.locator('.sidebar .monaco-list-row', { hasText: label }).first();
}

/** Right-clicks a locator and picks a context-menu entry. */
export async function contextMenu(page: Page, target: Locator, entry: string, o: { timeoutMs?: number } = {}): Promise<void> {
  await target.click({ button: 'right' });
  // code-server renders context menus in a shadow root; Playwright's CSS pierces it.
  const item = page.locator('.monaco-menu .action-item', { hasText: entry }).first();
  await item.waitFor({ state: 'visible', timeout: o.timeoutMs ?? 10000 });
  await item.click();
}

/**
 * The inner frame of a webview panel (webviews are an iframe holding another iframe).
 * `title` matches the webview's iframe title when given.
 */
export async function webviewFrame(page: Page, o: { title?: string; timeoutMs?: number } = {}): Promise<Frame> {
  const timeout = o.timeoutMs ?? 30000;
  const deadline = Date.now() + timeout;
  for (;;) {
    for (const outer of page.frames()) {
      // Outer: .../webview/browser/pre/index.html; inner: its fake.html child holding the content.
      if (!outer.url().includes('/webview/')) continue;
      for (const inner of outer.childFrames()) {
        if (o.title) {
          const t = await inner.title().catch(() => '');
          if (t && !t.includes(o.title)) continue;
        }
        if (await inner.locator('body').count().catch(() => 0)) return inner;
      }
    }
    if (Date.now() > deadline) throw new Error(`no webview frame${o.title ? ` titled "${o.title}"` : ''} within ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Saves a PNG under .test-artifacts/<group>/<name>.png and returns its path. */
export async function screenshot(page: Page, group: string, name: string): Promise<string> {
  const dir = path.join(ARTIFACTS_DIR, group);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name.replace(/[^\w.-]/g, '_')}.png`);
  await page.screenshot({ path: file });
  return file;
}
