import * as vscode from 'vscode';
import { isCancelled } from '../../core/util/engineErrors';
import { describeError, errorText } from '../ui/errorFace';
import type { Services } from './services';

/**
 * Runs one piece of user-started work with the extension's single error
 * policy: log it; a cancel by the user is silent; any other error becomes one
 * plain sentence with a hint and a "Show Log" action (plus "Open Settings"
 * when the settings are the likely fix). Resolves `undefined` on error.
 */
export async function runGuarded<T>(s: Services, name: string, work: () => Promise<T>): Promise<T | undefined> {
  const log = s.log.for('command');
  const started = Date.now();
  log.info(`${name} started`);
  try {
    const result = await work().catch(async (e: unknown) => {
      // An encrypted repository (restore on another computer) or a wrong passphrase: asked once, kept, and the work runs again.
      // Safe to repeat: both codes come before anything is written.
      if (!(await askPassphrase(s, e))) throw e;
      log.info(`${name}: passphrase entered, running again`);
      return work();
    });
    log.info(`${name} finished in ${Date.now() - started} ms`);
    return result;
  } catch (e) {
    if (isCancelled(e) || e instanceof vscode.CancellationError || (e as { code?: unknown } | undefined)?.code === 'Cancelled') {
      log.info(`${name} cancelled after ${Date.now() - started} ms`);
      return undefined;
    }
    showError(s, e, name);
    return undefined;
  }
}

/**
 * After 'PassphraseNeeded' or 'WrongPassphrase': asks for the passphrase in a
 * password box and stores it in SecretStorage. Whether one was entered.
 */
export async function askPassphrase(s: Services, e: unknown): Promise<boolean> {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (code !== 'PassphraseNeeded' && code !== 'WrongPassphrase') return false;
  const passphrase = await s.prompts.inputBox({
    password: true,
    ignoreFocusOut: true,
    title: vscode.l10n.t('S3 Backup: Encryption Passphrase'),
    prompt:
      code === 'PassphraseNeeded'
        ? vscode.l10n.t('The backups in this bucket are encrypted. Enter the passphrase they were made with; it is kept in the keychain.')
        : vscode.l10n.t('The stored passphrase does not open these backups. Enter the passphrase they were made with.'),
  });
  if (!passphrase) return false;
  await s.engineHost.setPassphrase(passphrase);
  return true;
}

/** Logs an error in full and shows its translated face, without waiting for the user. */
export function showError(s: Services, e: unknown, name: string, prefix?: string): void {
  const face = describeError(e);
  const detail = e instanceof Error ? `${e.name}: ${e.message}${causeText(e)}` : String(e);
  s.log.for('command').error(`${name} failed: ${face.code}: ${detail}`);
  if (e instanceof Error && e.stack && face.code === 'Unknown') s.log.debug(e.stack);
  const showLog = vscode.l10n.t('Show Log');
  const openSettings = vscode.l10n.t('Open Settings');
  const actions = face.settings ? [openSettings, showLog] : [showLog];
  const text = prefix ? `${prefix} ${errorText(face)}` : errorText(face);
  void s.prompts.showErrorMessage(text, {}, ...actions).then((choice) => {
    if (choice === showLog) s.log.show();
    else if (choice === openSettings) void vscode.commands.executeCommand('s3Backup.openSettings');
  });
}

/** Registers a command whose handler runs under `runGuarded`; the handler's result is the command's. */
export function registerCommand(
  s: Services,
  id: string,
  handler: (...args: any[]) => Promise<unknown>,
): vscode.Disposable {
  return vscode.commands.registerCommand(id, (...args: unknown[]) => runGuarded(s, id, () => handler(...args)));
}

function causeText(e: Error): string {
  const c = (e as { cause?: unknown }).cause;
  if (!c || c === e) return '';
  return ` (cause: ${c instanceof Error ? `${c.name}: ${c.message}` : String(c)})`;
}
