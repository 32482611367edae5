// Step 9: look inside a backup on A. Back up, change a file, then in the tree expand the backup
// down to that file, open the backup's copy read-only (a click), and "Compare with Current" from
// its right-click menu: VS Code's diff editor shows the change. Screenshot: docs/images/browse-compare.png
// (copied there when S3B_DOCS_IMAGES=1).
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from '../harness/paths';
import {
  assert,
  backupRows,
  clearNotifications,
  editorText,
  machine,
  openS3BackupView,
  parkMouse,
  progressDone,
  rightClickMenu,
  runFromPalette,
  shot,
  step,
  toast,
  until,
  type Machine,
} from './world';

const BACKED_UP = 'First draft of the notes.\n';
const ADDED = 'A line written after the backup.\n';

async function docsShot(m: Machine, name: string): Promise<void> {
  const file = await shot(m, name);
  if (process.env.S3B_DOCS_IMAGES === '1') fs.copyFileSync(file, path.join(REPO_ROOT, 'docs', 'images', `${name}.png`));
}

/** The tree row at `level` (1 = machine) whose label is exactly `label`. */
function row(m: Machine, level: number, label: string) {
  return m.page.locator(`.sidebar .monaco-list-row[aria-level="${level}"]`).filter({ has: m.page.locator('.label-name', { hasText: new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) }).first();
}

describe('Step 9: look inside a backup', () => {
  it(
    'expands a backup, opens a file of it, and compares it with the current file',
    step('09-browse', async () => {
      const a = await machine('A');
      const notes = path.join(a.folder, 'notes.md');
      fs.writeFileSync(notes, BACKED_UP);
      await runFromPalette(a, 'close all editors', 'View: Close All Editors');
      await runFromPalette(a, 'back up workspace', 'S3 Backup: Back Up Workspace');
      await toast(a, /Backed up \d+ files/);
      await progressDone(a);
      await clearNotifications(a);
      fs.writeFileSync(notes, BACKED_UP + ADDED);

      await openS3BackupView(a);
      const backup = backupRows(a, /workspace ·/).first();
      await backup.waitFor({ state: 'visible', timeout: 30000 });
      assert.strictEqual(await backup.getAttribute('aria-expanded'), 'false', 'a format-2 backup can be expanded');
      await backup.click();
      const folder = row(a, 3, 'project');
      await folder.waitFor({ state: 'visible', timeout: 30000 });
      await folder.click();
      const file = row(a, 4, 'notes.md');
      await file.waitFor({ state: 'visible', timeout: 30000 });
      assert.match(await file.innerText(), new RegExp(`${BACKED_UP.length} B · `), 'size and age beside the name');

      // A click opens the backup's copy, read-only.
      await file.click();
      await a.page.locator('.editor-group-container .tab.active', { hasText: 'notes.md' }).waitFor({ state: 'visible', timeout: 30000 });
      await until('the backup copy in the editor', async () => (await editorText(a)) === BACKED_UP);

      await parkMouse(a);
      await rightClickMenu(a, file, 'Compare with Current', { command: 's3Backup.compareWithCurrent' });
      const diff = a.page.locator('.editor-group-container.active .monaco-diff-editor');
      await diff.waitFor({ state: 'visible', timeout: 30000 });
      const tab = a.page.locator('.editor-group-container .tab.active');
      assert.match(await tab.innerText(), /notes\.md \(backup of .+\) ↔ current/);
      await until('the added line in the diff', async () => (await diff.locator('.line-insert, .char-insert').count()) > 0);
      await parkMouse(a);
      await docsShot(a, 'browse-compare');
    }),
  );
});
