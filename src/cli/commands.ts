// One handler per command of the table in commandTable.ts.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BackupEngine, type BackupFolder, type ConnectionReport, type RestoreSummary } from '../core/engine';
import { inRestoreGrace, RESTORE_GRACE_MS } from '../core/schedule/autoSchedule';
import { codeFilesToWrite } from '../core/restore/codeFileItems';
import type { RestoreItem, RestorePlan } from '../core/restore/planRestore';
import { targetsInFolder, workspacePrefixes } from '../core/restore/targets';
import { BackupError } from '../core/util/engineErrors';
import { mapLimit } from '../core/util/firstFailure';
import { formatBytes } from '../core/util/formatBytes';
import { printable } from '../core/util/printable';
import { UsageError, type OptionValues } from './commandTable';
import { policyLine, PRUNE_HANDLERS, retentionFrom } from './pruneCommands';
import { ask, askHidden, endProgress, err, errorJson, EXIT_FAIL, EXIT_OK, out, plural, printError, progressPrinter, quoteArg, refJson, type Ctx } from './output';

export interface CommandRun {
  engine: BackupEngine;
  positionals: string[];
  values: OptionValues;
  ctx: Ctx;
  signal: AbortSignal;
  /** Where the undo records are kept (`--snapshots` or `~/.s3-backup/snapshots`). */
  snapshotRoot: string;
}

export type Handler = (run: CommandRun) => Promise<number>;

async function testConnection({ engine, ctx, signal }: CommandRun): Promise<number> {
  const report: ConnectionReport = await engine.testConnection({ signal });
  if (ctx.json) {
    out(ctx, JSON.stringify({
      ok: report.ok,
      steps: report.steps.map((s) => ({ step: s.step, ok: s.ok, ...(s.error ? { error: errorJson(s.error) } : {}) })),
      ...(report.access ? { access: report.access } : {}),
      cleartext: report.cleartext,
    }));
  } else {
    for (const s of report.steps) out(ctx, `${s.ok ? 'ok  ' : 'FAIL'} ${s.step}`);
    printExposure(ctx, report);
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

/** The private-bucket check's findings, on stderr: the connection works, but strangers may read it. */
function printExposure(ctx: Ctx, report: ConnectionReport): void {
  const a = report.access;
  if (a?.listable) err(ctx, 'warning: anyone can list the backups without keys (an unsigned LIST of the root path was answered).');
  if (a?.readable) err(ctx, 'warning: anyone can download the backups without keys (an unsigned GET of an object under the root path was answered).');
  if (a?.policyPublic) err(ctx, 'warning: the bucket policy makes the bucket public (GetBucketPolicyStatus).');
  if (a?.aclPublic) err(ctx, 'warning: the bucket ACL grants access to everyone (AllUsers or AuthenticatedUsers).');
  if (a?.exposed) {
    err(ctx, 'hint: make the bucket private. AWS S3: turn on Block Public Access. Cloudflare R2: disable the r2.dev public URL and any custom domain.');
    err(ctx, '      Alibaba OSS: set the bucket ACL to private. Tencent COS: set the access to private read/write. MinIO: mc anonymous set none <alias>/<bucket>.');
    err(ctx, '      Ceph: remove the bucket policy and the public ACL. Backups stay readable to anyone until then.');
  }
  if (a && a.unknown.length > 0) err(ctx, `note: not checked, the server did not tell: ${a.unknown.join(', ')}.`);
  if (report.cleartext) {
    err(ctx, 'warning: the endpoint uses http:// to another machine: the access key ID, the request signatures and every backup travel unencrypted. Use https://.');
  }
}

async function backup({ engine, positionals, values, ctx, signal, snapshotRoot }: CommandRun): Promise<number> {
  const kind = (values.kind as string | undefined) ?? 'workspace';
  if (kind !== 'workspace') {
    throw new UsageError(`The CLI backs up folders only: --kind must be "workspace", not "${kind}".`);
  }
  const folders = positionals.map((d) => {
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
  if (values['if-changed'] === true && !(await worthBackingUp(engine, folders, snapshotRoot, ctx, signal))) return EXIT_OK;
  const retention = retentionFrom(values);
  const res = await engine.backup({ kind: 'workspace', folders, ...(retention ? { retention } : {}) }, { signal, onProgress: progressPrinter(ctx) });
  endProgress(ctx);
  const r = res.retention;
  if (ctx.json) {
    out(ctx, JSON.stringify({ ...refJson(res), files: res.files, bytes: res.bytes, uploaded: res.uploaded, skipped: res.skipped, ...(r ? { retention: { deleted: r.deleted, freedBytes: r.freedBytes, ...(r.error ? { error: errorJson(r.error) } : {}) } } : {}) }));
  } else {
    out(ctx, res.key);
    err(ctx, `Backed up ${plural(res.files, 'file')} (${formatBytes(res.bytes)}, ${formatBytes(res.uploaded)} uploaded).`);
    for (const s of res.skipped) err(ctx, `skipped ${printable(s.relPath)} (${s.reason}${s.detail ? `: ${printable(s.detail)}` : ''})`);
    if (r && r.deleted.length > 0) err(ctx, `Retention (${policyLine(retention!)}): deleted ${plural(r.deleted.length, 'older backup')} of this machine, freed ${formatBytes(r.freedBytes)}.`);
    if (r?.error) err(ctx, `Retention did not run: ${r.error.message} The backup itself is saved.`);
  }
  return EXIT_OK;
}

/**
 * `--if-changed`: the automatic backup's rule for cron. False (and one line
 * saying why) when a folder was restored into within the grace period, or
 * nothing changed since the last backup of these folders from this machine.
 */
async function worthBackingUp(engine: BackupEngine, folders: BackupFolder[], snapshotRoot: string, ctx: Ctx, signal: AbortSignal): Promise<boolean> {
  const now = Date.now();
  const restored = (await BackupEngine.listRestores(snapshotRoot).catch(() => [])).find(
    (r) => r.state !== 'undone' && inRestoreGrace(Date.parse(r.time), now) && r.folders.some((f) => folders.some((b) => path.resolve(f) === b.path)),
  );
  if (restored) {
    const minutes = Math.ceil((Date.parse(restored.time) + RESTORE_GRACE_MS - now) / 60_000);
    if (ctx.json) out(ctx, JSON.stringify({ backedUp: false, reason: 'restored', restoredAt: restored.time }));
    else err(ctx, `Not backed up: ${printable(restored.folders.join(', '))} was restored at ${restored.time.replace(/\.\d+Z$/, 'Z')}; --if-changed waits ${plural(minutes, 'more minute')} after a restore.`);
    return false;
  }
  const check = await engine.hasChanges({ kind: 'workspace', folders }, { signal });
  if (check.changed) return true;
  if (ctx.json) out(ctx, JSON.stringify({ backedUp: false, reason: 'unchanged', previous: check.previous?.key }));
  else err(ctx, `Nothing changed since ${check.previous?.key ?? 'the last backup'}: no new backup.`);
  return false;
}

async function list({ engine, ctx, signal }: CommandRun): Promise<number> {
  const backups = await engine.listAll({ signal });
  // A format-2 object is its manifest: the backup's own size is in the manifest's header (one small ranged read each).
  const totals = new Map<string, { files: number; bytes: number }>();
  await mapLimit(backups, 8, async (b) => {
    if (b.format !== 2) return;
    const header = await engine.summary(b, { signal }).catch(() => undefined);
    if (header) totals.set(b.key, header.totals);
  });
  if (ctx.json) {
    out(ctx, JSON.stringify(backups.map((b) => ({ ...refJson(b), ...totals.get(b.key) }))));
    return EXIT_OK;
  }
  if (backups.length === 0) {
    err(ctx, 'No backups found.');
    return EXIT_OK;
  }
  for (const b of backups) {
    const size = b.format === 2 ? (totals.has(b.key) ? formatBytes(totals.get(b.key)!.bytes) : '?') : formatBytes(b.size);
    out(ctx, `${b.time.toISOString().replace('.000Z', 'Z')}  ${b.kind.padEnd(9)}  ${size.padStart(10)}  ${printable(b.host)}  ${printable(b.key)}`);
  }
  return EXIT_OK;
}

/** The plan, one line per file that changes; code-running files say whether they are restored. Names are escaped. */
function printPlan(plan: RestorePlan, ctx: Ctx, dryRun: boolean, includeCodeFiles: boolean): void {
  if (ctx.json) {
    if (dryRun) {
      out(ctx, JSON.stringify({
        targets: plan.targets,
        counts: plan.counts,
        items: plan.items.map((i) => ({ path: i.archivePath, target: i.targetPath, action: i.action, size: i.size, ...(i.runsCode ? { runsCode: true, restored: includeCodeFiles } : {}) })),
        links: (plan.links ?? []).map((l) => ({ path: l.archivePath, target: l.targetPath, linkTo: l.target, action: l.action })),
        folders: (plan.dirs ?? []).map((d) => ({ path: d.archivePath, target: d.targetPath, action: d.action })),
        skippedLinks: (plan.skippedLinks ?? []).map((l) => ({ path: l.archivePath, linkTo: l.target, reason: l.reason })),
      }));
    }
    return;
  }
  const w = dryRun ? out : err;
  const label: Record<string, string> = { create: 'new', overwrite: 'overwrite', unchanged: 'unchanged', onlyLocal: 'only local' };
  for (const i of plan.items) {
    if (i.action === 'unchanged') continue;
    const mark = i.runsCode && i.action !== 'onlyLocal' ? (includeCodeFiles ? '  (runs code)' : '  (runs code: left out)') : '';
    w(ctx, `${label[i.action].padEnd(10)} ${printable(i.targetPath)}${mark}`);
  }
  for (const l of plan.links ?? []) if (l.action !== 'unchanged') w(ctx, `${(l.action === 'create' ? 'new link' : 'link').padEnd(10)} ${printable(l.targetPath)} -> ${printable(l.target)}`);
  for (const d of plan.dirs ?? []) if (d.action === 'create') w(ctx, `${'new folder'.padEnd(10)} ${printable(d.targetPath)}`);
  // A link the restore leaves out is said even on a real run: the folder will lack it.
  for (const l of plan.skippedLinks ?? []) err(ctx, `Left out the link ${printable(l.archivePath)} -> ${printable(l.target)}: it points outside the restored folder, so it is never recreated.`);
  w(ctx, `${plan.counts.create} new, ${plan.counts.overwrite} overwritten, ${plan.counts.unchanged} unchanged, ${plan.counts.onlyLocal} only local (kept).`);
}

/** "Left out 2 files that can run code by themselves (.vscode/tasks.json, .envrc); ..." */
function leftOutLine(codeFiles: readonly RestoreItem[]): string {
  const shown = codeFiles.slice(0, 5).map((i) => printable(i.relPath)).join(', ');
  const more = codeFiles.length > 5 ? `, and ${codeFiles.length - 5} more` : '';
  return `Left out ${plural(codeFiles.length, 'file')} that can make tools run code by themselves (${shown}${more}); add --include-code-files to restore ${codeFiles.length === 1 ? 'it' : 'them'} too.`;
}

function keepSnapshots(values: OptionValues): number {
  const raw = values['keep-snapshots'];
  if (raw === undefined) return DEFAULT_KEEP_SNAPSHOTS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--keep-snapshots takes a whole number (0 keeps all), not "${String(raw)}".`);
  return n;
}

/** Undo records the CLI keeps, as the extension's `s3Backup.restore.keepSnapshots` default. */
const DEFAULT_KEEP_SNAPSHOTS = 10;

async function restore({ engine, positionals: [key, dir], values, ctx, signal }: CommandRun): Promise<number> {
  const dryRun = values['dry-run'] === true;
  const target = path.resolve(dir);
  if (fs.existsSync(target) && !fs.statSync(target).isDirectory()) throw new UsageError(`"${dir}" is not a folder.`);
  // Into an empty or new folder nothing can be overwritten: no question to ask.
  const yes = values.yes === true || isEmptyOrNew(target);
  const includeCodeFiles = values['include-code-files'] === true;
  // Decide before downloading: a non-interactive run without --yes must not write.
  if (!dryRun && !yes && !(ctx.io.stdin.isTTY && ctx.io.stderr.isTTY)) {
    throw new UsageError('Restore asks for confirmation, and there is no terminal to ask: add --yes to restore, or --dry-run to see the plan only.');
  }
  keepSnapshots(values);
  const fetched = await engine.fetch(key, { signal, onProgress: progressPrinter(ctx), allowPlain: values['allow-plain'] === true });
  try {
    endProgress(ctx);
    if (!fetched.encrypted && engine.crypto.enabled && !ctx.json) err(ctx, 'This backup is not encrypted: it was made before encryption was turned on.');
    const prefixes = workspacePrefixes(fetched.manifest);
    if (prefixes.length === 0) {
      throw new BackupError('NotFound', 'This backup holds no workspace folder to restore.', 'App data is restored from the VS Code extension.');
    }
    const plan = await engine.plan(fetched, targetsInFolder(prefixes, target));
    printPlan(plan, ctx, dryRun, includeCodeFiles);
    const codeFiles = codeFilesToWrite(plan.items);
    const leftOut = includeCodeFiles ? [] : codeFiles;
    if (leftOut.length > 0 && !ctx.json) err(ctx, leftOutLine(leftOut));
    if (dryRun) return EXIT_OK;
    const changes = plan.counts.create + plan.counts.overwrite - leftOut.length;
    if (changes === 0) {
      if (!ctx.json) err(ctx, leftOut.length > 0 ? 'Nothing else to restore: every other file is already identical.' : 'Nothing to restore: every file is already identical.');
      else out(ctx, JSON.stringify({ written: 0, codeFilesLeftOut: leftOut.length }));
      return EXIT_OK;
    }
    if (!yes) {
      const answer = await ask(ctx, `Restore ${plural(changes, 'file')} into ${target}? [y/N] `);
      if (!/^y(es)?$/i.test(answer.trim())) {
        err(ctx, 'Nothing was restored.');
        return EXIT_FAIL;
      }
    }
    const snapshotRoot = values.snapshots as string | undefined;
    const result = await engine.apply(plan, {
      signal,
      onProgress: progressPrinter(ctx),
      includeCodeFiles,
      retention: { keep: keepSnapshots(values) },
      ...(snapshotRoot ? { snapshotRoot: path.resolve(snapshotRoot) } : {}),
    });
    endProgress(ctx);
    if (ctx.json) {
      out(ctx, JSON.stringify({ ...result, codeFilesLeftOut: leftOut.length }));
    } else {
      err(ctx, `Restored ${plural(result.written, 'file')} into ${target}.`);
      if (leftOut.length > 0) err(ctx, leftOutLine(leftOut));
      if (result.snapshotDir) err(ctx, `To undo: s3-backup undo ${quoteArg(result.snapshotDir)}`);
    }
    return EXIT_OK;
  } finally {
    await fetched.dispose();
  }
}

/** Whether `dir` does not exist yet or holds nothing. */
function isEmptyOrNew(dir: string): boolean {
  try {
    return fs.readdirSync(dir).length === 0;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

async function verify({ engine, positionals: [key], values, ctx, signal }: CommandRun): Promise<number> {
  const manifest = await engine.verify(key, { signal, onProgress: progressPrinter(ctx), allowPlain: values['allow-plain'] === true });
  endProgress(ctx);
  if (ctx.json) {
    out(ctx, JSON.stringify({ ok: true, key, files: manifest.totals.files, bytes: manifest.totals.bytes, created: manifest.created, hostname: manifest.hostname, kind: manifest.kind, toolVersion: manifest.toolVersion }));
  } else {
    out(ctx, `OK: ${plural(manifest.totals.files, 'file')}, ${formatBytes(manifest.totals.bytes)}, every one matches its checksum.`);
  }
  return EXIT_OK;
}

async function download({ engine, positionals: [key, file], values, ctx, signal }: CommandRun): Promise<number> {
  const dest = path.resolve(file);
  if (values.force !== true && fs.existsSync(dest)) {
    throw new BackupError('AlreadyExists', `The file "${file}" already exists.`, 'Pass --force to replace it, or choose another name.');
  }
  await engine.download(key, dest, { signal, onProgress: progressPrinter(ctx), allowPlain: values['allow-plain'] === true });
  endProgress(ctx);
  const size = fs.statSync(dest).size;
  if (ctx.json) out(ctx, JSON.stringify({ key, file: dest, size }));
  else err(ctx, `Saved ${formatBytes(size)} to ${dest}.`);
  return EXIT_OK;
}

/** `decrypt`: the plain zip of an encrypted backup (as `download`) or of one pack. */
async function decrypt({ engine, positionals: [key, file], values, ctx, signal }: CommandRun): Promise<number> {
  const dest = path.resolve(file);
  if (values.force !== true && fs.existsSync(dest)) {
    throw new BackupError('AlreadyExists', `The file "${file}" already exists.`, 'Pass --force to replace it, or choose another name.');
  }
  await engine.decrypt(key, dest, { signal, onProgress: progressPrinter(ctx) });
  endProgress(ctx);
  const size = fs.statSync(dest).size;
  if (ctx.json) out(ctx, JSON.stringify({ key, file: dest, size }));
  else err(ctx, `Saved the plain zip (${formatBytes(size)}) to ${dest}.`);
  return EXIT_OK;
}

/** `change-passphrase`: the new one from S3_BACKUP_NEW_PASSPHRASE, or asked twice on a terminal. */
async function changePassphrase({ engine, ctx, signal }: CommandRun): Promise<number> {
  let next = ctx.io.env.S3_BACKUP_NEW_PASSPHRASE ?? '';
  if (!next) {
    if (!(ctx.io.stdin.isTTY && ctx.io.stderr.isTTY)) throw new UsageError('Set S3_BACKUP_NEW_PASSPHRASE, or run on a terminal to be asked for the new passphrase.');
    next = await askHidden(ctx, 'New passphrase: ');
    if ((await askHidden(ctx, 'New passphrase again: ')) !== next) throw new UsageError('The two passphrases differ; nothing was changed.');
  }
  ctx.secrets.push(next);
  await engine.changePassphrase(next, { signal });
  if (ctx.json) out(ctx, JSON.stringify({ changed: true }));
  else err(ctx, 'The passphrase was changed; the old one no longer opens the backups. Set the new one on every machine.');
  return EXIT_OK;
}

async function deleteBackup({ engine, positionals: [key], ctx, signal }: CommandRun): Promise<number> {
  await engine.delete(key, { signal });
  if (ctx.json) out(ctx, JSON.stringify({ deleted: key }));
  else err(ctx, `Deleted ${key}.`);
  return EXIT_OK;
}

/** The handlers of the commands that need the bucket. */
export const HANDLERS: Record<string, Handler> = {
  'test-connection': testConnection,
  backup,
  list,
  restore,
  verify,
  download,
  decrypt,
  'change-passphrase': changePassphrase,
  delete: deleteBackup,
  ...PRUNE_HANDLERS,
};

/** What the commands that need no bucket use: the engine's local restore records. */
export type RestoreRecords = Pick<typeof BackupEngine, 'undo' | 'listRestores' | 'finishRestore' | 'cleanUp'>;

export interface LocalRun {
  positionals: string[];
  values: OptionValues;
  ctx: Ctx;
  snapshotRoot: string;
  records: RestoreRecords;
}

function snapshotDirArg(arg: string): string {
  const dir = path.resolve(arg);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`The snapshot folder "${arg}" does not exist.`);
  return dir;
}

function summaryLine(r: RestoreSummary): string {
  const from = r.backup.created ? `backup of ${r.backup.created.replace(/\.\d+Z$/, 'Z')} from ${r.backup.hostname}` : 'backup';
  const files = `${r.newFiles} new, ${r.replacedFiles} replaced`;
  return `${r.time.replace(/\.\d+Z$/, 'Z')}  ${r.state.padEnd(11)}  ${r.folders.join(', ')}  (${from}; ${files})  ${r.snapshotDir}`;
}

/** Restores that `undo` can act on: finished, interrupted, or still running (not yet). */
function undoable(list: RestoreSummary[]): RestoreSummary[] {
  return list.filter((r) => r.state !== 'undone');
}

/** `undo`: lists the restores that can be undone (no argument), or undoes one (`<snapshotDir>` or `--last`). */
async function undo({ positionals: [arg], values, ctx, snapshotRoot, records }: LocalRun): Promise<number> {
  let dir: string | undefined;
  if (values.last === true) {
    if (arg) throw new UsageError('Give either --last or a snapshot folder, not both.');
    const last = undoable(await records.listRestores(snapshotRoot)).find((r) => r.state !== 'running');
    if (!last) {
      err(ctx, 'There is no restore to undo.');
      return EXIT_FAIL;
    }
    dir = last.snapshotDir;
  } else if (arg) {
    dir = snapshotDirArg(arg);
  } else {
    const list = undoable(await records.listRestores(snapshotRoot));
    if (ctx.json) {
      out(ctx, JSON.stringify(list));
    } else if (list.length === 0) {
      err(ctx, `No restore to undo (in ${snapshotRoot}).`);
    } else {
      for (const r of list) out(ctx, summaryLine(r));
      err(ctx, 'To undo one: s3-backup undo <snapshotDir> (the last column); s3-backup undo --last undoes the newest.');
    }
    return EXIT_OK;
  }
  const result = await records.undo(dir);
  if (ctx.json) out(ctx, JSON.stringify(result));
  else err(ctx, `Undone: ${plural(result.restored, 'file')} put back, ${result.removed} removed.`);
  return EXIT_OK;
}

/** `finish`: completes an interrupted restore from its staged files. */
async function finish({ positionals: [arg], ctx, records }: LocalRun): Promise<number> {
  const result = await records.finishRestore(snapshotDirArg(arg));
  if (ctx.json) {
    out(ctx, JSON.stringify(result));
  } else {
    const kept = result.kept > 0 ? ` ${plural(result.kept, 'file')} changed since the restore stopped and ${result.kept === 1 ? 'was' : 'were'} kept as ${result.kept === 1 ? 'it is' : 'they are'}.` : '';
    err(ctx, `Finished the restore: ${plural(result.written, 'more file')} written.${kept}`);
  }
  return EXIT_OK;
}

/** The handlers of the commands that need no bucket (the undo records are local). */
export const LOCAL_HANDLERS: Record<string, (run: LocalRun) => Promise<number>> = { undo, finish };

/**
 * Before any command: removes what crashed runs left behind and names the
 * interrupted restores on stderr (never asks: scripts must not block).
 */
export async function recoverOnStart(ctx: Ctx, snapshotRoot: string, records: RestoreRecords, o: { quiet: boolean; folders?: string[] }): Promise<void> {
  try {
    await records.cleanUp({ snapshotRoot, tmpDir: os.tmpdir(), folders: o.folders });
    if (o.quiet || ctx.json) return;
    for (const r of (await records.listRestores(snapshotRoot)).filter((x) => x.state === 'interrupted')) {
      err(ctx, `Note: the restore into ${r.folders.join(', ')} of ${r.time.replace(/\.\d+Z$/, 'Z')} was interrupted.`);
      if (r.canFinish) err(ctx, `  Finish it: s3-backup finish ${quoteArg(r.snapshotDir)}`);
      err(ctx, `  Roll it back: s3-backup undo ${quoteArg(r.snapshotDir)}`);
    }
  } catch (e) {
    // Recovery must never stop the command the user asked for.
    if (ctx.io.env.S3_BACKUP_DEBUG) err(ctx, `warning: clean-up failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}
