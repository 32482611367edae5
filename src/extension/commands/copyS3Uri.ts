import * as vscode from 'vscode';
import { formatCount } from '../ui/format';
import type { Services } from './services';
import { selectedRefs } from './pickBackup';

/** Copies `s3://bucket/key` of the selected backups, one a line. */
export async function copyS3Uri(s: Services, arg?: unknown, selection?: unknown): Promise<string | undefined> {
  const refs = selectedRefs(arg, selection);
  if (!refs || refs.length === 0) return undefined;
  const { bucket } = await s.engineHost.profile();
  const text = refs.map((r) => `s3://${bucket}/${r.key}`).join('\n');
  await vscode.env.clipboard.writeText(text);
  vscode.window.setStatusBarMessage(vscode.l10n.t('Copied {0}', refs.length === 1 ? text : vscode.l10n.t('{0} S3 URIs', formatCount(refs.length))), 4000);
  return text;
}
