// The CLI's commands as data: options, positionals, usage and help all come
// from this table, so the help cannot drift from what is parsed.
import { parseArgs } from 'util';

/** Bad usage: exit 2. */
export class UsageError extends Error {}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** How the value is shown in usage, e.g. `<glob>`. */
  value?: string;
  help: string;
}

export interface PositionalSpec {
  name: string;
  /** One or more (`<dir>...`). */
  variadic?: boolean;
  /** May be left out. */
  optional?: boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  positionals: PositionalSpec[];
  options: Record<string, OptionSpec>;
  /** Needs the connection settings (everything but `undo` and `finish`). */
  needsProfile: boolean;
}

/** Options every command takes: the connection and the output. */
const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  endpoint: { type: 'string', value: '<url>', help: 'S3_BACKUP_ENDPOINT           e.g. https://s3.eu-west-1.amazonaws.com' },
  region: { type: 'string', value: '<region>', help: 'S3_BACKUP_REGION             e.g. eu-west-1, auto (Cloudflare R2)' },
  bucket: { type: 'string', value: '<name>', help: 'S3_BACKUP_BUCKET' },
  'access-key-id': { type: 'string', value: '<id>', help: 'S3_BACKUP_ACCESS_KEY_ID' },
  'root-path': { type: 'string', value: '<prefix>', help: 'S3_BACKUP_ROOT_PATH          folder inside the bucket for the backups' },
  'addressing-style': { type: 'string', value: '<s>', help: 'S3_BACKUP_ADDRESSING_STYLE   auto | path | virtual' },
  config: { type: 'string', value: '<file.json>', help: '{"endpoint", "region", "bucket", "accessKeyId", "secretAccessKey", "rootPath", "addressingStyle"}' },
  json: { type: 'boolean', help: 'machine-readable output on stdout' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
  version: { type: 'boolean', short: 'V', help: 'show the version' },
};

const SNAPSHOTS_OPTION: OptionSpec = { type: 'string', value: '<dir>', help: 'where the undo records are kept (default ~/.s3-backup/snapshots)' };

/** The `--keep-*` options of `prune` and `backup`. */
const RETENTION_OPTIONS: Record<string, OptionSpec> = {
  'keep-last': { type: 'string', value: '<n>', help: 'keep the newest <n> backups of each machine, kind and folder set' },
  'keep-daily': { type: 'string', value: '<n>', help: 'keep the newest backup of each of the last <n> days that have backups (local time)' },
  'keep-weekly': { type: 'string', value: '<n>', help: 'the same for the last <n> ISO weeks' },
  'keep-monthly': { type: 'string', value: '<n>', help: 'the same for the last <n> months (0 turns a rule off)' },
};

const CONNECTION_FLAGS = ['endpoint', 'region', 'bucket', 'access-key-id', 'root-path', 'addressing-style', 'config'];

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'test-connection',
    summary: 'check the bucket: reach it, write, read back and delete a probe',
    positionals: [],
    options: {},
    needsProfile: true,
  },
  {
    name: 'backup',
    summary: 'back up one or more folders into one new backup',
    positionals: [{ name: 'dir', variadic: true }],
    options: {
      exclude: { type: 'string', multiple: true, value: '<glob>', help: 'leave out what matches (gitignore syntax); repeatable' },
      kind: { type: 'string', value: 'workspace', help: 'the kind of backup (the CLI backs up folders: workspace)' },
      'no-gitignore': { type: 'boolean', help: 'do not apply .gitignore files' },
      // After the backup, with these (or the config file's "retention"): only this machine's backups of these folders.
      ...RETENTION_OPTIONS,
      'if-changed': { type: 'boolean', help: 'back up only when something changed since the last backup of these folders from this machine, and not within 30 minutes of a restore into them (for cron); exit 0 either way' },
      snapshots: SNAPSHOTS_OPTION,
    },
    needsProfile: true,
  },
  {
    name: 'list',
    summary: 'list the backups under the root path, newest first',
    positionals: [],
    options: {},
    needsProfile: true,
  },
  {
    name: 'restore',
    summary: 'restore a backup into <dir> (shows the plan first)',
    positionals: [{ name: 'key' }, { name: 'dir' }],
    options: {
      'dry-run': { type: 'boolean', help: 'show the plan, write nothing' },
      yes: { type: 'boolean', short: 'y', help: 'do not ask before writing' },
      snapshots: SNAPSHOTS_OPTION,
      'keep-snapshots': { type: 'string', value: '<n>', help: 'undo records kept after a restore, newest first (default 10; 0 keeps all)' },
      'include-code-files': { type: 'boolean', help: 'also restore files that make tools run code by themselves (.vscode/, *.code-workspace, git hooks, .envrc, .npmrc, ...); left out otherwise' },
      'allow-plain': { type: 'boolean', help: 'encrypted repository: also read a plain backup made before encryption was turned on (only if you made it)' },
    },
    needsProfile: true,
  },
  {
    name: 'verify',
    summary: 'download a backup and check every file against its manifest',
    positionals: [{ name: 'key' }],
    options: {
      'allow-plain': { type: 'boolean', help: 'encrypted repository: also read a plain backup made before encryption was turned on (only if you made it)' },
    },
    needsProfile: true,
  },
  {
    name: 'download',
    summary: 'save the backup archive (.zip) to a local file',
    positionals: [{ name: 'key' }, { name: 'file' }],
    options: {
      force: { type: 'boolean', help: 'replace <file> if it exists' },
      'allow-plain': { type: 'boolean', help: 'encrypted repository: also read a plain backup made before encryption was turned on (only if you made it)' },
    },
    needsProfile: true,
  },
  {
    name: 'decrypt',
    summary: 'write the plain zip of an encrypted backup or pack (packs/<ab>/<id>.zip) to a local file',
    positionals: [{ name: 'key' }, { name: 'file' }],
    options: { force: { type: 'boolean', help: 'replace <file> if it exists' } },
    needsProfile: true,
  },
  {
    name: 'change-passphrase',
    summary: "wrap the repository's key with a new passphrase (S3_BACKUP_NEW_PASSPHRASE or a prompt); no backup is uploaded again",
    positionals: [],
    options: {},
    needsProfile: true,
  },
  {
    name: 'delete',
    summary: 'delete a backup from the bucket',
    positionals: [{ name: 'key' }],
    options: {},
    needsProfile: true,
  },
  {
    name: 'prune',
    summary: 'delete the backups of every machine that the retention policy forgets (prints the plan first); pinned ones stay',
    positionals: [],
    options: {
      'dry-run': { type: 'boolean', help: 'print the plan, delete nothing' },
      ...RETENTION_OPTIONS,
    },
    needsProfile: true,
  },
  {
    name: 'pin',
    summary: 'pin a backup: retention and prune never delete it',
    positionals: [{ name: 'key' }],
    options: {},
    needsProfile: true,
  },
  {
    name: 'unpin',
    summary: 'unpin a backup',
    positionals: [{ name: 'key' }],
    options: {},
    needsProfile: true,
  },
  {
    name: 'undo',
    summary: 'undo a restore, also an interrupted one; without <snapshotDir>, list the restores that can be undone',
    positionals: [{ name: 'snapshotDir', optional: true }],
    options: {
      last: { type: 'boolean', help: 'undo the newest restore that can be undone' },
      snapshots: SNAPSHOTS_OPTION,
    },
    needsProfile: false,
  },
  {
    name: 'finish',
    summary: 'complete an interrupted restore from the files it had ready',
    positionals: [{ name: 'snapshotDir' }],
    options: { snapshots: SNAPSHOTS_OPTION },
    needsProfile: false,
  },
];

function optionUsage(name: string, o: OptionSpec): string {
  const flag = `--${name}${o.type === 'string' ? ` ${o.value ?? '<value>'}` : ''}`;
  return o.multiple ? `[${flag}]...` : `[${flag}]`;
}

/** `restore <key> <dir> [--dry-run] [--yes] [--snapshots <dir>]`, from the table. */
export function usageOf(c: CommandSpec): string {
  const pos = c.positionals.map((p) => {
    const s = `<${p.name}>${p.variadic ? '...' : ''}`;
    return p.optional ? `[${s}]` : s;
  });
  const opts = Object.entries(c.options).map(([n, o]) => optionUsage(n, o));
  return [c.name, ...pos, ...opts].join(' ');
}

/** The whole `--help` text. */
export function helpText(): string {
  const lines = ['Usage: s3-backup <command> [options]', '', 'Commands:'];
  for (const c of COMMANDS) {
    lines.push(`  ${usageOf(c)}`);
    lines.push(`      ${c.summary}`);
    for (const [n, o] of Object.entries(c.options)) lines.push(`      --${n}${o.short ? `, -${o.short}` : ''}: ${o.help}`);
  }
  lines.push('', 'Connection (flags > environment > --config file):');
  for (const n of CONNECTION_FLAGS) {
    const o = GLOBAL_OPTIONS[n];
    lines.push(`  ${`--${n} ${o.value ?? ''}`.padEnd(26)}${o.help}`);
  }
  lines.push(`  ${''.padEnd(26)}S3_BACKUP_SECRET_ACCESS_KEY  (never a flag: environment or config file only)`);
  lines.push(`  ${''.padEnd(26)}S3_BACKUP_PASSPHRASE         encrypts new backups, reads encrypted ones (never a flag; asked for on a terminal)`);
  lines.push('', 'Other options:');
  for (const n of ['json', 'help', 'version']) {
    const o = GLOBAL_OPTIONS[n];
    lines.push(`  ${`${o.short ? `-${o.short}, ` : ''}--${n}`.padEnd(26)}${o.help}`);
  }
  lines.push(
    '',
    'Environment:',
    '  S3_BACKUP_HOSTNAME        machine name in new backups\' keys (default: the host name)',
    '  S3_BACKUP_DEBUG=1         log the engine\'s steps to stderr',
    '',
    'Exit status: 0 success, 1 failure (one sentence on stderr), 2 bad usage.',
  );
  return lines.join('\n');
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface ParsedCommandLine {
  /** Undefined for `--help`, `--version` or no arguments at all. */
  command?: CommandSpec;
  values: OptionValues;
  positionals: string[];
}

/** Parses argv against the table: unknown options, and too few or too many arguments, are `UsageError`s. */
export function parseCommandLine(argv: string[]): ParsedCommandLine {
  const name = argv.find((a) => !a.startsWith('-'));
  const command = COMMANDS.find((c) => c.name === name);
  const options = { ...GLOBAL_OPTIONS, ...(command?.options ?? {}) };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.entries(options).map(([n, o]) => [n, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }])),
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(plainParseError(e));
  }
  const values = parsed.values as OptionValues;
  if (values.help || values.version || argv.length === 0) return { values, positionals: [] };
  if (!command) throw new UsageError(`Unknown command "${name ?? ''}". Run "s3-backup --help" for the list.`);
  const positionals = parsed.positionals.slice(1);
  const min = command.positionals.filter((p) => !p.optional).length;
  const max = command.positionals.some((p) => p.variadic) ? Infinity : command.positionals.length;
  if (positionals.length < min || positionals.length > max) throw new UsageError(`Usage: s3-backup ${usageOf(command)}`);
  return { command, values, positionals };
}

function plainParseError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  // parseArgs messages carry a generic tip about "--" that does not fit this tool.
  return msg.replace(/\. To specify a positional argument.*$/s, '.').replace(/\s+$/, '') + ' Run "s3-backup --help" for usage.';
}
