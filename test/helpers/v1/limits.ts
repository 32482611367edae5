import { BackupError } from '../../../src/core/util/engineErrors';
import { printable } from '../../../src/core/format/manifest';
import type { ArchiveSource } from '../../../src/core/archive/entries';

/** The ZIP format without ZIP64, which is what jszip writes. */
export const MAX_ENTRIES = 65535;
const MAX_ARCHIVE_BYTES = 0xffffffff;

/**
 * Refuses up front what a ZIP without ZIP64 cannot hold: more than 65,535
 * entries (the manifest is one), a file of 4 GiB or more, or an archive that
 * could reach 4 GiB. Throws `BackupError` 'TooLarge'.
 */
export function checkArchiveLimits(sources: readonly Pick<ArchiveSource, 'archivePath' | 'size'>[]): void {
  const hint = 'Back up fewer files (exclude large or generated folders), or split the backup.';
  if (sources.length + 1 > MAX_ENTRIES) {
    throw new BackupError('TooLarge', `The backup would hold ${sources.length} files; a backup can hold at most ${MAX_ENTRIES - 1}.`, hint, {
      params: { files: sources.length, limit: MAX_ENTRIES - 1 },
    });
  }
  let bound = 64 * 1024; // the manifest's own entry, roughly
  for (const s of sources) {
    if (s.size >= MAX_ARCHIVE_BYTES) {
      throw new BackupError('TooLarge', `"${printable(s.archivePath)}" is 4 GiB or larger; a backup cannot hold files that large.`, hint, {
        params: { entry: s.archivePath, size: s.size, limit: MAX_ARCHIVE_BYTES },
      });
    }
    // Headers, data descriptor, central record and the manifest line; deflate's worst case adds ~0.03%.
    const name = Buffer.byteLength(s.archivePath);
    bound += s.size + Math.ceil(s.size / 2048) + 2 * name + 300;
  }
  if (bound >= MAX_ARCHIVE_BYTES) {
    throw new BackupError('TooLarge', 'The backup would be 4 GiB or larger; a backup can hold at most 4 GiB.', hint, {
      params: { bytes: bound, limit: MAX_ARCHIVE_BYTES },
    });
  }
}
