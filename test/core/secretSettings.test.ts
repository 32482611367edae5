import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import { parse } from 'jsonc-parser';
import { ALWAYS_IGNORED_SETTINGS, DEFAULT_IGNORED_SETTINGS, effectiveIgnoredSettings } from '../../src/core/appData/categories';
import { collectAppData } from '../../src/core/appData/collectAppData';
import { planAppDataRestore } from '../../src/core/appData/planAppDataRestore';
import { looksLikeSecretName, looksLikeSecretValue, stripSecretSettings } from '../../src/core/appData/secretSettings';
import { mergeSettings, replaceSettings, stripIgnoredSettings } from '../../src/core/appData/settingsMerge';
import { writeArchive } from '../helpers/v1/archiveWriter';
import { verifyArchive } from '../../src/core/archive/verifyArchive';

// Made-up values in the shapes of real ones; none of them is a live credential.
const GH = 'ghp_' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8';
const AWS = 'AKIA' + 'IOSFODNN7EXAMPLE';
const SK = 'sk-' + 'proj-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c';
const RANDOM = 'q8Zr2Lx0Vt7Nw4Kp1Ys9Hd3Fg6Jm5Bc0Ae2Ru';

describe('settings that look like secrets, and settings a backup never carries', () => {
  describe('names', () => {
    for (const n of ['github.token', 'gitlab.personalAccessToken', 'sonarlint.connectedMode.token', 'myext.password', 'db.passwd', 'sqltools.connections.pwd', 'openai.apiKey', 'anthropic.api_key', 'azure.clientSecret', 'aws.credentials', 'http.proxyAuthorization', 'foo.privateKey', 'terminal.integrated.env.linux', 'python.env.PATH', 'x.licenseKey', 'rest.cookie']) {
      it(`${n} is a secret`, () => assert.ok(looksLikeSecretName(n), n));
    }
    for (const n of ['editor.tokenColorCustomizations', 'editor.semanticTokenColorCustomizations', 'editor.maxTokenizationLineLength', 'git.useCredentialStore', 'git.terminalAuthentication', 'workbench.colorTheme', 'editor.fontSize', 'keyboard.dispatch', 'vim.leaderKey', 'myext.key', 'environment', 'python.envFile']) {
      it(`${n} is not`, () => assert.ok(!looksLikeSecretName(n), n));
    }
  });

  describe('values', () => {
    for (const v of [GH, AWS, SK, RANDOM, 'xoxb-' + '1234567890-abcdefghij', '-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----', 'https://deploy:hunter2@git.example.com/repo.git', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc', '0123456789abcdef0123456789abcdef01234567']) {
      it(`${v.slice(0, 12)}... looks like a secret`, () => assert.ok(looksLikeSecretValue(v), v));
    }
    for (const v of ['Default Dark Modern', 'Menlo, Monaco, \'Courier New\', monospace', '/usr/local/bin/python3.12', 'https://github.com/microsoft/vscode', 'ms-python.python', '#1e1e1e', 'editor.action.formatDocument', 'afterDelay', 'aVeryLongCamelCaseIdentifierWithoutDigits', 'C:\\Users\\me\\AppData\\Local\\Programs']) {
      it(`${JSON.stringify(v)} does not`, () => assert.ok(!looksLikeSecretValue(v), v));
    }
  });

  it('strips them at any depth, by name or by value, keeping comments and the rest; names only in the record', () => {
    const text = `{
\t// my settings
\t"editor.fontSize": 14,
\t"github.token": "${GH}",
\t"rest-client.environmentVariables": {
\t\t"prod env": { "baseUrl": "https://api.example.com", "apiKey": "${SK}" },
\t\t"local": { "baseUrl": "http://localhost" }
\t},
\t"myext.servers": [ { "name": "a", "password": "p4ss" }, { "name": "b" } ],
\t"myext.args": ["--verbose", "${AWS}"],
\t"custom.blob": "${RANDOM}",
\t"terminal.integrated.env.osx": { "NPM_TOKEN": "x" },
\t"github.token.empty": "",
\t"editor.tokenColorCustomizations": { "comments": "#888" }
}
`;
    const r = stripSecretSettings(text);
    const v = parse(r.text);
    assert.deepStrictEqual(v, {
      'editor.fontSize': 14,
      'rest-client.environmentVariables': { 'prod env': { baseUrl: 'https://api.example.com' }, local: { baseUrl: 'http://localhost' } },
      'myext.servers': [{ name: 'a' }, { name: 'b' }],
      'github.token.empty': '',
      'editor.tokenColorCustomizations': { comments: '#888' },
    });
    assert.ok(r.text.includes('// my settings'));
    assert.deepStrictEqual(r.leftOut.sort(), [
      'custom.blob',
      'github.token',
      'myext.args',
      'myext.servers[0].password',
      'rest-client.environmentVariables.prod env.apiKey',
      'terminal.integrated.env.osx',
    ]);
    for (const secret of [GH, SK, AWS, RANDOM, 'p4ss']) assert.ok(!r.text.includes(secret) && !JSON.stringify(r.leftOut).includes(secret), 'no value survives');
  });

  describe('ignored settings apply to nested objects, and some are always ignored', () => {
    const backup = `{
\t"editor.fontSize": 15,
\t"git": { "path": "/tmp/evil/git", "enabled": true },
\t"terminal": { "integrated.env.linux": { "LD_PRELOAD": "/tmp/evil.so" }, "integrated.fontSize": 13 },
\t"typescript.tsdk": "/tmp/evil/tsserver",
\t"security.workspace.trust.enabled": false,
\t"task.allowAutomaticTasks": "on",
\t"http.proxyStrictSSL": false,
\t"C_Cpp.default.compilerPath": "/tmp/evil/cc",
\t"s3Backup.appData.ignoredSettings": [],
\t"s3Backup": { "rootPath": "elsewhere" },
\t"mcp": { "servers": { "x": { "command": "/tmp/evil" } } },
\t"[python]": { "python": { "defaultInterpreterPath": "/tmp/evil/python" }, "editor.tabSize": 4 }
}
`;
    const local = `{
\t// B
\t"git.path": "/usr/bin/git",
\t"s3Backup.rootPath": "mine",
\t"security.workspace.trust.enabled": true
}
`;
    const patterns = effectiveIgnoredSettings(DEFAULT_IGNORED_SETTINGS);

    it('the backup side leaves them all out', () => {
      const v = parse(stripIgnoredSettings(backup, patterns));
      assert.deepStrictEqual(v, { 'editor.fontSize': 15, git: { enabled: true }, terminal: { 'integrated.fontSize': 13 }, '[python]': { python: {}, 'editor.tabSize': 4 } });
    });

    for (const mode of ['merge', 'replace'] as const) {
      it(`${mode}: none of them comes in, the local values stay`, () => {
        const r = (mode === 'merge' ? mergeSettings : replaceSettings)(local, backup, patterns);
        const v = parse(r.text);
        assert.strictEqual(v['git.path'], '/usr/bin/git');
        assert.strictEqual(v.git?.path, undefined, 'nested git.path did not get through');
        assert.strictEqual(v.git?.enabled, true);
        assert.strictEqual(v['s3Backup.rootPath'], 'mine');
        assert.strictEqual(v.s3Backup, undefined);
        assert.strictEqual(v['s3Backup.appData.ignoredSettings'], undefined);
        assert.strictEqual(v['security.workspace.trust.enabled'], true);
        for (const k of ['typescript.tsdk', 'task.allowAutomaticTasks', 'http.proxyStrictSSL', 'C_Cpp.default.compilerPath', 'mcp']) assert.strictEqual(v[k], undefined, k);
        assert.strictEqual(v.terminal?.['integrated.env.linux'], undefined);
        assert.strictEqual(v['[python]']?.python?.defaultInterpreterPath, undefined);
        assert.strictEqual(v['editor.fontSize'], 15);
        assert.ok(!r.text.includes('/tmp/evil'), r.text);
        if (mode === 'merge') assert.ok(r.text.includes('// B'));
      });
    }

    it('a local nested ignored value survives a backup object that replaces its parent', () => {
      const r = mergeSettings('{ "git": { "path": "/usr/bin/git", "enabled": false } }', '{ "git": { "enabled": true, "autofetch": true } }', patterns);
      assert.deepStrictEqual(parse(r.text), { git: { path: '/usr/bin/git', enabled: true, autofetch: true } });
      const rr = replaceSettings('{ "git": { "path": "/usr/bin/git" } }', '{ "git": { "enabled": true } }', patterns);
      assert.deepStrictEqual(parse(rr.text), { git: { enabled: true, path: '/usr/bin/git' } });
    });

    it('the user cannot switch the always-ignored ones off with a shorter list', () => {
      assert.deepStrictEqual(effectiveIgnoredSettings([]), [...ALWAYS_IGNORED_SETTINGS]);
      assert.ok(ALWAYS_IGNORED_SETTINGS.includes('s3Backup.*'));
    });
  });

  describe('app data backup and restore', () => {
    let tmp: string;
    before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-secrets-'))));
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    const write = (root: string, files: Record<string, string>): void => {
      for (const [rel, body] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
        fs.writeFileSync(path.join(root, rel), body);
      }
    };

    it('leaves secrets out unless asked, records their names, and the restore keeps the local ones and says which', async () => {
      const userA = path.join(tmp, 'A', 'User');
      const userB = path.join(tmp, 'B', 'User');
      write(userA, {
        'settings.json': `{ "editor.fontSize": 15, "github.token": "${GH}", "files.autoSave": "off" }\n`,
        'profiles/p1/settings.json': `{ "openai.apiKey": "${SK}" }\n`,
        'globalStorage/storage.json': JSON.stringify({ userDataProfiles: [{ location: 'p1', name: 'Work' }] }),
      });
      write(userB, { 'settings.json': '{ "github.token": "b-local-token", "editor.fontSize": 11 }\n' });

      const sources = await collectAppData(userA);
      const byPath = new Map(sources.map((s) => [s.archivePath, s.data!.toString('utf8')]));
      assert.deepStrictEqual(JSON.parse(byPath.get('appdata/left-out-settings.json')!), { 'settings.json': ['github.token'], 'profiles/p1/settings.json': ['openai.apiKey'] });
      for (const [p, body] of byPath) for (const secret of [GH, SK]) assert.ok(!body.includes(secret), `${secret.slice(0, 6)}... in ${p}`);

      const kept = await collectAppData(userA, { includeSecretSettings: true });
      assert.ok(kept.some((s) => s.data!.toString('utf8').includes(GH)), 'asked for: kept');
      assert.ok(!kept.some((s) => s.archivePath.endsWith('left-out-settings.json')));

      const file = path.join(tmp, 'a.zip');
      const a = writeArchive(sources, { kind: 'appdata', hostname: 'a', platform: process.platform, created: new Date().toISOString(), sources: ['appdata'], toolVersion: '0' });
      await Promise.all([pipeline(a.stream, fs.createWriteStream(file)), a.done]);
      const manifest = await verifyArchive(file);
      for (const mode of ['merge', 'replace'] as const) {
        const plan = await planAppDataRestore(file, manifest, userB, { settings: mode });
        assert.deepStrictEqual(plan.leftOutSettings, { 'settings.json': ['github.token'], 'profiles/p1/settings.json': ['openai.apiKey'] });
        const settings = parse(plan.changes.find((c) => c.relPath === 'settings.json')!.data.toString('utf8'));
        assert.strictEqual(settings['github.token'], 'b-local-token', `${mode} keeps B's own token`);
        assert.strictEqual(settings['editor.fontSize'], 15);
      }
    });
  });
});
