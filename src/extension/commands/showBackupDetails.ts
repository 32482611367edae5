import * as vscode from 'vscode';
import { formatBytes, formatCount, formatDateTime, kindLabel } from '../ui/format';
import type { BackupRef } from '../../core/format/backupKeys';
import type { Manifest } from '../../core/format/manifest';
import type { Services } from './services';
import { backupFromArgs } from './pickBackup';
import { withEngineProgress } from '../ui/engineProgress';

const SCHEME = 's3-backup-details';
const documents = new Map<string, string>();

/** The read-only documents the details open in (no "save changes?" on close). */
export function registerDetailsDocuments(): vscode.Disposable {
  return vscode.workspace.registerTextDocumentContentProvider(SCHEME, {
    provideTextDocumentContent: (uri) => documents.get(uri.toString()) ?? '',
  });
}

/** Downloads and verifies a backup, then shows its manifest rendered (Markdown preview): summary and every file. */
export async function showBackupDetails(s: Services, arg?: unknown): Promise<Manifest | undefined> {
  const ref = await backupFromArgs(s, arg, vscode.l10n.t('Choose a backup to show'));
  if (!ref) return undefined;
  const engine = await s.engineHost.getEngine();
  const manifest = await withEngineProgress(vscode.l10n.t('Reading the backup from {0}', formatDateTime(ref.time)), ['download'], (call) =>
    engine.verify(ref.key, call),
  );
  s.tree.noteFiles(ref.key, manifest.totals.files);
  const { bucket } = await s.engineHost.profile();
  const uri = vscode.Uri.from({ scheme: SCHEME, path: `/${ref.key.split('/').pop()}.md` });
  documents.set(uri.toString(), renderDetails(ref, manifest, bucket));
  const doc = await vscode.workspace.openTextDocument(uri);
  await vscode.languages.setTextDocumentLanguage(doc, 'markdown');
  try {
    // The built-in Markdown extension renders it: a table, not its source.
    await vscode.commands.executeCommand('markdown.showPreview', uri);
  } catch (e) {
    s.log.for('details').warn(`no Markdown preview (${e instanceof Error ? e.message : String(e)}); showing the text`);
    await vscode.window.showTextDocument(doc, { preview: true });
  }
  return manifest;
}

/** An ISO time of the manifest in this machine's time zone and language; left as it is when it does not parse. */
function localTime(iso: string | number | undefined): string {
  if (iso === undefined) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : formatDateTime(d);
}

function renderDetails(ref: BackupRef, m: Manifest, bucket: string): string {
  const cell = (v: string): string => v.replace(/\|/g, '\\|');
  const lines = [
    `# ${vscode.l10n.t('Backup from {0}', formatDateTime(ref.time))}`,
    '',
    `- ${vscode.l10n.t('S3 URI')}: \`s3://${bucket}/${ref.key}\``,
    `- ${vscode.l10n.t('Machine')}: ${m.hostname} (${m.platform})`,
    `- ${vscode.l10n.t('Kind')}: ${kindLabel(m.kind)}`,
    `- ${vscode.l10n.t('Created')}: ${localTime(m.created)}`,
    `- ${vscode.l10n.t('Folders')}: ${m.sources.join(', ')}`,
    `- ${vscode.l10n.t('Files')}: ${formatCount(m.totals.files)} (${formatBytes(m.totals.bytes)})`,
    `- ${vscode.l10n.t('Archive size')}: ${formatBytes(ref.size)}`,
    `- ${vscode.l10n.t('Made by')}: s3-backup ${m.toolVersion}`,
    `- ${vscode.l10n.t('Verified: every file matches its checksum.')}`,
    '',
    `| ${vscode.l10n.t('Path')} | ${vscode.l10n.t('Size')} | ${vscode.l10n.t('Modified')} |`,
    '| --- | ---: | --- |',
    ...m.files.map((f) => `| ${cell(f.path)} | ${formatBytes(f.size)} | ${localTime(f.mtime)} |`),
    '',
  ];
  return lines.join('\n');
}
