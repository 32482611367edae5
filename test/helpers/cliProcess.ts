// The s3-backup program as users run it: `node dist/cli.js` in its own
// process, with only the environment a test gives it.
import * as assert from 'assert';
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const CLI = path.join(REPO, 'dist', 'cli.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function bundleIsStale(): boolean {
  if (!fs.existsSync(CLI)) return true;
  const built = fs.statSync(CLI).mtimeMs;
  const sources = ['cli', 'core'].flatMap((d) => fs.readdirSync(path.join(REPO, 'src', d), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)));
  return sources.some((f) => fs.statSync(f).mtimeMs > built);
}

/** Builds dist/ the normal way when a source is newer than dist/cli.js (`npm test` has just built it). */
export function ensureCliBundle(): void {
  if (bundleIsStale()) {
    const r = spawnSync(process.execPath, ['esbuild.js'], { cwd: REPO, encoding: 'utf8' });
    assert.strictEqual(r.status, 0, `node esbuild.js failed:\n${r.stderr}`);
  }
  assert.ok(fs.existsSync(CLI), 'dist/cli.js was built');
}

/** Starts the CLI with only PATH, HOME, TMPDIR and LANG of this process, plus `env`. */
export function spawnCli(args: string[], env: Record<string, string> = {}): ChildProcess {
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'SYSTEMROOT']) if (process.env[k]) base[k] = process.env[k]!;
  return spawn(process.execPath, [CLI, ...args], { env: { ...base, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Runs the CLI to its end; resolves with its exit code and output. */
export function cli(args: string[], env: Record<string, string> = {}, input?: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin!.end(input ?? '');
  });
}

/** The S3_BACKUP_* settings for the test server (S3_TEST_*), a bucket and a root path. */
export function cliS3Env(bucket: string, rootPath: string): Record<string, string> {
  // Loaded here, not at the top: the SDK-based helpers are only for suites with a server.
  const { s3TestEnv } = require('./s3') as typeof import('./s3');
  const t = s3TestEnv();
  return {
    S3_BACKUP_ENDPOINT: t.endpoint,
    S3_BACKUP_REGION: t.region,
    S3_BACKUP_BUCKET: bucket,
    S3_BACKUP_ACCESS_KEY_ID: t.accessKeyId,
    S3_BACKUP_SECRET_ACCESS_KEY: t.secretAccessKey,
    S3_BACKUP_ROOT_PATH: rootPath,
  };
}
