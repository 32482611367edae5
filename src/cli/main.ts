// The SDK prints a multi-line Node version warning on first use; a CLI must not.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import { parseArgs, type ParseArgsConfig } from 'util';
import { BackupEngine, type ConnectionReport } from '../core/engine';
import { BackupError, isCancelled, scrubSecrets } from '../core/util/engineErrors';
import type { Logger } from '../core/util/engineLogger';
import { normalizeProfile, type Profile, type ProfileInput } from '../core/storage/profile';
import type { Progress, ProgressListener } from '../core/util/progress';
import type { RestorePlan } from '../core/restore/applyRestore';
import { toolVersion } from '../core/util/version';

/** Bad usage: exit 2. */
class UsageError extends Error {}

const EXIT_OK = 0;
const EXIT_FAIL = 1;
const EXIT_USAGE = 2;

const HELP = `Usage: s3-backup <command> [options]

Commands:
  test-connection                      check the bucket: reach it, write, read back and delete a probe
  backup <dir>... [--exclude <glob>]... [--kind workspace] [--no-gitignore]
                                       back up one or more folders into one new archive
  list [--json]                        list the backups under the root path, newest first
  restore <key> <dir> [--dry-run] [--yes] [--snapshots <dir>]
                                       restore a backup into <dir> (shows the plan first)
  verify <key>                         download a backup and check every file against its manifest
  download <key> <file> [--force]      save the backup archive (.zip) to a local file
  delete <key>                         delete a backup from the bucket
  undo <snapshotDir>                   put back the files a restore overwrote or created

Connection (flags > environment > --config file):
  --endpoint <url>          S3_BACKUP_ENDPOINT           e.g. https://s3.eu-west-1.amazonaws.com
  --region <region>         S3_BACKUP_REGION             e.g. eu-west-1, auto (Cloudflare R2)
  --bucket <name>           S3_BACKUP_BUCKET
  --access-key-id <id>      S3_BACKUP_ACCESS_KEY_ID
                            S3_BACKUP_SECRET_ACCESS_KEY  (never a flag: environment or config file only)
  --root-path <prefix>      S3_BACKUP_ROOT_PATH          folder inside the bucket for the backups
  --addressing-style <s>    S3_BACKUP_ADDRESSING_STYLE   auto | path | virtual
  --config <file.json>      {"endpoint", "region", "bucket", "accessKeyId", "secretAccessKey",
                             "rootPath", "addressingStyle"}

Other options:
  --json                    machine-readable output on stdout
  -h, --help                show this help
  -V, --version             show the version

Environment:
  S3_BACKUP_HOSTNAME        machine name in new backups' keys (default: the host name)
  S3_BACKUP_DEBUG=1         log the engine's steps to stderr

Exit status: 0 success, 1 failure (one sentence on stderr), 2 bad usage.
`;

const CONNECTION_OPTIONS = {
  endpoint: { type: 'string' },
  region: { type: 'string' },
  bucket: { type: 'string' },
  'access-key-id': { type: 'string' },
  'root-path': { type: 'string' },
  'addressing-style': { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const satisfies ParseArgsConfig['options'];

const COMMAND_OPTIONS = {
  'test-connection': {},
  backup: {
    exclude: { type: 'string', multiple: true },
    kind: { type: 'string' },
    'no-gitignore': { type: 'boolean' },
  },
  list: {},
  restore: {
    'dry-run': { type: 'boolean' },
    yes: { type: 'boolean', short: 'y' },
    snapshots: { type: 'string' },
  },
  verify: {},
  download: { force: { type: 'boolean' } },
  delete: {},
  undo: {},
} as const satisfies Record<string, ParseArgsConfig['options']>;

type Command = keyof typeof COMMAND_OPTIONS;

const POSITIONALS: Record<Command, { min: number; max: number; usage: string }> = {
  'test-connection': { min: 0, max: 0, usage: 'test-connection' },
  backup: { min: 1, max: Infinity, usage: 'backup <dir>... [--exclude <glob>]...' },
  list: { min: 0, max: 0, usage: 'list [--json]' },
  restore: { min: 2, max: 2, usage: 'restore <key> <dir> [--dry-run] [--yes]' },
  verify: { min: 1, max: 1, usage: 'verify <key>' },
  download: { min: 2, max: 2, usage: 'download <key> <file> [--force]' },
  delete: { min: 1, max: 1, usage: 'delete <key>' },
  undo: { min: 1, max: 1, usage: 'undo <snapshotDir>' },
};

/** Streams and terminal facts, injectable so the process wiring stays at the bottom. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

interface Ctx {
  io: CliIo;
  json: boolean;
  secrets: string[];
}

/** Runs the CLI; resolves with the exit code. Never throws. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const ctx: Ctx = { io, json: false, secrets: [] };
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await run(argv, ctx, controller.signal);
  } catch (e) {
    return report(e, ctx);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

async function run(argv: string[], ctx: Ctx, signal: AbortSignal): Promise<number> {
  refuseSecretFlag(argv);
  const command = argv.find((a) => !a.startsWith('-')) as Command | undefined;
  const known = command !== undefined && Object.prototype.hasOwnProperty.call(COMMAND_OPTIONS, command);
  const options = { ...CONNECTION_OPTIONS, ...(known ? COMMAND_OPTIONS[command] : {}) };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(plainParseError(e));
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  ctx.json = values.json === true;
  if (values.version) {
    out(ctx, ctx.json ? JSON.stringify({ version: toolVersion() }) : toolVersion());
    return EXIT_OK;
  }
  if (values.help) {
    out(ctx, HELP.trimEnd());
    return EXIT_OK;
  }
  if (argv.length === 0) {
    err(ctx, HELP.trimEnd());
    return EXIT_USAGE;
  }
  if (!known) throw new UsageError(`Unknown command "${command ?? ''}". Run "s3-backup --help" for the list.`);
  const positionals = parsed.positionals.slice(1);
  const want = POSITIONALS[command];
  if (positionals.length < want.min || positionals.length > want.max) {
    throw new UsageError(`Usage: s3-backup ${want.usage}`);
  }

  if (command === 'undo') return cmdUndo(positionals[0], ctx);

  const profile = loadProfile(values, ctx);
  const engine = new BackupEngine(profile, {
    logger: stderrLogger(ctx),
    hostname: ctx.io.env.S3_BACKUP_HOSTNAME?.trim() || undefined,
    snapshotRoot: path.join(os.homedir(), '.s3-backup', 'snapshots'),
  });
  try {
    return await runCommand(command, engine, positionals, values, ctx, signal);
  } finally {
    engine.dispose();
  }
}

function runCommand(
  command: Exclude<Command, 'undo'>,
  engine: BackupEngine,
  positionals: string[],
  values: Record<string, string | boolean | string[] | undefined>,
  ctx: Ctx,
  signal: AbortSignal,
): Promise<number> {
  switch (command) {
    case 'test-connection':
      return cmdTestConnection(engine, ctx, signal);
    case 'backup':
      return cmdBackup(engine, positionals, values, ctx, signal);
    case 'list':
      return cmdList(engine, ctx, signal);
    case 'restore':
      return cmdRestore(engine, positionals[0], positionals[1], values, ctx, signal);
    case 'verify':
      return cmdVerify(engine, positionals[0], ctx, signal);
    case 'download':
      return cmdDownload(engine, positionals[0], positionals[1], values.force === true, ctx, signal);
    case 'delete':
      return cmdDelete(engine, positionals[0], ctx, signal);
  }
}

function refuseSecretFlag(argv: string[]): void {
  for (const a of argv) {
    if (a === '--') break;
    if (/^--(secret-access-key|secret|secret-key|aws-secret-access-key)(=|$)/i.test(a)) {
      throw new UsageError(
        'The secret access key is never accepted as a command-line flag, because other users can read it from the process list and shell history. ' +
          'Set S3_BACKUP_SECRET_ACCESS_KEY in the environment or put "secretAccessKey" in a --config file.',
      );
    }
  }
}

function plainParseError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  // parseArgs messages carry a generic tip about "--" that does not fit this tool.
  return msg.replace(/\. To specify a positional argument.*$/s, '.').replace(/\s+$/, '') + ' Run "s3-backup --help" for usage.';
}

// ---------------------------------------------------------------- settings

const ENV_NAMES: Record<keyof ProfileInput, string> = {
  endpoint: 'S3_BACKUP_ENDPOINT',
  region: 'S3_BACKUP_REGION',
  bucket: 'S3_BACKUP_BUCKET',
  accessKeyId: 'S3_BACKUP_ACCESS_KEY_ID',
  secretAccessKey: 'S3_BACKUP_SECRET_ACCESS_KEY',
  rootPath: 'S3_BACKUP_ROOT_PATH',
  addressingStyle: 'S3_BACKUP_ADDRESSING_STYLE',
};

const FLAG_NAMES: Partial<Record<keyof ProfileInput, string>> = {
  endpoint: 'endpoint',
  region: 'region',
  bucket: 'bucket',
  accessKeyId: 'access-key-id',
  rootPath: 'root-path',
  addressingStyle: 'addressing-style',
};

function loadProfile(values: Record<string, unknown>, ctx: Ctx): Profile {
  const input: ProfileInput = {};
  const configFile = values.config as string | undefined;
  if (configFile !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : e instanceof SyntaxError ? 'it is not valid JSON' : 'it cannot be read';
      throw new UsageError(`The config file "${configFile}" cannot be used: ${why}.`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new UsageError(`The config file "${configFile}" must hold one JSON object.`);
    }
    for (const k of Object.keys(ENV_NAMES) as (keyof ProfileInput)[]) {
      const v = (raw as Record<string, unknown>)[k];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string') throw new UsageError(`In the config file "${configFile}", "${k}" must be a string.`);
      input[k] = v;
    }
  }
  for (const k of Object.keys(ENV_NAMES) as (keyof ProfileInput)[]) {
    const v = ctx.io.env[ENV_NAMES[k]];
    if (v !== undefined && v !== '') input[k] = v;
  }
  for (const [k, flag] of Object.entries(FLAG_NAMES) as [keyof ProfileInput, string][]) {
    const v = values[flag];
    if (typeof v === 'string') input[k] = v;
  }
  if (input.secretAccessKey) ctx.secrets.push(input.secretAccessKey);
  const result = normalizeProfile(input, { requireCredentials: true });
  if (!result.ok) {
    const lines = result.errors.map((e) => {
      const env = ENV_NAMES[e.field];
      const flag = FLAG_NAMES[e.field];
      const where = flag ? `--${flag}, ${env} or the --config file` : `${env} or the --config file`;
      return `${e.message} (${where})`;
    });
    throw new UsageError(lines.join('\n'));
  }
  return result.profile;
}

// ---------------------------------------------------------------- commands

async function cmdTestConnection(engine: BackupEngine, ctx: Ctx, signal: AbortSignal): Promise<number> {
  const report: ConnectionReport = await engine.testConnection({ signal });
  if (ctx.json) {
    out(ctx, JSON.stringify({
      ok: report.ok,
      steps: report.steps.map((s) => ({ step: s.step, ok: s.ok, ...(s.error ? { error: errorJson(s.error) } : {}) })),
    }));
  } else {
    for (const s of report.steps) {
      out(ctx, `${s.ok ? 'ok  ' : 'FAIL'} ${s.step}`);
    }
  }
  if (report.ok) {
    if (!ctx.json) out(ctx, 'The connection works.');
    return EXIT_OK;
  }
  const failed = report.steps.find((s) => !s.ok);
  if (failed?.error) printError(failed.error, ctx);
  else err(ctx, 'The connection test failed.');
  return EXIT_FAIL;
}

async function cmdBackup(
  engine: BackupEngine,
  dirs: string[],
  values: Record<string, unknown>,
  ctx: Ctx,
  signal: AbortSignal,
): Promise<number> {
  const kind = (values.kind as string | undefined) ?? 'workspace';
  if (kind !== 'workspace') {
    throw new UsageError(`The CLI backs up folders only: --kind must be "workspace", not "${kind}".`);
  }
  const folders = dirs.map((d) => {
    const abs = path.resolve(d);
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch {
      throw new UsageError(`The folder "${d}" does not exist.`);
    }
    if (!st.isDirectory()) throw new UsageError(`"${d}" is not a folder.`);
    return { name: path.basename(abs) || 'root', path: abs, excludes: (values.exclude as string[] | undefined) ?? [], useGitignore: values['no-gitignore'] !== true };
  });
  const res = await engine.backup({ kind: 'workspace', folders }, { signal, onProgress: progressPrinter(ctx) });
  endProgress(ctx);
  if (ctx.json) {
    out(ctx, JSON.stringify({ ...refJson(res), files: res.files, skipped: res.skipped }));
  } else {
    out(ctx, res.key);
    err(ctx, `Backed up ${res.files} file${res.files === 1 ? '' : 's'} (${formatBytes(res.size)} uploaded).`);
    for (const s of res.skipped) err(ctx, `skipped ${s.relPath} (${s.reason}${s.detail ? `: ${s.detail}` : ''})`);
  }
  return EXIT_OK;
}

async function cmdList(engine: BackupEngine, ctx: Ctx, signal: AbortSignal): Promise<number> {
  const backups = await engine.listAll({ signal });
  if (ctx.json) {
    out(ctx, JSON.stringify(backups.map(refJson)));
    return EXIT_OK;
  }
  if (backups.length === 0) {
    err(ctx, 'No backups found.');
    return EXIT_OK;
  }
  for (const b of backups) {
    out(ctx, `${b.time.toISOString().replace('.000Z', 'Z')}  ${b.kind.padEnd(9)}  ${formatBytes(b.size).padStart(10)}  ${b.host}  ${b.key}`);
  }
  return EXIT_OK;
}

async function cmdRestore(
  engine: BackupEngine,
  key: string,
  dir: string,
  values: Record<string, unknown>,
  ctx: Ctx,
  signal: AbortSignal,
): Promise<number> {
  const dryRun = values['dry-run'] === true;
  const yes = values.yes === true;
  // Decide before downloading: a non-interactive run without --yes must not write.
  if (!dryRun && !yes && !(ctx.io.stdin.isTTY && ctx.io.stderr.isTTY)) {
    throw new UsageError('Restore asks for confirmation, and there is no terminal to ask: add --yes to restore, or --dry-run to see the plan only.');
  }
  const target = path.resolve(dir);
  if (fs.existsSync(target) && !fs.statSync(target).isDirectory()) throw new UsageError(`"${dir}" is not a folder.`);
  const fetched = await engine.fetch(key, { signal, onProgress: progressPrinter(ctx) });
  try {
    endProgress(ctx);
    const targets = restoreTargets(fetched.manifest, target);
    if (Object.keys(targets).length === 0) {
      throw new BackupError('NotFound', 'This backup holds no workspace folder to restore.', 'App data is restored from the VS Code extension.');
    }
    const plan = await engine.plan(fetched, targets);
    printPlan(plan, ctx, dryRun);
    if (dryRun) return EXIT_OK;
    const changes = plan.counts.create + plan.counts.overwrite;
    if (changes === 0) {
      if (!ctx.json) err(ctx, 'Nothing to restore: every file is already identical.');
      else out(ctx, JSON.stringify({ written: 0 }));
      return EXIT_OK;
    }
    if (!yes) {
      const answer = await ask(ctx, `Restore ${changes} file${changes === 1 ? '' : 's'} into ${target}? [y/N] `);
      if (!/^y(es)?$/i.test(answer.trim())) {
        err(ctx, 'Nothing was restored.');
        return EXIT_FAIL;
      }
    }
    const snapshotRoot = values.snapshots as string | undefined;
    const result = await engine.apply(plan, { signal, onProgress: progressPrinter(ctx), ...(snapshotRoot ? { snapshotRoot: path.resolve(snapshotRoot) } : {}) });
    endProgress(ctx);
    if (ctx.json) {
      out(ctx, JSON.stringify(result));
    } else {
      err(ctx, `Restored ${result.written} file${result.written === 1 ? '' : 's'} into ${target}.`);
      if (result.snapshotDir) err(ctx, `To undo: s3-backup undo ${quoteArg(result.snapshotDir)}`);
    }
    return EXIT_OK;
  } finally {
    await fetched.dispose();
  }
}

/**
 * One folder in the backup lands directly in <dir>; several land in
 * <dir>/<folder name> each, so they cannot overwrite one another.
 */
export function restoreTargets(manifest: { files: { path: string }[]; sources?: string[] }, target: string): Record<string, string> {
  const prefixes = new Set<string>();
  for (const f of manifest.files) {
    const parts = f.path.split('/');
    if (parts[0] === 'workspace' && parts.length > 2) prefixes.add(`workspace/${parts[1]}`);
  }
  for (const s of manifest.sources ?? []) {
    const parts = s.split('/');
    if (parts[0] === 'workspace' && parts.length === 2 && parts[1]) prefixes.add(s);
  }
  const list = [...prefixes].sort();
  const targets: Record<string, string> = {};
  if (list.length === 1) targets[list[0]] = target;
  else for (const p of list) targets[p] = path.join(target, p.slice('workspace/'.length));
  return targets;
}

function printPlan(plan: RestorePlan, ctx: Ctx, dryRun: boolean): void {
  if (ctx.json) {
    if (dryRun) {
      out(ctx, JSON.stringify({
        targets: plan.targets,
        counts: plan.counts,
        items: plan.items.map((i) => ({ path: i.archivePath, target: i.targetPath, action: i.action, size: i.size })),
      }));
    }
    return;
  }
  const w = dryRun ? out : err;
  const label: Record<string, string> = { create: 'new', overwrite: 'overwrite', unchanged: 'unchanged', onlyLocal: 'only local' };
  for (const i of plan.items) {
    if (i.action === 'unchanged') continue;
    w(ctx, `${label[i.action].padEnd(10)} ${i.targetPath}`);
  }
  w(ctx, `${plan.counts.create} new, ${plan.counts.overwrite} overwritten, ${plan.counts.unchanged} unchanged, ${plan.counts.onlyLocal} only local (kept).`);
}

async function cmdVerify(engine: BackupEngine, key: string, ctx: Ctx, signal: AbortSignal): Promise<number> {
  const manifest = await engine.verify(key, { signal, onProgress: progressPrinter(ctx) });
  endProgress(ctx);
  if (ctx.json) {
    out(ctx, JSON.stringify({ ok: true, key, files: manifest.totals.files, bytes: manifest.totals.bytes, created: manifest.created, hostname: manifest.hostname, kind: manifest.kind, toolVersion: manifest.toolVersion }));
  } else {
    out(ctx, `OK: ${manifest.totals.files} file${manifest.totals.files === 1 ? '' : 's'}, ${formatBytes(manifest.totals.bytes)}, every one matches its checksum.`);
  }
  return EXIT_OK;
}

async function cmdDownload(engine: BackupEngine, key: string, file: string, force: boolean, ctx: Ctx, signal: AbortSignal): Promise<number> {
  const dest = path.resolve(file);
  if (!force && fs.existsSync(dest)) {
    throw new BackupError('AlreadyExists', `The file "${file}" already exists.`, 'Pass --force to replace it, or choose another name.');
  }
  await engine.download(key, dest, { signal, onProgress: progressPrinter(ctx) });
  endProgress(ctx);
  const size = fs.statSync(dest).size;
  if (ctx.json) out(ctx, JSON.stringify({ key, file: dest, size }));
  else err(ctx, `Saved ${formatBytes(size)} to ${dest}.`);
  return EXIT_OK;
}

async function cmdDelete(engine: BackupEngine, key: string, ctx: Ctx, signal: AbortSignal): Promise<number> {
  await engine.delete(key, { signal });
  if (ctx.json) out(ctx, JSON.stringify({ deleted: key }));
  else err(ctx, `Deleted ${key}.`);
  return EXIT_OK;
}

async function cmdUndo(snapshotDir: string, ctx: Ctx): Promise<number> {
  const dir = path.resolve(snapshotDir);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`The snapshot folder "${snapshotDir}" does not exist.`);
  const result = await BackupEngine.undo(dir);
  if (ctx.json) out(ctx, JSON.stringify(result));
  else err(ctx, `Undone: ${result.restored} file${result.restored === 1 ? '' : 's'} put back, ${result.removed} removed.`);
  return EXIT_OK;
}

// ---------------------------------------------------------------- output

function out(ctx: Ctx, line: string): void {
  ctx.io.stdout.write(scrubSecrets(line, ctx.secrets) + '\n');
}

function err(ctx: Ctx, line: string): void {
  ctx.io.stderr.write(scrubSecrets(line, ctx.secrets) + '\n');
}

function report(e: unknown, ctx: Ctx): number {
  endProgress(ctx);
  if (e instanceof UsageError) {
    err(ctx, e.message);
    return EXIT_USAGE;
  }
  if (isCancelled(e)) {
    err(ctx, 'Cancelled; nothing was left half-done.');
    return EXIT_FAIL;
  }
  printError(e instanceof BackupError ? e : new BackupError('Unknown', `Unexpected error: ${e instanceof Error ? e.message : String(e)}`), ctx);
  if (ctx.io.env.S3_BACKUP_DEBUG && e instanceof Error && e.stack) err(ctx, e.stack);
  return EXIT_FAIL;
}

function printError(e: BackupError, ctx: Ctx): void {
  if (ctx.json) {
    ctx.io.stderr.write(scrubSecrets(JSON.stringify({ error: errorJson(e) }), ctx.secrets) + '\n');
    return;
  }
  err(ctx, `Error: ${e.message}`);
  if (e.hint) err(ctx, `Hint: ${e.hint}`);
}

function errorJson(e: BackupError): Record<string, unknown> {
  return { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}), params: e.params };
}

function refJson(b: { key: string; time: Date; host: string; kind: string; size: number; lastModified?: Date }): Record<string, unknown> {
  return { key: b.key, time: b.time.toISOString(), host: b.host, kind: b.kind, size: b.size, ...(b.lastModified ? { lastModified: b.lastModified.toISOString() } : {}) };
}

function stderrLogger(ctx: Ctx): Logger {
  const verbose = !!ctx.io.env.S3_BACKUP_DEBUG;
  const noop = (): void => undefined;
  const w = (level: string) => (m: string) => err(ctx, `${level}: ${m}`);
  // Failures reach the user once, as the command's error; the log is for S3_BACKUP_DEBUG=1.
  return { trace: noop, debug: verbose ? w('debug') : noop, info: verbose ? w('info') : noop, warn: verbose ? w('warning') : noop, error: verbose ? w('error') : noop };
}

let progressShown = false;

function progressPrinter(ctx: Ctx): ProgressListener | undefined {
  if (!ctx.io.stderr.isTTY) return undefined;
  let last = 0;
  return (p: Progress) => {
    const now = Date.now();
    if (now - last < 150 && p.bytesDone < p.bytesTotal) return;
    last = now;
    const bytes = p.bytesTotal > 0 ? `${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}` : formatBytes(p.bytesDone);
    const files = p.filesTotal > 0 ? `, ${p.filesDone}/${p.filesTotal} files` : '';
    ctx.io.stderr.write(`\r\x1b[K${p.phase} ${bytes}${files}`);
    progressShown = true;
  };
}

function endProgress(ctx: Ctx): void {
  if (progressShown) ctx.io.stderr.write('\r\x1b[K');
  progressShown = false;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function quoteArg(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function ask(ctx: Ctx, question: string): Promise<string> {
  const rl = readline.createInterface({ input: ctx.io.stdin, output: ctx.io.stderr });
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      resolve(answer);
      rl.close();
    });
    rl.once('close', () => resolve(''));
  });
}

if (require.main === module) {
  void main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env }).then((code) => {
    process.exitCode = code;
  });
}
