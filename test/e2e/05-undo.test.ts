// Step 5: on A, with notes.md open in an editor, change it, restore the backup over it (the plan shows
// one overwrite), then Undo: after each, the editor shows what is on disk, and a save keeps the right
// text. Then a second restore, a window reload, and "Undo Last Restore" from the palette.
import * as fs from 'fs';
import * as path from 'path';
import {
  assert,
  backupRows,
  clearNotifications,
  clickDialog,
  clickToastButton,
  dialog,
  editorText,
  machine,
  openFile,
  openS3BackupView,
  progressDone,
  readText,
  reloadWindow,
  rightClickMenu,
  runFromPalette,
  shot,
  step,
  toast,
  typeAtEndAndSave,
  until,
  WORKSPACE_FILES,
  type Machine,
} from './world';

/** The editor shows `text`, line for line (a final line break shows as an empty last line). */
async function editorShows(m: Machine, text: string, what: string): Promise<void> {
  const want = text;
  let seen = '';
  await until(`the editor to show ${what}`, async () => (seen = await editorText(m)) === want, 30000).catch((e: Error) => {
    throw new Error(`${e.message}; it shows ${JSON.stringify(seen)}, the file holds ${JSON.stringify(want)}`);
  });
}

/** Restores the workspace backup over A's folder from the tree; resolves once the "Restored" toast is up. */
async function restoreOverChange(a: Machine, shotName: string): Promise<void> {
  await openS3BackupView(a);
  await rightClickMenu(a, backupRows(a, /workspace/).first(), 'Restore Backup...', { command: 's3Backup.restoreBackup' });
  const box = await dialog(a, 120000);
  const plan = await box.innerText();
  const n = Object.keys(WORKSPACE_FILES).length;
  assert.match(plan, new RegExp(`\\b0 new, 1 overwritten, ${n - 1} unchanged\\b`), `the plan shows the overwrite: ${plan}`);
  await progressDone(a);
  await shot(a, shotName);
  await clickDialog(a, 'Restore');
  await toast(a, /Restored 1 file into /);
  await progressDone(a);
}

describe('Step 5: restore over a change, then undo', () => {
  it(
    'the open editor follows the restore and the undo; Undo Last Restore works after a reload',
    step('05-undo', async () => {
      const a = await machine('A');
      const file = path.join(a.folder, 'notes.md');
      const original = WORKSPACE_FILES['notes.md'] as string;
      const changed = 'Second draft: rewritten after the backup.\n';
      fs.writeFileSync(file, changed);

      await clearNotifications(a);
      await openFile(a, 'notes.md');
      await editorShows(a, changed, 'the change');
      await restoreOverChange(a, '05a-restore-over-change');
      assert.strictEqual(readText(file), original, 'the restore put the backed-up version back');
      await editorShows(a, original, 'the restored file');
      await shot(a, '05b-restored-with-undo');

      await clickToastButton(a, /Restored 1 file into /, 'Undo');
      await until('the change to be back', async () => readText(file) === changed, 60000);
      await toast(a, /The restore was undone: 1 file put back, 0 new files removed\./, 30000);
      await editorShows(a, changed, 'the undone file');
      await shot(a, '05c-undone');
      // What was seen before the fix: the editor kept the restored text and this save wrote it back.
      await typeAtEndAndSave(a, 'Typed after the undo.');
      await until('the save to reach the disk', async () => readText(file) === `${changed}Typed after the undo.`, 30000);

      // Restore again, reload the window, and undo from the palette: the undo record outlives the window.
      const edited = readText(file);
      await clearNotifications(a);
      await restoreOverChange(a, '05d-restore-again');
      await editorShows(a, original, 'the restored file');
      await reloadWindow(a);
      await runFromPalette(a, 'undo last restore', 'S3 Backup: Undo Last Restore');
      const box = await dialog(a, 60000);
      assert.match(await box.innerText(), /Undo the restore of .+ into .*project\?/);
      await shot(a, '05e-undo-last-restore');
      await clickDialog(a, 'Undo Restore');
      await toast(a, /The restore was undone: 1 file put back, 0 new files removed\./, 60000);
      assert.strictEqual(readText(file), edited, 'Undo Last Restore put back the edited file');
      await editorShows(a, edited, 'the file put back after the reload');
      await shot(a, '05f-undone-after-reload');
    }),
  );
});
