// Step 4: computer B (own user data, an empty folder of the same name) is configured the same way,
// right-clicks the backup, picks Restore, sees the plan, confirms: the files are identical to A's.
import { listTree } from '../helpers/tree';
import {
  assert,
  backupRows,
  clickDialog,
  clickSettingsButton,
  connectionValues,
  dialog,
  fillSettings,
  machine,
  openFile,
  openS3BackupView,
  progressDone,
  rightClickMenu,
  runFromPalette,
  settingsFrame,
  settingsStatus,
  shot,
  step,
  toast,
  until,
  welcomeButton,
  WORKSPACE_FILES,
} from './world';

describe('Step 4: restore on computer B', () => {
  it(
    'configures B, restores the backup from the tree after showing the plan, and the files match A',
    step('04-restore-on-b', async () => {
      const b = await machine('B');
      await openS3BackupView(b);
      await welcomeButton(b, 'Configure S3 Storage').click();
      const frame = await settingsFrame(b);
      await fillSettings(frame, await connectionValues());
      await clickSettingsButton(frame, 'Save');
      await settingsStatus(frame, /Settings saved/);
      await runFromPalette(b, 'close all editors', 'View: Close All Editors');

      await openS3BackupView(b);
      const row = backupRows(b, /workspace/).first();
      await row.waitFor({ state: 'visible', timeout: 60000 });
      await shot(b, '04a-b-tree');
      await rightClickMenu(b, row, 'Restore Backup...', { command: 's3Backup.restoreBackup' });

      const box = await dialog(b, 120000);
      const plan = await box.innerText();
      const n = Object.keys(WORKSPACE_FILES).length;
      assert.match(plan, new RegExp(`\\b${n} new, 0 overwritten, 0 unchanged\\b`), `the plan shows what will happen: ${plan}`);
      assert.ok(plan.includes(b.folder), `the plan names the target folder: ${plan}`);
      await progressDone(b);
      await shot(b, '04b-b-restore-plan');
      await clickDialog(b, 'Restore');

      await toast(b, new RegExp(`Restored ${n} files`));
      await progressDone(b);
      // What B's owner sees: the files in the Explorer, one of them open.
      await b.page.locator('.activitybar .action-item a[aria-label^="Explorer"]').first().click();
      await b.page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'notes.md' }).waitFor({ state: 'visible', timeout: 30000 });
      await openFile(b, 'src/index.js');
      await shot(b, '04c-b-restored');

      const a = await machine('A');
      const want = await listTree(a.folder, { mtimes: false });
      const got = await until('the restored files on B', async () => {
        const t = await listTree(b.folder, { mtimes: false });
        return Object.keys(t).length === Object.keys(want).length ? t : undefined;
      });
      assert.deepStrictEqual(got, want, 'B has the same files, contents and modes as A');
    }),
  );
});
