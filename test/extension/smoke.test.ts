import * as assert from 'assert';
import * as vscode from 'vscode';

const EXTENSION_ID = 's3-backup.s3-backup';

describe('smoke', () => {
  it('the extension is present and activates', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is not installed in this extension host`);
    await ext.activate();
    assert.strictEqual(ext.isActive, true);
  });

  it('contributes s3Backup.* commands', async () => {
    const ours = (await vscode.commands.getCommands(true)).filter((c) => c.startsWith('s3Backup.'));
    assert.ok(ours.length > 0, 'no s3Backup.* command is registered');
  });
});
