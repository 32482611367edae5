import * as vscode from 'vscode';
import { readRestoreRetention } from '../host/config';
import { EditorWatch } from '../ui/editorSync';
import { folderName, formatCount, formatDateTime, stepTitle } from '../ui/format';
import { backupFromArgs } from './pickBackup';
import { withEngineProgress } from '../ui/engineProgress';
import { runGuarded } from './registerCommand';
import { runUndo, updateUndoContext } from './undoLastRestore';
import { APPDATA_PREFIX, missingExtensions, type AppDataCategory, type ExtensionEntry } from '../../core/appData/categories';
import type { AppDataPlan, AppDataRestoreChoice } from '../../core/appData/planAppDataRestore';
import type { AppDataContent } from '../../core/appData/readAppData';
import type { BackupEngine, FetchedBackup } from '../../core/engine';
import type { BackupRef } from '../../core/format/backupKeys';
import type { Manifest } from '../../core/format/manifest';
import type { RestoreResult } from '../../core/restore/applyRestore';
import type { Services } from './services';
import { fetchForRestore } from './fetchBackup';
import { installedExtensions, readAppDataConfig, userDirFor, type AppDataTestOptions } from '../host/userData';
import { printable } from '../../core/util/printable';

export interface AppDataRestoreOutcome extends RestoreResult {
  plan?: AppDataPlan;
  /** Extensions of the backup missing here, and those the user chose to install. */
  missingExtensions: ExtensionEntry[];
  installed: string[];
}

interface PartItem extends vscode.QuickPickItem {
  workspace: boolean;
  appData: boolean;
}

/**
 * For a backup holding app data: which parts to restore. An `appdata`
 * backup needs no question; a `full` one asks workspace, app data or both.
 */
export async function chooseRestoreParts(s: Services, manifest: Manifest): Promise<{ workspace: boolean; appData: boolean } | undefined> {
  const hasWorkspace = manifest.sources.some((p) => p.startsWith('workspace/'));
  const hasAppData = manifest.sources.includes('appdata');
  if (!hasWorkspace || !hasAppData) return { workspace: hasWorkspace, appData: hasAppData };
  const items: PartItem[] = [
    { label: vscode.l10n.t('Workspace and App Data'), detail: vscode.l10n.t('The workspace folders, then the VS Code set-up'), workspace: true, appData: true },
    { label: vscode.l10n.t('Workspace Only'), detail: vscode.l10n.t('The workspace folders'), workspace: true, appData: false },
    { label: vscode.l10n.t('App Data Only'), detail: vscode.l10n.t('Settings, keybindings, snippets, tasks, profiles and the extension list'), workspace: false, appData: true },
  ];
  const picked = await s.prompts.quickPick(items, { title: vscode.l10n.t('Restore a Full Backup'), placeHolder: vscode.l10n.t('Choose what to restore') });
  return picked ? { workspace: picked.workspace, appData: picked.appData } : undefined;
}

/** The "Restore App Data" command: a backup with app data, then `restoreAppDataFetched`. */
export async function restoreAppData(s: Services, arg?: unknown, o?: AppDataTestOptions): Promise<AppDataRestoreOutcome | undefined> {
  const ref = await backupFromArgs(s, arg, vscode.l10n.t('Choose a backup with app data to restore'), {
    kinds: ['appdata', 'full'],
    noneMessage: vscode.l10n.t('There are no backups with app data in the bucket yet. Make one with "Back Up App Data" or "Back Up Everything".'),
  });
  if (!ref) return undefined;
  if (ref.kind === 'workspace') {
    void s.prompts.showInformationMessage(vscode.l10n.t('This backup holds no app data to restore.'), {});
    return undefined;
  }
  const engine = await s.engineHost.getEngine();
  const fetched = await fetchForRestore(s, engine, ref);
  try {
    s.tree.noteFiles(ref.key, fetched.manifest.totals.files);
    return await restoreAppDataFetched(s, engine, fetched, ref, o);
  } finally {
    await fetched.dispose();
  }
}

interface CategoryItem extends vscode.QuickPickItem {
  category: AppDataCategory;
}

interface ModeItem<M> extends vscode.QuickPickItem {
  mode: M;
}

/**
 * Restores the app data of a fetched (verified) backup: per-category pick
 * with a preview, settings merged or replaced, keybindings and snippets
 * added or replaced, files written atomically with a safety copy (Undo),
 * missing extensions offered for install, then Reload Window.
 */
export async function restoreAppDataFetched(
  s: Services,
  engine: BackupEngine,
  fetched: Pick<FetchedBackup, 'archiveFile' | 'manifest'>,
  ref: BackupRef,
  o?: AppDataTestOptions,
): Promise<AppDataRestoreOutcome | undefined> {
  const log = s.log.for('appdata');
  const userDir = userDirFor(s.context, o);
  const { ignoredSettings } = readAppDataConfig();
  // Format 2 reads the app data from its packs: over the network, so cancellable and shown.
  const content = await withEngineProgress(vscode.l10n.t('Reading the app data of the backup from {0}', formatDateTime(ref.time)), ['download'], (call) =>
    engine.readAppData(fetched, call),
  );
  if (content.categories.length === 0) {
    void s.prompts.showInformationMessage(vscode.l10n.t('This backup holds no app data to restore.'), {});
    return undefined;
  }
  const installedIds = installedExtensions().map((e) => e.id);
  const missing = missingExtensions(content.extensions, installedIds);

  // A preview with the gentlest modes, to describe each category before the user picks.
  const preview = await engine.planAppData(fetched, userDir, {
    settings: 'merge',
    keybindings: 'add',
    snippets: 'add',
    tasks: 'replace',
    profiles: 'replace',
  }, { ignoredSettings, content });
  // Only what would change here starts checked.
  const items: CategoryItem[] = content.categories.map((category) => ({
    category,
    label: categoryLabel(category),
    description: categoryPreview(category, preview, content, missing),
    picked: categoryChanges(category, preview, missing),
  }));
  const title = vscode.l10n.t('Restore App Data from {0}', formatDateTime(ref.time));
  // Every picker of the flow says where it is: this one, one per question, the extensions.
  const questionsFor = (chosen: ReadonlySet<AppDataCategory>): AppDataCategory[] =>
    (['settings', 'keybindings', 'snippets'] as const).filter((c) => chosen.has(c) && hasSomethingToMerge(c, preview));
  const totalFor = (chosen: ReadonlySet<AppDataCategory>): number =>
    1 + questionsFor(chosen).length + (chosen.has('extensions') && missing.length > 0 ? 1 : 0);
  const prechecked = new Set(items.filter((i) => i.picked).map((i) => i.category));
  const picked = await s.prompts.quickPickMany(items, {
    title: stepTitle(title, 1, totalFor(prechecked)),
    placeHolder: vscode.l10n.t('Choose what to restore on this machine'),
  });
  if (!picked || picked.length === 0) return undefined;
  const chosen = new Set(picked.map((p) => p.category));
  const total = totalFor(chosen);
  const asked = questionsFor(chosen);
  const stepOf = (c: AppDataCategory): number => 2 + asked.indexOf(c);

  // Nothing here to merge with (no such file, or nothing of its own): the gentle mode, without asking.
  const choice: AppDataRestoreChoice = { settings: 'merge', keybindings: 'add', snippets: 'add' };
  if (!chosen.has('settings')) delete choice.settings;
  if (!chosen.has('keybindings')) delete choice.keybindings;
  if (!chosen.has('snippets')) delete choice.snippets;
  if (asked.includes('settings')) {
    const mode = await s.prompts.quickPick<ModeItem<'merge' | 'replace'>>(
      [
        { mode: 'merge', label: vscode.l10n.t('Merge'), detail: vscode.l10n.t("The backup's settings win; settings and comments only this machine has are kept.") },
        { mode: 'replace', label: vscode.l10n.t('Replace'), detail: vscode.l10n.t("This machine's settings.json becomes the backup's.") },
      ],
      { title: stepTitle(vscode.l10n.t('Settings'), stepOf('settings'), total), placeHolder: vscode.l10n.t('Machine-specific settings (s3Backup.appData.ignoredSettings) always stay as they are here') },
    );
    if (!mode) return undefined;
    choice.settings = mode.mode;
  }
  for (const category of ['keybindings', 'snippets'] as const) {
    if (!asked.includes(category)) continue;
    const mode = await s.prompts.quickPick<ModeItem<'add' | 'replace'>>(
      [
        { mode: 'add', label: vscode.l10n.t('Add'), detail: category === 'keybindings' ? vscode.l10n.t('Add the keybindings missing here; keep all of this machine\'s.') : vscode.l10n.t('Add the snippets missing here; keep all of this machine\'s.') },
        { mode: 'replace', label: vscode.l10n.t('Replace'), detail: category === 'keybindings' ? vscode.l10n.t("This machine's keybindings.json becomes the backup's.") : vscode.l10n.t("The backup's snippet files replace those of the same name.") },
      ],
      { title: stepTitle(categoryLabel(category), stepOf(category), total) },
    );
    if (!mode) return undefined;
    choice[category] = mode.mode;
  }
  if (chosen.has('tasks')) choice.tasks = 'replace';
  if (chosen.has('profiles')) choice.profiles = 'replace';

  const plan = await engine.planAppData(fetched, userDir, choice, { ignoredSettings, content });
  let result: RestoreResult = { written: 0 };
  const c = plan.counts;
  if (c.create + c.overwrite > 0) {
    if (!(await confirmPlan(s, plan, ref))) return undefined;
    const watch = await EditorWatch.start([userDir], s.prompts, log);
    result = await withEngineProgress(vscode.l10n.t('Restoring the app data'), ['write'], (call) => engine.applyAppData(plan, { ...call, retention: readRestoreRetention() }));
    log.info(`${ref.key}: ${result.written} app data files written into ${userDir}${result.snapshotDir ? `, snapshot ${result.snapshotDir}` : ''}`);
    await watch.sync('restore');
    await s.auto?.recordRestore([userDir]).catch(() => undefined);
    await updateUndoContext(s).catch(() => undefined);
  }

  const installed = chosen.has('extensions') ? await offerExtensions(s, missing, stepTitle(vscode.l10n.t('Install Extensions'), total, total)) : [];
  finish(s, result, plan, installed);
  return { ...result, plan, missingExtensions: chosen.has('extensions') ? missing : [], installed };
}

function categoryLabel(c: AppDataCategory): string {
  switch (c) {
    case 'settings':
      return vscode.l10n.t('Settings');
    case 'keybindings':
      return vscode.l10n.t('Keybindings');
    case 'snippets':
      return vscode.l10n.t('Snippets');
    case 'tasks':
      return vscode.l10n.t('User Tasks');
    case 'profiles':
      return vscode.l10n.t('Profiles');
    case 'extensions':
      return vscode.l10n.t('Extensions');
  }
}

/** Whether restoring `c` would change anything here (what starts checked in the pick). */
function categoryChanges(c: AppDataCategory, plan: AppDataPlan, missing: ExtensionEntry[]): boolean {
  if (c === 'extensions') return missing.length > 0;
  return plan.changes.some((x) => x.category === c && x.action !== 'unchanged');
}

/**
 * Whether merging and replacing `c` could differ: only when this machine has
 * such a file with something of its own (settings only it has, for settings).
 */
function hasSomethingToMerge(c: 'settings' | 'keybindings' | 'snippets', plan: AppDataPlan): boolean {
  const here = plan.changes.filter((x) => x.category === c && x.action !== 'create');
  if (c === 'settings') return here.some((x) => (x.settings?.localOnly ?? 0) > 0);
  return here.length > 0;
}

function categoryPreview(c: AppDataCategory, plan: AppDataPlan, content: AppDataContent, missing: ExtensionEntry[]): string {
  if (c === 'extensions') {
    const total = content.extensions.length;
    if (total === 1) return missing.length === 0 ? vscode.l10n.t('1 extension, installed here') : vscode.l10n.t('1 extension, missing here');
    return missing.length === 0
      ? vscode.l10n.t('{0} extensions, all installed here', formatCount(total))
      : vscode.l10n.t('{0} extensions, {1} missing here', formatCount(total), formatCount(missing.length));
  }
  if (c === 'profiles') {
    const files = plan.changes.filter((x) => x.category === c).length;
    return content.profiles.map((p) => p.name).join(', ') || (files === 1 ? vscode.l10n.t('1 file') : vscode.l10n.t('{0} files', formatCount(files)));
  }
  const changes = plan.changes.filter((x) => x.category === c);
  if (c === 'settings') {
    const sm = changes[0]?.settings;
    if (!sm) return '';
    return vscode.l10n.t('{0} new, {1} changed, {2} only here', formatCount(sm.added), formatCount(sm.changed), formatCount(sm.localOnly));
  }
  const changed = changes.filter((x) => x.action !== 'unchanged').length;
  if (changed === 0) return vscode.l10n.t('same as here');
  if (changes.length === 1) return vscode.l10n.t('differs from here');
  return changed === 1
    ? vscode.l10n.t('1 of {0} files differs', formatCount(changes.length))
    : vscode.l10n.t('{0} of {1} files differ', formatCount(changed), formatCount(changes.length));
}

/** Asks before writing; "Show Changes" lists the files. */
async function confirmPlan(s: Services, plan: AppDataPlan, ref: BackupRef): Promise<boolean> {
  const restore = vscode.l10n.t('Restore');
  const show = vscode.l10n.t('Show Changes');
  for (;;) {
    const c = plan.counts;
    const choice = await s.prompts.showWarningMessage(
      vscode.l10n.t('Restore the app data from {0} ({1}) into {2}?', formatDateTime(ref.time), ref.host, folderName(plan.userDir)),
      {
        modal: true,
        detail: [
          vscode.l10n.t('Files: {0} new, {1} changed, {2} unchanged. Changed files are saved first, so the restore can be undone.', formatCount(c.create), formatCount(c.overwrite), formatCount(c.unchanged)),
          ...leftOutSentence(plan),
        ].join(' ') + `\n\n${plan.userDir}`,
      },
      restore,
      show,
    );
    if (choice === restore) return true;
    if (choice !== show) return false;
    const label: Record<string, string> = { create: vscode.l10n.t('New'), overwrite: vscode.l10n.t('Changed'), unchanged: vscode.l10n.t('Unchanged') };
    await s.prompts.quickPick(
      plan.changes.map((x) => ({
        label: x.relPath,
        description: label[x.action],
        detail: x.settings
          ? vscode.l10n.t('{0} new, {1} changed, {2} only here', formatCount(x.settings.added), formatCount(x.settings.changed), formatCount(x.settings.localOnly))
          : x.added !== undefined
            ? vscode.l10n.t('{0} added', formatCount(x.added))
            : x.targetPath,
      })),
      { title: vscode.l10n.t('App data in the restore'), placeHolder: vscode.l10n.t('Press Escape to go back') },
    );
  }
}

/** Lists the missing extensions and installs the ones the user picks; never uninstalls anything. */
async function offerExtensions(s: Services, missing: ExtensionEntry[], title: string): Promise<string[]> {
  if (missing.length === 0) return [];
  const picked = await s.prompts.quickPickMany(
    missing.map((e) => ({
      label: e.id,
      description: e.enabled ? e.version : vscode.l10n.t('{0} (disabled on the other machine)', e.version),
      picked: e.enabled,
      id: e.id,
    })),
    { title, placeHolder: vscode.l10n.t('These extensions of the backup are not installed here. Choose those to install.') },
  );
  if (!picked || picked.length === 0) return [];
  const done: string[] = [];
  const failed: string[] = [];
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Installing extensions'), cancellable: true }, async (progress, token) => {
    for (const p of picked) {
      if (token.isCancellationRequested) break;
      progress.report({ message: p.id, increment: 100 / picked.length });
      try {
        await vscode.commands.executeCommand('workbench.extensions.installExtension', p.id);
        done.push(p.id);
      } catch (e) {
        failed.push(p.id);
        s.log.for('appdata').warn(`installing ${p.id} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  });
  if (failed.length > 0) {
    void s.prompts.showWarningMessage(vscode.l10n.t('These extensions could not be installed: {0}. The log has the details.', failed.join(', ')), {});
  }
  return done;
}

/**
 * The settings the backup left out because they look like secrets, for the
 * settings files this restore covers: none, or one sentence naming them.
 */
function leftOutSentence(plan: AppDataPlan): string[] {
  const names = Object.entries(plan.leftOutSettings)
    .filter(([rel]) => plan.changes.some((c) => c.relPath === rel))
    .flatMap(([, list]) => list)
    .map(printable);
  if (names.length === 0) return [];
  const shown = names.length > 10 ? [...names.slice(0, 10), vscode.l10n.t('and {0} more', formatCount(names.length - 10))] : names;
  return [
    names.length === 1
      ? vscode.l10n.t('1 setting that looks like a secret is not in the backup and stays as it is here: {0}.', shown.join(', '))
      : vscode.l10n.t('{0} settings that look like secrets are not in the backup and stay as they are here: {1}.', formatCount(names.length), shown.join(', ')),
  ];
}

function finish(s: Services, result: RestoreResult, plan: AppDataPlan, installed: string[]): void {
  const undo = vscode.l10n.t('Undo');
  const reload = vscode.l10n.t('Reload Window');
  const message = [finishMessage(result.written, installed.length), ...leftOutSentence(plan)].join(' ');
  const actions = result.snapshotDir ? [reload, undo] : [reload];
  const snapshotDir = result.snapshotDir;
  void s.prompts.showInformationMessage(message, {}, ...actions).then((choice) => {
    if (choice === reload) {
      void vscode.commands.executeCommand('workbench.action.reloadWindow');
    } else if (choice === undo && snapshotDir) {
      void runGuarded(s, 'undoAppDataRestore', () => runUndo(s, { snapshotDir, folders: [plan.userDir], targets: { [APPDATA_PREFIX]: plan.userDir } }));
    }
  });
}

/** One sentence per thing done, each singular or plural by its own count. */
function finishMessage(written: number, installed: number): string {
  if (written === 0 && installed === 0) return vscode.l10n.t('The app data here already matches the backup.');
  const parts: string[] = [];
  if (written === 1) parts.push(vscode.l10n.t('Restored 1 app data file.'));
  else if (written > 1) parts.push(vscode.l10n.t('Restored {0} app data files.', formatCount(written)));
  if (installed === 1) parts.push(vscode.l10n.t('Installed 1 extension.'));
  else if (installed > 1) parts.push(vscode.l10n.t('Installed {0} extensions.', formatCount(installed)));
  parts.push(vscode.l10n.t('Reload the window to use them everywhere.'));
  return parts.join(' ');
}
