import type { Services } from './services';

/** Opens the "S3 Backup" output. */
export async function showLog(s: Services): Promise<void> {
  s.log.show();
}
