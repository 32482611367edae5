import * as vscode from 'vscode';

/**
 * Every question the extension asks the user goes through one of these, so
 * integration tests can answer them (and record the messages shown) by
 * replacing the functions on the object the extension hands out in Test mode.
 * Messages always take an options object, which keeps fakes simple.
 */
export interface Prompts {
  quickPick<T extends vscode.QuickPickItem>(items: readonly T[], options: vscode.QuickPickOptions): Thenable<T | undefined>;
  quickPickMany<T extends vscode.QuickPickItem>(items: readonly T[], options: vscode.QuickPickOptions): Thenable<T[] | undefined>;
  showInformationMessage(message: string, options: vscode.MessageOptions, ...items: string[]): Thenable<string | undefined>;
  showWarningMessage(message: string, options: vscode.MessageOptions, ...items: string[]): Thenable<string | undefined>;
  showErrorMessage(message: string, options: vscode.MessageOptions, ...items: string[]): Thenable<string | undefined>;
  showOpenDialog(options: vscode.OpenDialogOptions): Thenable<vscode.Uri[] | undefined>;
  showSaveDialog(options: vscode.SaveDialogOptions): Thenable<vscode.Uri | undefined>;
  /** A line of text (a path to find; the encryption passphrase with `password: true`). */
  inputBox(options: vscode.InputBoxOptions): Thenable<string | undefined>;
}

/** The real prompts: straight to `vscode.window`. */
export function createPrompts(): Prompts {
  return {
    quickPick: (items, options) => vscode.window.showQuickPick(items, { ...options, canPickMany: false }),
    // A choice of several items is deliberate work: it must not vanish when focus moves.
    quickPickMany: (items, options) => vscode.window.showQuickPick(items, { ignoreFocusOut: true, ...options, canPickMany: true }),
    showInformationMessage: (message, options, ...items) => vscode.window.showInformationMessage(message, options, ...items),
    showWarningMessage: (message, options, ...items) => vscode.window.showWarningMessage(message, options, ...items),
    showErrorMessage: (message, options, ...items) => vscode.window.showErrorMessage(message, options, ...items),
    showOpenDialog: (options) => vscode.window.showOpenDialog(options),
    showSaveDialog: (options) => vscode.window.showSaveDialog(options),
    inputBox: (options) => vscode.window.showInputBox(options),
  };
}
