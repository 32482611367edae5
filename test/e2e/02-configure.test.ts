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
  VIEWPORT,
  welcomeButton,
} from './world';
import type { Frame } from 'playwright-core';

/** The id of the element that has the keyboard focus in the settings page. */
async function focusedId(frame: Frame): Promise<string> {
  return frame.evaluate(() => String((globalThis as any).document.activeElement?.id ?? ''));
}

/** Save and Test Connection lie inside the window, with nothing scrolled. */
async function assertButtonsInView(frame: Frame, when: string): Promise<void> {
  for (const name of ['Save', 'Test Connection']) {
    const box = await frame.getByRole('button', { name, exact: true }).boundingBox();
    assert.ok(box, `${name}: no box`);
    const inside = box.x >= 0 && box.y >= 0 && box.x + box.width <= VIEWPORT.width && box.y + box.height <= VIEWPORT.height;
    assert.ok(inside, `${when}: ${name} at ${JSON.stringify(box)} is outside the ${VIEWPORT.width}x${VIEWPORT.height} window`);
  }
}

describe('Step 2: configure the storage in the settings page', () => {
  it(
    'reports a wrong secret plainly, then tests and saves the right one',
    step('02-configure', async () => {
      const a = await machine('A');
      await welcomeButton(a, 'Configure S3 Storage').click();
      const frame = await settingsFrame(a);
      const right = await connectionValues();
      await assertButtonsInView(frame, 'on opening');
      const backUp = frame.getByRole('button', { name: 'Back Up Workspace', exact: true });
      assert.ok(await backUp.isDisabled(), 'Back Up Workspace is enabled before anything is configured');

      // The provider picker fills in the endpoint pattern, the region and the addressing style.
      await frame.getByLabel('Provider', { exact: true }).selectOption({ label: 'Ceph' });
      assert.strictEqual(await frame.getByLabel('Endpoint', { exact: true }).inputValue(), 'http://localhost:7480');
      assert.strictEqual(await frame.getByLabel('Region', { exact: true }).inputValue(), 'us-east-1');
      assert.strictEqual(await frame.getByLabel('Addressing Style', { exact: true }).inputValue(), 'path');

      await fillSettings(frame, { ...right, secretAccessKey: `${right.secretAccessKey.slice(0, -4)}XXXX` });
      await clickSettingsButton(frame, 'Test Connection');
      const wrong = await settingsStatus(frame, /rejected|secret/i);
      assert.match(wrong, /The secret access key was rejected by the server\./);
      assert.ok(await frame.locator('#status.error').isVisible(), 'the failure is shown as an error');
      assert.ok(!/Signature|403|Exception|stack/i.test(wrong), `a plain sentence, not the server's error: ${wrong}`);
      assert.strictEqual(await focusedId(frame), 'secretAccessKey', 'the focus moves to the field to correct');
      await assertButtonsInView(frame, 'with the failed steps shown');
      await shot(a, '02a-wrong-secret');

      // Editing a field clears the result that no longer describes the form.
      await frame.getByLabel('Secret Access Key', { exact: true }).fill(right.secretAccessKey);
      await frame.locator('#steps').waitFor({ state: 'hidden', timeout: 5000 });
      assert.strictEqual((await frame.locator('#status').innerText()).trim(), '', 'the old result is still shown');
      await clickSettingsButton(frame, 'Test Connection');
      await settingsStatus(frame, /Connection works/);
      assert.strictEqual(await frame.locator('#steps-list .step.ok').count(), 4, 'all four connection steps passed');
      await frame.locator('#steps').scrollIntoViewIfNeeded();
      await shot(a, '02b-connection-works');

      await clickSettingsButton(frame, 'Save');
      await settingsStatus(frame, /Settings saved/);
      await frame.locator('#secret-stored').waitFor({ state: 'visible', timeout: 10000 });
      assert.strictEqual(await frame.locator('#steps').isVisible(), false, 'Save left the test steps above its own result');
      assert.ok(await backUp.isEnabled(), 'Back Up Workspace stays disabled once configured');
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
