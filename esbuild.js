// Bundles the extension host code, the engine, its worker threads, the CLI and the webview.
const esbuild = require('esbuild');
const path = require('path');

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

/** @type {import('esbuild').BuildOptions} */
const nodeCommon = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  sourcesContent: false,
  logLevel: 'warning',
  // The AWS SDK is loaded lazily; keep its optional native helpers out.
  external: ['vscode', '@aws-sdk/signature-v4-crt', 'aws-crt'],
  // jsonc-parser's UMD main requires './impl/*' at run time, which a bundle cannot resolve.
  alias: { 'jsonc-parser': './node_modules/jsonc-parser/lib/esm/main.js' },
};

/**
 * The extension's heavy half (engine, AWS SDK, zip writer and reader, app data) is its own
 * bundle, dist/engine.js, which the extension `require`s on first use: so
 * loading dist/extension.js at activation parses only the light face.
 */
const lazyEngine = {
  name: 'lazy-engine',
  setup(build) {
    // src/extension/host/engineHost.ts requires '../../core/index': the engine bundle, not a copy of it.
    build.onResolve({ filter: /(^|\/)core\/index$/ }, (args) =>
      args.importer.includes(`${path.sep}src${path.sep}extension${path.sep}`) ? { path: './engine.js', external: true } : undefined,
    );
  },
};

/**
 * The AWS SDK is a bundle of its own, dist/sdk.js, which dist/engine.js requires on
 * first use (src/core/storage/sdkModules.ts): compiling one ~850 KB file held the
 * extension host's loop ~60 ms; as two, each compile is a shorter stretch.
 */
const lazySdk = {
  name: 'lazy-sdk',
  setup(build) {
    build.onResolve({ filter: /^\.\/sdkModules$/ }, (args) =>
      args.importer.endsWith(`${path.sep}storage${path.sep}s3Store.ts`) ? { path: './sdk.js', external: true } : undefined,
    );
  },
};

/**
 * `import * as fs from 'fs'` of a Node module becomes `__toESM(require('fs'))` at
 * each importing file: a copy of the module's exports each time, 79 of them
 * (~6 ms of loading dist/engine.js; `vscode`'s, 40-odd in dist/extension.js, at
 * activation). Each such module is imported through one
 * module of the bundle instead, which copies it once.
 */
const nodeModulesOnce = {
  name: 'node-modules-once',
  setup(build) {
    const once = /^(fs|path|zlib|os|http|https|crypto|child_process|vscode)$/;
    // Our own `import`s only: a package's require('fs') keeps the module itself (one might patch it).
    const ours = path.join(__dirname, 'src') + path.sep;
    build.onResolve({ filter: once }, (args) =>
      args.kind === 'import-statement' && args.importer.startsWith(ours) ? { path: args.path, namespace: 'node-once' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'node-once' }, (args) => ({ contents: `export * from ${JSON.stringify(args.path)};`, loader: 'js', resolveDir: __dirname }));
  },
};

const builds = [
  { ...nodeCommon, entryPoints: { extension: 'src/extension/extension.ts' }, outdir: 'dist', plugins: [lazyEngine, nodeModulesOnce] },
  { ...nodeCommon, entryPoints: { engine: 'src/core/index.ts' }, outdir: 'dist', plugins: [lazySdk, nodeModulesOnce] },
  { ...nodeCommon, entryPoints: { sdk: 'src/core/storage/sdkModules.ts' }, outdir: 'dist' },
  // Worker threads load their script from a file: dist/workers/<name>.js (see src/core/util/workerPool.ts).
  {
    ...nodeCommon,
    entryPoints: { 'workers/fileWorker': 'src/core/workers/fileWorker.ts', 'workers/entryWorker': 'src/core/workers/entryWorker.ts' },
    outdir: 'dist',
  },
  { ...nodeCommon, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' }, plugins: [nodeModulesOnce] },
  {
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    sourcemap: !production,
    minify: production,
    logLevel: 'warning',
    entryPoints: { webview: 'src/webview/settingsPage.ts' },
    outdir: 'media',
  },
];

/** Tests and scripts: transpiled file by file into out/ (type errors are `npm run typecheck`'s job). */
function testBuild() {
  const fs = require('fs');
  const files = [];
  const walk = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) files.push(p);
    }
  };
  walk('src');
  walk('test');
  return { entryPoints: files, outdir: 'out', outbase: '.', bundle: false, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, logLevel: 'warning' };
}

async function main() {
  const fs = require('fs');
  if (process.argv.includes('--tests')) {
    await esbuild.build(testBuild());
    return;
  }
  const present = builds.filter((b) => Object.values(b.entryPoints).every((p) => fs.existsSync(p)));
  if (watch) {
    for (const b of present) (await esbuild.context(b)).watch();
    return;
  }
  await Promise.all(present.map((b) => esbuild.build(b)));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
