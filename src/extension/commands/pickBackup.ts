import * as vscode from 'vscode';
import { BackupNode, type BackupsNode } from '../tree/nodes';
import { formatAge, formatBytes, formatDateTime, kindLabel } from '../ui/format';
import type { BackupKind, BackupRef } from '../../core/format/backupKeys';
import type { Services } from './services';

export interface BackupPickItem extends vscode.QuickPickItem {
  ref?: BackupRef;
}

export interface PickBackupOptions {
  /** Offer only backups of these kinds. */
  kinds?: readonly BackupKind[];
  /** Shown instead of the pick when no backup qualifies. */
  noneMessage?: string;
}

/**
 * The backup a command acts on: the tree node it was run on, or, from the
 * command palette, one the user picks (this machine's first, newest first).
 * `undefined` when the user dismissed the pick.
 */
export async function backupFromArgs(s: Services, arg: unknown, placeHolder: string, o?: PickBackupOptions): Promise<BackupRef | undefined> {
  if (arg instanceof BackupNode) return arg.ref;
  return pickBackup(s, placeHolder, o);
}

/** The backups a multi-select command acts on: the selection when the clicked node is in it, else the clicked node. */
export function selectedRefs(arg: unknown, selection: unknown): BackupRef[] | undefined {
  const list = Array.isArray(selection) ? (selection as BackupsNode[]) : [];
  if (arg instanceof BackupNode) {
    const nodes = list.filter((n): n is BackupNode => n instanceof BackupNode);
    return nodes.some((n) => n.ref.key === arg.ref.key) ? nodes.map((n) => n.ref) : [arg.ref];
  }
  return undefined;
}

/** Asks which backup, with a separator per machine; says so and returns `undefined` when none qualifies. */
export async function pickBackup(s: Services, placeHolder: string, o?: PickBackupOptions): Promise<BackupRef | undefined> {
  const kinds = o?.kinds;
  const refs = (await s.tree.backups()).filter((r) => !kinds || kinds.includes(r.kind));
  if (refs.length === 0) {
    void s.prompts.showInformationMessage(o?.noneMessage ?? vscode.l10n.t('There are no backups in the bucket yet.'), {});
    return undefined;
  }
  const items: BackupPickItem[] = [];
  let host: string | undefined;
  for (const ref of refs) {
    if (ref.host !== host) {
      host = ref.host;
      const label = s.engineHost.isThisMachine(host) ? vscode.l10n.t('{0} (this machine)', host) : host;
      items.push({ label, kind: vscode.QuickPickItemKind.Separator });
    }
    items.push({
      label: formatDateTime(ref.time),
      description: `${formatBytes(ref.size)} · ${kindLabel(ref.kind)} · ${formatAge(ref.time)}`,
      detail: ref.key,
      ref,
    });
  }
  const picked = await s.prompts.quickPick(items, { placeHolder, matchOnDescription: true, matchOnDetail: true });
  return picked?.ref;
}
