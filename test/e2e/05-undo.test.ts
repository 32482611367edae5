// Step 5: on A, change a file, restore the backup over it (the plan shows one overwrite), then Undo: the change is back.
import * as fs from 'fs';
import * as path from 'path';
import {
  assert,
  backupRows,
  clearNotifications,
  clickDialog,
  clickToastButton,
  dialog,
  machine,
  openFile,
  openS3BackupView,
  progressDone,
  readText,
  rightClickMenu,
  shot,
  step,
  toast,
  until,
  WORKSPACE_FILES,
} from './world';

describe('Step 5: restore over a change, then undo', () => {
  it(
    'puts the backed-up file back, and Undo brings the change back',
    step('05-undo', async () => {
      const a = await machine('A');
      const file = path.join(a.folder, 'notes.md');
      const original = WORKSPACE_FILES['notes.md'] as string;
      const changed = 'Second draft: rewritten after the backup.\n';
      fs.writeFileSync(file, changed);

      await clearNotifications(a);
      await openFile(a, 'notes.md');
      await openS3BackupView(a);
      await rightClickMenu(a, backupRows(a, /workspace/).first(), 'Restore Backup...');
      const box = await dialog(a, 120000);
      const plan = await box.innerText();
      const n = Object.keys(WORKSPACE_FILES).length;
      assert.match(plan, new RegExp(`\\b0 new, 1 overwritten, ${n - 1} unchanged\\b`), `the plan shows the overwrite: ${plan}`);
      await progressDone(a);
      await shot(a, '05a-restore-over-change');
      await clickDialog(a, 'Restore');

      await toast(a, /Restored 1 file into /);
      await progressDone(a);
      assert.strictEqual(readText(file), original, 'the restore put the backed-up version back');
      await shot(a, '05b-restored-with-undo');
      await clickToastButton(a, /Restored 1 file into /, 'Undo');

      await until('the change to be back', async () => readText(file) === changed, 60000);
      await toast(a, /The restore was undone: 1 file put back, 0 new files removed\./, 30000);
      await shot(a, '05c-undone');
    }),
  );
});
