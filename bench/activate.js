'use strict';
// activate() cost of the shipped bundle: dist/extension.js is taken out of the
// .vsix, loaded in a fresh Node process with a minimal fake `vscode` module, and
// activate() is called with a stub context. This times our own code (module
// load + activate) without VS Code's extension-host overhead, which is not ours
// to change; VS Code's "activation time" adds that overhead on top.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const { ROOT, run, median } = require('./lib');

const VSIX = path.join(ROOT, 'dist', 's3-backup.vsix');

function newestMtime(dir) {
  let t = 0;
  const walk = (d) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else t = Math.max(t, fs.statSync(p).mtimeMs);
    }
  };
  walk(dir);
  return t;
}

/**
 * Makes sure dist/s3-backup.vsix exists and is newer than src/ and
 * package.json (`npm run package` otherwise). Resolves { file, size } or
 * { error } with the reason packaging failed.
 */
async function ensureVsix() {
  const sources = Math.max(newestMtime(path.join(ROOT, 'src')), fs.statSync(path.join(ROOT, 'package.json')).mtimeMs);
  const fresh = fs.existsSync(VSIX) && fs.statSync(VSIX).mtimeMs >= sources;
  let packaged = false;
  if (!fresh) {
    try {
      await run('npm', ['run', '--silent', 'package'], { cwd: ROOT, timeoutMs: 180_000 });
      packaged = true;
    } catch (e) {
      return { error: `npm run package failed: ${packageError(`${e.stderr || ''}\n${e.stdout || ''}\n${e.message}`)}` };
    }
  }
  if (!fs.existsSync(VSIX)) return { error: 'npm run package did not produce dist/s3-backup.vsix' };
  return { file: VSIX, size: fs.statSync(VSIX).size, packaged };
}

/** The first line that says what went wrong, from esbuild's or vsce's output. */
function packageError(text) {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const hit = lines.find((l) => /\[ERROR\]|^ERROR|Error:/.test(l)) || lines[lines.length - 1] || 'unknown error';
  return hit.replace(/^✘\s*/, '').slice(0, 300);
}

/** Extracts the .vsix (a zip) into a temp folder; returns the extension's folder in it. */
async function unpackVsix(vsix) {
  const yauzl = require('yauzl');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-bench-vsix-'));
  await new Promise((resolve, reject) => {
    yauzl.open(vsix, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      zip.on('error', reject);
      zip.on('end', resolve);
      zip.on('entry', (entry) => {
        const target = path.join(dir, entry.fileName);
        if (!target.startsWith(dir + path.sep) || entry.fileName.endsWith('/')) return zip.readEntry();
        fs.mkdirSync(path.dirname(target), { recursive: true });
        zip.openReadStream(entry, (e, rs) => {
          if (e) return reject(e);
          rs.pipe(fs.createWriteStream(target)).on('finish', () => zip.readEntry()).on('error', reject);
        });
      });
      zip.readEntry();
    });
  });
  return { tmp: dir, extDir: path.join(dir, 'extension') };
}

/**
 * When no .vsix can be built: the production bundles `npm run package` would
 * have shipped (`node esbuild.js --production`, the same build: the face in
 * dist/extension.js, the engine it loads on first use in dist/engine.js),
 * copied into a temp folder laid out like an installed extension.
 */
async function bundleExtension() {
  const { execFileSync } = require('child_process');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-bench-ext-'));
  const extDir = path.join(tmp, 'extension');
  execFileSync(process.execPath, ['esbuild.js', '--production'], { cwd: ROOT, stdio: 'ignore' });
  fs.mkdirSync(path.join(extDir, 'dist'), { recursive: true });
  for (const f of ['extension.js', 'engine.js']) fs.copyFileSync(path.join(ROOT, 'dist', f), path.join(extDir, 'dist', f));
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(extDir, 'package.json'));
  for (const f of fs.readdirSync(ROOT)) if (/^package\.nls.*\.json$/.test(f)) fs.copyFileSync(path.join(ROOT, f), path.join(extDir, f));
  for (const d of ['media', 'l10n']) if (fs.existsSync(path.join(ROOT, d))) fs.cpSync(path.join(ROOT, d), path.join(extDir, d), { recursive: true });
  return { tmp, extDir };
}

/** Median of `runs` child measurements of `extDir/<main>` (one unmeasured run first warms the file cache). */
async function measureActivate(extDir, runs = 5) {
  const pkg = JSON.parse(fs.readFileSync(path.join(extDir, 'package.json'), 'utf8'));
  const main = path.join(extDir, pkg.main || 'dist/extension.js');
  if (!fs.existsSync(main)) throw new Error(`${path.relative(extDir, main)} is not in the .vsix`);
  const samples = [];
  for (let i = 0; i <= runs; i++) {
    const r = await child(main, extDir);
    if (i > 0) samples.push(r);
  }
  return {
    loadMs: median(samples.map((s) => s.loadMs)),
    activateMs: median(samples.map((s) => s.activateMs)),
    totalMs: median(samples.map((s) => s.loadMs + s.activateMs)),
    subscriptions: samples[0].subscriptions,
    bundleBytes: fs.statSync(main).size,
    samples,
  };
}

function child(main, extDir) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [__filename, '--child', main, extDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', reject);
    p.on('close', (code) => {
      let r;
      try { r = JSON.parse(out.trim().split('\n').pop()); } catch { /* below */ }
      if (code === 0 && r && !r.error) resolve(r);
      else reject(new Error(`activate() failed: ${(r && r.error) || err.trim().split('\n').slice(-3).join(' ') || `exit ${code}`}`));
    });
  });
}

// ---------------------------------------------------------------------------
// Child side: a fake `vscode` just rich enough for activate() to wire itself.

function makeFakeVscode(extDir) {
  class Disposable {
    constructor(fn) { this._fn = fn; }
    static from(...ds) { return new Disposable(() => ds.forEach((d) => d && d.dispose && d.dispose())); }
    dispose() { if (this._fn) { const f = this._fn; this._fn = undefined; f(); } }
  }
  const disposable = () => new Disposable(() => undefined);
  class EventEmitter {
    constructor() { this._l = new Set(); this.event = (l) => { this._l.add(l); return new Disposable(() => this._l.delete(l)); }; }
    fire(v) { for (const l of [...this._l]) l(v); }
    dispose() { this._l.clear(); }
  }
  const event = () => disposable();
  class Uri {
    constructor(scheme, p) { this.scheme = scheme; this.path = p; this.fsPath = p; this.authority = ''; this.query = ''; this.fragment = ''; }
    static file(p) { return new Uri('file', path.resolve(p)); }
    static parse(s) { const m = /^([a-z][\w+.-]*):(?:\/\/[^/]*)?(.*)$/i.exec(s); return m ? new Uri(m[1], m[2]) : new Uri('file', s); }
    static joinPath(u, ...parts) { return new Uri(u.scheme, path.posix.join(u.path, ...parts)); }
    static from(c) { return new Uri(c.scheme || 'file', c.path || ''); }
    with(c) { return new Uri(c.scheme || this.scheme, c.path || this.path); }
    toString() { return `${this.scheme}://${this.path}`; }
    toJSON() { return { scheme: this.scheme, path: this.path }; }
  }
  // Anything not modelled below: a callable, constructible object whose
  // properties are more of the same; never thenable, so `await` passes through.
  const anything = () => {
    const fn = function () { return anything(); };
    return new Proxy(fn, {
      get(t, k) {
        if (k === 'then') return undefined;
        if (k === Symbol.toPrimitive) return () => '';
        if (k === Symbol.iterator) return function* () {};
        if (k === 'dispose') return () => undefined;
        if (typeof k === 'string' && k.startsWith('onDid')) return event;
        if (!(k in t)) t[k] = anything();
        return t[k];
      },
      // A function's own `name` and `length` are read-only: an extension setting them (a status bar
      // item's `name`) must not throw here.
      set(t, k, v) {
        try { t[k] = v; } catch { /* read-only on functions */ }
        return true;
      },
      apply() { return anything(); },
      construct() { return anything(); },
    });
  };
  const l10nT = (msg, ...args) => {
    const m = typeof msg === 'string' ? msg : (msg && msg.message) || '';
    const values = args.length === 1 && args[0] && typeof args[0] === 'object' ? args[0] : args;
    return m.replace(/\{(\w+)\}/g, (s, k) => (values[k] !== undefined ? String(values[k]) : s));
  };
  const outputChannel = () => {
    const noop = () => undefined;
    return { name: 'S3 Backup', logLevel: 2, onDidChangeLogLevel: event, trace: noop, debug: noop, info: noop, warn: noop, error: noop,
      append: noop, appendLine: noop, replace: noop, clear: noop, show: noop, hide: noop, dispose: noop };
  };
  const treeView = () => Object.assign(anything(), { visible: false, selection: [], onDidChangeVisibility: event,
    onDidChangeSelection: event, onDidExpandElement: event, onDidCollapseElement: event, reveal: async () => undefined, dispose: () => undefined });
  const configuration = () => ({ get: (k, d) => d, has: () => false, inspect: () => undefined, update: async () => undefined });
  const resolved = async () => undefined;
  const api = {
    version: '1.100.0',
    Disposable, EventEmitter, Uri,
    TreeItem: class TreeItem { constructor(label, state) { this.label = label; this.collapsibleState = state; } },
    ThemeIcon: class ThemeIcon { constructor(id, color) { this.id = id; this.color = color; } static File = {}; static Folder = {}; },
    ThemeColor: class ThemeColor { constructor(id) { this.id = id; } },
    MarkdownString: class MarkdownString { constructor(v = '') { this.value = v; } appendMarkdown(s) { this.value += s; return this; } appendText(s) { this.value += s; return this; } appendCodeblock(s) { this.value += s; return this; } },
    CancellationTokenSource: class { constructor() { this.token = { isCancellationRequested: false, onCancellationRequested: event }; } cancel() { this.token.isCancellationRequested = true; } dispose() {} },
    TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
    ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
    ViewColumn: { Active: -1, Beside: -2, One: 1, Two: 2 },
    StatusBarAlignment: { Left: 1, Right: 2 },
    ConfigurationTarget: { Global: 1, Workspace: 2, WorkspaceFolder: 3 },
    ExtensionMode: { Production: 1, Development: 2, Test: 3 },
    LogLevel: { Off: 0, Trace: 1, Debug: 2, Info: 3, Warning: 4, Error: 5 },
    UIKind: { Desktop: 1, Web: 2 },
    l10n: { t: l10nT, bundle: undefined, uri: undefined },
    commands: {
      registerCommand: () => disposable(), registerTextEditorCommand: () => disposable(),
      executeCommand: resolved, getCommands: async () => [],
    },
    window: {
      createOutputChannel: outputChannel, createTreeView: treeView, registerTreeDataProvider: () => disposable(),
      registerWebviewPanelSerializer: () => disposable(), registerWebviewViewProvider: () => disposable(),
      registerUriHandler: () => disposable(), createStatusBarItem: () => ({ text: '', tooltip: undefined, name: '', command: undefined, accessibilityInformation: undefined, show() {}, hide() {}, dispose() {} }), createWebviewPanel: () => anything(),
      showInformationMessage: resolved, showWarningMessage: resolved, showErrorMessage: resolved,
      showQuickPick: resolved, showInputBox: resolved, showOpenDialog: resolved, showSaveDialog: resolved,
      withProgress: async (o, task) => task({ report: () => undefined }, { isCancellationRequested: false, onCancellationRequested: event }),
      onDidChangeWindowState: event, onDidChangeActiveTextEditor: event, state: { focused: true },
      activeTextEditor: undefined, visibleTextEditors: [],
    },
    workspace: {
      getConfiguration: configuration, onDidChangeConfiguration: event, onDidChangeWorkspaceFolders: event,
      workspaceFolders: undefined, name: undefined, isTrusted: true, onDidGrantWorkspaceTrust: event,
      fs: anything(), getWorkspaceFolder: () => undefined, asRelativePath: (p) => String(p),
    },
    env: { machineId: 'bench', sessionId: 'bench', language: 'en', appName: 'Bench', appRoot: extDir, uriScheme: 'vscode',
      uiKind: 1, remoteName: undefined, clipboard: { writeText: resolved, readText: async () => '' }, openExternal: async () => true,
      asExternalUri: async (u) => u, isTelemetryEnabled: false, onDidChangeTelemetryEnabled: event, logLevel: 3, onDidChangeLogLevel: event },
    extensions: { getExtension: () => undefined, all: [], onDidChange: event },
  };
  // Namespaces fall back to `anything()` for what is not modelled (register*, create*, ...).
  const fallback = (obj) => new Proxy(obj, { get: (t, k) => (k in t || typeof k === 'symbol' ? t[k] : (t[k] = anything())) });
  for (const ns of ['commands', 'window', 'workspace', 'env', 'extensions', 'l10n']) api[ns] = fallback(api[ns]);
  return fallback(api);
}

function makeContext(vscode, extDir) {
  const store = () => {
    const m = new Map();
    return { get: (k, d) => (m.has(k) ? m.get(k) : d), update: async (k, v) => { m.set(k, v); }, keys: () => [...m.keys()], setKeysForSync: () => undefined };
  };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-bench-ctx-'));
  const secrets = new Map();
  const changed = new vscode.EventEmitter();
  return {
    subscriptions: [],
    extensionUri: vscode.Uri.file(extDir),
    extensionPath: extDir,
    asAbsolutePath: (p) => path.join(extDir, p),
    globalStorageUri: vscode.Uri.file(path.join(tmp, 'global')),
    globalStoragePath: path.join(tmp, 'global'),
    storageUri: vscode.Uri.file(path.join(tmp, 'workspace')),
    storagePath: path.join(tmp, 'workspace'),
    logUri: vscode.Uri.file(path.join(tmp, 'log')),
    logPath: path.join(tmp, 'log'),
    extensionMode: vscode.ExtensionMode.Production,
    globalState: store(),
    workspaceState: store(),
    secrets: {
      get: async (k) => secrets.get(k), store: async (k, v) => { secrets.set(k, v); changed.fire({ key: k }); },
      delete: async (k) => { secrets.delete(k); changed.fire({ key: k }); }, onDidChange: changed.event,
    },
    environmentVariableCollection: { replace() {}, append() {}, prepend() {}, get() {}, forEach() {}, delete() {}, clear() {}, getScoped() { return this; } },
    extension: { id: 's3-backup.s3-backup', extensionUri: vscode.Uri.file(extDir), extensionPath: extDir, isActive: true,
      packageJSON: JSON.parse(fs.readFileSync(path.join(extDir, 'package.json'), 'utf8')), extensionKind: 1, exports: undefined },
    languageModelAccessInformation: { onDidChange: () => ({ dispose() {} }), canSendRequest: () => undefined },
    _tmp: tmp,
  };
}

async function childMain(main, extDir) {
  const Module = require('module');
  const vscode = makeFakeVscode(extDir);
  const fakeId = path.join(extDir, '__fake_vscode__.js');
  const m = new Module(fakeId);
  m.filename = fakeId;
  m.loaded = true;
  m.exports = vscode;
  require.cache[fakeId] = m;
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    return request === 'vscode' ? fakeId : resolve.call(this, request, ...rest);
  };
  const context = makeContext(vscode, extDir);
  try {
    const t0 = process.hrtime.bigint();
    const ext = require(main);
    const t1 = process.hrtime.bigint();
    await ext.activate(context);
    const t2 = process.hrtime.bigint();
    const report = {
      loadMs: Number(t1 - t0) / 1e6,
      activateMs: Number(t2 - t1) / 1e6,
      subscriptions: context.subscriptions.length,
    };
    try { if (ext.deactivate) await ext.deactivate(); } catch { /* not measured */ }
    for (const d of context.subscriptions) { try { d.dispose(); } catch { /* not measured */ } }
    return report;
  } finally {
    fs.rmSync(context._tmp, { recursive: true, force: true });
  }
}

if (require.main === module && process.argv[2] === '--child') {
  childMain(process.argv[3], process.argv[4]).then(
    (r) => { process.stdout.write(JSON.stringify(r) + '\n'); process.exit(0); },
    (e) => { process.stdout.write(JSON.stringify({ error: (e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : String(e)) }) + '\n'); process.exit(1); },
  );
}

module.exports = { ensureVsix, unpackVsix, bundleExtension, measureActivate, VSIX };
