// Restore you can trust, in a real VS Code: open editors follow the files a
// restore and an undo change (revert when unmodified, a question when not,
// closed when the file is gone), "Undo Last Restore" works from the undo
// records alone, and an interrupted restore is offered for completion or
// rollback. The restores are made by the real engine from a local archive
// (no bucket is needed to undo); crash.test.ts proves the engine's side.
import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { TestApi } from '../../src/extension/extension';
import { getApi, ScriptedPrompts, treeDigest, waitFor } from './helpers';

type Engine = typeof import('../../src/core/restore/applyRestore') & typeof import('../../src/core/restore/planRestore') & typeof import('../../src/core/archive/verifyArchive');

describe('restore you can trust (editors, undo, recovery)', function () {
  let api: TestApi;
  let prompts: ScriptedPrompts;
  let engine: Engine;
  let archiveFolder: typeof import('../helpers/folderArchive').archiveFolder;
  let root: string;
  let tmp: string;
  let savedAutoSave: unknown;

  before(async () => {
    api = await getApi();
    // Unsaved edits must stay unsaved while a test looks at them: VS Code for the Web (code-server)
    // auto-saves after 1 s by default, and a save landing between the undo's write and the answer
    // would put the edits on disk (the undo brings back the mtime the editor knows, so VS Code sees
    // no conflict) and leave "Load from Disk" nothing else to load.
    const files = vscode.workspace.getConfiguration('files');
    savedAutoSave = files.inspect('autoSave')?.globalValue;
    await files.update('autoSave', 'off', vscode.ConfigurationTarget.Global);
    // Loaded only now: the activation test checks what activation loaded.
    engine = {
      ...(require('../../src/core/restore/applyRestore') as object),
      ...(require('../../src/core/restore/planRestore') as object),
      ...(require('../../src/core/archive/verifyArchive') as object),
    } as Engine;
    archiveFolder = (require('../helpers/folderArchive') as typeof import('../helpers/folderArchive')).archiveFolder;
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder && folder.uri.scheme === 'file', 'the tests need a workspace folder on disk');
    root = path.join(folder.uri.fsPath, `s3b-recovery-${crypto.randomBytes(3).toString('hex')}`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-recovery-'));
  });

  beforeEach(() => {
    prompts = new ScriptedPrompts(api.prompts);
  });

  afterEach(async () => {
    prompts?.dispose();
    // Unsaved edits would make "close all" ask: drop them first.
    for (const doc of vscode.workspace.textDocuments.filter((d) => d.isDirty)) {
      await vscode.window.showTextDocument(doc);
      await vscode.commands.executeCommand('workbench.action.files.revert');
    }
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  after(async () => {
    await vscode.workspace.getConfiguration('files').update('autoSave', savedAutoSave, vscode.ConfigurationTarget.Global);
    if (root) fs.rmSync(root, { recursive: true, force: true });
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  function write(dir: string, files: Record<string, string>, mtime?: Date): void {
    for (const [rel, text] of Object.entries(files)) {
      const p = path.join(dir, rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, text);
      if (mtime) fs.utimesSync(p, mtime, mtime);
    }
  }

  /** A restore by the engine into `target`, its undo record where the extension keeps them. */
  async function restore(files: Record<string, string>, target: string): Promise<string> {
    const src = fs.mkdtempSync(path.join(tmp, 'src-'));
    write(src, files, new Date(Date.UTC(2025, 3, 4, 5, 6, 7)));
    const zip = path.join(src, '..', `${path.basename(src)}.zip`);
    await archiveFolder(src, zip);
    const manifest = await engine.verifyArchive(zip);
    const plan = await engine.planRestore(zip, manifest, { 'workspace/app': target });
    const r = await engine.applyRestore(plan, { snapshotRoot: api.engineHost.snapshotRoot });
    assert.ok(r.snapshotDir);
    return r.snapshotDir;
  }

  async function open(file: string): Promise<vscode.TextDocument> {
    const doc = await vscode.workspace.openTextDocument(file);
    await vscode.window.showTextDocument(doc, { preview: false });
    return doc;
  }

  const tabOpen = (file: string): boolean =>
    vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => t.input instanceof vscode.TabInputText && t.input.uri.fsPath === file));

  it('editors follow a restore and "Undo Last Restore": reverted, asked about, closed', async () => {
    const target = path.join(root, 'editors');
    // notes.md comes back with the same size and its old mtime: what VS Code alone can miss.
    write(target, { 'notes.md': 'first draft\n', 'draft.md': 'mine\n' }, new Date(Date.UTC(2024, 0, 2, 3, 4, 5)));
    assert.strictEqual(vscode.workspace.getConfiguration('files').get('autoSave'), 'off', 'auto-save would save the unsaved edits');
    const notes = await open(path.join(target, 'notes.md'));
    const draft = await open(path.join(target, 'draft.md'));
    const edit = new vscode.WorkspaceEdit();
    edit.insert(draft.uri, new vscode.Position(0, 0), 'unsaved: ');
    assert.ok(await vscode.workspace.applyEdit(edit));
    assert.ok(draft.isDirty);

    const changes: string[] = [];
    const sub = vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document === draft) changes.push(`v${e.document.version} reason ${String(e.reason)} dirty ${e.document.isDirty}: ${JSON.stringify(e.contentChanges.map((c) => c.text))} -> ${JSON.stringify(e.document.getText())}`);
    });
    const { EditorWatch } = require('../../src/extension/ui/editorSync') as typeof import('../../src/extension/ui/editorSync');
    const watch = await EditorWatch.start([target], api.prompts, api.log);
    await restore({ 'notes.md': 'final draft\n', 'draft.md': 'the backup version\n', 'new.md': 'only in the backup\n' }, target);
    prompts.onMessage = (m) => (/unsaved edits/.test(m.message) ? 'Keep My Edits' : undefined);
    const synced = await watch.sync('restore', { waitForAnswer: true });
    assert.deepStrictEqual(synced, { reverted: [notes.uri.fsPath], closed: [], modified: [draft.uri.fsPath] });
    assert.strictEqual(notes.getText(), 'final draft\n', 'the unmodified editor shows the restored file');
    const asked = await prompts.waitForMessage(/^The restore changed files that have unsaved edits in the editor: .*draft\.md\./);
    assert.deepStrictEqual(asked.items, ['Keep My Edits', 'Load from Disk']);
    assert.strictEqual(draft.getText(), 'unsaved: mine\n', 'Keep My Edits keeps them');
    const created = await open(path.join(target, 'new.md'));

    // Undo Last Restore, from the undo record alone.
    prompts.onMessage = (m) => {
      if (m.options.modal) return 'Undo Restore';
      if (/unsaved edits/.test(m.message)) return 'Load from Disk';
      return undefined;
    };
    const undone = await vscode.commands.executeCommand('s3Backup.undoLastRestore');
    assert.deepStrictEqual(undone, { restored: 2, removed: 1 });
    const confirm = prompts.shown.find((m) => m.options.modal)!;
    assert.match(confirm.message, new RegExp(`^Undo the restore of .+ into ${escapeRe(path.basename(target))}\\?$`), 'the folder is named, not its whole path');
    assert.ok((confirm.options.detail ?? '').endsWith(`\n\n${target}`), 'the full path is in the detail');
    assert.match(confirm.options.detail ?? '', /^It created 1 files and replaced 2:/);
    await prompts.waitForMessage(/^The restore was undone: 2 files put back, 1 new file removed\.$/);
    assert.strictEqual(fs.readFileSync(notes.uri.fsPath, 'utf8'), 'first draft\n');
    assert.strictEqual(notes.getText(), 'first draft\n', 'the unmodified editor shows the undone file');
    await prompts.waitForMessage(/^The undo changed files that have unsaved edits in the editor: .*draft\.md\./);
    await waitFor('Load from Disk to reload draft.md', () => !draft.isDirty && draft.getText() === 'mine\n').catch((e: Error) => {
      throw new Error(`${e.message}: dirty ${draft.isDirty}, closed ${draft.isClosed}, text ${JSON.stringify(draft.getText())}, disk ${JSON.stringify(fs.readFileSync(draft.uri.fsPath, 'utf8'))}; changes: ${changes.join(' | ')}; log: ${(api.log.captured ?? []).filter((l) => /draft|editor|revert/i.test(l)).join(' | ')}`);
    });
    assert.ok(created.isClosed || !tabOpen(created.uri.fsPath), 'the editor of the removed file is closed');
    assert.deepStrictEqual(prompts.errors(), []);

    // Saving now writes what the editor shows, which is what undo put back.
    const again = new vscode.WorkspaceEdit();
    again.insert(notes.uri, new vscode.Position(1, 0), 'typed after the undo\n');
    assert.ok(await vscode.workspace.applyEdit(again));
    assert.ok(await notes.save());
    assert.strictEqual(fs.readFileSync(notes.uri.fsPath, 'utf8'), 'first draft\ntyped after the undo\n');

    sub.dispose();
    const listed = (await api.engineHost.listRestores()).find((r) => r.folders.includes(target));
    assert.strictEqual(listed?.state, 'undone');
  });

  /** A restore killed half-way through its renames, as the record and the folders show it. */
  async function interruptedRestore(target: string, files: Record<string, string>): Promise<string> {
    const dir = await restore(files, target);
    const file = path.join(dir, 'snapshot.json');
    const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { state: string; entries: Array<{ path: string; staged: string }> };
    for (const e of doc.entries.slice(0, Math.ceil(doc.entries.length / 2))) {
      fs.mkdirSync(path.dirname(e.staged), { recursive: true });
      fs.renameSync(e.path, e.staged);
    }
    fs.writeFileSync(file, JSON.stringify({ ...doc, state: 'applying' }));
    return dir;
  }

  const FILES = { 'a.txt': 'alpha\n', 'sub/b.txt': 'beta\n', 'sub/deep/c.txt': 'gamma\n', 'd.txt': 'delta\n' };

  it('an interrupted restore is offered after start-up: Complete finishes it', async () => {
    const target = path.join(root, 'complete');
    await interruptedRestore(target, FILES);
    prompts.onMessage = (m) => (/was interrupted/.test(m.message) ? 'Complete' : undefined);
    const { checkInterruptedRestores } = require('../../src/extension/commands/recoverRestores') as typeof import('../../src/extension/commands/recoverRestores');
    const found = await checkInterruptedRestores(api.services);
    assert.deepStrictEqual(found.map((r) => [r.state, r.canFinish, r.folders]), [['interrupted', true, [target]]]);
    const offer = prompts.shown.find((m) => /was interrupted/.test(m.message))!;
    assert.match(offer.message, new RegExp(`^The restore of .+ into ${escapeRe(path.basename(target))} was interrupted\\. Complete it, or roll the folder back`));
    assert.deepStrictEqual(offer.items, ['Complete', 'Roll Back', 'Later']);
    await prompts.waitForMessage(new RegExp(`^The restore into ${escapeRe(path.basename(target))} is complete: 2 more files written\\.$`));
    assert.deepStrictEqual(treeDigest(target), new Map(Object.entries(FILES).map(([k, v]) => [k, crypto.createHash('sha256').update(v).digest('hex')])));
    assert.deepStrictEqual(prompts.errors(), []);
  });

  it('an interrupted restore is offered after start-up: Roll Back puts the folder back', async () => {
    const target = path.join(root, 'rollback');
    write(target, { 'mine.txt': 'was here before\n' });
    await interruptedRestore(target, FILES);
    prompts.onMessage = (m) => (/was interrupted/.test(m.message) ? 'Roll Back' : undefined);
    const { checkInterruptedRestores } = require('../../src/extension/commands/recoverRestores') as typeof import('../../src/extension/commands/recoverRestores');
    await checkInterruptedRestores(api.services);
    await prompts.waitForMessage(/^The restore was undone: 0 files put back, 2 new files removed\.$/);
    assert.deepStrictEqual([...treeDigest(target).keys()], ['mine.txt'], 'only what was there before; no staging folder, no lock');
    assert.deepStrictEqual(fs.readdirSync(target), ['mine.txt']);
    assert.deepStrictEqual(prompts.errors(), []);
  });
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
