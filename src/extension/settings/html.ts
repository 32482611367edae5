import { randomBytes } from 'crypto';
import type { SettingsField, UiStrings } from '../../webview/protocol';
import { PROVIDERS } from '../../webview/providers';

// The page is rendered in full by the host with localized labels, so it reads
// right before the script runs; src/webview/settingsPage.ts only fills values and
// reacts. Kept free of `vscode` so plain Node tests can check the CSP.

export interface SettingsHtmlInput {
  /** `webview.cspSource`. */
  cspSource: string;
  /** `webview.asWebviewUri(media/webview.js)`, as a string. */
  scriptUri: string;
  /** `webview.asWebviewUri(media/settings.css)`, as a string. */
  styleUri: string;
  nonce: string;
  strings: UiStrings;
  /** BCP 47 language tag of the UI (`vscode.env.language`). */
  lang?: string;
}

/** A fresh random nonce for one rendering of the page (base64url, 128 bits). */
export function makeNonce(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * Escapes text for HTML content and double-quoted attribute values (the only
 * kind this page uses, so `'` stays readable, as CSP keywords need it).
 */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}

/** The Content-Security-Policy of the settings page: nothing but our own stylesheet and one nonce'd script. */
export function settingsCsp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `img-src ${cspSource}`,
  ].join('; ');
}

/** Renders the whole settings page. */
export function renderSettingsHtml(i: SettingsHtmlInput): string {
  if (!/^[A-Za-z0-9+/_=-]{16,}$/.test(i.nonce)) throw new Error('The webview nonce must be at least 16 base64 characters.');
  const t = i.strings;
  const e = escapeHtml;

  const describedBy = (f: SettingsField): string => `${f}-hint ${f}-error`;

  const textField = (
    f: SettingsField,
    label: string,
    hint: string,
    o: { optional?: boolean; after?: string; placeholder?: string; inputmode?: string } = {},
  ): string => `
      <div class="setting" id="setting-${f}" data-field="${f}">
        <label class="setting-label" for="${f}">${e(label)}${
          o.optional ? ` <span class="setting-optional">${e(t.optional)}</span>` : ''
        }</label>
        <div class="setting-hint" id="${f}-hint">${e(hint)}</div>
        ${o.after ?? ''}
        <input class="setting-input" id="${f}" name="${f}" type="text" autocomplete="off" spellcheck="false"${
          o.placeholder ? ` placeholder="${e(o.placeholder)}"` : ''
        }${o.inputmode ? ` inputmode="${o.inputmode}"` : ''} aria-describedby="${describedBy(f)}">
        <div class="setting-error" id="${f}-error" hidden></div>
      </div>`;

  // Provider names are the providers' own, in every language.
  const provider = `
      <div class="setting" id="setting-provider">
        <label class="setting-label" for="provider">${e(t.providerLabel)}</label>
        <div class="setting-hint" id="provider-hint">${e(t.providerHint)}</div>
        <select class="setting-select" id="provider" name="provider" aria-describedby="provider-hint">${PROVIDERS.map(
          (p) => `<option value="${p.id}">${e(p.id === 'other' ? t.providerOther : p.name)}</option>`,
        ).join('')}</select>
      </div>`;

  const warning = `
        <div class="setting-warning" id="bucket-warning"><span class="warning-icon" aria-hidden="true">\u26A0</span> ${e(
          t.privateBucketWarning,
        )}</div>`;

  return `<!DOCTYPE html>
<html lang="${e(i.lang ?? 'en')}">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="${e(settingsCsp(i.cspSource, i.nonce))}">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <link rel="stylesheet" href="${e(i.styleUri)}">
  <title>${e(t.title)}</title>
</head>
<body>
  <main class="page">
    <header class="page-header">
      <h1>${e(t.title)}</h1>
      <p class="page-intro">${e(t.intro)}</p>
    </header>
    <!-- The private-bucket check's findings (settingsPage.ts fills it): above the form, where it cannot be missed. -->
    <div class="exposure" id="exposure" role="alert" hidden></div>
    <form id="settings-form" class="settings-form" novalidate aria-busy="true">
      <section class="settings-section" aria-labelledby="section-connection">
        <h2 id="section-connection">${e(t.sectionConnection)}</h2>
        ${provider}
        ${textField('endpoint', t.endpointLabel, t.endpointHint, {
          placeholder: 'https://s3.us-east-1.amazonaws.com',
          inputmode: 'url',
        })}
        ${textField('region', t.regionLabel, t.regionHint, { placeholder: 'us-east-1' })}
        ${textField('bucket', t.bucketLabel, t.bucketHint, { after: warning })}
      </section>

      <section class="settings-section" aria-labelledby="section-credentials">
        <h2 id="section-credentials">${e(t.sectionCredentials)}</h2>
        ${textField('accessKeyId', t.accessKeyIdLabel, t.accessKeyIdHint)}
        <div class="setting" id="setting-secretAccessKey" data-field="secretAccessKey">
          <label class="setting-label" for="secretAccessKey">${e(t.secretLabel)}</label>
          <div class="setting-hint" id="secretAccessKey-hint">${e(t.secretHint)}</div>
          <div class="secret-stored" id="secret-stored" hidden>
            <span class="secret-badge" id="secret-stored-text"><span aria-hidden="true">\u2713</span> ${e(t.secretStored)}</span>
            <button type="button" class="button secondary" id="secret-replace" aria-describedby="secret-stored-text">${e(
              t.secretReplace,
            )}</button>
            <button type="button" class="button secondary" id="secret-clear" aria-describedby="secret-stored-text">${e(
              t.secretClear,
            )}</button>
          </div>
          <div class="secret-entry" id="secret-entry">
            <input class="setting-input" id="secretAccessKey" name="secretAccessKey" type="password" autocomplete="off" spellcheck="false" aria-describedby="${describedBy(
              'secretAccessKey',
            )}">
            <button type="button" class="button secondary" id="secret-cancel" hidden>${e(t.secretCancelReplace)}</button>
          </div>
          <div class="setting-error" id="secretAccessKey-error" hidden></div>
        </div>
      </section>

      <section class="settings-section" aria-labelledby="section-encryption">
        <h2 id="section-encryption">${e(t.sectionEncryption)}</h2>
        <div class="setting" id="setting-passphrase">
          <div class="setting-hint" id="passphrase-hint">${e(t.passphraseHint)}</div>
          <div class="setting-warning" id="passphrase-lost"><span class="warning-icon" aria-hidden="true">\u26A0</span> ${e(t.passphraseLost)}</div>
          <div class="secret-stored">
            <span class="secret-badge" id="passphrase-state" aria-live="polite">${e(t.passphraseNone)}</span>
            <button type="button" class="button secondary" id="passphrase" aria-describedby="passphrase-state passphrase-lost">${e(t.passphraseSet)}</button>
          </div>
        </div>
      </section>

      <section class="settings-section" aria-labelledby="section-layout">
        <h2 id="section-layout">${e(t.sectionLayout)}</h2>
        ${textField('rootPath', t.rootPathLabel, t.rootPathHint, { optional: true, placeholder: 'backups/laptop' })}
        <div class="setting" id="setting-addressingStyle" data-field="addressingStyle">
          <label class="setting-label" for="addressingStyle">${e(t.addressingStyleLabel)}</label>
          <div class="setting-hint" id="addressingStyle-hint">${e(t.addressingStyleHint)}</div>
          <select class="setting-select" id="addressingStyle" name="addressingStyle" aria-describedby="${describedBy(
            'addressingStyle',
          )}">
            <option value="auto">${e(t.addressingAuto)}</option>
            <option value="path">${e(t.addressingPath)}</option>
            <option value="virtual">${e(t.addressingVirtual)}</option>
          </select>
          <div class="setting-error" id="addressingStyle-error" hidden></div>
        </div>
      </section>

      <section aria-labelledby="section-autoBackup">
        <h2 id="section-autoBackup">${e(t.sectionAutoBackup)}</h2>
        <div class="setting">
          <div class="setting-hint" id="autoBackup-hint">${e(t.autoBackupHint)}</div>
          <button type="button" class="button secondary" id="autoBackup" aria-describedby="autoBackup-hint">${e(t.autoBackupOpen)}</button>
        </div>
      </section>

      <!-- Stays at the bottom of the window while the form scrolls: Save and Test are always in reach. -->
      <div class="actions" id="actions">
        <div class="actions-buttons">
          <button type="submit" class="button primary" id="save">${e(t.save)}</button>
          <button type="button" class="button secondary" id="test">${e(t.testConnection)}</button>
          <button type="button" class="button secondary" id="backup" disabled aria-describedby="backup-why">${e(t.backUpNow)}</button>
          <button type="button" class="button secondary" id="manage">${e(t.manage)}</button>
          <span class="dirty" id="dirty" hidden>${e(t.unsavedChanges)}</span>
          <span class="backup-why" id="backup-why">${e(t.backUpNeedsSettings)}</span>
        </div>
        <div class="status" id="status" role="status" aria-live="polite" aria-atomic="true"><span class="status-icon" id="status-icon" aria-hidden="true"></span><span class="status-text" id="status-text"></span></div>
        <section class="steps" id="steps" aria-labelledby="steps-heading" hidden>
          <h2 id="steps-heading">${e(t.stepsHeading)}</h2>
          <ul class="steps-list" id="steps-list"></ul>
        </section>
      </div>
    </form>
  </main>
  <script nonce="${e(i.nonce)}" src="${e(i.scriptUri)}"></script>
</body>
</html>`;
}
