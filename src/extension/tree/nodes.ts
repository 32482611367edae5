import * as vscode from 'vscode';
import type { BackupRef } from '../../core/format/backupKeys';
import type { ManifestHeader } from '../../core/format/manifest';
import type { BrowseEntry } from '../../core/format/manifestIndex';
import { backupUri } from '../browse/backupUri';
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
    // Format 2 opens like a folder (its manifest alone); format 1 would mean downloading the whole archive.
    super(formatAge(ref.time), ref.format === 2 ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    this.id = ref.key;
    this.contextValue = ref.pinned ? 'backup.pinned' : 'backup';
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

  /** Renews the age in the label (the tree does it every minute); whether the row reads differently. */
  updateAge(now = Date.now()): boolean {
    const before = `${String(this.label)}\n${String(this.description)}`;
    // The icon marks a backup: a pin, else a lock when it is encrypted, else its kind (which the description names).
    // A word in the row would not fit the side bar's default width.
    this.iconPath = new vscode.ThemeIcon(this.ref.pinned ? 'pinned' : this.encrypted ? 'lock' : this.ref.kind === 'appdata' ? 'settings-gear' : this.ref.kind === 'full' ? 'package' : 'archive');
    this.label = formatAge(this.ref.time, now);
    this.description = `${kindLabel(this.ref.kind)} · ${formatShortDateTime(this.ref.time, new Date(now))}${this.ref.pinned ? ` · ${vscode.l10n.t('pinned')}` : ''}`;
    const size = this.ref.format === 1 ? `, ${formatBytes(this.ref.size)}` : '';
    const lock = this.encrypted === undefined ? '' : `, ${this.encrypted ? vscode.l10n.t('encrypted') : vscode.l10n.t('not encrypted')}`;
    this.accessibilityInformation = { label: `${formatDateTime(this.ref.time)}, ${this.label}, ${kindLabel(this.ref.kind)}${size}${this.ref.pinned ? `, ${vscode.l10n.t('pinned')}` : ''}${lock}` };
    return `${String(this.label)}\n${String(this.description)}` !== before;
  }
}

/** What a folder, file or link inside a backup hangs under. */
export type EntryParent = BackupNode | BackupFolderNode;

/** Where an entry node lives: its backup, its archive path, its parent node. */
abstract class EntryNode extends vscode.TreeItem {
  constructor(
    readonly ref: BackupRef,
    readonly entry: BrowseEntry,
    readonly parent: EntryParent,
    collapsible: vscode.TreeItemCollapsibleState,
  ) {
    super(entry.name, collapsible);
    this.id = `${ref.key}/${entry.path}`;
    this.resourceUri = backupUri(ref.key, entry.path);
  }

  /** App data is restored through "Restore App Data", not file by file. */
  protected get scope(): string {
    return this.entry.path.startsWith('workspace/') ? '' : '.appdata';
  }
}

/** A folder inside a backup; its children come from the manifest when it is expanded. */
export class BackupFolderNode extends EntryNode {
  constructor(ref: BackupRef, entry: BrowseEntry, parent: EntryParent) {
    super(ref, entry, parent, vscode.TreeItemCollapsibleState.Collapsed);
    this.iconPath = vscode.ThemeIcon.Folder;
    this.contextValue = `backupFolder${this.scope}`;
    this.description = entry.mtime ? formatAge(new Date(entry.mtime)) : undefined;
  }
}

/** A file inside a backup: size and age; a click opens it read-only. */
export class BackupFileNode extends EntryNode {
  constructor(ref: BackupRef, entry: BrowseEntry, parent: EntryParent) {
    super(ref, entry, parent, vscode.TreeItemCollapsibleState.None);
    this.iconPath = vscode.ThemeIcon.File;
    this.contextValue = `backupFile${this.scope}`;
    const when = entry.mtime ? new Date(entry.mtime) : undefined;
    this.description = when ? `${formatBytes(entry.size)} · ${formatAge(when)}` : formatBytes(entry.size);
    this.tooltip = when ? `${entry.path}\n${formatBytes(entry.size)} · ${formatDateTime(when)}` : entry.path;
    this.command = { command: 'vscode.open', title: vscode.l10n.t('Open'), arguments: [this.resourceUri, { preview: true }] };
  }
}

/** A symbolic link inside a backup: where it points. */
export class BackupLinkNode extends EntryNode {
  constructor(ref: BackupRef, entry: BrowseEntry, parent: EntryParent) {
    super(ref, entry, parent, vscode.TreeItemCollapsibleState.None);
    this.iconPath = new vscode.ThemeIcon('file-symlink-file');
    this.contextValue = `backupLink${this.scope}`;
    this.description = `→ ${entry.target ?? ''}`;
  }
}

/** Shown after a page of the entries of a big folder inside a backup. */
export class MoreEntriesNode extends vscode.TreeItem {
  constructor(
    readonly parent: EntryParent,
    shown: number,
    total: number,
  ) {
    super(vscode.l10n.t('Load More…'), vscode.TreeItemCollapsibleState.None);
    this.id = `more:${parent.id ?? parent.ref.key}`;
    this.description = vscode.l10n.t('{0} of {1}', formatCount(shown), formatCount(total));
    this.iconPath = new vscode.ThemeIcon('more');
    this.contextValue = 'loadMore';
    this.command = { command: 's3Backup.loadMoreEntries', title: vscode.l10n.t('Load More…'), arguments: [parent.id] };
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

export type MessageKind = 'loading' | 'error' | 'empty' | 'action' | 'warning';

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
    this.iconPath =
      kind === 'error' ? new vscode.ThemeIcon(icon, new vscode.ThemeColor('errorForeground'))
      : kind === 'warning' ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'))
      : new vscode.ThemeIcon(icon);
  }
}

export type BackupEntryNode = BackupFolderNode | BackupFileNode | BackupLinkNode;

export type BackupsNode = MachineNode | BackupNode | LoadMoreNode | MessageNode | BackupEntryNode | MoreEntriesNode;

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
    ...(ref.pinned ? [[vscode.l10n.t('Pinned'), escape(vscode.l10n.t('yes: retention and prune keep it'))] as [string, string]] : []),
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
