// Step 3: F1, "backup", Back Up Workspace; the progress notification ends in success; the tree shows the backup.
import { parseBackupKey } from '../../src/core/format/backupKeys';
import {
  assert,
  backupRows,
  bucket,
  machine,
  openFile,
  openPalette,
  openS3BackupView,
  paletteTitles,
  progressDone,
  runFromPalette,
  ROOT_PATH,
  rowFits,
  shot,
  step,
  toast,
  until,
  world,
  WORKSPACE_FILES,
} from './world';

describe('Step 3: back up the workspace from the command palette', () => {
  it(
    'backs up, reports success, and lists one backup for this machine',
    step('03-backup', async () => {
      const a = await machine('A');
      // The settings page did its job; the editor area goes back to the workspace.
      await runFromPalette(a, 'close all editors', 'View: Close All Editors');
      await openFile(a, 'src/index.js');
      const row = await openPalette(a, 'backup', 'S3 Backup: Back Up Workspace');
      const titles = await paletteTitles(a);
      for (const t of ['S3 Backup: Back Up Workspace', 'S3 Backup: Restore Backup...']) {
        assert.ok(titles.includes(t), `typing "backup" offers ${t} (offered: ${titles.join(' | ')})`);
      }
      await shot(a, '03a-palette');
      await row.click();

      const done = await toast(a, /Backed up \d+ files/);
      const text = await done.innerText();
      const files = Number(/Backed up (\d+) files/.exec(text)?.[1]);
      assert.strictEqual(files, Object.keys(WORKSPACE_FILES).length, `all workspace files are in the backup: ${text}`);

      await openS3BackupView(a);
      const machineRow = a.page.locator('.sidebar .monaco-list-row[aria-level="1"]', { hasText: 'this machine' });
      await machineRow.waitFor({ state: 'visible', timeout: 30000 });
      await until('one backup row', async () => (await backupRows(a).count()) === 1);
      assert.match(await backupRows(a).first().innerText(), /workspace/);
      // At the side bar's default width the row reads whole: the age, then kind and time.
      const fit = await rowFits(backupRows(a).first());
      assert.ok(fit.fits, `the row is cut off at the default width: ${fit.text} (${fit.widths})`);
      assert.match(fit.text, /^(now|\d+ (seconds?|minutes?) ago) \| workspace · /, `the age comes first, then kind and time: ${fit.text}`);
      await progressDone(a);
      // The status bar's entry (left side) dates the backup with a cloud icon.
      const status = a.page.locator('.part.statusbar .left-items [aria-label^="S3 Backup: last backup"]').first();
      await status.waitFor({ state: 'visible', timeout: 30000 });
      assert.strictEqual(await status.locator('.codicon-cloud').count(), 1, 'a cloud icon in the status bar entry');
      assert.match((await status.innerText()).trim(), /^(now|\d+ (sec|min)\. ago)$/, 'the age of the new backup in the status bar');
      await shot(a, '03b-backup-done');

      const objects = await (await bucket()).listObjects();
      const refs = objects.map((o) => parseBackupKey(ROOT_PATH, o.key, o.size)).filter((r) => r !== undefined);
      assert.strictEqual(refs.length, 1, `one backup in the bucket: ${objects.map((o) => o.key).join(', ')}`);
      assert.strictEqual(refs[0]!.kind, 'workspace');
      world().workspaceKey = refs[0]!.key;
    }),
  );
});
