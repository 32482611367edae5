// The s3-backup program: parses the command line (commandTable.ts), builds
// the engine and runs one handler (commands.ts).

// The SDK prints a multi-line Node version warning on first use; a CLI must not.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import * as os from 'os';
import * as path from 'path';
import { BackupEngine } from '../core/engine';
import { toolVersion } from '../core/util/version';
import { loadProfile, refuseSecretFlag } from './cliProfile';
import { helpText, parseCommandLine, UsageError } from './commandTable';
import { HANDLERS, LOCAL_HANDLERS, recoverOnStart } from './commands';
import { askHidden, err, EXIT_OK, EXIT_USAGE, out, report, stderrLogger, type CliIo, type Ctx } from './output';

export type { CliIo } from './output';

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
  const { command, values, positionals } = parseCommandLine(argv);
  ctx.json = values.json === true;
  if (values.version) {
    out(ctx, ctx.json ? JSON.stringify({ version: toolVersion() }) : toolVersion());
    return EXIT_OK;
  }
  if (values.help) {
    out(ctx, helpText());
    return EXIT_OK;
  }
  if (!command) {
    err(ctx, helpText());
    return EXIT_USAGE;
  }
  const snapshotRoot = typeof values.snapshots === 'string' ? path.resolve(values.snapshots) : path.join(os.homedir(), '.s3-backup', 'snapshots');
  // undo and finish show the interrupted restores themselves.
  const target = command.name === 'restore' && positionals[1] ? [path.resolve(positionals[1])] : [];
  await recoverOnStart(ctx, snapshotRoot, BackupEngine, { quiet: !command.needsProfile, folders: target });
  const local = LOCAL_HANDLERS[command.name];
  if (local) return local({ positionals, values, ctx, snapshotRoot, records: BackupEngine });

  const handler = HANDLERS[command.name];
  if (!handler) throw new UsageError(`Unknown command "${command.name}".`);
  const profile = loadProfile(values, ctx.io.env, (secret) => ctx.secrets.push(secret));
  let passphrase = ctx.io.env.S3_BACKUP_PASSPHRASE || undefined;
  if (passphrase) ctx.secrets.push(passphrase);
  for (;;) {
    const engine = new BackupEngine(profile, {
      logger: stderrLogger(ctx),
      hostname: ctx.io.env.S3_BACKUP_HOSTNAME?.trim() || undefined,
      snapshotRoot,
      ...(passphrase ? { passphrase } : {}),
    });
    try {
      return await handler({ engine, positionals, values, ctx, signal, snapshotRoot });
    } catch (e) {
      // An encrypted repository and no passphrase: asked once on a terminal, then the command runs again
      // ('PassphraseNeeded' comes before anything is written).
      if (passphrase || (e as { code?: string }).code !== 'PassphraseNeeded' || !(ctx.io.stdin.isTTY && ctx.io.stderr.isTTY)) throw e;
      passphrase = (await askHidden(ctx, 'This repository is encrypted. Passphrase: ')) || undefined;
      if (!passphrase) throw e;
      ctx.secrets.push(passphrase);
    } finally {
      engine.dispose();
    }
  }
}

if (require.main === module) {
  void main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env }).then((code) => {
    process.exitCode = code;
  });
}
