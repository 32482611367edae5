// Step 6: a setting and a keybinding made on A travel to B: Back Up App Data on A, Restore App Data on B.
import * as fs from 'fs';
import { parse } from 'jsonc-parser';
import {
  assert,
  clickDialog,
  clearNotifications,
  clickQuickPickRow,
  dialog,
  editJson,
  machine,
  openS3BackupView,
  parkMouse,
  progressDone,
  runFromPalette,
  shot,
  step,
  toast,
  until,
  userFile,
} from './world';

const SETTING = { key: 'editor.fontSize', value: 17 };
const KEYBINDING = { key: 'ctrl+alt+b', command: 's3Backup.backUpWorkspace' };

describe('Step 6: app data from A arrives on B', () => {
  it(
    'restores A\'s setting and keybinding on B after Back Up App Data and Restore App Data',
    step('06-app-data', async () => {
      const a = await machine('A');
      const b = await machine('B');
      editJson(userFile(a.userDataDir, 'settings.json'), [SETTING.key], SETTING.value);
      editJson(userFile(a.userDataDir, 'keybindings.json'), [-1], KEYBINDING);

      await clearNotifications(a);
      await runFromPalette(a, 'backup app data', 'S3 Backup: Back Up App Data');
      await toast(a, /Backed up \d+ files/);
      await openS3BackupView(a);
      await a.page.locator('.sidebar .monaco-list-row[aria-level="2"]', { hasText: /app data ·/ }).waitFor({ state: 'visible', timeout: 30000 });
      await progressDone(a);
      await shot(a, '06a-app-data-backed-up');

      // On B: refresh the tree (the backup was made elsewhere), pick the app data backup,
      // keep every category, merge settings, add keybindings, confirm.
      await clearNotifications(b);
      await openS3BackupView(b);
      await b.page.locator('.sidebar .title-actions .action-label[aria-label="Refresh"]').click();
      await b.page.locator('.sidebar .monaco-list-row[aria-level="2"]', { hasText: /app data ·/ }).waitFor({ state: 'visible', timeout: 60000 });
      await runFromPalette(b, 'restore app data', 'S3 Backup: Restore App Data...');
      const widget = b.page.locator('.quick-input-widget');
      const pickRow = widget.locator('.quick-input-list .monaco-list-row', { hasText: /· app data ·/ }).first();
      await pickRow.waitFor({ state: 'visible', timeout: 60000 });
      await clickQuickPickRow(b, pickRow);

      const title = widget.locator('.quick-input-title');
      await until('the category pick', async () => /Restore App Data from/.test(await title.innerText().catch(() => '')), 120000);
      const categories = await widget.locator('.quick-input-list .monaco-list-row').allInnerTexts();
      const joined = categories.join(' | ');
      assert.ok(/Settings/.test(joined) && /Keybindings/.test(joined), `the categories offered: ${joined}`);
      await progressDone(b);
      await shot(b, '06b-b-app-data-categories');
      await parkMouse(b);
      let answered = await title.innerText();
      await widget.locator('.quick-input-action .monaco-button', { hasText: 'OK' }).click();

      // One mode question per category that has modes; the gentle choice each time.
      // A question is told by a title not seen yet: the widget may still show the
      // previous one for a moment after a click (seen in VS Code 1.139).
      for (;;) {
        const box = b.page.locator('.monaco-dialog-box');
        const next = async (): Promise<string | undefined> => {
          if (await box.isVisible()) return 'dialog';
          const t = (await widget.isVisible()) ? await title.innerText() : undefined;
          return t && t !== answered ? t : undefined;
        };
        const which = await until('the next question', next, 60000);
        if (which === 'dialog') break;
        if (/Restore App Data from/.test(which)) {
          await b.page.waitForTimeout(300); // the category pick is still leaving
          continue;
        }
        assert.match(which, /\(\d\/\d\)$/, `every question says its step: ${which}`);
        const answer = /Settings/.test(which) ? 'Merge' : 'Add';
        const label = b.page.locator('.label-name', { hasText: new RegExp(`^${answer}$`) });
        await clickQuickPickRow(b, widget.locator('.quick-input-list .monaco-list-row').filter({ has: label }).first());
        answered = which;
      }
      const box = await dialog(b);
      assert.match(await box.innerText(), /Restore the app data from/);
      await shot(b, '06c-b-app-data-plan');
      await clickDialog(b, 'Restore');
      await toast(b, /Restored \d+ app data files/);
      await progressDone(b);
      await shot(b, '06d-b-app-data-restored');

      const settings = parse(fs.readFileSync(userFile(b.userDataDir, 'settings.json'), 'utf8')) as Record<string, unknown>;
      assert.strictEqual(settings[SETTING.key], SETTING.value, 'A\'s setting is on B');
      assert.ok(settings['s3Backup.bucket'], 'B keeps its connection settings');
      const keybindings = parse(fs.readFileSync(userFile(b.userDataDir, 'keybindings.json'), 'utf8')) as { key: string; command: string }[];
      assert.ok(
        keybindings.some((k) => k.key === KEYBINDING.key && k.command === KEYBINDING.command),
        `A's keybinding is on B: ${JSON.stringify(keybindings)}`,
      );
    }),
  );
});
