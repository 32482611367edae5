import * as fs from 'fs';

// App data files are small; anything larger is not a settings file.
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

/** A file's content and stat, or undefined when it is missing, not a file or too large. */
export async function readIfFile(p: string): Promise<{ data: Buffer; st: fs.Stats } | undefined> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
  if (!st.isFile() || st.size > MAX_FILE_BYTES) return undefined;
  return { data: await fs.promises.readFile(p), st };
}
