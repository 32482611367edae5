import * as vscode from 'vscode';
import type { ConnectionSettings } from '../host/config';
import type { ConnectionReport } from '../../core/engine';
import { isCancelled, scrubSecrets, type ErrorCode } from '../../core/util/engineErrors';
import { prefixed, type Logger } from '../../core/util/engineLogger';
import { isCleartextEndpoint, normalizeProfile, type FieldError, type Profile, type ProfileInput } from '../../core/storage/profile';
import { exposureFound, type ExposureMemory } from '../host/exposureMemory';
import { cleartextWarning, publicWarning } from '../ui/exposureText';
import { describeError, errorText, type ErrorFace } from '../ui/errorFace';
import type { SecretStore } from '../host/secrets';
import { makeNonce, renderSettingsHtml } from './html';
import {
  ADDRESSING_STYLES,
  CONNECTION_STEPS,
  parseWebviewMessage,
  type Action,
  type AddressingStyleChoice,
  type FieldIssue,
  type FormValues,
  type HostMessage,
  type SettingsField,
  type SettingsState,
  type StepResult,
  type UiStrings,
  type WebviewMessage,
} from '../../webview/protocol';
import { settingsStrings } from './strings';

/**
 * What the settings panel needs from the rest of the extension; extension.ts
 * builds it (every member maps onto an existing function):
 *
 * - `readConfig()`: the saved `s3Backup.*` connection values (config.ts `readConfig`).
 * - `saveConfig(values)`: writes them to the user settings (config.ts
 *   `writeConnectionSettings`). Called only with values `normalizeProfile()`
 *   accepted and cleaned.
 * - `secrets`: the `SecretStore` of secrets.ts. Both keys go there, never to
 *   settings.json; the secret is read on the host only (to validate and to test
 *   the stored key) and never posted to the webview.
 * - `testConnection(profile, signal)`: `BackupEngine.testConnection()` for the
 *   form's (unsaved) values with the typed or the stored secret, e.g.
 *   `(p, signal) => host.engineFor(p).then((e) => e.testConnection({ signal }))`.
 *   The signal aborts when the panel closes.
 * - `backUpNow()`: runs the command `s3Backup.backUpWorkspace`.
 * - `setPassphrase()`, `hasPassphrase()`: the command `s3Backup.setPassphrase`
 *   and whether SecretStorage holds a passphrase (never its value).
 * - `revealTree()`: focuses the view `s3Backup.backups` (`s3Backup.backups.focus`).
 * - `logger`: the extension's `Log` (the panel prefixes `[settings]`); when it
 *   has `addSecrets`, a typed secret is registered there for scrubbing.
 * - `onDidChange`: optional; fires when the keys change elsewhere
 *   (`SecretStore.onDidChange`). Settings changes are watched by the panel.
 * - `exposure`: optional; the private-bucket check's memory
 *   (host/exposureMemory.ts): a test's findings are recorded there, and the
 *   page shows the warning of the bucket and root path it displays.
 */
export interface SettingsDeps {
  readConfig(): ConnectionSettings;
  saveConfig(values: ConnectionSettings): PromiseLike<void>;
  secrets: Pick<SecretStore, 'get' | 'hasSecret' | 'store' | 'clear'>;
  testConnection(profile: ProfileInput, signal: AbortSignal): PromiseLike<ConnectionReport>;
  backUpNow(): PromiseLike<unknown>;
  /** Runs `s3Backup.setPassphrase` (password boxes on the host side). */
  setPassphrase(): PromiseLike<unknown>;
  hasPassphrase(): PromiseLike<boolean>;
  revealTree(): PromiseLike<unknown>;
  logger: Logger & { addSecrets?(...secrets: Array<string | undefined>): void };
  onDidChange?: vscode.Event<unknown>;
  exposure?: Pick<ExposureMemory, 'get' | 'record' | 'onDidChange'>;
}

type ExposureTarget = Pick<Profile, 'endpoint' | 'bucket' | 'rootPath'>;

// Which field a failed connection step points at, so the page marks it.
const FIELD_OF_CODE: Partial<Record<ErrorCode, SettingsField>> = {
  SignatureMismatch: 'secretAccessKey',
  InvalidAccessKey: 'accessKeyId',
  NoSuchBucket: 'bucket',
  WrongRegion: 'region',
  Unreachable: 'endpoint',
  Tls: 'endpoint',
};

/** The "S3 Backup Settings" editor panel: one instance, revealed when already open. */
export class SettingsPanel implements vscode.Disposable {
  static readonly viewType = 's3Backup.settings';
  private static current: SettingsPanel | undefined;

  private readonly log: Logger;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly busy = new Set<Action>();
  private readonly aborts = new Set<AbortController>();
  private readonly strings: UiStrings;
  private ready = false;
  private disposed = false;
  /** The bucket and root path whose warning the page shows: the saved ones, or the typed ones once edited. */
  private exposureTarget: ExposureTarget | undefined;

  /**
   * Opens the settings panel, or reveals it when it is already open. Returns
   * the panel; tests drive its `handleMessage`.
   */
  static show(context: Pick<vscode.ExtensionContext, 'extensionUri'>, deps: SettingsDeps): SettingsPanel {
    if (SettingsPanel.current) {
      SettingsPanel.current.panel.reveal();
      return SettingsPanel.current;
    }
    const media = vscode.Uri.joinPath(context.extensionUri, 'media');
    const strings = settingsStrings();
    const panel = vscode.window.createWebviewPanel(SettingsPanel.viewType, strings.title, vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: false,
      localResourceRoots: [media],
    });
    SettingsPanel.current = new SettingsPanel(panel, media, deps, strings);
    return SettingsPanel.current;
  }

  /** The open panel, if any. */
  static get currentPanel(): SettingsPanel | undefined {
    return SettingsPanel.current;
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly media: vscode.Uri,
    private readonly deps: SettingsDeps,
    strings: UiStrings,
  ) {
    this.log = prefixed(deps.logger, 'settings');
    this.strings = strings;
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((m: unknown) => void this.handleMessage(m)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('s3Backup')) void this.pushState();
      }),
    );
    if (deps.onDidChange) this.disposables.push(deps.onDidChange(() => void this.pushState()));
    if (deps.exposure) this.disposables.push(deps.exposure.onDidChange(() => this.postExposure(this.exposureTarget)));
    panel.webview.html = this.renderHtml();
  }

  private renderHtml(): string {
    const webview = this.panel.webview;
    return renderSettingsHtml({
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(this.media, 'webview.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(this.media, 'settings.css')).toString(),
      nonce: makeNonce(),
      strings: this.strings,
      lang: vscode.env.language,
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (SettingsPanel.current === this) SettingsPanel.current = undefined;
    for (const a of this.aborts) a.abort();
    this.aborts.clear();
    this.panel.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
  }

  /**
   * Handles one message from the webview, validating it first. Resolves to
   * false when the message was refused (malformed, or its action is already
   * running), true once it was handled.
   */
  async handleMessage(raw: unknown): Promise<boolean> {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.log.warn(`Refused a message from the settings page: ${parsed.error}.`);
      return false;
    }
    const m = parsed.message;
    if (m.type === 'ready') {
      this.ready = true;
      const state = await this.readState();
      this.post({ type: 'init', state, strings: this.strings });
      this.postExposure(savedTarget(state));
      return true;
    }
    if (m.type === 'validate') {
      this.post({ type: 'validation', seq: m.seq, issues: this.validate(m.values) });
      const r = normalizeProfile(toInput(m.values, undefined), { requireCredentials: false });
      if (r.ok) this.postExposure(r.profile);
      return true;
    }
    if (m.type === 'autoBackup') {
      // VS Code's own settings editor, filtered: the automatic backup settings with their descriptions.
      await vscode.commands.executeCommand('workbench.action.openSettings', 's3Backup.autoBackup');
      return true;
    }
    if (this.busy.has(m.type)) {
      this.log.debug(`Ignored "${m.type}": it is already running.`);
      return false;
    }
    const typed = 'secretAccessKey' in m ? m.secretAccessKey : undefined;
    this.deps.logger.addSecrets?.(typed);
    this.busy.add(m.type);
    try {
      await this.run(m);
    } catch (e) {
      if (!this.disposed) {
        this.log.error(`${m.type} failed: ${errorSummary(e, typed)}`);
        this.postResult(m.type, false, errorText(describeError(e)));
      }
    } finally {
      this.busy.delete(m.type);
    }
    return true;
  }

  private async run(m: Exclude<WebviewMessage, { type: 'ready' | 'validate' | 'autoBackup' }>): Promise<void> {
    switch (m.type) {
      case 'save': {
        const checked = await this.checkProfile(m.values, m.secretAccessKey);
        if (!checked.ok) {
          this.postResult('save', false, vscode.l10n.t('Not saved: correct the marked fields.'), { issues: checked.issues });
          return;
        }
        const p = checked.profile;
        await this.deps.saveConfig({
          endpoint: p.endpoint,
          region: p.region,
          bucket: p.bucket,
          rootPath: p.rootPath,
          addressingStyle: p.addressingStyle,
        });
        // The stored secret is only rewritten when a new one was typed.
        await this.deps.secrets.store({
          accessKeyId: p.accessKeyId,
          secretAccessKey: m.secretAccessKey !== undefined ? p.secretAccessKey : undefined,
        });
        this.log.info(`Saved: endpoint ${p.endpoint}, bucket ${p.bucket}; keys in SecretStorage.`);
        await this.pushState();
        this.postResult('save', true, vscode.l10n.t('Settings saved. Both keys are in the keychain.'), { notes: checked.notes });
        return;
      }
      case 'test': {
        const checked = await this.checkProfile(m.values, m.secretAccessKey);
        if (!checked.ok) {
          this.postResult('test', false, vscode.l10n.t('Correct the marked fields before testing.'), { issues: checked.issues });
          return;
        }
        await this.test(checked.profile, checked.notes);
        return;
      }
      case 'clearSecret':
        await this.deps.secrets.clear('secretAccessKey');
        this.log.info('Cleared the secret access key from SecretStorage.');
        await this.pushState();
        this.postResult('clearSecret', true, vscode.l10n.t('The secret access key was removed from the keychain.'));
        return;
      case 'backUpNow':
        await this.deps.backUpNow();
        this.postResult('backUpNow', true, '');
        return;
      case 'manage':
        await this.deps.revealTree();
        this.postResult('manage', true, '');
        return;
      case 'passphrase':
        await this.deps.setPassphrase();
        await this.pushState();
        this.postResult('passphrase', true, '');
        return;
    }
  }

  private async test(profile: Profile, notes: string[]): Promise<void> {
    const abort = new AbortController();
    this.aborts.add(abort);
    try {
      this.log.info(`Testing the connection to ${profile.endpoint}, bucket ${profile.bucket}.`);
      let report: ConnectionReport;
      try {
        report = await this.deps.testConnection(profile, abort.signal);
      } catch (e) {
        if (this.disposed || isCancelled(e)) return;
        this.log.warn(`Connection test failed: ${errorSummary(e, profile.secretAccessKey)}`);
        const face = describeError(e);
        this.postResult('test', false, errorText(face), {
          issues: fieldIssueFor(face),
          steps: CONNECTION_STEPS.map((step) => ({ step, status: 'skipped' })),
        });
        return;
      }
      if (this.disposed) return;
      const issues: FieldIssue[] = [];
      let failure: ErrorFace | undefined;
      const steps: StepResult[] = CONNECTION_STEPS.map((step) => {
        const s = report.steps.find((x) => x.step === step);
        if (!s) return { step, status: 'skipped' };
        if (s.ok) return { step, status: 'ok' };
        const face = describeError(s.error);
        failure ??= face;
        for (const i of fieldIssueFor(face)) if (!issues.some((x) => x.field === i.field)) issues.push(i);
        return { step, status: 'failed', message: face.message, hint: face.hint };
      });
      const ok = report.ok && steps.every((s) => s.status === 'ok');
      const found = report.access ? exposureFound(report.access) : '';
      if (report.access && this.deps.exposure) await this.deps.exposure.record(profile, report.access);
      this.postExposure(profile, report.access ? found : undefined);
      this.log.info(
        `Connection test ${ok ? 'passed' : 'failed'}: ${report.steps
          .map((s) => `${s.step} ${s.ok ? 'ok' : (s.error?.code ?? 'failed')}`)
          .join(', ')}.`,
      );
      const message = ok
        ? found
          ? vscode.l10n.t('Connection works, but anyone can read this bucket without keys: see the warning at the top of the page.')
          : vscode.l10n.t('Connection works: the bucket was reached, and a test object written, read back and deleted.')
        : failure
          ? errorText(failure)
          : vscode.l10n.t('The connection test failed.');
      this.postResult('test', ok, message, { issues, notes, steps });
    } finally {
      this.aborts.delete(abort);
    }
  }

  /** Inline validation while the user types: formats only; nothing is required yet. */
  private validate(values: FormValues): FieldIssue[] {
    const r = normalizeProfile(toInput(values, undefined), { requireCredentials: false });
    return r.ok ? [] : r.errors.map(toIssue);
  }

  /** Full validation for Save and Test: everything required, the secret typed or stored. */
  private async checkProfile(
    values: FormValues,
    typedSecret: string | undefined,
  ): Promise<{ ok: true; profile: Profile; notes: string[] } | { ok: false; issues: FieldIssue[] }> {
    const secret = typedSecret ?? (await this.deps.secrets.get()).secretAccessKey;
    const r = normalizeProfile(toInput(values, secret), { requireCredentials: true });
    if (!r.ok) return { ok: false, issues: r.errors.map(toIssue) };
    return { ok: true, profile: r.profile, notes: cleanupNotes(values, r.profile) };
  }

  private async readState(): Promise<SettingsState> {
    const c = this.deps.readConfig();
    const [keys, secretStored, passphraseStored] = await Promise.all([this.deps.secrets.get(), this.deps.secrets.hasSecret(), this.deps.hasPassphrase()]);
    const style = (ADDRESSING_STYLES as readonly string[]).includes(c.addressingStyle)
      ? (c.addressingStyle as AddressingStyleChoice)
      : 'auto';
    // Built field by field, so nothing else read from the store (the secret) can slip into the state.
    return {
      values: {
        endpoint: c.endpoint ?? '',
        region: c.region ?? '',
        bucket: c.bucket ?? '',
        accessKeyId: keys.accessKeyId ?? '',
        rootPath: c.rootPath ?? '',
        addressingStyle: style,
      },
      secretStored: secretStored === true,
      passphraseStored: passphraseStored === true,
    };
  }

  /**
   * Shows the warnings for `target`: what the check found (`found`, fresh
   * from a test, or the last check's record) and a cleartext endpoint.
   */
  private postExposure(target: ExposureTarget | undefined, found?: string): void {
    this.exposureTarget = target;
    if (!target) return;
    const shown = found ?? this.deps.exposure?.get(target)?.found ?? '';
    this.post({
      type: 'exposure',
      publicWarning: publicWarning(shown, target.endpoint),
      cleartext: isCleartextEndpoint(target.endpoint) ? cleartextWarning() : undefined,
    });
  }

  private async pushState(): Promise<void> {
    if (!this.ready || this.disposed) return;
    try {
      const state = await this.readState();
      this.post({ type: 'state', state });
      this.postExposure(savedTarget(state));
    } catch (e) {
      this.log.error(`Could not read the settings: ${errorSummary(e)}`);
    }
  }

  private postResult(
    action: Action,
    ok: boolean,
    message: string,
    more: { issues?: FieldIssue[]; notes?: string[]; steps?: StepResult[] } = {},
  ): void {
    this.post({ type: 'result', action, ok, message, issues: more.issues ?? [], notes: more.notes ?? [], steps: more.steps });
  }

  // The one way out to the webview, typed: only a HostMessage, which has no field for a secret, can leave.
  private post(message: HostMessage): void {
    if (this.disposed) return;
    void this.panel.webview.postMessage(message);
  }
}

/** The saved bucket and root path, as the engine will use them (normalized). */
function savedTarget(state: SettingsState): ExposureTarget | undefined {
  const r = normalizeProfile(toInput(state.values, undefined), { requireCredentials: false });
  return r.ok ? r.profile : undefined;
}

function toInput(values: FormValues, secretAccessKey: string | undefined): ProfileInput {
  return {
    endpoint: values.endpoint,
    region: values.region,
    bucket: values.bucket,
    accessKeyId: values.accessKeyId,
    secretAccessKey,
    rootPath: values.rootPath,
    addressingStyle: values.addressingStyle,
  };
}

function fieldIssueFor(face: ErrorFace): FieldIssue[] {
  const field = FIELD_OF_CODE[face.code];
  return field ? [{ field, message: face.message }] : [];
}

function toIssue(e: FieldError): FieldIssue {
  return { field: e.field, message: fieldMessage(e) };
}

/** `normalizeProfile`'s field errors in the user's language, by their stable code. */
function fieldMessage(e: FieldError): string {
  switch (e.code) {
    case 'required':
      switch (e.field) {
        case 'endpoint':
          return vscode.l10n.t('Enter the endpoint, for example https://s3.eu-west-1.amazonaws.com.');
        case 'bucket':
          return vscode.l10n.t('Enter the bucket name.');
        case 'accessKeyId':
          return vscode.l10n.t('Enter the access key ID.');
        case 'secretAccessKey':
          return vscode.l10n.t('Enter the secret access key.');
        default:
          return vscode.l10n.t('This field is required.');
      }
    case 'endpointInvalid':
      return vscode.l10n.t('The endpoint is not a valid address.');
    case 'endpointScheme':
      return vscode.l10n.t('The endpoint must start with https:// or http://.');
    case 'endpointCredentials':
      return vscode.l10n.t('The endpoint must not contain a user name or password; use the key fields.');
    case 'endpointQuery':
      return vscode.l10n.t('The endpoint must not contain a query (?) or a fragment (#).');
    case 'endpointPath':
      return vscode.l10n.t('The endpoint must be the server address only, without a path; put folders in Root Path.');
    case 'regionInvalid':
      return vscode.l10n.t('The region may contain only letters, digits, "-" and "_" (for example eu-west-1, or auto for Cloudflare R2).');
    case 'regionMismatch':
      return vscode.l10n.t('The region does not match the region the endpoint names.');
    case 'bucketInvalid':
      return vscode.l10n.t('The bucket name must be 3 to 255 letters, digits, ".", "-" or "_", and start and end with a letter or digit.');
    case 'bucketMismatch':
      return vscode.l10n.t('The bucket does not match the bucket the endpoint names.');
    case 'accessKeyIdInvalid':
      return vscode.l10n.t('The access key ID must not contain spaces.');
    case 'secretAccessKeyInvalid':
      return vscode.l10n.t('The secret access key must not contain spaces.');
    case 'rootPathEmptySegment':
      return vscode.l10n.t('The root path must not contain empty folder names ("//").');
    case 'rootPathDotSegment':
      return vscode.l10n.t('The root path must not contain "." or ".." folders.');
    case 'rootPathBackslash':
      return vscode.l10n.t('The root path must use "/" between folders, not "\\".');
    case 'rootPathInvalid':
      return vscode.l10n.t('The root path must not contain control characters and must be at most 512 bytes long.');
    case 'addressingStyleInvalid':
      return vscode.l10n.t('The addressing style must be auto, path or virtual.');
    default:
      return e.message;
  }
}

// What normalizeProfile changed, said in the user's language (its own notes are English).
function cleanupNotes(values: FormValues, p: Profile): string[] {
  const notes: string[] = [];
  if (values.endpoint.trim() !== p.endpoint) notes.push(vscode.l10n.t('The endpoint was saved as {0}.', p.endpoint));
  if (values.bucket.trim() === '' && p.bucket) notes.push(vscode.l10n.t('The bucket "{0}" was taken from the endpoint.', p.bucket));
  if (values.region.trim() === '' && p.region) notes.push(vscode.l10n.t('The region was set to {0}.', p.region));
  if (values.rootPath.trim() !== p.rootPath) notes.push(vscode.l10n.t('The root path was saved as "{0}".', p.rootPath));
  if (values.addressingStyle !== p.addressingStyle) notes.push(vscode.l10n.t('The addressing style was set to {0} to match the endpoint.', p.addressingStyle));
  return notes;
}

// For the log: the code and the engine's sentence (which holds no secret), scrubbed once more of any known one.
function errorSummary(e: unknown, secret?: string): string {
  const code = (e as { code?: unknown } | undefined)?.code;
  const msg = e instanceof Error ? e.message : String(e);
  return scrubSecrets(typeof code === 'string' ? `${code}: ${msg}` : msg, [secret]);
}
