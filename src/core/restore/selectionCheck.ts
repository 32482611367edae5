// The second half of "a backup holds only what its own rules select": the
// manifest check (format/manifestChecks.ts) applies the default and user
// excludes; this applies the folders' .gitignore files too, which only the
// archive holds. Run on every fetched backup, after it verified.
import type { Manifest, ManifestFile } from '../format/manifest';
import { firstLeftOutSteps, leftOutError } from '../format/manifestChecks';
import { runStepsSliced } from '../util/timeSlice';
import { gitignoreRules, type GitignoreRules } from '../format/selectionRules';

// A .gitignore larger than this is not one a person wrote; it is not applied (the check stays lenient).
const MAX_GITIGNORE_BYTES = 1024 * 1024;

/** Reads some files of a backup into memory, checked against its manifest (from the zip or from the packs). */
export type BackupFileReader = (files: ManifestFile[]) => Promise<Map<string, Buffer>>;

/**
 * Throws `UnsafeArchive` naming the first file of the backup that its
 * folder's own `.gitignore` files (those the backup recorded as applied)
 * leave out. Reads nothing but those `.gitignore` files.
 */
export async function checkOwnGitignores(manifest: Manifest, read: BackupFileReader): Promise<void> {
  const applied = Object.entries(manifest.selection ?? {}).filter(([, r]) => r.gitignore).map(([prefix]) => prefix);
  const wanted = new Map<string, { prefix: string; base: string }>();
  for (const f of manifest.files) {
    if (f.size > MAX_GITIGNORE_BYTES || !(f.path === '.gitignore' || f.path.endsWith('/.gitignore'))) continue;
    const prefix = applied.find((p) => f.path.startsWith(`${p}/`));
    if (!prefix) continue;
    const rel = f.path.slice(prefix.length + 1);
    wanted.set(f.path, { prefix, base: rel === '.gitignore' ? '' : rel.slice(0, -'/.gitignore'.length) });
  }
  if (wanted.size === 0) return;
  const byPrefix = new Map<string, GitignoreRules[]>();
  const contents = await read(manifest.files.filter((f) => wanted.has(f.path)));
  for (const [p, data] of contents) {
    const w = wanted.get(p);
    if (!w) continue;
    const list = byPrefix.get(w.prefix) ?? [];
    list.push(gitignoreRules(w.base, data.toString('utf8')));
    byPrefix.set(w.prefix, list);
  }
  const leftOut = await runStepsSliced(firstLeftOutSteps(manifest, byPrefix));
  if (leftOut) throw leftOutError(leftOut);
}
