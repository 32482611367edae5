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

/** Packs ROOT into `out`; returns the file and its size. */
async function packVsix(out) {
  const { createVSIX } = require('@vscode/vsce');
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  await createVSIX({
    cwd: ROOT,
    packagePath: path.resolve(out),
    dependencies: false,
    rewriteRelativeLinks: false,
    allowMissingRepository: true,
  });
  return { file: path.resolve(out), bytes: fs.statSync(out).size };
}

module.exports = { packVsix };

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
