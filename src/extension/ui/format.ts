import * as vscode from 'vscode';
import type { BackupKind } from '../../core/format/backupKeys';
import { formatBytes as formatBytesIn } from '../../core/util/formatBytes';

/** A byte count for people, in the user's language: 812 B, 12.3 KB, 4.5 MB (binary multiples, as VS Code shows sizes). */
export function formatBytes(n: number): string {
  return formatBytesIn(n, {
    names: [vscode.l10n.t('B'), vscode.l10n.t('KB'), vscode.l10n.t('MB'), vscode.l10n.t('GB'), vscode.l10n.t('TB')],
    number: (v, digits) => new Intl.NumberFormat(vscode.env.language, { maximumFractionDigits: digits }).format(v),
  });
}

/** A whole number in the user's locale. */
export function formatCount(n: number): string {
  return new Intl.NumberFormat(vscode.env.language).format(n);
}

/** Local date and time, with seconds so two backups in one minute read apart. */
export function formatDateTime(d: Date): string {
  return new Intl.DateTimeFormat(vscode.env.language, { dateStyle: 'medium', timeStyle: 'medium' }).format(d);
}

/** A short local date and time for a tree row: "20:41" today, "Dec 1, 20:41" this year, with the year before. */
export function formatShortDateTime(d: Date, now = new Date()): string {
  const sameYear = d.getFullYear() === now.getFullYear();
  const today = sameYear && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
  return new Intl.DateTimeFormat(vscode.env.language, {
    ...(today ? {} : { month: 'short', day: 'numeric' }),
    ...(sameYear ? {} : { year: 'numeric' }),
    hour: '2-digit',
    minute: '2-digit',
  }).format(d);
}

/** The last part of a path, for a dialog's title or a toast; the full path goes into the detail or the log. */
export function folderName(p: string): string {
  const parts = p.split(/[\\/]+/).filter((x) => x !== '');
  return parts[parts.length - 1] ?? p;
}

/** A picker's title with where it is in its flow: "Settings (2/3)". */
export function stepTitle(title: string, step: number, total: number): string {
  return total > 1 ? vscode.l10n.t('{0} ({1}/{2})', title, formatCount(step), formatCount(total)) : title;
}

/** "5 minutes ago", "yesterday", in the user's language; `short` ("2 hr. ago") where space is scarce (the status bar). */
export function formatAge(d: Date, now = Date.now(), style: 'long' | 'short' = 'long'): string {
  const rtf = new Intl.RelativeTimeFormat(vscode.env.language, { numeric: 'auto', style });
  const s = Math.round((d.getTime() - now) / 1000);
  const abs = Math.abs(s);
  if (abs < 45) return rtf.format(0, 'second');
  if (abs < 45 * 60) return rtf.format(Math.round(s / 60), 'minute');
  if (abs < 22 * 3600) return rtf.format(Math.round(s / 3600), 'hour');
  if (abs < 26 * 86400) return rtf.format(Math.round(s / 86400), 'day');
  if (abs < 320 * 86400) return rtf.format(Math.round(s / (30 * 86400)), 'month');
  return rtf.format(Math.round(s / (365 * 86400)), 'year');
}

/** The kind of a backup as a word. */
export function kindLabel(kind: BackupKind): string {
  switch (kind) {
    case 'workspace':
      return vscode.l10n.t('workspace');
    case 'appdata':
      return vscode.l10n.t('app data');
    case 'full':
      return vscode.l10n.t('workspace and app data');
  }
}

/** What an Undo did, each count with its own singular or plural phrase: "2 files put back, 1 new file removed". */
export function formatUndone(restored: number, removed: number): string {
  const back = restored === 1 ? vscode.l10n.t('1 file put back') : vscode.l10n.t('{0} files put back', formatCount(restored));
  const gone = removed === 1 ? vscode.l10n.t('1 new file removed') : vscode.l10n.t('{0} new files removed', formatCount(removed));
  return vscode.l10n.t('{0}, {1}', back, gone);
}
