import type * as vscode from 'vscode';
import { registerCommand } from './registerCommand';
import type { Services } from './services';
import { backUpAppData, backUpEverything, type AppDataTestOptions } from './backUpAppData';
import { restoreAppData } from './restoreAppData';

export { chooseRestoreParts, restoreAppDataFetched } from './restoreAppData';

/** The app data commands, each through the extension's one error-handling wrapper. */
export function registerAppDataCommands(s: Services): vscode.Disposable[] {
  const opts = (o: unknown): AppDataTestOptions | undefined => (o && typeof o === 'object' ? (o as AppDataTestOptions) : undefined);
  return [
    registerCommand(s, 's3Backup.backUpAppData', (o?: unknown) => backUpAppData(s, opts(o))),
    registerCommand(s, 's3Backup.backUpEverything', (o?: unknown) => backUpEverything(s, opts(o))),
    registerCommand(s, 's3Backup.restoreAppData', (node?: unknown, o?: unknown) => restoreAppData(s, node, opts(o))),
  ];
}
