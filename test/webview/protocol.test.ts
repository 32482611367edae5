import * as assert from 'assert';
import { escapeHtml, makeNonce, renderSettingsHtml, settingsCsp } from '../../src/extension/settings/html';
import {
  MAX_FIELD_LENGTH,
  SETTINGS_FIELDS,
  STRING_KEYS,
  parseWebviewMessage,
  type FormValues,
  type UiStrings,
} from '../../src/webview/protocol';

const values: FormValues = {
  endpoint: 'http://127.0.0.1:7480',
  region: 'us-east-1',
  bucket: 'my-bucket',
  accessKeyId: 'AKIDEXAMPLE',
  rootPath: 'backups/laptop',
  addressingStyle: 'auto',
};

function strings(): UiStrings {
  const s = {} as UiStrings;
  for (const k of STRING_KEYS) s[k] = `«${k}»`;
  return s;
}

describe('settings protocol: parseWebviewMessage', () => {
  it('accepts every message shape the webview sends', () => {
    const ok: unknown[] = [
      { type: 'ready' },
      { type: 'clearSecret' },
      { type: 'backUpNow' },
      { type: 'manage' },
      { type: 'autoBackup' },
      { type: 'validate', seq: 3, values },
      { type: 'save', values },
      { type: 'save', values, secretAccessKey: 's3cr3t/KEY+value' },
      { type: 'test', values, secretAccessKey: 'x' },
      // what postMessage delivers for `secretAccessKey: undefined`
      { type: 'test', values, secretAccessKey: undefined },
    ];
    for (const m of ok) {
      const r = parseWebviewMessage(m);
      assert.ok(r.ok, `refused ${JSON.stringify(m)}: ${r.ok ? '' : r.error}`);
      assert.deepStrictEqual(JSON.parse(JSON.stringify(r.message)), JSON.parse(JSON.stringify(m)));
    }
  });

  it('returns a fresh object, not the input', () => {
    const input = { type: 'save', values: { ...values }, secretAccessKey: 'abc' };
    const r = parseWebviewMessage(input);
    assert.ok(r.ok);
    assert.notStrictEqual(r.message, input);
    assert.notStrictEqual((r.message as { values: FormValues }).values, input.values);
  });

  it('refuses anything else', () => {
    const bad: Array<[string, unknown]> = [
      ['null', null],
      ['a string', 'ready'],
      ['an array', [{ type: 'ready' }]],
      ['no type', {}],
      ['a non-string type', { type: 1 }],
      ['an unknown type', { type: 'getSecret' }],
      ['an extra property', { type: 'ready', extra: true }],
      ['an extra property on save', { type: 'save', values, secret: 'x' }],
      ['missing values', { type: 'save' }],
      ['values not an object', { type: 'save', values: 'x' }],
      ['a missing field', { type: 'save', values: { ...values, bucket: undefined } }],
      ['a number field', { type: 'save', values: { ...values, region: 5 } }],
      ['an extra field in values', { type: 'save', values: { ...values, secretAccessKey: 'x' } }],
      ['a bad addressing style', { type: 'save', values: { ...values, addressingStyle: 'dns' } }],
      ['a non-string secret', { type: 'save', values, secretAccessKey: 42 }],
      ['a null secret', { type: 'test', values, secretAccessKey: null }],
      ['an oversized field', { type: 'save', values: { ...values, endpoint: 'x'.repeat(MAX_FIELD_LENGTH + 1) } }],
      ['an oversized secret', { type: 'save', values, secretAccessKey: 'x'.repeat(MAX_FIELD_LENGTH + 1) }],
      ['a negative seq', { type: 'validate', seq: -1, values }],
      ['a fractional seq', { type: 'validate', seq: 1.5, values }],
      ['a string seq', { type: 'validate', seq: '1', values }],
      ['validate without seq', { type: 'validate', values }],
    ];
    for (const [what, m] of bad) {
      const r = parseWebviewMessage(m);
      assert.strictEqual(r.ok, false, `accepted ${what}`);
      if (!r.ok) assert.ok(r.error.length > 0);
    }
  });

  it('never echoes a refused value into its error', () => {
    const r = parseWebviewMessage({ type: 'save', values, secretAccessKey: 42, ['x'.repeat(500)]: 'SECRETVALUE' });
    assert.strictEqual(r.ok, false);
    if (!r.ok) {
      assert.ok(!r.error.includes('SECRETVALUE'));
      assert.ok(r.error.length < 120, r.error);
    }
  });

  it('names the same fields as the engine profile', () => {
    assert.deepStrictEqual(
      [...SETTINGS_FIELDS].sort(),
      ['accessKeyId', 'addressingStyle', 'bucket', 'endpoint', 'region', 'rootPath', 'secretAccessKey'],
    );
  });
});

describe('settings page HTML', () => {
  const cspSource = 'https://file+.vscode-resource.vscode-cdn.net';
  const nonce = makeNonce();
  const html = renderSettingsHtml({
    cspSource,
    nonce,
    scriptUri: `${cspSource}/ext/media/webview.js`,
    styleUri: `${cspSource}/ext/media/settings.css`,
    strings: strings(),
    lang: 'en',
  });
  const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)?.[1];

  it('has a strict CSP: nothing by default, scripts by nonce only', () => {
    assert.ok(csp, 'no CSP meta tag');
    const directives = new Map(
      csp.split(';').map((d) => {
        const [name, ...rest] = d.trim().split(/\s+/);
        return [name, rest] as const;
      }),
    );
    assert.deepStrictEqual(directives.get('default-src'), ["'none'"]);
    assert.deepStrictEqual(directives.get('script-src'), [`'nonce-${nonce}'`]);
    assert.deepStrictEqual(directives.get('style-src'), [cspSource]);
    assert.deepStrictEqual(directives.get('font-src'), [cspSource]);
    assert.deepStrictEqual(directives.get('img-src'), [cspSource]);
    assert.ok(!csp.includes('unsafe-inline'));
    assert.ok(!csp.includes('unsafe-eval'));
    assert.ok(!csp.includes('*'));
    assert.strictEqual(csp, settingsCsp(cspSource, nonce));
  });

  it('loads exactly one script, with the nonce, and no inline code or style', () => {
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.strictEqual(scripts.length, 1);
    assert.ok(scripts[0][1].includes(`nonce="${nonce}"`));
    assert.ok(scripts[0][1].includes('src="'));
    assert.strictEqual(scripts[0][2].trim(), '', 'inline script body');
    assert.ok(!/<style\b/i.test(html), 'inline <style>');
    assert.ok(!/\sstyle\s*=/i.test(html), 'style attribute');
    assert.ok(!/\son[a-z]+\s*=/i.test(html), 'inline event handler');
    assert.ok(!/javascript:/i.test(html));
  });

  it('uses a fresh, long nonce per rendering', () => {
    const a = makeNonce();
    const b = makeNonce();
    assert.notStrictEqual(a, b);
    assert.ok(a.length >= 22);
    assert.throws(() => renderSettingsHtml({ cspSource, nonce: 'short', scriptUri: '', styleUri: '', strings: strings() }));
  });

  it('labels every field and describes it with its hint and error', () => {
    for (const f of SETTINGS_FIELDS) {
      assert.ok(html.includes(`<label class="setting-label" for="${f}">`), `no label for ${f}`);
      assert.ok(new RegExp(`<(input|select)[^>]*\\sid="${f}"`).test(html), `no control #${f}`);
      assert.ok(html.includes(`id="${f}-hint"`), `no hint for ${f}`);
      assert.ok(html.includes(`id="${f}-error"`), `no error slot for ${f}`);
      const control = new RegExp(`<(?:input|select)[^>]*\\sid="${f}"[^>]*>`).exec(html)?.[0] ?? '';
      assert.ok(control.includes(`aria-describedby="${f}-hint ${f}-error"`), `${f} not described: ${control}`);
    }
    assert.ok(/<input[^>]*id="secretAccessKey"[^>]*type="password"|<input[^>]*type="password"[^>]*id="secretAccessKey"/.test(html));
    assert.ok(html.includes('role="status"') && html.includes('aria-live="polite"'));
    assert.ok(/<button type="submit"[^>]*id="save"/.test(html), 'Save is the submit button (Enter saves)');
  });

  it('offers the provider picker and shows the private-bucket warning', () => {
    for (const name of ['AWS S3', 'Cloudflare R2', 'Alibaba OSS', 'Tencent COS', 'MinIO', 'Ceph', '«providerOther»']) {
      assert.ok(html.includes(`>${name}</option>`), `the picker misses ${name}`);
    }
    assert.ok(html.indexOf('id="provider"') < html.indexOf('id="endpoint"'), 'the provider comes before the endpoint');
    assert.ok(html.includes('«privateBucketWarning»'));
    assert.ok(html.includes('«regionHint»'));
  });

  it('escapes the localized strings', () => {
    const s = strings();
    s.title = '<img src=x onerror=alert(1)>"';
    const out = renderSettingsHtml({ cspSource, nonce, scriptUri: 'a', styleUri: 'b', strings: s });
    assert.ok(!out.includes('<img src=x'));
    assert.ok(out.includes(escapeHtml(s.title)));
  });
});
