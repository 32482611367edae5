// What the CLI writes: results on stdout, messages and progress on stderr,
// every line scrubbed of the secrets it knows.
import * as readline from 'readline';
import { BackupError, isCancelled, scrubSecrets } from '../core/util/engineErrors';
import { formatBytes } from '../core/util/formatBytes';
import type { Logger } from '../core/util/engineLogger';
import { printable, printableLines } from '../core/util/printable';
import { throttleProgress, type Progress, type ProgressListener } from '../core/util/progress';
import { UsageError } from './commandTable';

/** Streams and terminal facts, injectable so the process wiring stays in main.ts. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export interface Ctx {
  io: CliIo;
  json: boolean;
  secrets: string[];
  progressShown?: boolean;
}

export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;

// Every line goes through printableLines: a name that reached a line without
// `printable` still cannot move the cursor, clear the screen or reorder text.
export function out(ctx: Ctx, line: string): void {
  ctx.io.stdout.write(printableLines(scrubSecrets(line, ctx.secrets)) + '\n');
}

export function err(ctx: Ctx, line: string): void {
  ctx.io.stderr.write(printableLines(scrubSecrets(line, ctx.secrets)) + '\n');
}

/** Prints the failure as one sentence and a hint (or JSON); returns the exit code. */
export function report(e: unknown, ctx: Ctx): number {
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

export function printError(e: BackupError, ctx: Ctx): void {
  if (ctx.json) {
    ctx.io.stderr.write(printableLines(scrubSecrets(JSON.stringify({ error: errorJson(e) }), ctx.secrets)) + '\n');
    return;
  }
  // One line each: a name inside the message may hold a line break.
  err(ctx, `Error: ${printable(e.message)}`);
  if (e.hint) err(ctx, `Hint: ${printable(e.hint)}`);
}

export function errorJson(e: BackupError): Record<string, unknown> {
  return { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}), params: e.params };
}

export function refJson(b: { key: string; time: Date; host: string; kind: string; size: number; lastModified?: Date }): Record<string, unknown> {
  return { key: b.key, time: b.time.toISOString(), host: b.host, kind: b.kind, size: b.size, ...(b.lastModified ? { lastModified: b.lastModified.toISOString() } : {}) };
}

/** The engine's log on stderr, only with S3_BACKUP_DEBUG=1: failures reach the user once, as the command's error. */
export function stderrLogger(ctx: Ctx): Logger {
  const verbose = !!ctx.io.env.S3_BACKUP_DEBUG;
  const noop = (): void => undefined;
  const w = (level: string) => (m: string) => err(ctx, `${level}: ${m}`);
  return { trace: noop, debug: verbose ? w('debug') : noop, info: verbose ? w('info') : noop, warn: verbose ? w('warning') : noop, error: verbose ? w('error') : noop };
}

/** A progress line on a terminal's stderr (nothing when stderr is not a terminal). */
export function progressPrinter(ctx: Ctx): ProgressListener | undefined {
  if (!ctx.io.stderr.isTTY) return undefined;
  return throttleProgress((p: Progress) => {
    const bytes = p.bytesTotal > 0 ? `${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}` : formatBytes(p.bytesDone);
    const files = p.filesTotal > 0 ? `, ${p.filesDone}/${p.filesTotal} files` : '';
    ctx.io.stderr.write(`\r\x1b[K${p.phase} ${bytes}${files}`);
    ctx.progressShown = true;
  }, 150);
}

export function endProgress(ctx: Ctx): void {
  if (ctx.progressShown) ctx.io.stderr.write('\r\x1b[K');
  ctx.progressShown = false;
}

/** Quotes an argument for a shell command line the user may copy. */
export function quoteArg(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function ask(ctx: Ctx, question: string): Promise<string> {
  const rl = readline.createInterface({ input: ctx.io.stdin, output: ctx.io.stderr });
  return new Promise((resolve) => {
    rl.question(printable(question), (answer) => {
      resolve(answer);
      rl.close();
    });
    rl.once('close', () => resolve(''));
  });
}

/** Asks on the terminal without echoing what is typed (a passphrase). */
export function askHidden(ctx: Ctx, question: string): Promise<string> {
  const rl = readline.createInterface({ input: ctx.io.stdin, output: ctx.io.stderr, terminal: true });
  const shown = printable(question);
  // readline echoes through this; only the question itself reaches the terminal.
  const muted = rl as unknown as { _writeToOutput: (s: string) => void };
  muted._writeToOutput = (s: string): void => {
    if (s.includes(shown)) ctx.io.stderr.write(shown);
  };
  return new Promise((resolve) => {
    rl.question(shown, (answer) => {
      ctx.io.stderr.write('\n');
      resolve(answer);
      rl.close();
    });
    rl.once('close', () => resolve(''));
  });
}

/** "1 file" / "3 files". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
