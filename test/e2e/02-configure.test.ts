// Step 2: the settings page. A wrong secret first: Test Connection says so in plain words; then the right one works; Save.
import * as fs from 'fs';
import * as path from 'path';
import {
  assert,
  clickSettingsButton,
  connectionValues,
  fillSettings,
  machine,
  settingsFrame,
  settingsStatus,
  shot,
  step,
  welcomeButton,
} from './world';

describe('Step 2: configure the storage in the settings page', () => {
  it(
    'reports a wrong secret plainly, then tests and saves the right one',
    step('02-configure', async () => {
      const a = await machine('A');
      await welcomeButton(a, 'Configure S3 Storage').click();
      const frame = await settingsFrame(a);
      const right = await connectionValues();

      await fillSettings(frame, { ...right, secretAccessKey: `${right.secretAccessKey.slice(0, -4)}XXXX` });
      await clickSettingsButton(frame, 'Test Connection');
      const wrong = await settingsStatus(frame, /rejected|secret/i);
      assert.match(wrong, /The secret access key was rejected by the server\./);
      assert.ok(await frame.locator('#status.error').isVisible(), 'the failure is shown as an error');
      assert.ok(!/Signature|403|Exception|stack/i.test(wrong), `a plain sentence, not the server's error: ${wrong}`);
      await shot(a, '02a-wrong-secret');

      await frame.getByLabel('Secret Access Key', { exact: true }).fill(right.secretAccessKey);
      await clickSettingsButton(frame, 'Test Connection');
      await settingsStatus(frame, /Connection works/);
      assert.strictEqual(await frame.locator('#steps-list .step.ok').count(), 4, 'all four connection steps passed');
      await frame.locator('#steps').scrollIntoViewIfNeeded();
      await shot(a, '02b-connection-works');

      await clickSettingsButton(frame, 'Save');
      await settingsStatus(frame, /Settings saved/);
      await frame.locator('#secret-stored').waitFor({ state: 'visible', timeout: 10000 });
      await shot(a, '02c-saved');
      await frame.locator('h1').scrollIntoViewIfNeeded();
      await a.page.waitForTimeout(300); // the tree's "Loading backups…" settles into its welcome
      await shot(a, '02d-settings-page');

      // What Save wrote: the non-secret values in settings.json; neither key.
      const settings = fs.readFileSync(path.join(a.userDataDir, 'User', 'settings.json'), 'utf8');
      assert.ok(settings.includes(right.bucket), 'the bucket is in the user settings');
      assert.ok(!settings.includes(right.secretAccessKey), 'the secret is not in settings.json');
      assert.ok(!settings.includes(right.accessKeyId), 'the access key ID is not in settings.json');
    }),
  );
});
