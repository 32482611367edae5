// Where a file of a backup is in the open workspace, and which backups hold
// a file of it: the same rule as a restore (restore/targets.ts), so "Compare
// with Current" compares with the very file a restore would overwrite.
import * as path from 'path';
import * as vscode from 'vscode';
import type { BackupEngine, BrowseEntry } from '../../core/engine';
import { compareNewestFirst, type BackupRef } from '../../core/format/backupKeys';
import { isCancelled } from '../../core/util/engineErrors';
import { targetsOnFolders } from '../../core/restore/targets';
import type { Services } from './services';

function openFolders(): { name: string; path: string }[] {
  return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => ({ name: f.name, path: f.uri.fsPath }));
}

/** The backup's workspace folders (archive prefixes) and the open folders they land on. */
async function landing(engine: BackupEngine, key: string): Promise<Record<string, string>> {
  const prefixes = (await engine.browse(key, 'workspace').catch((e: unknown) => {
    if (isCancelled(e) || (e as { code?: string }).code !== 'NotFound') throw e;
    return [] as BrowseEntry[]; // an app data backup has no workspace folder
  }))
    .filter((e) => e.kind === 'folder')
    .map((e) => e.path);
  const open = openFolders();
  const all = targetsOnFolders(prefixes, open);
  if (all) return all;
  // Not every folder is open: each one that is, by name.
  return Object.fromEntries(prefixes.flatMap((p) => Object.entries(targetsOnFolders([p], open.filter((f) => `workspace/${f.name}` === p)) ?? {})));
}

/** The file in the open workspace that archive path `archivePath` of backup `key` corresponds to; undefined when its folder is not open. */
export async function currentFileOf(engine: BackupEngine, key: string, archivePath: string): Promise<vscode.Uri | undefined> {
  for (const [prefix, dir] of Object.entries(await landing(engine, key))) {
    if (archivePath.startsWith(`${prefix}/`)) return vscode.Uri.file(path.join(dir, ...archivePath.slice(prefix.length + 1).split('/')));
  }
  return undefined;
}

/** The archive path the local file `file` has in backup `key`; undefined when no folder of the backup lands on it. */
async function archivePathOf(engine: BackupEngine, key: string, file: vscode.Uri): Promise<string | undefined> {
  for (const [prefix, dir] of Object.entries(await landing(engine, key))) {
    const rel = path.relative(dir, file.fsPath);
    if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) return `${prefix}/${rel.split(path.sep).join('/')}`;
  }
  return undefined;
}

export interface Holder {
  ref: BackupRef;
  /** The file's archive path in this backup. */
  path: string;
  entry: BrowseEntry;
}

/**
 * The format-2 backups that hold a file, newest first: for the local `file`
 * (where a restore would put it) or for a path relative to a workspace
 * folder (`rel`, tried in each folder of each backup). Reads each backup's
 * manifest once (cached); a backup that cannot be read is left out and logged.
 */
export async function backupsHolding(s: Services, what: { file: vscode.Uri } | { rel: string }, signal?: AbortSignal): Promise<Holder[]> {
  const engine = await s.engineHost.getEngine();
  const refs = (await s.tree.backups()).filter((r) => r.format === 2 && r.kind !== 'appdata').sort(compareNewestFirst);
  const out: Holder[] = [];
  for (const ref of refs) {
    if (signal?.aborted) throw new vscode.CancellationError();
    try {
      const candidates =
        'file' in what
          ? [await archivePathOf(engine, ref.key, what.file)]
          : ['workspace', ...(await engine.browse(ref.key, 'workspace')).map((e) => e.path)].map((p) => `${p}/${what.rel.replace(/^\/+/, '')}`);
      for (const p of new Set(candidates)) {
        if (!p) continue;
        const entry = await engine.stat(ref.key, p, { signal });
        if (entry?.kind === 'file') out.push({ ref, path: p, entry });
      }
    } catch (e) {
      if (isCancelled(e) || signal?.aborted) throw e;
      s.log.for('browse').warn(`${ref.key} left out of the search: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return out;
}
