import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { BackupResult } from '../../src/core/engine';
import type { TestApi } from '../../src/extension/extension';
import type { TestBucket } from '../helpers/s3';
import { getApi, requireS3Server, ScriptedPrompts, waitFor } from './helpers';

const RESOURCE_WARNING = 'Accessing a resource scoped configuration without providing a resource';

/**
 * The extension host's own log (remoteexthost.log in code-server, exthost.log on
 * the desktop): the folder above the extension's `logUri`.
 */
function hostLogFile(context: vscode.ExtensionContext): string {
  const dir = path.dirname(context.logUri.fsPath);
  const found = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => /exthost\.log$/.test(n)) : [];
  assert.strictEqual(found.length, 1, `no single extension host log in ${dir}: ${fs.existsSync(dir) ? fs.readdirSync(dir).join(', ') : '(missing)'}`);
  return path.join(dir, found[0]);
}

// `s3Backup.workspace.excludes` is resource-scoped: a folder's own value must
// reach the backup of that folder, and reading it must never make VS Code warn
// that no resource was given (both tested VS Code versions log that warning).
describe('workspace excludes per folder (real S3 server)', function () {
  let api: TestApi;
  let bucket: TestBucket | undefined;
  let prompts: ScriptedPrompts;
  let folder: vscode.WorkspaceFolder;
  let fixture: string;
  const name = `s3b-excludes-${crypto.randomBytes(3).toString('hex')}`;

  before(async function () {
    requireS3Server();
    api = await getApi();
    const s3 = require('../helpers/s3') as typeof import('../helpers/s3');
    const { endpoint, region, accessKeyId, secretAccessKey } = s3.s3TestEnv();
    bucket = await s3.createTestBucket('excludes');
    await api.engineHost.saveProfile({ endpoint, region, bucket: bucket.bucket, rootPath: name, accessKeyId, secretAccessKey });
    const first = vscode.workspace.workspaceFolders?.[0];
    assert.ok(first && first.uri.scheme === 'file', 'the tests need a workspace folder on disk');
    folder = first;
    fixture = path.join(folder.uri.fsPath, name);
    for (const rel of ['kept.txt', 'by-user/a.txt', 'by-folder/b.txt']) {
      fs.mkdirSync(path.dirname(path.join(fixture, rel)), { recursive: true });
      fs.writeFileSync(path.join(fixture, rel), `${rel}\n`);
    }
    // The user's list and the folder's own: the folder's wins for that folder.
    const c = vscode.workspace.getConfiguration('s3Backup', folder.uri);
    await c.update('workspace.excludes', [`${name}/by-user/`], vscode.ConfigurationTarget.Global);
    await c.update('workspace.excludes', [`${name}/by-folder/`], vscode.ConfigurationTarget.WorkspaceFolder);
  });

  beforeEach(() => {
    prompts = new ScriptedPrompts(api.prompts);
  });

  afterEach(() => prompts?.dispose());

  after(async () => {
    if (!api) return;
    const c = vscode.workspace.getConfiguration('s3Backup', folder?.uri);
    await c.update('workspace.excludes', undefined, vscode.ConfigurationTarget.Global);
    if (folder) {
      await c.update('workspace.excludes', undefined, vscode.ConfigurationTarget.WorkspaceFolder);
      // VS Code leaves an empty .vscode/settings.json behind; later tests back this folder up and must not meet it.
      const dotVscode = path.join(folder.uri.fsPath, '.vscode');
      const file = path.join(dotVscode, 'settings.json');
      if (fs.existsSync(file) && /^\s*\{\s*\}\s*$/.test(fs.readFileSync(file, 'utf8'))) fs.rmSync(file);
      if (fs.existsSync(dotVscode) && fs.readdirSync(dotVscode).length === 0) fs.rmdirSync(dotVscode);
    }
    const s = vscode.workspace.getConfiguration('s3Backup');
    for (const k of ['endpoint', 'region', 'bucket', 'rootPath', 'addressingStyle']) await s.update(k, undefined, vscode.ConfigurationTarget.Global);
    await api.secrets.clear();
    if (fixture) fs.rmSync(fixture, { recursive: true, force: true });
    await bucket?.cleanup();
  });

  /** The fixture's files in a backup, relative to the fixture folder. */
  function fixtureFiles(result: BackupResult | undefined): string[] {
    assert.ok(result, 'the backup returned nothing');
    const prefix = `workspace/${folder.name}/${name}/`;
    return result.manifest.files
      .map((f) => f.path)
      .filter((p) => p.startsWith(prefix))
      .map((p) => p.slice(prefix.length))
      .sort();
  }

  it('Back Up Workspace leaves out what the folder excludes, not what only the user excludes', async () => {
    const result = (await vscode.commands.executeCommand('s3Backup.backUpWorkspace')) as BackupResult | undefined;
    assert.deepStrictEqual(prompts.errors(), []);
    assert.deepStrictEqual(fixtureFiles(result), ['by-user/a.txt', 'kept.txt']);
  });

  it('Back Up Everything uses the folder\'s excludes too', async () => {
    const result = (await vscode.commands.executeCommand('s3Backup.backUpEverything')) as BackupResult | undefined;
    assert.deepStrictEqual(prompts.errors(), []);
    assert.deepStrictEqual(fixtureFiles(result), ['by-user/a.txt', 'kept.txt']);
  });

  it('no read of the setting made VS Code warn that it had no resource', async () => {
    const log = hostLogFile(api.services.context);
    // A probe that does warn, logged after every read the backups made: once it
    // is in the file, so is any warning about our setting.
    vscode.workspace.getConfiguration('files').get('exclude');
    const text = await waitFor(`the probe's warning in ${log}`, () => {
      const t = fs.readFileSync(log, 'utf8');
      return t.includes(`${RESOURCE_WARNING} is not expected. To get the effective value for 'files.exclude'`) ? t : undefined;
    });
    const ours = text.split('\n').filter((l) => l.includes(RESOURCE_WARNING) && l.includes("'s3Backup."));
    assert.deepStrictEqual(ours, []);
  });
});
