// A backup archive of one folder as `workspace/app/`, written straight to a
// file (no bucket): what the restore tests restore from.
import * as fs from 'fs';
import { pipeline } from 'stream/promises';
import { writeArchive, type ArchiveSource } from './v1/archiveWriter';
import { selectFiles } from '../../src/core/backup/select';
import type { ManifestMeta } from '../../src/core/format/manifest';

export const FOLDER_META: ManifestMeta = {
  kind: 'workspace',
  hostname: 'test-host',
  platform: process.platform,
  created: '2026-01-02T03:04:05.678Z',
  sources: ['workspace/app'],
  toolVersion: '0.0.0-test',
};

/** Writes the archive of `root` (default excludes, .gitignore) to `file`. */
export async function archiveFolder(root: string, file: string): Promise<void> {
  const sel = await selectFiles(root);
  const sources: ArchiveSource[] = sel.files.map((f) => ({ archivePath: `workspace/app/${f.relPath}`, absPath: f.absPath, size: f.size, mtimeMs: f.mtimeMs, mode: f.mode }));
  const a = writeArchive(sources, FOLDER_META);
  await Promise.all([pipeline(a.stream, fs.createWriteStream(file)), a.done]);
}
