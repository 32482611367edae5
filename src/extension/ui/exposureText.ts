import * as vscode from 'vscode';
import { detectProvider, type ProviderId } from '../../webview/providers';
import type { PublicWarning } from '../../webview/protocol';

// The private-bucket warning in words, the same on the settings page, in the
// tree, in Test Connection and before a backup. Provider terms are the names
// each provider's own console uses for the setting to change.

/** What one kind of access found means (`ExposureRecord.found` parts). */
function foundLine(kind: string): string | undefined {
  switch (kind) {
    case 'list':
      return vscode.l10n.t('A request without keys listed the backups under the root path.');
    case 'read':
      return vscode.l10n.t('A request without keys downloaded an object under the root path.');
    case 'policy':
      return vscode.l10n.t('The bucket policy makes the bucket public.');
    case 'acl':
      return vscode.l10n.t('The bucket ACL grants access to everyone (AllUsers or AuthenticatedUsers).');
    default:
      return undefined;
  }
}

/** How to make the bucket private, per provider. */
function fixLine(id: Exclude<ProviderId, 'other'>): string {
  switch (id) {
    case 'aws':
      return vscode.l10n.t('AWS S3: turn on Block Public Access for the bucket (Permissions tab), and remove bucket policy statements with Principal "*".');
    case 'r2':
      return vscode.l10n.t("Cloudflare R2: in the bucket's settings, disable the r2.dev Public Development URL and remove any custom domain.");
    case 'oss':
      return vscode.l10n.t('Alibaba OSS: set the bucket ACL to Private, and remove public statements from the bucket policy.');
    case 'cos':
      return vscode.l10n.t('Tencent COS: set the bucket access permission to Private Read/Write, and remove public statements from the bucket policy.');
    case 'minio':
      return vscode.l10n.t('MinIO: run mc anonymous set none ALIAS/BUCKET.');
    case 'ceph':
      return vscode.l10n.t('Ceph: delete the bucket policy and set the bucket ACL to private.');
  }
}

const ALL_FIXES = ['aws', 'r2', 'oss', 'cos', 'minio', 'ceph'] as const;

/** The short sentence: what it means. */
export function exposureTitle(): string {
  return vscode.l10n.t('Anyone can read this bucket without keys.');
}

/** Everything the settings page shows; undefined when nothing was found. */
export function publicWarning(found: string, endpoint: string): PublicWarning | undefined {
  if (!found) return undefined;
  const provider = detectProvider(endpoint).id;
  return {
    title: exposureTitle(),
    meaning: vscode.l10n.t(
      'Anyone who knows its address can download your backups: your source code, your settings and any tokens in them. Make the bucket private.',
    ),
    found: found.split('+').flatMap((k) => foundLine(k) ?? []),
    fixHeading: vscode.l10n.t('How to make it private'),
    // The provider the endpoint names, or every provider when it names none (self-hosted, a proxy).
    fixes: provider === 'other' ? ALL_FIXES.map(fixLine) : [fixLine(provider)],
  };
}

/** The warning for an http:// endpoint that is not on this computer. */
export function cleartextWarning(): { title: string; text: string } {
  return {
    title: vscode.l10n.t('Unencrypted connection'),
    text: vscode.l10n.t(
    'This endpoint uses http:// to another computer: your access key ID, the signed requests and every backup travel unencrypted over the network. Use https:// if the server offers it.',
    ),
  };
}

/** One paragraph for a notification or a modal's detail: what was found and how to fix it. */
export function exposureDetail(w: PublicWarning): string {
  return [w.meaning, ...w.found, `${w.fixHeading}:`, ...w.fixes].join('\n');
}
