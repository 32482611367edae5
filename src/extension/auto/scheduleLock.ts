// One window runs a scheduled backup of a target, however many are open: a
// lock file in global storage, created with O_EXCL (only one creator wins),
// holding its owner (pid, host, process start time) and when it was last
// refreshed. A window that crashed or was killed leaves the file, but not
// stuck: a lock whose process is gone, or that nobody refreshed for
// STALE_MS, is taken over.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { asOwner, currentOwner, ownerAlive, type ProcessOwner } from '../../core/util/processOwner';

/** A held lock is refreshed this often ... */
export const REFRESH_MS = 60_000;
/** ... and counts as abandoned when not refreshed for this long (a frozen window). */
export const STALE_MS = 10 * 60_000;

interface LockBody {
  owner: ProcessOwner;
  /** Unique per acquisition: tells our lock from a successor's. */
  token: string;
  /** ms since the epoch. */
  refreshed: number;
}

function parse(text: string): LockBody | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockBody>;
    const owner = asOwner(v.owner);
    return owner && typeof v.token === 'string' && typeof v.refreshed === 'number' ? { owner, token: v.token, refreshed: v.refreshed } : undefined;
  } catch {
    return undefined;
  }
}

export interface HeldLock {
  /** Marks the lock as still in use (keeps it from going stale during a long backup). */
  refresh(): Promise<void>;
  release(): Promise<void>;
}

/** Lock files for targets, under `dir` (one file per target id). */
export class ScheduleLocks {
  constructor(
    private readonly dir: string,
    private readonly now: () => number = Date.now,
  ) {}

  private fileOf(id: string): string {
    return path.join(this.dir, `${id.replace(/[^A-Za-z0-9_-]/g, '_')}.lock`);
  }

  /** Takes the lock of `id`, or undefined when a live window holds it. */
  async tryAcquire(id: string): Promise<HeldLock | undefined> {
    const file = this.fileOf(id);
    await fs.promises.mkdir(this.dir, { recursive: true });
    const body: LockBody = { owner: currentOwner(), token: crypto.randomBytes(8).toString('hex'), refreshed: this.now() };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fs.promises.writeFile(file, JSON.stringify(body), { flag: 'wx', mode: 0o600 });
        return this.held(file, body);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const text = await fs.promises.readFile(file, 'utf8').catch(() => undefined);
      if (text === undefined) continue; // released meanwhile: try again
      const other = parse(text);
      if (other && !this.isStale(other)) return undefined;
      // Stale (or unreadable: a writer killed mid-write). Remove it only if it is still the file we judged.
      const again = await fs.promises.readFile(file, 'utf8').catch(() => undefined);
      if (again === text) await fs.promises.rm(file, { force: true });
    }
    return undefined;
  }

  private isStale(b: LockBody): boolean {
    return this.now() - b.refreshed > STALE_MS || !ownerAlive(b.owner);
  }

  private held(file: string, body: LockBody): HeldLock {
    const ours = async (): Promise<boolean> => parse(await fs.promises.readFile(file, 'utf8').catch(() => ''))?.token === body.token;
    return {
      refresh: async () => {
        if (!(await ours())) return;
        body.refreshed = this.now();
        const tmp = `${file}.${body.token}.tmp`;
        await fs.promises.writeFile(tmp, JSON.stringify(body), { mode: 0o600 });
        await fs.promises.rename(tmp, file);
      },
      release: async () => {
        if (await ours()) await fs.promises.rm(file, { force: true });
      },
    };
  }
}
