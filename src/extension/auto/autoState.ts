// What automatic backups remember between sessions and windows, in one small
// JSON file in the extension's global storage (shared by every window of this
// VS Code, unlike a window's memory): per target the schedule state (last
// attempt, last change), per target the last result the status bar shows,
// and the time of the last restore into each folder. Written to a temp file
// and renamed, so a killed window never leaves half a file.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { ScheduleState } from '../../core/schedule/autoSchedule';

export interface BackupOutcomeRecord {
  /** ms since the epoch. */
  time: number;
  /** The backup made, or (unchanged) the one compared with. */
  key?: string;
  /** failed: one plain sentence (no secret: the engine's messages never hold one). */
  message?: string;
}

export interface TargetResults {
  lastSuccess?: BackupOutcomeRecord;
  lastFailure?: BackupOutcomeRecord;
  /** The last automatic check that found nothing new. */
  lastUnchanged?: BackupOutcomeRecord;
}

export interface AutoStateData {
  schedule: Record<string, ScheduleState>;
  results: Record<string, TargetResults>;
  /** Folder path (or the VS Code user folder, for app data) -> ms of the last restore into it. */
  restores: Record<string, number>;
}

const empty = (): AutoStateData => ({ schedule: {}, results: {}, restores: {} });

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class AutoStateFile {
  readonly file: string;

  constructor(readonly dir: string) {
    this.file = path.join(dir, 'state.json');
  }

  /** The state on disk; an absent or unreadable file is an empty state (the worst case is one extra backup). */
  async read(): Promise<AutoStateData> {
    try {
      const v: unknown = JSON.parse(await fs.promises.readFile(this.file, 'utf8'));
      if (!isRecord(v)) return empty();
      return {
        schedule: isRecord(v.schedule) ? (v.schedule as AutoStateData['schedule']) : {},
        results: isRecord(v.results) ? (v.results as AutoStateData['results']) : {},
        restores: isRecord(v.restores) ? (v.restores as AutoStateData['restores']) : {},
      };
    } catch {
      return empty();
    }
  }

  /** Reads, changes and writes the state back (temp file + rename). */
  async update(change: (s: AutoStateData) => void): Promise<AutoStateData> {
    const s = await this.read();
    change(s);
    await fs.promises.mkdir(this.dir, { recursive: true });
    const tmp = `${this.file}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    await fs.promises.writeFile(tmp, JSON.stringify(s), { mode: 0o600 });
    await fs.promises.rename(tmp, this.file);
    return s;
  }
}
