import * as vscode from 'vscode';
import { readConfig, writeConnectionSettings } from '../host/config';
import type { Services } from './services';
import { SettingsPanel, type SettingsDeps } from '../settings/settingsPanel';

/** Opens the settings panel (one instance; revealed when already open) and returns it. */
export async function openSettings(s: Services): Promise<SettingsPanel> {
  // The page shows the stored keys: let npm start's import finish first.
  await s.engineHost.whenReady();
  return SettingsPanel.show(s.context, settingsDeps(s));
}

/** What the settings panel needs, mapped onto the extension's services. */
function settingsDeps(s: Services): SettingsDeps {
  return {
    readConfig: () => readConfig(),
    saveConfig: (values) => writeConnectionSettings(values),
    secrets: s.secrets,
    testConnection: (profile, signal) => s.engineHost.engineFor(profile).then((e) => e.testConnection({ signal })),
    backUpNow: () => vscode.commands.executeCommand('s3Backup.backUpWorkspace'),
    setPassphrase: () => vscode.commands.executeCommand('s3Backup.setPassphrase'),
    hasPassphrase: () => s.engineHost.hasPassphrase(),
    revealTree: () => vscode.commands.executeCommand(`s3Backup.backups.focus`),
    logger: s.log,
    onDidChange: s.secrets.onDidChange,
    exposure: s.exposure,
  };
}
