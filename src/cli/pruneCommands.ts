// `prune`, `pin`, `unpin`, and the retention policy the CLI reads from its
// flags and the --config file (for `prune` and for `backup`).
import * as fs from 'fs';
import type { BackupEngine, PrunePlan, RetentionPolicy } from '../core/engine';
import { DEFAULT_RETENTION, normalizePolicy, reasonText } from '../core/retention/policy';
import type { PlannedBackup } from '../core/retention/prune';
import { formatBytes } from '../core/util/formatBytes';
import { printable } from '../core/util/printable';
import { UsageError, type OptionValues } from './commandTable';
import { endProgress, err, EXIT_OK, out, plural, progressPrinter, refJson, type Ctx } from './output';

/** What a handler gets (commands.ts' CommandRun; not imported, so the two files do not import each other). */
interface CommandRun {
  engine: BackupEngine;
  positionals: string[];
  values: OptionValues;
  ctx: Ctx;
  signal: AbortSignal;
}

const FLAGS: Record<keyof RetentionPolicy, string> = { keepLast: 'keep-last', keepDaily: 'keep-daily', keepWeekly: 'keep-weekly', keepMonthly: 'keep-monthly' };

/**
 * The policy: the `--keep-*` flags when any is given (the rules they do not
 * name are off, as restic's flags), else the config file's `"retention"`
 * object, else `fallback`; undefined when none (a backup then deletes nothing).
 */
export function retentionFrom(values: OptionValues, fallback?: RetentionPolicy): RetentionPolicy | undefined {
  const off: RetentionPolicy = { keepLast: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 };
  const flags: Partial<Record<keyof RetentionPolicy, unknown>> = {};
  for (const [k, flag] of Object.entries(FLAGS) as [keyof RetentionPolicy, string][]) if (values[flag] !== undefined) flags[k] = values[flag];
  if (Object.keys(flags).length === 0) return configRetention(values.config) ?? fallback;
  try {
    return normalizePolicy(flags, off);
  } catch (e) {
    const k = (Object.keys(FLAGS) as (keyof RetentionPolicy)[]).find((x) => (e as Error).message.startsWith(x)) ?? 'keepLast';
    throw new UsageError(`--${FLAGS[k]} takes a whole number (0 turns the rule off), not "${String(values[FLAGS[k]])}".`);
  }
}

function configRetention(configFile: unknown): RetentionPolicy | undefined {
  if (typeof configFile !== 'string') return undefined;
  let raw: unknown;
  try {
    raw = (JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>).retention;
  } catch {
    // loadProfile has already said what is wrong with the file.
    return undefined;
  }
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UsageError(`In the config file "${configFile}", "retention" must be an object like {"keepLast": 10, "keepDaily": 7}.`);
  try {
    return normalizePolicy(raw as Record<string, unknown>, { keepLast: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 });
  } catch (e) {
    throw new UsageError(`In the config file "${configFile}", retention.${(e as Error).message}`);
  }
}

/** "keep last 10, daily 7, weekly 4" */
export function policyLine(p: RetentionPolicy): string {
  const parts = [p.keepLast > 0 ? `last ${p.keepLast}` : '', p.keepDaily > 0 ? `daily ${p.keepDaily}` : '', p.keepWeekly > 0 ? `weekly ${p.keepWeekly}` : '', p.keepMonthly > 0 ? `monthly ${p.keepMonthly}` : ''].filter(Boolean);
  return parts.length > 0 ? `keep ${parts.join(', ')}` : 'retention off (every rule is 0): nothing goes';
}

function utcOffset(): string {
  const m = -new Date().getTimezoneOffset();
  const a = Math.abs(m);
  return `UTC${m < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

function backupLine(b: PlannedBackup, p: RetentionPolicy, going: boolean): string {
  const why = going ? '' : `  (${b.reasons.map((r) => reasonText(r, p)).join(', ')})`;
  const folders = b.folders ? `  ${b.folders.map((f) => printable(f)).join(', ')}` : '';
  return `  ${going ? 'go  ' : 'keep'}  ${b.time.toISOString().replace('.000Z', 'Z')}  ${b.kind.padEnd(9)}  ${printable(b.key)}${folders}${why}`;
}

function printPlan(plan: PrunePlan, ctx: Ctx): void {
  out(ctx, `Policy: ${policyLine(plan.policy)}; days, weeks and months in this machine's time zone (${utcOffset()}).`);
  for (const h of plan.byHost) {
    out(ctx, `${printable(h.host)}: ${h.forgotten} of ${plural(h.kept + h.forgotten, 'backup')} go${h.forgotten > 0 ? `, freeing ${formatBytes(h.freedBytes)}` : ''}`);
    for (const g of plan.groups.filter((x) => x.host === h.host)) {
      for (const b of [...g.kept.map((k) => ({ b: k, going: false })), ...g.forgotten.map((f) => ({ b: f, going: true }))].sort((x, y) => y.b.time.getTime() - x.b.time.getTime())) {
        out(ctx, backupLine(b.b, plan.policy, b.going));
      }
    }
  }
  for (const k of plan.unreadable) err(ctx, `The manifest of ${printable(k)} cannot be read: it is kept, and no pack is freed while it is there.`);
}

function planJson(plan: PrunePlan): Record<string, unknown> {
  const item = (b: PlannedBackup): Record<string, unknown> => ({ ...refJson(b), pinned: b.pinned, ...(b.folders ? { folders: b.folders } : {}), reasons: b.reasons });
  return {
    policy: plan.policy,
    forget: plan.forget.map(item),
    keep: plan.groups.flatMap((g) => g.kept).map(item),
    byHost: plan.byHost,
    freedBytes: plan.freedBytes,
    measured: plan.measured,
    unreadable: plan.unreadable,
  };
}

/** `prune`: the plan for every machine; without --dry-run, then deletes. */
async function prune({ engine, values, ctx, signal }: CommandRun): Promise<number> {
  const policy = retentionFrom(values, DEFAULT_RETENTION) ?? DEFAULT_RETENTION;
  const plan = await engine.planPrune(policy, { signal });
  const dryRun = values['dry-run'] === true;
  if (!ctx.json) printPlan(plan, ctx);
  const summary = `${plural(plan.forget.length, 'backup')} ${plan.forget.length === 1 ? 'goes' : 'go'} (${plan.kept} kept, ${plan.pinned} of them pinned), freeing ${formatBytes(plan.freedBytes)}.`;
  if (dryRun || plan.forget.length === 0) {
    if (ctx.json) out(ctx, JSON.stringify({ ...planJson(plan), dryRun }));
    else err(ctx, dryRun ? `Dry run: ${summary} Nothing was deleted.` : 'Nothing to prune: the policy keeps every backup.');
    return EXIT_OK;
  }
  const result = await engine.prune(plan, { signal, onProgress: progressPrinter(ctx) });
  endProgress(ctx);
  if (ctx.json) {
    out(ctx, JSON.stringify({ ...planJson(plan), dryRun: false, deleted: result.deleted, skipped: result.skipped, freedBytes: result.freedBytes, packsPending: result.packsPending }));
    return EXIT_OK;
  }
  for (const k of result.skipped) err(ctx, `Kept ${printable(k)}: it was pinned or the backups changed since the plan.`);
  err(ctx, `Pruned ${plural(result.deleted.length, 'backup')}, freed ${formatBytes(result.freedBytes)}.`);
  if (result.packsPending) err(ctx, 'Their packs are freed at the next clean-up: another machine is using the bucket right now.');
  return EXIT_OK;
}

function pinHandler(pinned: boolean) {
  return async ({ engine, positionals: [key], ctx, signal }: CommandRun): Promise<number> => {
    await engine.pin(key, pinned, { signal });
    if (ctx.json) out(ctx, JSON.stringify({ key, pinned }));
    else err(ctx, pinned ? `Pinned ${key}: retention and prune keep it.` : `Unpinned ${key}.`);
    return EXIT_OK;
  };
}

export const PRUNE_HANDLERS = { prune, pin: pinHandler(true), unpin: pinHandler(false) };
