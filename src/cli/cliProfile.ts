// The connection for a CLI run: flags > environment > --config file. The
// secret access key is never a flag (process lists and shell history).
import * as fs from 'fs';
import { normalizeProfile, type Profile, type ProfileInput } from '../core/storage/profile';
import { UsageError, type OptionValues } from './commandTable';

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

/** Refuses any flag that looks like the secret, before anything else is parsed. */
export function refuseSecretFlag(argv: string[]): void {
  for (const a of argv) {
    if (a === '--') break;
    if (/^--(secret-access-key|secret|secret-key|aws-secret-access-key)(=|$)/i.test(a)) {
      throw new UsageError(
        'The secret access key is never accepted as a command-line flag, because other users can read it from the process list and shell history. ' +
          'Set S3_BACKUP_SECRET_ACCESS_KEY in the environment or put "secretAccessKey" in a --config file.',
      );
    }
    if (/^--(passphrase|password|pass|new-passphrase)(=|$)/i.test(a)) {
      throw new UsageError(
        'The passphrase is never accepted as a command-line flag, because other users can read it from the process list and shell history. ' +
          'Set S3_BACKUP_PASSPHRASE in the environment, or run on a terminal to be asked for it.',
      );
    }
  }
}

function readConfigFile(configFile: string): ProfileInput {
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
  const input: ProfileInput = {};
  for (const k of Object.keys(ENV_NAMES) as (keyof ProfileInput)[]) {
    const v = (raw as Record<string, unknown>)[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') throw new UsageError(`In the config file "${configFile}", "${k}" must be a string.`);
    input[k] = v;
  }
  return input;
}

/** The normalized profile; `onSecret` learns the secret so output can scrub it. Bad values are a `UsageError` naming where to fix them. */
export function loadProfile(values: OptionValues, env: NodeJS.ProcessEnv, onSecret: (secret: string) => void): Profile {
  const configFile = values.config;
  const input: ProfileInput = typeof configFile === 'string' ? readConfigFile(configFile) : {};
  for (const k of Object.keys(ENV_NAMES) as (keyof ProfileInput)[]) {
    const v = env[ENV_NAMES[k]];
    if (v !== undefined && v !== '') input[k] = v;
  }
  for (const [k, flag] of Object.entries(FLAG_NAMES) as [keyof ProfileInput, string][]) {
    const v = values[flag];
    if (typeof v === 'string') input[k] = v;
  }
  if (input.secretAccessKey) onSecret(input.secretAccessKey);
  const result = normalizeProfile(input, { requireCredentials: true });
  if (!result.ok) {
    const lines = result.errors.map((e) => {
      const envName = ENV_NAMES[e.field];
      const flag = FLAG_NAMES[e.field];
      const where = flag ? `--${flag}, ${envName} or the --config file` : `${envName} or the --config file`;
      return `${e.message} (${where})`;
    });
    throw new UsageError(lines.join('\n'));
  }
  return result.profile;
}
