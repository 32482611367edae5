// Messages between the settings webview (src/webview/settingsPage.ts) and its host
// (src/settings/settingsPanel.ts). Shared by both sides, so this file imports
// nothing: no `vscode`, no Node, no DOM.
//
// Rules the protocol encodes:
// - the webview sends `ready` first; the host posts `init` only after it;
// - the secret access key travels only webview -> host (`save`, `test`), and
//   only when the user typed a new one; the host never posts it back: the state
//   carries `secretStored: boolean`;
// - every message from the webview goes through `parseWebviewMessage()`.

/** The profile fields the page edits, same names as `ProfileField` in src/core/profile.ts. */
export const SETTINGS_FIELDS = [
  'endpoint',
  'region',
  'bucket',
  'accessKeyId',
  'secretAccessKey',
  'rootPath',
  'addressingStyle',
] as const;
export type SettingsField = (typeof SETTINGS_FIELDS)[number];

export const ADDRESSING_STYLES = ['auto', 'path', 'virtual'] as const;
export type AddressingStyleChoice = (typeof ADDRESSING_STYLES)[number];

/** What the form holds, the secret excepted. */
export interface FormValues {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  rootPath: string;
  addressingStyle: AddressingStyleChoice;
}

export const FORM_VALUE_KEYS = ['endpoint', 'region', 'bucket', 'accessKeyId', 'rootPath', 'addressingStyle'] as const;

export interface SettingsState {
  /** Saved values: settings (non-secret) plus the access key id from SecretStorage. */
  values: FormValues;
  /** Whether a secret access key is in SecretStorage. Its value is never sent. */
  secretStored: boolean;
  /** Whether an encryption passphrase is in SecretStorage. Its value never reaches the webview (it is typed in the host's password box). */
  passphraseStored: boolean;
}

export interface FieldIssue {
  field: SettingsField;
  message: string;
}

export type ConnectionStepName = 'bucket' | 'write' | 'read' | 'delete';
export const CONNECTION_STEPS: readonly ConnectionStepName[] = ['bucket', 'write', 'read', 'delete'];

export interface StepResult {
  step: ConnectionStepName;
  status: 'ok' | 'failed' | 'skipped';
  /** Localized plain sentence for a failed step (from the engine error's code). */
  message?: string;
  hint?: string;
}

export type Action = 'save' | 'test' | 'clearSecret' | 'backUpNow' | 'manage' | 'passphrase';

/** Every user-facing string the webview shows, localized by the host. */
export const STRING_KEYS = [
  'title',
  'intro',
  'sectionConnection',
  'sectionCredentials',
  'sectionLayout',
  'providerLabel',
  'providerHint',
  'providerOther',
  'endpointLabel',
  'endpointHint',
  'regionLabel',
  'regionHint',
  'regionHintAws',
  'regionHintR2',
  'regionHintOss',
  'regionHintCos',
  'regionHintSelfHosted',
  'bucketLabel',
  'bucketHint',
  'privateBucketWarning',
  'accessKeyIdLabel',
  'accessKeyIdHint',
  'secretLabel',
  'secretHint',
  'secretStored',
  'secretReplace',
  'secretClear',
  'secretCancelReplace',
  'sectionEncryption',
  'passphraseHint',
  'passphraseLost',
  'passphraseStored',
  'passphraseNone',
  'passphraseSet',
  'passphraseChange',
  'rootPathLabel',
  'rootPathHint',
  'addressingStyleLabel',
  'addressingStyleHint',
  'addressingAuto',
  'addressingPath',
  'addressingVirtual',
  'save',
  'saving',
  'testConnection',
  'testing',
  'backUpNow',
  'backUpNeedsSettings',
  'backingUp',
  'manage',
  'stepsHeading',
  'stepBucket',
  'stepWrite',
  'stepRead',
  'stepDelete',
  'stepOk',
  'stepFailed',
  'stepSkipped',
  'unsavedChanges',
  'optional',
  'sectionAutoBackup',
  'autoBackupHint',
  'autoBackupOpen',
] as const;
export type StringKey = (typeof STRING_KEYS)[number];
export type UiStrings = Record<StringKey, string>;

/** The private-bucket check's warning, localized by the host (extension/ui/exposureText.ts). */
export interface PublicWarning {
  title: string;
  meaning: string;
  /** One sentence per kind of access found. */
  found: string[];
  fixHeading: string;
  /** How to make the bucket private: the endpoint's provider, or every provider. */
  fixes: string[];
}

// ---------------------------------------------------------------- host -> webview

export type HostMessage =
  | { type: 'init'; state: SettingsState; strings: UiStrings }
  /** The saved state changed (after save or clear, or edited elsewhere). */
  | { type: 'state'; state: SettingsState }
  /** Answer to `validate`; `seq` lets the webview drop stale answers. */
  | { type: 'validation'; seq: number; issues: FieldIssue[] }
  /** End of an action the webview started. `message` goes to the live status region. */
  | {
      type: 'result';
      action: Action;
      ok: boolean;
      message: string;
      issues: FieldIssue[];
      notes: string[];
      steps?: StepResult[];
    }
  /**
   * The private-bucket check for the bucket and root path the form shows (the
   * last check's result), and whether its endpoint sends data in clear; both
   * absent: nothing to warn about.
   */
  | { type: 'exposure'; publicWarning?: PublicWarning; cleartext?: { title: string; text: string } };

// ---------------------------------------------------------------- webview -> host

export type WebviewMessage =
  | { type: 'ready' }
  | { type: 'validate'; seq: number; values: FormValues }
  /** `secretAccessKey` is present only when the user typed a new secret; absent = keep the stored one. */
  | { type: 'save'; values: FormValues; secretAccessKey?: string }
  | { type: 'test'; values: FormValues; secretAccessKey?: string }
  | { type: 'clearSecret' }
  | { type: 'backUpNow' }
  | { type: 'manage' }
  /** Set or change the encryption passphrase: the host asks for it in its own password box. */
  | { type: 'passphrase' }
  /** Opens the settings of automatic backups (s3Backup.autoBackup.*). */
  | { type: 'autoBackup' };

export type ParseResult = { ok: true; message: WebviewMessage } | { ok: false; error: string };

/** Longest string a field may hold; longer is refused rather than truncated. */
export const MAX_FIELD_LENGTH = 2048;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(o: Obj, allowed: readonly string[]): string | undefined {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) return `unexpected property "${k.slice(0, 40)}"`;
  return undefined;
}

function checkString(v: unknown, name: string): string | undefined {
  if (typeof v !== 'string') return `${name} must be a string`;
  if (v.length > MAX_FIELD_LENGTH) return `${name} is too long`;
  return undefined;
}

function parseValues(v: unknown): { values: FormValues } | { error: string } {
  if (!isObj(v)) return { error: 'values must be an object' };
  const extra = onlyKeys(v, FORM_VALUE_KEYS);
  if (extra) return { error: `values: ${extra}` };
  for (const k of FORM_VALUE_KEYS) {
    const e = checkString(v[k], `values.${k}`);
    if (e) return { error: e };
  }
  if (!(ADDRESSING_STYLES as readonly string[]).includes(v.addressingStyle as string)) {
    return { error: 'values.addressingStyle must be auto, path or virtual' };
  }
  return {
    values: {
      endpoint: v.endpoint as string,
      region: v.region as string,
      bucket: v.bucket as string,
      accessKeyId: v.accessKeyId as string,
      rootPath: v.rootPath as string,
      addressingStyle: v.addressingStyle as AddressingStyleChoice,
    },
  };
}

/**
 * Validates a message received from the webview. Anything that is not exactly
 * one of the `WebviewMessage` shapes (unknown type, extra or missing
 * properties, wrong types, oversized strings) is refused; the returned message
 * is a fresh object, never the input.
 */
export function parseWebviewMessage(raw: unknown): ParseResult {
  const fail = (error: string): ParseResult => ({ ok: false, error });
  if (!isObj(raw)) return fail('message must be an object');
  const type = raw.type;
  switch (type) {
    case 'ready':
    case 'clearSecret':
    case 'backUpNow':
    case 'manage':
    case 'passphrase':
    case 'autoBackup': {
      const extra = onlyKeys(raw, ['type']);
      return extra ? fail(extra) : { ok: true, message: { type } };
    }
    case 'validate': {
      const extra = onlyKeys(raw, ['type', 'seq', 'values']);
      if (extra) return fail(extra);
      const seq = raw.seq;
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return fail('seq must be a non-negative integer');
      const p = parseValues(raw.values);
      return 'error' in p ? fail(p.error) : { ok: true, message: { type, seq, values: p.values } };
    }
    case 'save':
    case 'test': {
      const extra = onlyKeys(raw, ['type', 'values', 'secretAccessKey']);
      if (extra) return fail(extra);
      const p = parseValues(raw.values);
      if ('error' in p) return fail(p.error);
      if (raw.secretAccessKey === undefined) return { ok: true, message: { type, values: p.values } };
      const e = checkString(raw.secretAccessKey, 'secretAccessKey');
      if (e) return fail(e);
      return { ok: true, message: { type, values: p.values, secretAccessKey: raw.secretAccessKey as string } };
    }
    default:
      return fail(typeof type === 'string' ? `unknown message type "${type.slice(0, 40)}"` : 'message type missing');
  }
}
