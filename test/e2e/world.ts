/*
 * What the e2e steps share: the bucket on the real S3 server, one headless
 * Chromium, and two "computers" (A and B), each a code-server with its own
 * user-data folder and the extension installed from a .vsix of the current
 * build. Steps run in file order and build on each other; once one fails, the
 * later ones fail at once (counted as failed, never as passed or skipped).
 *
 * Everything here goes through the UI: the palette (F1), the activity bar,
 * clicks and right-clicks in the tree, the settings webview's labelled
 * fields, notifications and modal dialogs. The only side doors are the ones
 * a person has too: files on disk, and the bucket seen through the SDK.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { applyEdits, modify } from 'jsonc-parser';
import type { Browser, Frame, Locator, Page } from 'playwright-core';
import { closeBrowser, launchBrowser, openViewContainer, openWorkbench, screenshot as harnessScreenshot, waitForWorkbench } from '../harness/browser';
import { type CodeServer, installExtension, startCodeServer, TEST_USER_SETTINGS, VSCODE_UNDER_TEST, writeUserSettings } from '../harness/codeServer';
import { REPO_ROOT } from '../harness/paths';
import { createTestBucket, s3TestEnv, type TestBucket } from '../helpers/s3';

/** Screenshots of each VS Code version in their own folder: .test-artifacts/e2e@<version>/. */
export const ARTIFACT_GROUP = `e2e@${VSCODE_UNDER_TEST.vscode}`;
/** Both computers open a folder of this name, so a restore on B targets it by name. */
export const FOLDER_NAME = 'project';
export const ROOT_PATH = 'team/backups';
/** The window size every check of "visible without scrolling" is made at. */
export const VIEWPORT = { width: 1400, height: 900 };

/** The workspace on computer A: text, JSON, a nested folder, unicode, an empty and a binary file. */
export const WORKSPACE_FILES: Record<string, string | Buffer> = {
  'README.md': '# Project\n\nBacked up by the S3 Backup end-to-end test.\n',
  'notes.md': 'First draft of the notes.\n',
  'src/index.js': "console.log('hello from computer A');\n",
  'src/data/config.json': '{ "retries": 3, "name": "e2e" }\n',
  'docs/résumé – ünïcode.txt': 'Unicode names survive the round trip.\n',
  'empty.txt': '',
  'assets/blob.bin': Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)),
};

export type MachineName = 'A' | 'B' | 'C';

export interface Machine {
  name: MachineName;
  base: string;
  userDataDir: string;
  extensionsDir: string;
  folder: string;
  server: CodeServer;
  page: Page;
}

interface WorldState {
  bucket?: TestBucket;
  vsix?: string;
  tmp?: string;
  browser?: Browser;
  machines: Partial<Record<MachineName, Machine>>;
  failed?: string;
  /** Shared between steps: the key of the workspace backup made in step 3. */
  workspaceKey?: string;
}

const state: WorldState = { machines: {} };

export function world(): WorldState {
  return state;
}

export function log(line: string): void {
  process.stdout.write(`      [e2e] ${line}\n`);
}

/** Wraps a step: fails at once when an earlier one failed (it builds on it), takes a "failed" screenshot of each page when this one fails. */
export function step(name: string, fn: () => Promise<void>): (this: Mocha.Context) => Promise<void> {
  return async function (this: Mocha.Context) {
    // Counted as a failure, not a skip: a step that did not run has not shown anything.
    if (state.failed) throw new Error(`not run: step "${state.failed}" failed before, and this step builds on it`);
    const t = Date.now();
    try {
      await fn();
      log(`${name}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
    } catch (e) {
      state.failed = name;
      for (const m of Object.values(state.machines)) {
        if (!m) continue;
        await shot(m, `failed-${name}-computer-${m.name}`).catch(() => undefined);
        await reportState(m).catch(() => undefined);
      }
      throw e;
    }
  };
}

/**
 * What CI keeps of a failed step besides its screenshots (which stay on the CI
 * machine): the notifications on screen and the end of the extension's log.
 * The log never holds a secret (the extension suite checks that).
 */
async function reportState(m: Machine): Promise<void> {
  const toasts = await m.page.locator('.notifications-toasts .notification-toast').allInnerTexts();
  const menu = await m.page.locator('.monaco-menu').count();
  const dialogs = await m.page.locator('.monaco-dialog-box').allInnerTexts();
  const quickInput = m.page.locator('.quick-input-widget');
  const asks = (await quickInput.isVisible()) ? await quickInput.innerText() : undefined;
  const oneLine = (t: string): string => t.replace(/\s+/g, ' ');
  const lines = [
    `${toasts.length} notification(s)`,
    ...toasts.map((t) => `| ${oneLine(t)}`),
    `${menu} menu(s) open; ${dialogs.length} dialog(s)`,
    ...dialogs.map((t) => `| ${oneLine(t)}`),
    asks === undefined ? 'no quick input' : `quick input: ${oneLine(asks).slice(0, 300)}`,
  ];
  log(`computer ${m.name}: ${lines.join('\n        ')}`);
  for (const { file, lines } of extensionLogLines(m)) {
    log(`computer ${m.name}: the end of ${path.relative(m.userDataDir, file)}${lines.slice(-25).map((l) => `\n        | ${l}`).join('')}`);
  }
}

/** The lines of every window's "S3 Backup" log under this computer's user data. */
export function extensionLogLines(m: Machine): { file: string; lines: string[] }[] {
  const out: { file: string; lines: string[] }[] = [];
  const walk = (dir: string): void => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === 'S3 Backup.log') out.push({ file: p, lines: fs.readFileSync(p, 'utf8').split('\n') });
    }
  };
  walk(path.join(m.userDataDir, 'logs'));
  return out;
}

/** How many times the extension logged that `commandId` started, over every window of this computer. */
function commandStarts(m: Machine, commandId: string): number {
  const started = ` ${commandId} started`;
  return extensionLogLines(m).reduce((n, l) => n + l.lines.filter((line) => line.endsWith(started)).length, 0);
}

/** A screenshot of one computer's browser page, in .test-artifacts/e2e@<version>/. */
export async function shot(m: Machine, name: string): Promise<string> {
  const file = await harnessScreenshot(m.page, ARTIFACT_GROUP, `${name}`);
  log(`screenshot ${path.relative(REPO_ROOT, file)}`);
  return file;
}

export async function bucket(): Promise<TestBucket> {
  state.bucket ??= await createTestBucket('e2e');
  return state.bucket;
}

async function vsix(): Promise<string> {
  if (state.vsix) return state.vsix;
   
  const { packVsix } = require(path.join(REPO_ROOT, 'scripts', 'packVsix.js')) as {
    packVsix(out: string): Promise<{ file: string; bytes: number }>;
  };
  const r = await packVsix(path.join(tmpRoot(), 's3-backup.vsix'));
  state.vsix = r.file;
  return r.file;
}

function tmpRoot(): string {
  state.tmp ??= fs.mkdtempSync(path.join(os.tmpdir(), 's3b-e2e-'));
  return state.tmp;
}

export interface MachineOptions {
  /** VS Code's display language (code-server's --locale), e.g. 'zh-cn'. */
  locale?: string;
  /** More user settings, e.g. a colour theme. */
  settings?: Record<string, unknown>;
}

/**
 * VS Code shows a display language only when a language pack for it is
 * installed, and none can be downloaded here. A pack's only job for this test
 * is to make the workbench (and so the extension host) run in that language;
 * the extension's own strings come from its l10n bundles. So the test
 * registers a pack with no translations of VS Code's own UI, the way VS Code's
 * server records installed packs (<user-data>/languagepacks.json).
 */
function registerDisplayLanguage(base: string, userDataDir: string, locale: string): void {
  const translations = path.join(base, 'language-pack', 'main.i18n.json');
  fs.mkdirSync(path.dirname(translations), { recursive: true });
  fs.writeFileSync(translations, JSON.stringify({ version: '1.0.0', contents: {} }));
  const pack = {
    [locale]: {
      hash: `s3b-e2e-${locale}`,
      extensions: [{ extensionIdentifier: { id: `s3b-e2e.language-pack-${locale}` }, version: '0.0.1' }],
      translations: { vscode: translations },
      label: locale,
    },
  };
  fs.mkdirSync(userDataDir, { recursive: true });
  fs.writeFileSync(path.join(userDataDir, 'languagepacks.json'), JSON.stringify(pack));
}

/**
 * Starts computer A, B or C (once): its own user-data and extensions folders, the
 * .vsix installed the way a user installs it, code-server on a free port, and
 * a browser page (1400x900) on the workbench with `FOLDER_NAME` open.
 */
export async function machine(name: MachineName, files: Record<string, string | Buffer> = {}, o: MachineOptions = {}): Promise<Machine> {
  const existing = state.machines[name];
  if (existing) return existing;
  const t = Date.now();
  const base = path.join(tmpRoot(), `computer-${name}`);
  const userDataDir = path.join(base, 'user-data');
  const extensionsDir = path.join(base, 'extensions');
  const folder = path.join(base, 'home', FOLDER_NAME);
  fs.mkdirSync(folder, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(folder, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
  writeUserSettings(userDataDir, {
    ...TEST_USER_SETTINGS,
    'git.openRepositoryInParentFolders': 'never',
    'workbench.startupEditor': 'none',
    ...o.settings,
  });
  if (o.locale) registerDisplayLanguage(base, userDataDir, o.locale);
  await installExtension(await vsix(), extensionsDir);
  const server = await startCodeServer({ userDataDir, extensionsDir, folder, args: o.locale ? ['--locale', o.locale] : undefined });
  state.browser ??= await launchBrowser();
  const page = await openWorkbench(state.browser, server.url, { folder, viewport: VIEWPORT });
  const m: Machine = { name, base, userDataDir, extensionsDir, folder, server, page };
  state.machines[name] = m;
  log(`computer ${name}: code-server ${server.url} ready in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  return m;
}

/** Stops both computers and the browser, removes the temp folders and the bucket. */
export async function tearDown(): Promise<void> {
  await closeBrowser(state.browser);
  for (const m of Object.values(state.machines)) await m?.server.stop().catch(() => undefined);
  if (state.bucket) await state.bucket.cleanup().catch((e: Error) => log(`bucket cleanup failed: ${e.message}`));
  if (state.tmp && !process.env.S3B_KEEP_TMP) fs.rmSync(state.tmp, { recursive: true, force: true });
}

// ---------------------------------------------------------------- UI helpers

/** The S3 Backup view in the side bar (opened from the activity bar when it is not showing); `viewName` as the display language says it. */
export async function openS3BackupView(m: Machine, viewName = 'Backups'): Promise<Locator> {
  await openViewContainer(m.page, 'S3 Backup', { timeoutMs: 60000 });
  const pane = m.page.locator('.sidebar');
  // A lone view's header is hidden (its title joins the container's), but it is there.
  await pane.locator(`.pane-header[aria-label^="${viewName}"]`).first().waitFor({ state: 'attached', timeout: 30000 });
  return pane;
}

/** Whether a tree row shows its label and description whole (nothing cut off with "…") at the side bar's width. */
export async function rowFits(row: Locator): Promise<{ fits: boolean; text: string; widths: string }> {
  // Runs in the page: DOM types are not in this project's lib.
  return row.evaluate((el: any) => {
    const parts: any[] = [...el.querySelectorAll('.monaco-icon-label-container, .label-name, .label-description')];
    const cut = parts.filter((p) => p.scrollWidth > p.clientWidth + 1);
    return {
      fits: parts.length > 0 && cut.length === 0,
      text: ['.label-name', '.label-description'].map((q) => String(el.querySelector(q)?.textContent ?? '').trim()).join(' | '),
      widths: parts.map((p) => `${p.className}: ${p.scrollWidth}/${p.clientWidth}`).join('; '),
    };
  });
}

/** Opens a workspace file with Go to File (the palette's file search). */
export async function openFile(m: Machine, relPath: string): Promise<void> {
  await runFromPalette(m, 'go to file', 'Go to File...');
  const widget = m.page.locator('.quick-input-widget');
  await widget.locator('input.input').fill(relPath);
  await widget.locator('.quick-input-list .monaco-list-row', { hasText: path.posix.basename(relPath) }).first().waitFor({ state: 'visible', timeout: 15000 });
  await widget.locator('input.input').press('Enter');
  await m.page.locator('.editor-group-container .tab.active', { hasText: path.posix.basename(relPath) }).waitFor({ state: 'visible', timeout: 15000 });
}

/** The text the active editor shows (Monaco's rendered lines: what the person sees, not the file). */
export async function editorText(m: Machine): Promise<string> {
  const lines = m.page.locator('.editor-group-container.active .monaco-editor .view-lines').first();
  await lines.waitFor({ state: 'visible', timeout: 15000 });
  // Lines render in DOM order of their position; spaces as no-break spaces.
  const texts = await lines.locator('.view-line').evaluateAll((els) =>
    els
      .map((e) => e as unknown as { style: { top: string }; innerText: string })
      .map((e) => ({ top: parseFloat(e.style.top) || 0, text: e.innerText }))
      .sort((a, b) => a.top - b.top)
      .map((l) => l.text),
  );
  return texts.join('\n').replace(/\u00a0/g, ' ');
}

/** Types at the end of the active editor's text, then saves with File: Save. */
export async function typeAtEndAndSave(m: Machine, text: string): Promise<void> {
  await m.page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
  await m.page.keyboard.press('Control+End');
  await m.page.keyboard.type(text);
  await runFromPalette(m, 'file: save', 'File: Save');
}

/** Developer: Reload Window, then waits for the workbench (the extension host starts again). */
export async function reloadWindow(m: Machine): Promise<void> {
  await runFromPalette(m, 'reload window', 'Developer: Reload Window');
  await m.page.waitForEvent('load', { timeout: 60000 }).catch(() => undefined);
  await waitForWorkbench(m.page, 60000);
}

/** Rows of backups in the tree (level 2: under their machine). */
export function backupRows(m: Machine, text?: string | RegExp): Locator {
  const rows = m.page.locator('.sidebar .monaco-list-row[aria-level="2"]');
  return text ? rows.filter({ hasText: text }) : rows;
}

/** A button in the welcome content of the side bar ("Configure S3 Storage", "Back Up Workspace"). */
export function welcomeButton(m: Machine, name: string): Locator {
  return m.page.locator('.sidebar .welcome-view-content').getByRole('button', { name, exact: true });
}

/** The settings page's inner frame, once the host has filled it in. */
export async function settingsFrame(m: Machine, title = 'S3 Backup Settings'): Promise<Frame> {
  const frame = await waitForFrame(m.page, title);
  await frame.locator('#settings-form:not([aria-busy])').waitFor({ state: 'attached', timeout: 30000 });
  return frame;
}

async function waitForFrame(page: Page, title: string, timeoutMs = 30000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const f of page.frames()) {
      if (!f.url().includes('/webview/') || f.parentFrame() === page.mainFrame()) continue;
      if ((await f.title().catch(() => '')) === title) return f;
    }
    if (Date.now() > deadline) throw new Error(`no webview titled "${title}" within ${timeoutMs} ms`);
    await page.waitForTimeout(250);
  }
}

/** The status line under the settings page's buttons, once it shows `text`. */
export async function settingsStatus(frame: Frame, text: string | RegExp, timeoutMs = 60000): Promise<string> {
  const status = frame.locator('#status');
  await status.filter({ hasText: text }).waitFor({ state: 'visible', timeout: timeoutMs });
  return (await status.innerText()).trim();
}

export interface ConnectionValues {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  rootPath: string;
}

/** The values a person types: the real server from S3_TEST_*, the fresh bucket. */
export async function connectionValues(): Promise<ConnectionValues> {
  const env = s3TestEnv();
  return {
    endpoint: env.endpoint,
    region: env.region,
    bucket: (await bucket()).bucket,
    accessKeyId: env.accessKeyId,
    secretAccessKey: env.secretAccessKey,
    rootPath: ROOT_PATH,
  };
}

/** Types the connection into the settings page, each field found by its visible label. */
export async function fillSettings(frame: Frame, v: ConnectionValues): Promise<void> {
  await frame.getByLabel('Endpoint', { exact: true }).fill(v.endpoint);
  await frame.getByLabel('Region', { exact: true }).fill(v.region);
  await frame.getByLabel('Bucket', { exact: true }).fill(v.bucket);
  await frame.getByLabel('Access Key ID', { exact: true }).fill(v.accessKeyId);
  await frame.getByLabel('Secret Access Key', { exact: true }).fill(v.secretAccessKey);
  await frame.getByLabel('Root Path').fill(v.rootPath);
}

/** Clicks a button of the settings page by its accessible name. */
export async function clickSettingsButton(frame: Frame, name: string): Promise<void> {
  await frame.getByRole('button', { name, exact: true }).click();
}

/**
 * Moves the mouse to a quiet spot: a hover left over from an earlier click (a
 * tree tooltip, a button's title) would lie over the quick pick and eat clicks.
 */
export async function parkMouse(m: Machine): Promise<void> {
  const size = m.page.viewportSize() ?? VIEWPORT;
  await m.page.mouse.move(size.width - 8, Math.round(size.height / 2));
  await m.page.locator('.monaco-hover, .context-view .hover-contents').first().waitFor({ state: 'hidden', timeout: 3000 }).catch(() => undefined);
}

/** Clicks a quick-pick row (after parking the mouse). */
export async function clickQuickPickRow(m: Machine, row: Locator): Promise<void> {
  await parkMouse(m);
  await row.click();
}

/** F1, types `query`, waits for the row titled `title` and returns the open palette (not yet picked). */
export async function openPalette(m: Machine, query: string, title: string, timeoutMs = 30000): Promise<Locator> {
  const page = m.page;
  const widget = page.locator('.quick-input-widget');
  const row = widget.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  const deadline = Date.now() + timeoutMs;
  await parkMouse(m);
  const input = widget.locator('input.input');
  for (;;) {
    // The widget can be there with its input hidden (closing, or a quick pick
    // without one): open the palette afresh until its input shows.
    if (!(await input.isVisible())) {
      if (await widget.isVisible()) {
        await page.keyboard.press('Escape');
        await widget.waitFor({ state: 'hidden', timeout: 2000 }).catch(() => undefined);
      }
      await page.locator('.monaco-workbench').focus().catch(() => undefined);
      await page.keyboard.press('F1');
      if (!(await input.waitFor({ state: 'visible', timeout: 5000 }).then(() => true, () => false))) {
        if (Date.now() > deadline) throw new Error(`the command palette's input did not show within ${timeoutMs} ms`);
        continue;
      }
    }
    const filled = await input.fill(`>${query}`, { timeout: 5000 }).then(() => true, () => false);
    if (!filled) {
      if (Date.now() > deadline) throw new Error(`the command palette took no input within ${timeoutMs} ms`);
      continue;
    }
    try {
      await row.waitFor({ state: 'visible', timeout: 3000 });
      return row;
    } catch (e) {
      // The extension's contributions may not be registered yet right after start-up.
      if (Date.now() > deadline) throw new Error(`"${title}" not offered in the palette for "${query}" within ${timeoutMs} ms`, { cause: e });
      await page.keyboard.press('Escape');
      await page.waitForTimeout(500);
    }
  }
}

/** Titles of the rows the palette shows right now. */
export async function paletteTitles(m: Machine): Promise<string[]> {
  const labels = m.page.locator('.quick-input-widget .quick-input-list .monaco-list-row .label-name');
  return (await labels.allInnerTexts()).map((s) => s.replace(/\s+/g, ' ').trim());
}

/** Runs a command by typing `query` into the palette and picking `title`. */
export async function runFromPalette(m: Machine, query: string, title: string): Promise<void> {
  const row = await openPalette(m, query, title);
  await row.click();
  await m.page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 5000 }).catch(() => undefined);
}

/** Right-clicks `target` and picks the context-menu entry whose label is exactly `entry`. */
export async function rightClickMenu(m: Machine, target: Locator, entry: string, o: { command?: string } = {}): Promise<void> {
  // With `command`, the click counts once the extension logged that command's start: CI once saw a
  // restore dialog that never came after the menu closed. A menu that closes without running its
  // entry ran nothing, so picking it again is safe. (A command that ran without its row, which a
  // whole-tree refresh could cause, asks which backup: the failure report shows that quick input.)
  const command = o.command;
  if (!command) return pickFromMenu(m, target, entry);
  const before = commandStarts(m, command);
  // A dialog up means it started too, whatever the log's flush says: never run it twice.
  const started = async (): Promise<boolean> => commandStarts(m, command) > before || (await m.page.locator('.monaco-dialog-box').count()) > 0;
  for (let attempt = 0; attempt < 3; attempt++) {
    await pickFromMenu(m, target, entry);
    if (await until(`${command} to start`, started, 15000).then(() => true, () => false)) return;
    log(`the menu entry "${entry}" closed without starting ${command}; picking it again`);
  }
  throw new Error(`the context menu entry "${entry}" never started ${command}`);
}

async function pickFromMenu(m: Machine, target: Locator, entry: string): Promise<void> {
  await target.click({ button: 'right' });
  const item = m.page.locator('.monaco-menu .action-item .action-label', { hasText: new RegExp(`^${escapeRe(entry)}$`) }).first();
  await item.waitFor({ state: 'visible', timeout: 10000 });
  // The menu ignores a click that comes right after it opened (the mouse-up of
  // the opening right-click); hover first, and click again if it stayed open.
  for (let i = 0; i < 3; i++) {
    await item.hover();
    await m.page.waitForTimeout(250);
    await item.click();
    if (await item.waitFor({ state: 'hidden', timeout: 2000 }).then(() => true, () => false)) return;
  }
  throw new Error(`the context menu entry "${entry}" did not respond`);
}

/** The modal dialog, once visible. */
export async function dialog(m: Machine, timeoutMs = 60000): Promise<Locator> {
  const box = m.page.locator('.monaco-dialog-box');
  await box.waitFor({ state: 'visible', timeout: timeoutMs });
  return box;
}

/** Clicks the dialog button whose name is exactly `name` ("Restore", not "Restore into Another Folder..."). */
export async function clickDialog(m: Machine, name: string): Promise<void> {
  const box = await dialog(m);
  await box.getByRole('button', { name, exact: true }).click();
  await box.waitFor({ state: 'hidden', timeout: 10000 });
}

/** The toast whose text matches, once visible. */
export async function toast(m: Machine, text: string | RegExp, timeoutMs = 120000): Promise<Locator> {
  const t = m.page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();
  await t.waitFor({ state: 'visible', timeout: timeoutMs });
  return t;
}

/** Waits until no progress notification is left (their toasts move the others while they leave). */
export async function progressDone(m: Machine, timeoutMs = 120000): Promise<void> {
  const busy = m.page.locator('.notifications-toasts .notification-toast', { has: m.page.locator('.monaco-progress-container.active') });
  await until('the progress notifications to end', async () => (await busy.count()) === 0, timeoutMs);
  await m.page.waitForTimeout(500); // the toasts' slide-out animation
}

/** Clicks a button of the toast matching `text`, once the toasts have settled. */
export async function clickToastButton(m: Machine, text: string | RegExp, button: string): Promise<void> {
  await progressDone(m);
  const t = await toast(m, text);
  await t.hover();
  await t.getByRole('button', { name: button, exact: true }).click();
}

/** Dismisses every notification, so a later wait cannot match an old one. */
export async function clearNotifications(m: Machine): Promise<void> {
  await runFromPalette(m, 'Clear All Notifications', 'Notifications: Clear All Notifications');
  await m.page.locator('.notifications-toasts .notification-toast').first().waitFor({ state: 'hidden', timeout: 5000 }).catch(() => undefined);
}

/** Polls until `fn` returns a truthy value or the time is up (then throws with `what`). */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A file of a computer's user folder: settings.json, keybindings.json. */
export function userFile(userDataDir: string, name: string): string {
  return path.join(userDataDir, 'User', name);
}

/** Edits a JSONC file the way VS Code's settings editor does: the rest, comments included, stays. */
export function editJson(file: string, jsonPath: (string | number)[], value: unknown): void {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : jsonPath[0] === -1 ? '[]' : '{}';
  const edits = modify(text, jsonPath, value, { formattingOptions: { insertSpaces: true, tabSize: 2 }, isArrayInsertion: jsonPath[0] === -1 });
  fs.writeFileSync(file, applyEdits(text, edits));
}

export function readText(file: string): string {
  return fs.readFileSync(file, 'utf8');
}

export { assert };
