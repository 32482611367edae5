import * as vscode from 'vscode';
import type { BackupRef } from '../../core/format/backupKeys';
import type { ManifestHeader } from '../../core/format/manifest';
import { formatAge, formatBytes, formatCount, formatDateTime, formatShortDateTime, kindLabel } from '../ui/format';

/** A machine that made backups; its children are its backups, newest first. */
export class MachineNode extends vscode.TreeItem {
  constructor(
    readonly host: string,
    /** All of this machine's backups, newest first. */
    readonly refs: readonly BackupRef[],
    readonly thisMachine: boolean,
  ) {
    super(host, thisMachine ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `machine:${host}`;
    this.description = thisMachine ? vscode.l10n.t('this machine') : undefined;
    this.iconPath = new vscode.ThemeIcon(thisMachine ? 'device-desktop' : 'vm');
    this.contextValue = thisMachine ? 'machine.this' : 'machine';
    this.tooltip =
      refs.length === 1 ? vscode.l10n.t('1 backup from {0}', host) : vscode.l10n.t('{0} backups from {1}', formatCount(refs.length), host);
  }
}

/**
 * One backup object. `id` is its S3 key, so the tree keeps selection and
 * reveal across refreshes. The row reads at the default side bar width: the
 * age first ("5 minutes ago"), then the kind and a short time; the size and
 * the rest are in the tooltip.
 */
export class BackupNode extends vscode.TreeItem {
  /** Whether the tooltip has the manifest's totals. */
  summarised = false;

  constructor(
    readonly ref: BackupRef,
    readonly parent: MachineNode,
    /** The file count, when a manifest has been seen (after a backup, details or restore). */
    files?: number,
  ) {
    super(formatAge(ref.time), vscode.TreeItemCollapsibleState.None);
    this.id = ref.key;
    this.iconPath = new vscode.ThemeIcon(ref.kind === 'appdata' ? 'settings-gear' : ref.kind === 'full' ? 'package' : 'archive');
    this.contextValue = 'backup';
    this.tooltip = backupTooltip(ref, parent.thisMachine, files);
    this.updateAge();
  }

  /** Format 2: the totals read from the manifest's first line (see BackupsProvider.resolveTreeItem). */
  summarise(header: Summary): void {
    this.summarised = true;
    this.encrypted = header.encrypted;
    this.tooltip = backupTooltip(this.ref, this.parent.thisMachine, header.totals.files, header);
    this.updateAge();
  }

  /** Known once the manifest's first bytes were read (on hover): encrypted with the bucket's key, or plain. */
  private encrypted: boolean | undefined;

  /** Renews the age in the label (the tree does it every minute). */
  updateAge(now = Date.now()): void {
    this.label = formatAge(this.ref.time, now);
    const lock = this.encrypted === undefined ? '' : ` · ${this.encrypted ? vscode.l10n.t('encrypted') : vscode.l10n.t('not encrypted')}`;
    this.description = `${kindLabel(this.ref.kind)} · ${formatShortDateTime(this.ref.time, new Date(now))}${lock}`;
    const size = this.ref.format === 1 ? `, ${formatBytes(this.ref.size)}` : '';
    this.accessibilityInformation = { label: `${formatDateTime(this.ref.time)}, ${this.label}, ${kindLabel(this.ref.kind)}${size}` };
  }
}

/** Shown after a page of backups of one machine. */
export class LoadMoreNode extends vscode.TreeItem {
  constructor(
    readonly parent: MachineNode,
    shown: number,
  ) {
    super(vscode.l10n.t('Load More…'), vscode.TreeItemCollapsibleState.None);
    this.id = `more:${parent.host}`;
    this.description = vscode.l10n.t('{0} of {1}', formatCount(shown), formatCount(parent.refs.length));
    this.iconPath = new vscode.ThemeIcon('more');
    this.contextValue = 'loadMore';
    this.command = { command: 's3Backup.loadMore', title: vscode.l10n.t('Load More…'), arguments: [parent.host] };
  }
}

export type MessageKind = 'loading' | 'error' | 'empty' | 'action';

/** A line of text in place of backups: loading, an error with what to do next, or a nudge. */
export class MessageNode extends vscode.TreeItem {
  constructor(
    readonly kind: MessageKind,
    label: string,
    o: { tooltip?: string; icon?: string; command?: vscode.Command; id?: string } = {},
  ) {
    super(label, vscode.TreeItemCollapsibleState.None);
    this.id = o.id ?? `message:${kind}`;
    this.tooltip = o.tooltip;
    this.contextValue = `message.${kind}`;
    this.command = o.command;
    const icon = o.icon ?? (kind === 'loading' ? 'loading~spin' : kind === 'error' ? 'error' : 'info');
    this.iconPath = kind === 'error' ? new vscode.ThemeIcon(icon, new vscode.ThemeColor('errorForeground')) : new vscode.ThemeIcon(icon);
  }
}

export type BackupsNode = MachineNode | BackupNode | LoadMoreNode | MessageNode;

/** A manifest's header as `BackupEngine.summary` gives it; `encrypted` is absent from older engines' answers. */
type Summary = ManifestHeader & { encrypted?: boolean };

function backupTooltip(ref: BackupRef, thisMachine: boolean, files: number | undefined, header?: Summary): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**${escape(formatDateTime(ref.time))}** (${escape(formatAge(ref.time))})\n\n`);
  const rows: Array<[string, string]> = [
    [vscode.l10n.t('Key'), `\`${ref.key}\``],
    [vscode.l10n.t('Machine'), escape(thisMachine ? vscode.l10n.t('{0} (this machine)', ref.host) : ref.host)],
    [vscode.l10n.t('Kind'), escape(kindLabel(ref.kind))],
    // Format 2's object is the manifest alone: the size that means something is the files', once read.
    ...(ref.format === 1 || header ? [sizeRow(header?.totals.bytes ?? ref.size)] : []),
    [vscode.l10n.t('Created'), escape(formatDateTime(ref.time))],
  ];
  if (files !== undefined) rows.push([vscode.l10n.t('Files'), escape(formatCount(files))]);
  if (header?.encrypted !== undefined) {
    rows.push([vscode.l10n.t('Encryption'), escape(header.encrypted ? vscode.l10n.t('encrypted with the bucket\'s key') : vscode.l10n.t('none (a plain backup)'))]);
  }
  if (header?.added) rows.push([vscode.l10n.t('Uploaded by this backup'), escape(formatBytes(header.added.packBytes + ref.size))]);
  md.appendMarkdown(rows.map(([k, v]) => `${escape(k)}: ${v}`).join('  \n'));
  return md;
}

function sizeRow(bytes: number): [string, string] {
  return [vscode.l10n.t('Size'), escape(vscode.l10n.t('{0} ({1} bytes)', formatBytes(bytes), formatCount(bytes)))];
}

function escape(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!<>|~]/g, (c) => `\\${c}`);
}
