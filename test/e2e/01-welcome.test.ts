// Step 1: a newcomer opens the S3 Backup view; nothing is configured, so the welcome offers "Configure S3 Storage".
import { assert, machine, openS3BackupView, shot, step, welcomeButton, WORKSPACE_FILES } from './world';

describe('Step 1: open the S3 Backup view', () => {
  it(
    'shows the welcome with "Configure S3 Storage" on a fresh computer',
    step('01-welcome', async () => {
      const a = await machine('A', WORKSPACE_FILES);
      await openS3BackupView(a);
      const configure = welcomeButton(a, 'Configure S3 Storage');
      await configure.waitFor({ state: 'visible', timeout: 60000 });
      const text = await a.page.locator('.sidebar .welcome-view-content').innerText();
      assert.match(text, /keychain/, 'the welcome says where the keys are kept');
      await shot(a, '01-welcome');
    }),
  );
});
