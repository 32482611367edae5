import * as vscode from 'vscode';
import type { Services } from './services';

/**
 * Sets or changes the encryption passphrase: typed twice in password boxes
 * (never in the webview), kept in SecretStorage. When the bucket is already
 * encrypted with the stored passphrase, its key is rewrapped with the new one
 * (no backup is uploaded again). Whether a passphrase was stored.
 */
export async function setPassphrase(s: Services): Promise<boolean> {
  const title = vscode.l10n.t('S3 Backup: Encryption Passphrase');
  const first = await s.prompts.inputBox({
    title,
    password: true,
    ignoreFocusOut: true,
    prompt: vscode.l10n.t('New backups will be encrypted with this passphrase. If you lose it, the encrypted backups are lost: nobody can read them.'),
    validateInput: (v) => (v.length >= 8 ? undefined : vscode.l10n.t('Use at least 8 characters.')),
  });
  if (!first) return false;
  const again = await s.prompts.inputBox({ title, password: true, ignoreFocusOut: true, prompt: vscode.l10n.t('Enter the passphrase again.') });
  if (again !== first) {
    if (again !== undefined) void s.prompts.showWarningMessage(vscode.l10n.t('The two passphrases differ; nothing was changed.'), {});
    return false;
  }
  if (await s.engineHost.hasPassphrase()) {
    // The stored one may already encrypt the bucket: rewrap its key, so that old backups stay readable.
    const engine = await s.engineHost.getEngine();
    const { encrypted } = await engine.encryption();
    if (encrypted) await engine.changePassphrase(first);
  }
  await s.engineHost.setPassphrase(first);
  void s.prompts.showInformationMessage(vscode.l10n.t('The passphrase is stored in the keychain. Keep a copy somewhere safe: without it the encrypted backups cannot be read.'), {});
  return true;
}
