// The status bar entry (left: it is about this workspace; theme colours only,
// per VS Code's status bar guidelines): the age of the last backup, a
// spinner while one runs, a warning when the last one failed. A click opens
// the S3 Backup view. Hidden until a connection is configured.
import * as vscode from 'vscode';
import type { Services } from '../commands/services';
import { VIEW_CONTAINER_ID } from '../tree/backupsProvider';
import { formatAge, formatCount, formatShortDateTime } from '../ui/format';
import type { AutoBackup, AutoStatus } from './autoBackup';
import { modeLabel } from './autoSettings';
import type { Clock } from './clock';

export const STATUS_ITEM_ID = 's3Backup.status';
// The age is shown in minutes at finest: refreshing it once a minute is enough.
const TICK_MS = 60_000;

export class BackupStatusItem implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;
  private readonly subs: vscode.Disposable[] = [];
  private tick: vscode.Disposable | undefined;
  private generation = 0;
  private disposed = false;

  constructor(
    private readonly s: Services,
    private readonly auto: AutoBackup,
    private readonly clock: Clock,
  ) {
    this.item = vscode.window.createStatusBarItem(STATUS_ITEM_ID, vscode.StatusBarAlignment.Left, 0);
    this.item.name = vscode.l10n.t('S3 Backup');
    this.item.command = { title: vscode.l10n.t('Show the S3 Backup view'), command: `workbench.view.extension.${VIEW_CONTAINER_ID}` };
    this.subs.push(this.item, auto.onDidChange(() => void this.update()), s.engineHost.onDidChange(() => void this.update()));
    void this.update();
  }

  dispose(): void {
    this.disposed = true;
    this.tick?.dispose();
    for (const d of this.subs) d.dispose();
  }

  /** Redraws from the shared state; the newest call wins. */
  async update(): Promise<void> {
    const gen = ++this.generation;
    const configured = await this.s.engineHost.isConfigured().catch(() => false);
    const status = configured ? await this.auto.status().catch(() => undefined) : undefined;
    if (gen !== this.generation || this.disposed) return;
    this.tick?.dispose();
    if (!status) {
      this.item.hide();
      return;
    }
    const view = describeStatus(status, this.clock.now());
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.accessibilityInformation = { label: view.tooltip.split('\n')[0] };
    this.item.show();
    this.tick = this.clock.setTimer(() => void this.update(), TICK_MS);
  }
}

/** The entry's text and tooltip for a status; pure in its inputs (besides the language). */
export function describeStatus(st: AutoStatus, now: number): { text: string; tooltip: string } {
  const { lastSuccess, lastFailure, lastUnchanged } = st.results;
  const lines: string[] = [];
  let text: string;
  if (st.running) {
    text = st.progress ? `$(sync~spin) ${formatCount(st.progress.done)}/${formatCount(st.progress.total)}` : '$(sync~spin)';
    lines.push(vscode.l10n.t('S3 Backup: backing up…'));
  } else if (lastFailure && (!lastSuccess || lastFailure.time > lastSuccess.time)) {
    text = lastSuccess ? `$(warning) ${formatAge(new Date(lastSuccess.time), now, 'short')}` : '$(warning)';
    lines.push(vscode.l10n.t('S3 Backup: the last backup failed: {0}', lastFailure.message ?? ''));
    if (lastSuccess) lines.push(vscode.l10n.t('Last successful backup: {0}', formatShortDateTime(new Date(lastSuccess.time), new Date(now))));
  } else if (lastSuccess) {
    text = `$(cloud) ${formatAge(new Date(lastSuccess.time), now, 'short')}`;
    lines.push(vscode.l10n.t('S3 Backup: last backup {0} ({1})', formatAge(new Date(lastSuccess.time), now), formatShortDateTime(new Date(lastSuccess.time), new Date(now))));
  } else {
    text = '$(cloud)';
    lines.push(vscode.l10n.t('S3 Backup: no backup from this window yet'));
  }
  if (lastUnchanged && (!lastSuccess || lastUnchanged.time > lastSuccess.time)) {
    lines.push(vscode.l10n.t('Nothing changed since the last backup (checked {0}): no new backup.', formatAge(new Date(lastUnchanged.time), now)));
  }
  if (st.settings.mode === 'off') lines.push(vscode.l10n.t('Automatic backups: off'));
  else lines.push(vscode.l10n.t('Automatic backups: {0}', modeLabel(st.settings)));
  if (st.next !== undefined && !st.running) lines.push(vscode.l10n.t('Next check: {0}', formatShortDateTime(new Date(Math.max(st.next, now)), new Date(now))));
  lines.push(vscode.l10n.t('Click to show the S3 Backup view.'));
  return { text, tooltip: lines.join('\n') };
}
