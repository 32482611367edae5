// The settings page's script (bundled by esbuild.js into media/webview.js).
// The host renders the page with its localized labels and owns validation
// (normalizeProfile) and storage; this script fills values, reports edits and
// shows results. The secret only ever goes out in `save`/`test`; it is never
// persisted with setState and never comes back from the host.

import {
  FORM_VALUE_KEYS,
  SETTINGS_FIELDS,
  type Action,
  type FieldIssue,
  type FormValues,
  type HostMessage,
  type PublicWarning,
  type SettingsField,
  type SettingsState,
  type StepResult,
  type UiStrings,
  type WebviewMessage,
} from './protocol';
import { ACCOUNT_PLACEHOLDER, applyProvider, detectProvider, providerById, providerEndpoint, type Provider } from './providers';

interface PersistedState {
  /** Unsaved edits of the non-secret fields, so a hidden-then-shown page keeps them. */
  draft?: FormValues;
}

interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
  getState(): PersistedState | undefined;
  setState(state: PersistedState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`Missing element #${id}`);
  return el as T;
};

const form = $<HTMLFormElement>('settings-form');
const inputs = {
  endpoint: $<HTMLInputElement>('endpoint'),
  region: $<HTMLInputElement>('region'),
  bucket: $<HTMLInputElement>('bucket'),
  accessKeyId: $<HTMLInputElement>('accessKeyId'),
  rootPath: $<HTMLInputElement>('rootPath'),
  addressingStyle: $<HTMLSelectElement>('addressingStyle'),
};
const secretInput = $<HTMLInputElement>('secretAccessKey');
const providerSelect = $<HTMLSelectElement>('provider');
const regionHint = $('region-hint');
const secretStoredBox = $('secret-stored');
const secretEntryBox = $('secret-entry');
const replaceButton = $<HTMLButtonElement>('secret-replace');
const clearButton = $<HTMLButtonElement>('secret-clear');
const cancelReplaceButton = $<HTMLButtonElement>('secret-cancel');
const buttons: Record<'save' | 'test' | 'backUpNow' | 'manage' | 'passphrase', HTMLButtonElement> = {
  save: $('save'),
  test: $('test'),
  backUpNow: $('backup'),
  manage: $('manage'),
  passphrase: $('passphrase'),
};
const passphraseState = $('passphrase-state');
const statusEl = $('status');
const statusIcon = $('status-icon');
const statusText = $('status-text');
const backupWhy = $('backup-why');
const actionsBar = $('actions');

/** The action bar stays at the bottom of the window: keep what gets focus or scrolled to from hiding under it. */
function keepClearOfActions(): void {
  // CSSOM, not a style attribute: the page's CSP allows it.
  document.documentElement.style.scrollPaddingBottom = `${actionsBar.offsetHeight + 8}px`;
}
new ResizeObserver(keepClearOfActions).observe(actionsBar);
const dirtyEl = $('dirty');
const stepsSection = $('steps');
const stepsList = $('steps-list');

let strings: UiStrings | undefined;
let saved: SettingsState | undefined;
/** True while a secret is stored and the user chose Replace: the password field shows. */
let replacing = false;
let backupAfterSave = false;
const busy = new Set<Action>();
const touched = new Set<SettingsField>();
let inlineIssues = new Map<SettingsField, string>();
/** Issues from the last save/test; a field's entry goes when that field is edited. */
const submitIssues = new Map<SettingsField, string>();
let validateSeq = 0;
let validateTimer: ReturnType<typeof setTimeout> | undefined;

function post(m: WebviewMessage): void {
  vscode.postMessage(m);
}

function collectValues(): FormValues {
  const style = inputs.addressingStyle.value;
  return {
    endpoint: inputs.endpoint.value,
    region: inputs.region.value,
    bucket: inputs.bucket.value,
    accessKeyId: inputs.accessKeyId.value,
    rootPath: inputs.rootPath.value,
    addressingStyle: style === 'path' || style === 'virtual' ? style : 'auto',
  };
}

function fill(values: FormValues): void {
  for (const k of FORM_VALUE_KEYS) inputs[k].value = values[k];
}

/** The typed secret, or undefined to keep the stored one. */
function typedSecret(): string | undefined {
  const v = secretInput.value;
  if (saved?.secretStored && !replacing) return undefined;
  return v === '' ? undefined : v;
}

function isDirty(): boolean {
  if (!saved) return false;
  const v = collectValues();
  return FORM_VALUE_KEYS.some((k) => v[k] !== saved!.values[k]) || typedSecret() !== undefined;
}

function refreshDirty(): void {
  if (!saved) return;
  const v = collectValues();
  for (const k of FORM_VALUE_KEYS) $(`setting-${k}`).classList.toggle('modified', v[k] !== saved.values[k]);
  $('setting-secretAccessKey').classList.toggle('modified', typedSecret() !== undefined);
  const dirty = isDirty();
  dirtyEl.hidden = !dirty;
  // Only the non-secret fields are ever persisted.
  vscode.setState(dirty ? { draft: v } : {});
}

/** Whether a passphrase is stored (never its value): the line and the button's label follow. */
function refreshPassphrase(): void {
  if (!strings) return;
  const stored = !!saved?.passphraseStored;
  passphraseState.textContent = stored ? strings.passphraseStored : strings.passphraseNone;
  if (!busy.has('passphrase')) buttons.passphrase.textContent = stored ? strings.passphraseChange : strings.passphraseSet;
}

function refreshSecret(): void {
  const stored = !!saved?.secretStored;
  secretStoredBox.hidden = !stored || replacing;
  secretEntryBox.hidden = stored && !replacing;
  cancelReplaceButton.hidden = !(stored && replacing);
  clearButton.disabled = busy.has('clearSecret');
}

function setError(f: SettingsField, message: string | undefined): void {
  const err = $(`${f}-error`);
  err.textContent = message ?? '';
  err.hidden = !message;
  $(`setting-${f}`).classList.toggle('invalid', !!message);
  const control = f === 'secretAccessKey' ? secretInput : inputs[f];
  if (message) control.setAttribute('aria-invalid', 'true');
  else control.removeAttribute('aria-invalid');
}

function renderIssues(): void {
  for (const f of SETTINGS_FIELDS) {
    setError(f, (touched.has(f) ? inlineIssues.get(f) : undefined) ?? submitIssues.get(f));
  }
}

function setStatus(text: string, level: 'info' | 'ok' | 'error' = 'info'): void {
  statusText.textContent = text;
  // The sentence keeps the text colour (readable in every theme); the icon carries the state.
  statusIcon.textContent = text === '' ? '' : level === 'ok' ? '\u2713' : level === 'error' ? '\u2717' : '';
  statusEl.className = `status ${level}`;
}

/** What the last Save or Test said no longer describes the form once a field changes: clear it. */
function clearResults(): void {
  renderSteps(undefined);
  if (!busy.has('save') && !busy.has('test') && !busy.has('backUpNow')) setStatus('');
}

/** Back Up Workspace uses the saved settings: it waits until they are complete. */
function refreshBackUpNow(): void {
  const v = saved?.values;
  const configured = !!(v && v.endpoint && v.bucket && v.accessKeyId && saved?.secretStored);
  if (!busy.has('backUpNow')) buttons.backUpNow.disabled = !configured;
  backupWhy.hidden = configured;
}

function showProvider(p: Provider): void {
  providerSelect.value = p.id;
  if (strings) regionHint.textContent = strings[p.regionHint];
}

/** Picking a provider fills in its endpoint, region and addressing style; an account ID to type is selected. */
function pickProvider(p: Provider): void {
  showProvider(p);
  const next = applyProvider(p, collectValues());
  if (!next) return;
  inputs.endpoint.value = next.endpoint;
  inputs.region.value = next.region;
  inputs.addressingStyle.value = next.addressingStyle;
  for (const k of ['endpoint', 'region', 'addressingStyle'] as const) submitIssues.delete(k);
  onEdited();
  const at = next.endpoint.indexOf(ACCOUNT_PLACEHOLDER);
  if (at >= 0) {
    inputs.endpoint.focus();
    inputs.endpoint.setSelectionRange(at, at + ACCOUNT_PLACEHOLDER.length);
  }
}

function onEdited(): void {
  clearResults();
  refreshDirty();
  scheduleValidate();
}

const busyLabel: Partial<Record<Action, keyof UiStrings>> = { save: 'saving', test: 'testing', backUpNow: 'backingUp' };
const idleLabel: Record<keyof typeof buttons, keyof UiStrings> = {
  save: 'save',
  test: 'testConnection',
  backUpNow: 'backUpNow',
  manage: 'manage',
  passphrase: 'passphraseSet',
};

function setBusy(action: Action, on: boolean): void {
  if (on) busy.add(action);
  else busy.delete(action);
  if (action === 'clearSecret') {
    refreshSecret();
    return;
  }
  const b = buttons[action];
  b.disabled = on;
  if (action === 'backUpNow' && !on) refreshBackUpNow();
  if (on) b.setAttribute('aria-busy', 'true');
  else b.removeAttribute('aria-busy');
  const key = on ? busyLabel[action] : idleLabel[action];
  if (key && strings) b.textContent = strings[key];
  if (action === 'passphrase' && !on) refreshPassphrase();
}

function scheduleValidate(): void {
  if (validateTimer) clearTimeout(validateTimer);
  validateTimer = setTimeout(() => {
    validateTimer = undefined;
    post({ type: 'validate', seq: ++validateSeq, values: collectValues() });
  }, 250);
}

function renderSteps(steps: StepResult[] | undefined): void {
  stepsList.replaceChildren();
  stepsSection.hidden = !steps || steps.length === 0 || !strings;
  if (!steps || !strings) return;
  const t = strings;
  const names: Record<StepResult['step'], string> = {
    bucket: t.stepBucket,
    write: t.stepWrite,
    read: t.stepRead,
    delete: t.stepDelete,
  };
  for (const s of steps) {
    const li = document.createElement('li');
    li.className = `step ${s.status}`;
    const icon = document.createElement('span');
    icon.className = 'step-icon';
    icon.setAttribute('aria-hidden', 'true');
    icon.textContent = s.status === 'ok' ? '\u2713' : s.status === 'failed' ? '\u2717' : '\u2013';
    const name = document.createElement('span');
    name.className = 'step-name';
    name.textContent = names[s.step];
    const state = document.createElement('span');
    state.className = 'step-state';
    state.textContent = s.status === 'ok' ? t.stepOk : s.status === 'failed' ? t.stepFailed : t.stepSkipped;
    li.append(icon, name, state);
    if (s.message) {
      const msg = document.createElement('div');
      msg.className = 'step-message';
      msg.textContent = s.hint ? `${s.message} ${s.hint}` : s.message;
      li.append(msg);
    }
    stepsList.append(li);
  }
}

function save(): void {
  if (busy.has('save') || !saved) return;
  renderSteps(undefined);
  setBusy('save', true);
  setStatus(strings?.saving ?? '');
  post({ type: 'save', values: collectValues(), secretAccessKey: typedSecret() });
}

function reveal(el: HTMLElement): void {
  el.focus({ preventScroll: true });
  // With the field's label and hint above it, clear of the action bar below.
  ($(`setting-${el.id === 'secret-replace' ? 'secretAccessKey' : el.id}`) ?? el).scrollIntoView({ block: 'nearest' });
}

function focusFirstInvalid(issues: FieldIssue[]): void {
  const first = SETTINGS_FIELDS.find((f) => issues.some((i) => i.field === f));
  if (!first) return;
  keepClearOfActions();
  if (first === 'secretAccessKey') {
    reveal(!secretEntryBox.hidden ? secretInput : replaceButton);
  } else reveal(inputs[first]);
}

function onResult(m: Extract<HostMessage, { type: 'result' }>): void {
  setBusy(m.action, false);
  const text = [m.message, ...m.notes].filter((s) => s !== '').join(' ');
  if (text || (m.action !== 'manage' && m.action !== 'passphrase')) setStatus(text, m.ok ? 'ok' : 'error');
  if (m.action === 'save' || m.action === 'test') {
    submitIssues.clear();
    for (const i of m.issues) if (!submitIssues.has(i.field)) submitIssues.set(i.field, i.message);
    renderIssues();
  }
  if (m.action === 'test') {
    renderSteps(m.steps);
    if (!m.ok) focusFirstInvalid(m.issues);
  }
  if (m.action === 'save') {
    if (m.ok) {
      replacing = false;
      secretInput.value = '';
      touched.clear();
      inlineIssues = new Map();
      if (saved) fill(saved.values);
      refreshSecret();
      refreshDirty();
      if (backupAfterSave) {
        backupAfterSave = false;
        setBusy('backUpNow', true);
        post({ type: 'backUpNow' });
      }
    } else {
      if (backupAfterSave) {
        backupAfterSave = false;
        setBusy('backUpNow', false);
      }
      focusFirstInvalid(m.issues);
    }
  }
  if (m.action === 'clearSecret' && m.ok) {
    replacing = false;
    secretInput.value = '';
    refreshSecret();
    refreshDirty();
  }
}

const exposureEl = $('exposure');

/** One warning box: a heading with the icon, then paragraphs and lists (all text, never HTML). */
function warningBox(id: string, title: string, parts: Array<string | { heading?: string; items: string[] }>): HTMLElement {
  const box = document.createElement('section');
  box.className = 'exposure-box';
  box.id = id;
  const h = document.createElement('h2');
  const icon = document.createElement('span');
  icon.className = 'warning-icon';
  icon.setAttribute('aria-hidden', 'true');
  icon.textContent = '\u26A0 ';
  h.append(icon, title);
  box.append(h);
  for (const part of parts) {
    if (typeof part === 'string') {
      const p = document.createElement('p');
      p.textContent = part;
      box.append(p);
      continue;
    }
    if (part.heading) {
      const p = document.createElement('p');
      p.textContent = part.heading;
      box.append(p);
    }
    const ul = document.createElement('ul');
    for (const item of part.items) {
      const li = document.createElement('li');
      li.textContent = item;
      ul.append(li);
    }
    box.append(ul);
  }
  return box;
}

/** The private-bucket check's warning and the cleartext warning, or nothing. */
function renderExposure(publicWarning: PublicWarning | undefined, cleartext: { title: string; text: string } | undefined): void {
  exposureEl.replaceChildren();
  if (publicWarning) {
    const w = publicWarning;
    exposureEl.append(warningBox('public-warning', w.title, [w.meaning, { items: w.found }, { heading: w.fixHeading, items: w.fixes }]));
  }
  if (cleartext) exposureEl.append(warningBox('cleartext-warning', cleartext.title, [cleartext.text]));
  exposureEl.hidden = !publicWarning && !cleartext;
}

function onMessage(m: HostMessage): void {
  switch (m.type) {
    case 'init': {
      strings = m.strings;
      saved = m.state;
      const draft = vscode.getState()?.draft;
      fill(draft ?? m.state.values);
      showProvider(detectProvider(inputs.endpoint.value));
      refreshSecret();
      refreshPassphrase();
      refreshDirty();
      refreshBackUpNow();
      form.removeAttribute('aria-busy');
      if (draft) scheduleValidate();
      return;
    }
    case 'state': {
      const wasDirty = isDirty();
      saved = m.state;
      // Never overwrite what the user is typing; a save in flight adopts the cleaned values.
      if (!wasDirty || busy.has('save')) fill(m.state.values);
      if (!m.state.secretStored) replacing = false;
      refreshSecret();
      refreshPassphrase();
      refreshDirty();
      refreshBackUpNow();
      return;
    }
    case 'validation':
      if (m.seq !== validateSeq) return;
      inlineIssues = new Map(m.issues.map((i) => [i.field, i.message]));
      renderIssues();
      return;
    case 'result':
      onResult(m);
      return;
    case 'exposure': {
      const wasShown = !exposureEl.hidden;
      renderExposure(m.publicWarning, m.cleartext);
      // Found by a test just now: bring it into view.
      if (m.publicWarning && !wasShown && busy.has('test')) exposureEl.scrollIntoView({ block: 'nearest' });
      return;
    }
  }
}

window.addEventListener('message', (e: MessageEvent) => {
  const m = e.data as HostMessage | undefined;
  if (m && typeof m === 'object' && typeof m.type === 'string') onMessage(m);
});

for (const k of FORM_VALUE_KEYS) {
  const el = inputs[k];
  el.addEventListener('input', () => {
    submitIssues.delete(k);
    if (k === 'region') followRegion();
    if (k === 'endpoint') showProvider(detectProvider(inputs.endpoint.value));
    onEdited();
  });
  el.addEventListener('change', () => {
    touched.add(k);
    refreshDirty();
    scheduleValidate();
  });
}
secretInput.addEventListener('input', () => {
  submitIssues.delete('secretAccessKey');
  renderIssues();
  clearResults();
  refreshDirty();
});
providerSelect.addEventListener('change', () => pickProvider(providerById(providerSelect.value)));

/** For AWS, OSS and COS the region is part of the host: the endpoint follows it while it has the provider's shape. */
let lastRegion = '';
function followRegion(): void {
  const p = providerById(providerSelect.value);
  const before = providerEndpoint(p, lastRegion);
  lastRegion = inputs.region.value;
  if (!p.endpoint?.includes('{region}') || !before || inputs.endpoint.value !== before) return;
  inputs.endpoint.value = providerEndpoint(p, inputs.region.value) ?? inputs.endpoint.value;
}
inputs.region.addEventListener('focus', () => (lastRegion = inputs.region.value));
secretInput.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && replacing) {
    e.preventDefault();
    cancelReplaceButton.click();
  }
});

replaceButton.addEventListener('click', () => {
  replacing = true;
  refreshSecret();
  secretInput.focus();
});
cancelReplaceButton.addEventListener('click', () => {
  replacing = false;
  secretInput.value = '';
  submitIssues.delete('secretAccessKey');
  renderIssues();
  refreshSecret();
  refreshDirty();
  replaceButton.focus();
});
clearButton.addEventListener('click', () => {
  if (busy.has('clearSecret')) return;
  setBusy('clearSecret', true);
  post({ type: 'clearSecret' });
});

// Enter in any field submits the form, which saves.
form.addEventListener('submit', (e) => {
  e.preventDefault();
  save();
});
buttons.test.addEventListener('click', () => {
  if (busy.has('test') || !saved) return;
  setBusy('test', true);
  renderSteps(undefined);
  setStatus(strings?.testing ?? '');
  post({ type: 'test', values: collectValues(), secretAccessKey: typedSecret() });
});
buttons.backUpNow.addEventListener('click', () => {
  if (busy.has('backUpNow') || !saved) return;
  // A backup uses the saved settings: save pending edits first.
  if (isDirty()) {
    backupAfterSave = true;
    setBusy('backUpNow', true);
    save();
    return;
  }
  setBusy('backUpNow', true);
  setStatus(strings?.backingUp ?? '');
  post({ type: 'backUpNow' });
});
buttons.manage.addEventListener('click', () => {
  if (busy.has('manage')) return;
  setBusy('manage', true);
  post({ type: 'manage' });
});

buttons.passphrase.addEventListener('click', () => {
  if (busy.has('passphrase')) return;
  setBusy('passphrase', true);
  post({ type: 'passphrase' });
});
$('autoBackup').addEventListener('click', () => post({ type: 'autoBackup' }));

post({ type: 'ready' });
