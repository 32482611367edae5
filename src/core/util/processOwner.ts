// Who holds something (a restore lock, a temp download, an undo record being
// written): the process id, the host, when it started. Lets the next run tell
// a live owner from one that was killed, without a daemon or OS locks.
import * as fs from 'fs';
import * as os from 'os';

export interface ProcessOwner {
  pid: number;
  host: string;
  /** ISO time the claim was made. */
  started: string;
  /** Linux: the process's start time in clock ticks (`/proc/<pid>/stat`), so a reused pid is not taken for the owner. */
  pidStart?: number;
}

/**
 * Past this age a claim is stale even when its pid seems alive: a restore
 * does not run for a day, and a pid can be reused (other hosts cannot be asked at all).
 */
export const OWNER_STALE_MS = 24 * 60 * 60 * 1000;

function procStart(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(fields[19]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

const self: ProcessOwner = { pid: process.pid, host: os.hostname(), started: '', pidStart: procStart(process.pid) };

/** This process, claiming something now. */
export function currentOwner(): ProcessOwner {
  return { ...self, started: new Date().toISOString(), ...(self.pidStart === undefined ? {} : { pidStart: self.pidStart }) };
}

/** Whether the owner may still be at work: same host and its process alive (and the same process), and not older than a day. */
export function ownerAlive(o: ProcessOwner, now = Date.now()): boolean {
  const started = Date.parse(o.started);
  if (!Number.isFinite(started) || now - started > OWNER_STALE_MS) return false;
  if (o.host !== self.host) return true;
  if (o.pid === process.pid) return true;
  try {
    process.kill(o.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = o.pidStart === undefined ? undefined : procStart(o.pid);
  return start === undefined || start === o.pidStart;
}

/** Reads an owner from parsed JSON; undefined when it is not one. */
export function asOwner(v: unknown): ProcessOwner | undefined {
  const o = v as Partial<ProcessOwner> | undefined;
  if (!o || typeof o !== 'object' || typeof o.pid !== 'number' || typeof o.host !== 'string' || typeof o.started !== 'string') return undefined;
  return { pid: o.pid, host: o.host, started: o.started, ...(typeof o.pidStart === 'number' ? { pidStart: o.pidStart } : {}) };
}

/** Marks a folder or file as this process's (temp downloads), for `readOwnerFile` after a crash. */
export async function writeOwnerFile(file: string): Promise<void> {
  await fs.promises.writeFile(file, JSON.stringify(currentOwner()), { mode: 0o600 });
}

/** The owner written by `writeOwnerFile`, or undefined when there is none (or it is unreadable). */
export async function readOwnerFile(file: string): Promise<ProcessOwner | undefined> {
  try {
    return asOwner(JSON.parse(await fs.promises.readFile(file, 'utf8')));
  } catch {
    return undefined;
  }
}
