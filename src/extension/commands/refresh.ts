import type { Services } from './services';

/** Lists the bucket again. */
export async function refresh(s: Services): Promise<void> {
  await s.tree.refresh();
}
