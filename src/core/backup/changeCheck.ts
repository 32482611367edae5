// "Has anything changed since the last backup of this machine and kind?",
// asked before an automatic backup (and by `backup --if-changed`) so an idle
// workspace does not pile up identical backups. The answer comes from the
// same evidence the incremental backup trusts (reuseIndex.ts): a file whose
// size, mtime, ctime and inode match the previous manifest is the file that
// backup read. Nothing is read or hashed on disk, and nothing is uploaded:
// one listing, one or a few cached manifests, and a stat of every file.
import * as crypto from 'crypto';
import type { ArchiveSource } from '../archive/entries';
import { compareNewestFirst, sanitizeHost, type BackupKind, type BackupRef } from '../format/backupKeys';
import type { Manifest } from '../format/manifest';
import type { SelectionRules } from '../format/selectionRules';
import { listBackups } from '../repository/collectGarbage';
import type { ManifestStore } from '../repository/manifestStore';
import type { S3Store } from '../storage/s3Store';
import type { Logger } from '../util/engineLogger';
import { scanFolders, type FolderToBackUp } from './runBackup';

/** What `checkForChanges` found. */
export interface ChangeCheck {
  changed: boolean;
  /** Why: no earlier backup to compare with, or the first difference seen (for the log). */
  reason: 'noPrevious' | 'files' | 'selection' | 'unchanged';
  /** The backup compared with. */
  previous?: BackupRef;
  /** The first path that differs, when `reason` is 'files'. */
  path?: string;
}

// This machine's backups of the kind that are loaded to find one of the same folders.
const CANDIDATES = 4;

/**
 * Compares what a backup of `req` would hold with the newest backup of this
 * machine, of the same kind, of the same folders (same paths) and sources.
 */
export async function checkForChanges(
  deps: { store: S3Store; manifests: ManifestStore; hostname: string; log: Logger },
  req: { kind: BackupKind; folders: FolderToBackUp[]; extra: ArchiveSource[]; selection: Record<string, SelectionRules> },
  o: { signal?: AbortSignal } = {},
): Promise<ChangeCheck> {
  const { signal } = o;
  const prefixes = [...req.folders.map((f) => `workspace/${f.name}`), ...(req.extra.length > 0 ? ['appdata'] : [])];
  const host = sanitizeHost(deps.hostname).toLowerCase();
  const mine = (await listBackups(deps.store, deps.store.profile.rootPath, signal))
    .filter((r) => r.format === 2 && r.kind === req.kind && r.host.toLowerCase() === host)
    .sort(compareNewestFirst)
    .slice(0, CANDIDATES);
  let previous: { ref: BackupRef; manifest: Manifest } | undefined;
  for (const ref of mine) {
    const m = await deps.manifests.load(ref, { signal }).catch((e: unknown) => {
      deps.log.warn(`change check: skipping the manifest of ${ref.key}: ${String(e)}`);
      return undefined;
    });
    if (m && sameSources(m, req.folders, prefixes)) {
      previous = { ref, manifest: m };
      break;
    }
  }
  if (!previous) return { changed: true, reason: 'noPrevious' };
  const { ref, manifest } = previous;
  for (const p of prefixes) {
    if (p !== 'appdata' && JSON.stringify(manifest.selection?.[p] ?? null) !== JSON.stringify(req.selection[p] ?? null)) {
      return { changed: true, reason: 'selection', previous: ref, path: p };
    }
  }
  const scan = await scanFolders(req.folders, undefined, signal, deps.log);
  const differs = firstDifference(manifest, [...scan.sources, ...req.extra], scan);
  return differs === undefined ? { changed: false, reason: 'unchanged', previous: ref } : { changed: true, reason: 'files', previous: ref, path: differs };
}

function sameSources(m: Manifest, folders: readonly FolderToBackUp[], prefixes: readonly string[]): boolean {
  if (m.sources.length !== prefixes.length || !prefixes.every((p) => m.sources.includes(p))) return false;
  return folders.every((f) => m.folders?.find((mf) => mf.prefix === `workspace/${f.name}`)?.path === f.path);
}

/** The first path (file, empty folder or link) that is not as the manifest has it; undefined when all are. */
function firstDifference(
  m: Manifest,
  sources: readonly ArchiveSource[],
  scan: { dirs: ReadonlyArray<{ path: string; mode: number }>; links: ReadonlyArray<{ path: string; target: string }> },
): string | undefined {
  const files = new Map(m.files.map((f) => [f.path, f]));
  for (const s of sources) {
    const f = files.get(s.archivePath);
    if (!f || f.size !== s.size) return s.archivePath;
    if (s.data) {
      // App data comes from memory (settings with ignored keys removed): its content is the evidence.
      if (crypto.createHash('sha256').update(s.data).digest('hex') !== f.sha256) return s.archivePath;
      continue;
    }
    // The stat rule of ReuseIndex.unchanged: without a recorded ctime nothing is known.
    if (Date.parse(f.mtime) !== Math.round(s.mtimeMs) || f.ctime === undefined || f.ctime !== Math.round(s.ctimeMs ?? NaN) || (f.ino ?? 0) !== (s.ino ?? 0)) return s.archivePath;
  }
  if (files.size !== sources.length) return m.files.find((f) => !sources.some((s) => s.archivePath === f.path))?.path ?? '';
  const dirs = new Map((m.dirs ?? []).map((d) => [d.path, d.mode]));
  if (dirs.size !== scan.dirs.length) return scan.dirs.find((d) => !dirs.has(d.path))?.path ?? [...dirs.keys()][0];
  for (const d of scan.dirs) if (dirs.get(d.path) !== d.mode) return d.path;
  const links = new Map((m.links ?? []).map((l) => [l.path, l.target]));
  if (links.size !== scan.links.length) return scan.links.find((l) => !links.has(l.path))?.path ?? [...links.keys()][0];
  for (const l of scan.links) if (links.get(l.path) !== l.target) return l.path;
  return undefined;
}
