#!/usr/bin/env node
/*
 * Packs the current build into a .vsix with @vscode/vsce, the same packer and
 * the same .vscodeignore as `npm run package`, but without the production
 * rebuild: `npm start` and the end-to-end tests install what they just built.
 *
 *   node scripts/packVsix.js <out.vsix>
 */
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
/** The README users see in the extension's details page; README.md is the developers'. */
const USER_README = 'docs/marketplace/README.md';

/**
 * Packs ROOT into `out`; returns the file and its size. vsce's own output (a
 * tree of every packed file) is kept back and shown only when packing fails.
 */
async function packVsix(out) {
  const { createVSIX } = require('@vscode/vsce');
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  const said = [];
  const saved = { log: console.log, info: console.info, warn: console.warn };
  for (const k of Object.keys(saved)) console[k] = (...args) => said.push(args.join(' '));
  try {
    await createVSIX({
      cwd: ROOT,
      packagePath: path.resolve(out),
      dependencies: false,
      rewriteRelativeLinks: false,
      allowMissingRepository: true,
      readmePath: USER_README,
    });
  } catch (e) {
    process.stderr.write(said.join('\n') + '\n');
    throw e;
  } finally {
    Object.assign(console, saved);
  }
  return { file: path.resolve(out), bytes: fs.statSync(out).size };
}

module.exports = { packVsix, USER_README };

if (require.main === module) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: node scripts/packVsix.js <out.vsix>');
    process.exit(2);
  }
  packVsix(out).then(
    (r) => console.log(`${r.file} (${(r.bytes / 1024).toFixed(0)} KiB)`),
    (e) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exit(1);
    },
  );
}
