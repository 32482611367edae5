// Settings that look like secrets (tokens, passwords, API keys, environment
// variables): an app data backup leaves them out unless the user asks for
// them (s3Backup.appData.includeSecretSettings), and records their names,
// never their values, so that a restore can say which ones to enter again.
import { parse, type ParseError } from 'jsonc-parser';
import { removePaths, walkSettings, type SettingPath } from './settingsMerge';

// The last word of a setting name that says it holds a secret ("github.personalAccessToken").
const SECRET_WORDS = new Set([
  'token', 'tokens', 'password', 'passwords', 'passwd', 'passphrase', 'pwd', 'secret', 'secrets',
  'credential', 'credentials', 'cookie', 'cookies', 'authorization', 'apikey', 'apikeys', 'accesskey', 'secretkey', 'privatekey',
]);
// "...Key" is a secret after these words ("apiKey", "client_secret_key"), not on its own (keybindings have keys).
const KEY_QUALIFIERS = new Set(['api', 'access', 'secret', 'private', 'license', 'auth', 'client', 'signing', 'encryption', 'master', 'subscription', 'app']);

/** The words of one name segment: camelCase, snake_case and kebab-case split, lower case. */
function words(segment: string): string[] {
  return segment
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[\s_\-$]+/)
    .filter((w) => w !== '')
    .map((w) => w.toLowerCase());
}

/**
 * Whether a setting's name says it holds a secret: its last word is token,
 * password, secret, credentials, cookie, authorization, or a qualified key
 * (apiKey, accessKey, privateKey, ...), or it sits under an `env` object
 * (`*.env.*`: environment variables, where tokens usually live). Names that
 * merely mention a word (editor.tokenColorCustomizations) are not.
 */
export function looksLikeSecretName(name: string): boolean {
  const segments = name.split('.');
  if (segments.slice(0, -1).some((s) => s.toLowerCase() === 'env')) return true;
  const w = words(segments[segments.length - 1]);
  const last = w[w.length - 1];
  if (last === undefined) return false;
  if (SECRET_WORDS.has(last)) return true;
  return (last === 'key' || last === 'keys') && w.length > 1 && KEY_QUALIFIERS.has(w[w.length - 2]);
}

// Well-known secret formats, anywhere in a value.
const SECRET_FORMATS: readonly RegExp[] = [
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/, // PEM private keys
  /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/, // GitHub tokens
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/, // AWS access key IDs
  /\bsk-[A-Za-z0-9_-]{20,}/, // OpenAI, Anthropic and similar API keys
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/, // Slack tokens
  /\bAIza[0-9A-Za-z_-]{35}\b/, // Google API keys
  /\bglpat-[A-Za-z0-9_-]{20,}/, // GitLab tokens
  /\bnpm_[A-Za-z0-9]{36}\b/, // npm tokens
  /\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+/, // JSON Web Tokens
  /[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, // a URL with a password in it
];

/** Bits per character of the string's own character distribution. */
function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / s.length) * Math.log2(n / s.length);
  return h;
}

/**
 * Whether a value looks like a secret: a well-known token or key format, a
 * URL with a password, or a long random-looking string (32+ characters of
 * base64 or hex, letters and digits mixed, no dots or spaces, not a path,
 * high entropy). Words, paths, URLs, colours and extension ids are not.
 */
export function looksLikeSecretValue(value: string): boolean {
  if (SECRET_FORMATS.some((re) => re.test(value))) return true;
  const s = value.trim();
  return s.length >= 32 && /^[A-Za-z0-9+/=_-]+$/.test(s) && !s.startsWith('/') && /[0-9]/.test(s) && /[A-Za-z]/.test(s) && entropy(s) >= 3.5;
}

function holdsSecretValue(v: unknown): boolean {
  if (typeof v === 'string') return looksLikeSecretValue(v);
  if (Array.isArray(v)) return v.some(holdsSecretValue);
  return false;
}

const hasContent = (v: unknown): boolean =>
  typeof v === 'string' ? v !== '' : Array.isArray(v) ? v.length > 0 : !!v && typeof v === 'object' && Object.keys(v).length > 0;

/**
 * The settings of a settings.json text that look like secrets, by name or by
 * value, at any depth (objects inside lists too), as JSON paths and names.
 */
export function secretSettings(text: string): { paths: SettingPath[]; names: string[] } {
  const errors: ParseError[] = [];
  const obj = parse(text, errors, { allowTrailingComma: true, disallowComments: false }) as unknown;
  const paths: SettingPath[] = [];
  const names: string[] = [];
  if (errors.length > 0 || !obj || typeof obj !== 'object' || Array.isArray(obj)) return { paths, names };
  const found = (name: string, at: SettingPath): true => {
    paths.push(at);
    names.push(name);
    return true;
  };
  // A secret string in a list takes the whole list out; a secret in an object inside a list, only that entry.
  const visit = (name: string, at: SettingPath, v: unknown): boolean => {
    if (hasContent(v) && looksLikeSecretName(name)) return found(name, at);
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).some(looksLikeSecretValue)) return found(name, at);
    if (holdsSecretValue(v)) return found(name, at);
    if (!Array.isArray(v)) return false;
    v.forEach((item, i) => {
      if (!item || typeof item !== 'object' || Array.isArray(item)) return;
      walkSettings(item as Record<string, unknown>, (n, p, x) => visit(`${name}[${i}].${n}`, [...at, i, ...p], x), { allKeys: true, at: [] });
    });
    return true;
  };
  walkSettings(obj as Record<string, unknown>, visit, { allKeys: true });
  return { paths, names };
}

/** settings.json without the settings that look like secrets, and their names (never their values). */
export function stripSecretSettings(text: string): { text: string; leftOut: string[] } {
  const { paths, names } = secretSettings(text);
  return paths.length === 0 ? { text, leftOut: [] } : { text: removePaths(text, paths), leftOut: names };
}
