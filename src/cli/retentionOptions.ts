// The `--keep-*` flags, apart from pruneCommands.ts so that the command table
// can use them without importing the handlers.
import type { OptionSpec } from './commandTable';

/** The `--keep-*` options of `prune` and `backup`. */
export const RETENTION_OPTIONS: Record<string, OptionSpec> = {
  'keep-last': { type: 'string', value: '<n>', help: 'keep the newest <n> backups of each machine, kind and folder set' },
  'keep-daily': { type: 'string', value: '<n>', help: 'keep the newest backup of each of the last <n> days that have backups (local time)' },
  'keep-weekly': { type: 'string', value: '<n>', help: 'the same for the last <n> ISO weeks' },
  'keep-monthly': { type: 'string', value: '<n>', help: 'the same for the last <n> months (0 turns a rule off)' },
};
