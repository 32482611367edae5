// A format-1 backup object (one zip, as the previous release wrote it) of
// files under `src`, ready to put into a bucket under its key.
import * as fs from 'fs';
import * as path from 'path';
import { makeBackupKey } from '../../../src/core/format/backupKeys';
import { writeArchive } from './archiveWriter';

/** The archive bytes and key of a format-1 workspace backup of `files` (relative to `src`) as folder "app", made by "old-machine". */
export async function v1Backup(rootPath: string, src: string, files: readonly string[], created = new Date()): Promise<{ key: string; body: Buffer }> {
  const sources = files.map((rel) => {
    const abs = path.join(src, rel);
    const st = fs.statSync(abs);
    return { archivePath: `workspace/app/${rel}`, absPath: abs, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o777 };
  });
  const a = writeArchive(sources, { kind: 'workspace', hostname: 'old-machine', platform: 'linux', created: created.toISOString(), sources: ['workspace/app'], toolVersion: '0.1.0' });
  const chunks: Buffer[] = [];
  a.stream.on('data', (c: Buffer) => chunks.push(c));
  await a.done;
  return { key: makeBackupKey(rootPath, { time: created, host: 'old-machine', kind: 'workspace', format: 1 }), body: Buffer.concat(chunks) };
}
