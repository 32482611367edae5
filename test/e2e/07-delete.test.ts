// Step 7: Delete from the tree's right-click menu, confirmed in the modal: gone from the tree and from the bucket.
import {
  assert,
  backupRows,
  bucket,
  clickQuickPickRow,
  machine,
  openS3BackupView,
  progressDone,
  rightClickMenu,
  shot,
  step,
  until,
  world,
} from './world';

describe('Step 7: delete the backup', () => {
  it(
    'removes it from the tree and from the bucket',
    step('07-delete', async () => {
      const a = await machine('A');
      const key = world().workspaceKey;
      assert.ok(key, 'step 3 recorded the backup key');
      const b = await bucket();
      assert.ok((await b.listObjects()).some((o) => o.key === key), 'the backup is in the bucket before');

      await openS3BackupView(a);
      const before = await backupRows(a).count();
      await rightClickMenu(a, backupRows(a, /workspace ·/).first(), 'Delete Backup', { command: 's3Backup.deleteBackup' });
      // The confirmation: its title asks, and the row that has the focus (what Enter picks) is Cancel.
      const widget = a.page.locator('.quick-input-widget');
      await widget.waitFor({ state: 'visible', timeout: 30000 });
      const title = (await widget.locator('.quick-input-title').innerText()).trim();
      const host = /_([A-Za-z0-9-]+)_workspace_[a-z0-9]+\.(?:zip|json\.gz)$/.exec(key)?.[1];
      assert.ok(host, `no host in ${key}`);
      assert.match(title, new RegExp(`Delete the backup from .+ \\(${host}\\)\\?`), title);
      const active = widget.locator('.quick-input-list .monaco-list-row.focused');
      assert.strictEqual((await active.innerText()).trim(), 'Cancel', 'the focused choice must not be Delete');
      const deleteRow = widget.locator('.quick-input-list .monaco-list-row', { hasText: 'Delete' });
      assert.match(await deleteRow.innerText(), /It is removed from the bucket for good; this cannot be undone\./);
      await shot(a, '07a-delete-confirm');
      await clickQuickPickRow(a, deleteRow);

      await until('the backup to leave the tree', async () => (await backupRows(a).count()) === before - 1);
      assert.strictEqual(await backupRows(a, /workspace ·/).count(), 0, 'no workspace backup left in the tree');
      await until('the backup to leave the bucket', async () => !(await b.listObjects()).some((o) => o.key === key));
      await progressDone(a);
      await shot(a, '07b-deleted');
    }),
  );
});
