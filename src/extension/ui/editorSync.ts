import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Logger } from '../../core/util/engineLogger';
import type { Prompts } from './prompts';

/** What `EditorWatch.sync` did, by file path. */
export interface EditorSyncResult {
  /** Unmodified editors now showing what is on disk. */
  reverted: string[];
  /** Unmodified editors of files that no longer exist, closed. */
  closed: string[];
  /** Editors with unsaved edits whose file changed on disk (the user was asked). */
  modified: string[];
}

function inside(folder: string, p: string): boolean {
  const r = path.relative(folder, p);
  return r !== '' && !r.startsWith('..') && !path.isAbsolute(r);
}

async function diskHash(file: string): Promise<string | undefined> {
  try {
    return createHash('sha256').update(await fs.promises.readFile(file)).digest('hex');
  } catch {
    return undefined;
  }
}

function tabsOf(uri: vscode.Uri): vscode.Tab[] {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputText && t.input.uri.toString() === uri.toString());
}

/**
 * Keeps open editors true to the disk across a restore or an undo. VS Code
 * decides whether a file changed by its mtime and size, and a restore or an
 * undo puts files back with their old mtime (and often the old size), so an
 * editor can go on showing the other version, and its next save would write
 * that over the file. `start` notes what is on disk under the folders for
 * every open document; `sync` afterwards reverts the unmodified documents
 * whose file changed (a forced read from disk), closes those whose file is
 * gone, and asks about those with unsaved edits.
 */
export class EditorWatch {
  private constructor(
    private readonly before: Map<vscode.TextDocument, string | undefined>,
    private readonly prompts: Prompts,
    private readonly log: Logger,
  ) {}

  /** Notes the disk content of every open file document inside `folders`. */
  static async start(folders: readonly string[], prompts: Prompts, log: Logger): Promise<EditorWatch> {
    const before = new Map<vscode.TextDocument, string | undefined>();
    for (const doc of vscode.workspace.textDocuments) {
      if (doc.uri.scheme !== 'file' && doc.uri.scheme !== 'vscode-userdata') continue;
      if (doc.isClosed || !folders.some((f) => inside(f, doc.uri.fsPath))) continue;
      before.set(doc, await diskHash(doc.uri.fsPath));
    }
    return new EditorWatch(before, prompts, log);
  }

  /**
   * Brings the documents whose file changed since `start` in line with the
   * disk. `what` names the change in the question about unsaved edits; that
   * question is not awaited unless `waitForAnswer` (tests).
   */
  async sync(what: 'restore' | 'undo', o: { waitForAnswer?: boolean } = {}): Promise<EditorSyncResult> {
    const result: EditorSyncResult = { reverted: [], closed: [], modified: [] };
    const changed: vscode.TextDocument[] = [];
    for (const [doc, hash] of this.before) {
      if (!doc.isClosed && (await diskHash(doc.uri.fsPath)) !== hash) changed.push(doc);
    }
    const modified = changed.filter((d) => d.isDirty);
    for (const doc of changed.filter((d) => !d.isDirty)) {
      if (await this.loadFromDisk(doc)) result.reverted.push(doc.uri.fsPath);
      else result.closed.push(doc.uri.fsPath);
    }
    result.modified = modified.map((d) => d.uri.fsPath);
    if (modified.length > 0) {
      const answered = this.ask(what, modified);
      if (o.waitForAnswer) await answered;
      else void answered;
    }
    return result;
  }

  private async ask(what: 'restore' | 'undo', docs: vscode.TextDocument[]): Promise<void> {
    const keep = vscode.l10n.t('Keep My Edits');
    const load = vscode.l10n.t('Load from Disk');
    const names = docs.map((d) => vscode.workspace.asRelativePath(d.uri, true)).join(', ');
    const message =
      what === 'restore'
        ? vscode.l10n.t('The restore changed files that have unsaved edits in the editor: {0}. Keep your edits (saving them replaces the restored files), or load the files from disk?', names)
        : vscode.l10n.t('The undo changed files that have unsaved edits in the editor: {0}. Keep your edits (saving them replaces the files on disk), or load the files from disk?', names);
    const choice = await this.prompts.showWarningMessage(message, {}, keep, load);
    if (choice !== load) return;
    for (const doc of docs) if (!doc.isClosed) await this.loadFromDisk(doc);
  }

  /**
   * Makes one document show its file: a revert (which reads the file whatever
   * its mtime), in the editor group it is open in; a document whose file is
   * gone is closed. Resolves false when it closed it.
   */
  private async loadFromDisk(doc: vscode.TextDocument): Promise<boolean> {
    if ((await diskHash(doc.uri.fsPath)) === undefined) {
      if (doc.isDirty) await this.revertIn(doc, tabsOf(doc.uri)[0]);
      const tabs = tabsOf(doc.uri);
      if (tabs.length > 0) await vscode.window.tabGroups.close(tabs);
      this.log.info(`${doc.uri.fsPath}: gone from disk, its editor closed`);
      return false;
    }
    // The revert acts on the active editor; should another editor have taken its place meanwhile, try again.
    for (let attempt = 1; attempt <= 3; attempt++) {
      await this.revertIn(doc, tabsOf(doc.uri)[0]);
      const disk = await fs.promises.readFile(doc.uri.fsPath, 'utf8').catch(() => undefined);
      if (disk === undefined || (!doc.isDirty && disk.replace(/^\uFEFF/, '') === doc.getText())) {
        this.log.info(`${doc.uri.fsPath}: editor reloaded from disk`);
        return true;
      }
    }
    this.log.warn(`${doc.uri.fsPath}: the editor still differs from the disk after a revert`);
    return true;
  }

  /** Reverts `doc` through its editor: the revert command acts on the active editor, so show it (where it is open), then give focus back. */
  private async revertIn(doc: vscode.TextDocument, tab: vscode.Tab | undefined): Promise<void> {
    const previous = vscode.window.activeTextEditor;
    await vscode.window.showTextDocument(doc, { viewColumn: tab?.group.viewColumn ?? vscode.ViewColumn.Active, preserveFocus: false, preview: tab ? tab.isPreview : true });
    await vscode.commands.executeCommand('workbench.action.files.revert');
    if (!tab) await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    if (previous && previous.document !== doc && !previous.document.isClosed) {
      await vscode.window.showTextDocument(previous.document, { viewColumn: previous.viewColumn, preserveFocus: false });
    }
  }
}
