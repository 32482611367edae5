// Step 8: computer C runs VS Code in Chinese (code-server --locale zh-cn) with a light theme.
// The view, the settings page and the restore dialog speak Chinese (the extension's zh-cn
// bundles); the settings page keeps Save and Test in view at 1400x900 and its text readable
// (contrast >= 4.5:1) in the light theme. Screenshots: view.zh-cn.png, settings.zh-cn.png,
// restore-plan.zh-cn.png (copied to docs/images when S3B_DOCS_IMAGES=1).
import * as fs from 'fs';
import * as path from 'path';
import type { Frame } from 'playwright-core';
import { REPO_ROOT } from '../harness/paths';
import {
  assert,
  backupRows,
  clearNotifications,
  connectionValues,
  dialog,
  machine,
  openS3BackupView,
  progressDone,
  rightClickMenu,
  runFromPalette,
  settingsFrame,
  settingsStatus,
  shot,
  step,
  VIEWPORT,
  welcomeButton,
  WORKSPACE_FILES,
  type Machine,
} from './world';

const LOCALE = 'zh-cn';
const zh = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'l10n', `bundle.l10n.${LOCALE}.json`), 'utf8')) as Record<string, string>;
const zhNls = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, `package.nls.${LOCALE}.json`), 'utf8')) as Record<string, string>;

/** The zh-cn text of an English string; fails when there is none, so the test cannot pass on English. */
function t(english: string, ...args: string[]): string {
  const s = zh[english];
  assert.ok(s && s !== english, `no zh-cn translation of "${english}"`);
  return s.replace(/\{(\d+)\}/g, (_, i: string) => args[Number(i)] ?? `{${i}}`);
}

/** A button label of a viewsWelcome text in package.nls.zh-cn.json: `[label](command:...)`. */
function welcomeLabel(key: string): string {
  const m = /\[([^\]]+)\]\(command:/.exec(zhNls[key] ?? '');
  assert.ok(m, `no button in ${key}`);
  return m[1];
}

async function docsShot(m: Machine, name: string): Promise<void> {
  const file = await shot(m, name);
  if (process.env.S3B_DOCS_IMAGES === '1') fs.copyFileSync(file, path.join(REPO_ROOT, 'docs', 'images', `${name}.png`));
}

interface Contrast {
  what: string;
  ratio: number;
  color: string;
  background: string;
}

/** The contrast ratio of each visible element's text against what is behind it, computed from the page's styles. */
async function contrasts(frame: Frame, selectors: string[]): Promise<Contrast[]> {
  return frame.evaluate((sels: string[]) => {
    const doc = (globalThis as any).document;
    const win = globalThis as any;
    const rgb = (c: string): [number, number, number, number] => {
      const m = /rgba?\(([^)]+)\)/.exec(c);
      if (!m) return [0, 0, 0, 0];
      const p = m[1].split(',').map((x) => parseFloat(x));
      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    };
    const lum = ([r, g, b]: number[]): number => {
      const f = (v: number): number => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el: any): string => {
      for (let e = el; e; e = e.parentElement) {
        const bg = win.getComputedStyle(e).backgroundColor;
        if (rgb(bg)[3] > 0.5) return bg;
      }
      return win.getComputedStyle(doc.body).backgroundColor;
    };
    const out: Array<{ what: string; ratio: number; color: string; background: string }> = [];
    for (const sel of sels) {
      for (const el of [...doc.querySelectorAll(sel)] as any[]) {
        if (!el.offsetParent || !String(el.textContent).trim()) continue;
        const color = win.getComputedStyle(el).color;
        const bg = background(el);
        const [a, b] = [lum(rgb(color)), lum(rgb(bg))];
        out.push({ what: `${sel} "${String(el.textContent).trim().slice(0, 30)}"`, ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05), color, background: bg });
      }
    }
    return out;
  }, selectors);
}

describe('Step 8: the extension in Chinese, in a light theme', () => {
  it(
    'shows the view, the settings page and the restore dialog in Chinese, readable and in reach',
    step('08-locale-zh-cn', async () => {
      const c = await machine('C', WORKSPACE_FILES, { locale: LOCALE, settings: { 'workbench.colorTheme': 'Default Light Modern' } });
      // The language the workbench (and so the extension host) runs in, as VS Code set it from --locale.
      const lang = await c.page.evaluate(() => String((globalThis as any)._VSCODE_NLS_LANGUAGE ?? ''));
      assert.strictEqual(lang, LOCALE, `the workbench runs in "${lang}", not Chinese`);

      // The view: its welcome in Chinese.
      await openS3BackupView(c, zhNls['view.backups']);
      const configure = welcomeButton(c, welcomeLabel('welcome.unconfigured'));
      await configure.waitFor({ state: 'visible', timeout: 60000 });
      await configure.click();

      // The settings page, filled by field (the labels are Chinese now).
      const frame = await settingsFrame(c, t('S3 Backup Settings'));
      assert.strictEqual((await frame.locator('h1').innerText()).trim(), t('S3 Backup Settings'));
      assert.ok(await frame.evaluate(() => (globalThis as any).document.body.classList.contains('vscode-light')), 'the light theme is not applied');
      const v = await connectionValues();
      await frame.locator('#provider').selectOption('ceph');
      await frame.locator('#endpoint').fill(v.endpoint);
      await frame.locator('#region').fill(v.region);
      await frame.locator('#bucket').fill(v.bucket);
      await frame.locator('#accessKeyId').fill(v.accessKeyId);
      await frame.locator('#secretAccessKey').fill(v.secretAccessKey);
      await frame.locator('#rootPath').fill('team/zh-cn');
      await frame.getByRole('button', { name: t('Test Connection'), exact: true }).click();
      const status = await settingsStatus(frame, t('Connection works: the bucket was reached, and a test object written, read back and deleted.'));
      assert.ok(status.includes('连接正常'), status);
      assert.strictEqual(await frame.locator('#steps-list .step.ok').count(), 4);

      // In reach without scrolling, at 1400x900, with the steps shown.
      for (const name of [t('Save'), t('Test Connection')]) {
        const box = await frame.getByRole('button', { name, exact: true }).boundingBox();
        assert.ok(box && box.y >= 0 && box.y + box.height <= VIEWPORT.height && box.x + box.width <= VIEWPORT.width, `${name} is out of view: ${JSON.stringify(box)}`);
      }
      // Readable in the light theme: text 4.5:1 at least, the state icons 3:1.
      const text = await contrasts(frame, ['#status-text', '.step-name', '.step-state', '.setting-label', '.setting-hint', 'h1', 'h2', '.page-intro', '.secret-badge']);
      const icons = await contrasts(frame, ['#status-icon', '.step-icon']);
      assert.ok(text.length > 10 && icons.length >= 2, `too few elements measured: ${text.length} text, ${icons.length} icons`);
      const low = [...text.filter((x) => x.ratio < 4.5), ...icons.filter((x) => x.ratio < 3)];
      assert.deepStrictEqual(low, [], 'text or icons below the contrast they need');
      await frame.locator('h1').scrollIntoViewIfNeeded();
      await docsShot(c, 'settings.zh-cn');

      await frame.getByRole('button', { name: t('Save'), exact: true }).click();
      await settingsStatus(frame, t('Settings saved. Both keys are in the keychain.'));

      // Back up from the view's welcome, then the tree lists it in Chinese.
      await openS3BackupView(c, zhNls['view.backups']);
      const backUp = welcomeButton(c, welcomeLabel('welcome.empty'));
      await backUp.waitFor({ state: 'visible', timeout: 60000 });
      assert.strictEqual(welcomeLabel('welcome.empty'), t('Back Up Workspace'), 'the welcome button has the command\'s name');
      await backUp.click();
      const row = backupRows(c, new RegExp(`${t('workspace')} ·`)).first();
      await row.waitFor({ state: 'visible', timeout: 120000 });
      await runFromPalette(c, 'close all editors', 'View: Close All Editors');
      await clearNotifications(c);
      await row.hover();
      await c.page.locator('.monaco-hover, .workbench-hover').first().waitFor({ state: 'visible', timeout: 10000 }).catch(() => undefined);
      await docsShot(c, 'view.zh-cn');

      // The restore dialog, in Chinese: the plan before anything is written. Dismissed, nothing written.
      await rightClickMenu(c, row, zhNls['command.restoreBackup'], { command: 's3Backup.restoreBackup' });
      const box = await dialog(c, 120000);
      const plan = await box.innerText();
      assert.ok(plan.includes('要将') && plan.includes('的备份还原到'), `the dialog is not in Chinese: ${plan}`);
      assert.ok(plan.includes(t('Restore')), plan);
      await progressDone(c);
      await docsShot(c, 'restore-plan.zh-cn');
      await c.page.keyboard.press('Escape');
      await box.waitFor({ state: 'hidden', timeout: 10000 });
    }),
  );
});
