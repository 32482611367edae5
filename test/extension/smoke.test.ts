import * as assert from 'assert';
import * as vscode from 'vscode';
import { VSCODE_UNDER_TEST } from '../harness/codeServer';

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

  it('runs in the VS Code version under test, on the Node that version is pinned to', function () {
    // Set by the code-server harness (npm test); a run without it cannot say which version it tested.
    assert.ok(process.env.S3B_VSCODE_VERSION, 'S3B_VSCODE_VERSION is not set: run the suite through npm test, whose harness pins the version');
    assert.strictEqual(vscode.version, VSCODE_UNDER_TEST.vscode);
    if (VSCODE_UNDER_TEST.node) assert.strictEqual(process.versions.node, VSCODE_UNDER_TEST.node);
  });
});
