import * as vscode from 'vscode';
import type { AnonymousAccess } from '../../core/engine';

/** What the last private-bucket check found for one bucket and root path, kept in globalState. */
export interface ExposureRecord {
  /** The kinds of access strangers have, joined by '+' ('list+read+policy'); '' when none was found. */
  found: string;
  /** The checks that could not tell. */
  unknown: string[];
  /** Epoch ms of the check. */
  checkedAt: number;
  /** `found` as it was when the user said "back up anyway"; a different `found` asks again. */
  confirmed?: string;
}

type Target = { endpoint: string; bucket: string; rootPath: string };

const STATE_KEY = 's3Backup.exposure';

/** The kinds of access found, as one stable string: a confirmation holds for that state only. */
export function exposureFound(a: Pick<AnonymousAccess, 'listable' | 'readable' | 'policyPublic' | 'aclPublic'>): string {
  return [a.listable && 'list', a.readable && 'read', a.policyPublic && 'policy', a.aclPublic && 'acl'].filter(Boolean).join('+');
}

/**
 * The private-bucket check's results per bucket + root path (the same bucket
 * under another endpoint is another target), across sessions: the tree and
 * the settings page show the warning from here, and a backup asks once per
 * state found.
 */
export class ExposureMemory implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  /** Fires when a record changed. */
  readonly onDidChange = this.emitter.event;

  constructor(private readonly memento: vscode.Memento) {}

  private all(): Record<string, ExposureRecord> {
    const v = this.memento.get<unknown>(STATE_KEY);
    return v && typeof v === 'object' ? (v as Record<string, ExposureRecord>) : {};
  }

  private static key(t: Target): string {
    return JSON.stringify([t.endpoint, t.bucket, t.rootPath]);
  }

  get(t: Target): ExposureRecord | undefined {
    const r = this.all()[ExposureMemory.key(t)];
    return r && typeof r.found === 'string' && typeof r.checkedAt === 'number' ? r : undefined;
  }

  /** Stores a check's result; a confirmation survives only while the same access is found. */
  async record(t: Target, a: AnonymousAccess): Promise<ExposureRecord> {
    const found = exposureFound(a);
    const old = this.get(t);
    const rec: ExposureRecord = { found, unknown: [...a.unknown], checkedAt: Date.now(), ...(old?.confirmed === found && found ? { confirmed: found } : {}) };
    await this.memento.update(STATE_KEY, { ...this.all(), [ExposureMemory.key(t)]: rec });
    this.emitter.fire();
    return rec;
  }

  /** The user chose to back up into this target as it is. */
  async confirm(t: Target): Promise<void> {
    const rec = this.get(t);
    if (!rec || !rec.found) return;
    await this.memento.update(STATE_KEY, { ...this.all(), [ExposureMemory.key(t)]: { ...rec, confirmed: rec.found } });
    this.emitter.fire();
  }

  dispose(): void {
    this.emitter.dispose();
  }
}
