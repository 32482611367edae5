import * as vscode from 'vscode';
import type { PrunePlan, PruneResult } from '../../core/engine';
import { readRetention } from '../host/config';
import { withEngineProgress } from '../ui/engineProgress';
import { formatAge, formatBytes, formatCount, formatDateTime, kindLabel } from '../ui/format';
import type { Services } from './services';

interface PruneItem extends vscode.QuickPickItem {
  prune?: boolean;
}

/**
 * "Prune...": plans what `s3Backup.retention.*` forgets of every machine's
 * backups, shows the plan (the backups that go, per machine, and what it
 * frees), and deletes only after the user picks Delete. Pinned backups stay.
 */
export async function prune(s: Services): Promise<PruneResult | undefined> {
  const policy = readRetention();
  const engine = await s.engineHost.getEngine();
  const plan = await withEngineProgress(vscode.l10n.t('Planning the prune'), [], ({ signal }) => engine.planPrune(policy, { signal }));
  const log = s.log.for('prune');
  log.info(`plan: ${plan.forget.length} backups go, ${plan.kept} kept (${plan.pinned} pinned), ${plan.freedBytes} bytes freed`);
  for (const k of plan.unreadable) log.warn(`the manifest of ${k} cannot be read: it is kept, and no pack is freed while it is there`);
  if (plan.forget.length === 0) {
    const off = Object.values(policy).every((n) => n === 0);
    void s.prompts.showInformationMessage(
      off
        ? vscode.l10n.t('Retention is off (every s3Backup.retention setting is 0): nothing to prune.')
        : vscode.l10n.t('Nothing to prune: the retention settings keep all {0} backups.', formatCount(plan.kept)),
      {},
    );
    return undefined;
  }
  // Not a modal: Cancel is the first and active row, so Enter or Escape deletes nothing (as Delete Backup).
  const choice = await s.prompts.quickPick(planItems(s, plan), { title: planTitle(plan), placeHolder: vscode.l10n.t('Pick Delete to prune; the backups listed below go.'), matchOnDescription: true });
  if (!choice?.prune) return undefined;

  let result: PruneResult;
  try {
    result = await withEngineProgress(vscode.l10n.t('Pruning {0} backups', formatCount(plan.forget.length)), ['delete'], (call) => engine.prune(plan, call));
  } finally {
    await s.tree.refresh();
  }
  for (const k of result.deleted) log.info(`pruned ${k}`);
  const done = result.deleted.length === 1 ? vscode.l10n.t('Pruned 1 backup.') : vscode.l10n.t('Pruned {0} backups.', formatCount(result.deleted.length));
  const parts = [done, vscode.l10n.t('{0} freed in the bucket.', formatBytes(result.freedBytes))];
  if (result.skipped.length > 0) parts.push(vscode.l10n.t('{0} kept because they were pinned or changed since the plan.', formatCount(result.skipped.length)));
  if (result.packsPending) parts.push(vscode.l10n.t('The rest of the space is freed at the next clean-up (another machine is using the bucket right now).'));
  void s.prompts.showInformationMessage(parts.join(' '), {});
  return result;
}

function planTitle(plan: PrunePlan): string {
  const machines = new Set(plan.forget.map((f) => f.host)).size;
  return machines === 1
    ? vscode.l10n.t('Prune: {0} backups go, {1} freed', formatCount(plan.forget.length), formatBytes(plan.freedBytes))
    : vscode.l10n.t('Prune: {0} backups of {1} machines go, {2} freed', formatCount(plan.forget.length), formatCount(machines), formatBytes(plan.freedBytes));
}

function planItems(s: Services, plan: PrunePlan): PruneItem[] {
  const items: PruneItem[] = [
    { label: vscode.l10n.t('Cancel'), prune: false },
    {
      label: `$(trash) ${vscode.l10n.t('Delete {0} Backups', formatCount(plan.forget.length))}`,
      detail: vscode.l10n.t('{0} backups stay ({1} pinned). Deleted backups cannot be brought back.', formatCount(plan.kept), formatCount(plan.pinned)),
      prune: true,
    },
  ];
  for (const h of plan.byHost) {
    const going = plan.forget.filter((f) => f.host === h.host);
    if (going.length === 0) continue;
    const name = s.engineHost.isThisMachine(h.host) ? vscode.l10n.t('{0} (this machine)', h.host) : h.host;
    items.push({ label: vscode.l10n.t('{0}: {1} go, {2} freed', name, formatCount(going.length), formatBytes(h.freedBytes)), kind: vscode.QuickPickItemKind.Separator });
    for (const f of going) items.push({ label: `$(circle-slash) ${formatDateTime(f.time)}`, description: `${kindLabel(f.kind)} · ${formatAge(f.time)}`, detail: f.folders?.join(', ') });
  }
  return items;
}
