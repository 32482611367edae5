#!/usr/bin/env node
/*
 * Packs the current build (dist/extension.js, media/, l10n/, package*.json,
 * README, CHANGELOG, LICENSE) into a .vsix for code-server's --install-extension,
 * without @vscode/vsce: vsce checks what a marketplace upload needs (README
 * links, icon, repository), which a local sandbox or an e2e run must not hinge
 * on, and it takes ~7 s. `npm run package` stays the way to build a release.
 *
 *   node scripts/packVsix.js <out.vsix>
 */
'use strict';

const fs = require('fs');
const path = require('path');
const JSZip = require('jszip');

const ROOT = path.resolve(__dirname, '..');

function walk(dir) {
  if (!fs.existsSync(dir)) return [];
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** The files a user's .vsix carries, as paths relative to the repo root (same set as .vscodeignore keeps). */
function extensionFiles(root = ROOT) {
  const rel = (p) => path.relative(root, p).split(path.sep).join('/');
  const files = ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'dist/extension.js']
    .filter((f) => fs.existsSync(path.join(root, f)));
  for (const f of fs.readdirSync(root)) if (/^package\.nls(\..+)?\.json$/.test(f)) files.push(f);
  for (const dir of ['media', 'l10n']) files.push(...walk(path.join(root, dir)).map(rel).filter((f) => !f.endsWith('.map')));
  return files.sort();
}

function xmlEscape(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]);
}

/**
 * Writes `out` and returns `{ file, id, version, bytes }`. Throws when the build is missing.
 * @param {string} out
 * @param {{ root?: string }} [o]
 */
async function packVsix(out, o = {}) {
  const root = o.root || ROOT;
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const main = pkg.main ? path.join(root, pkg.main) : null;
  if (main && !fs.existsSync(main)) throw new Error(`${pkg.main} is missing: run \`node esbuild.js\` first`);
  const zip = new JSZip();
  const date = new Date(0);
  for (const f of extensionFiles(root)) zip.file(`extension/${f}`, fs.readFileSync(path.join(root, f)), { date });
  const id = `${pkg.publisher}.${pkg.name}`;
  zip.file(
    'extension.vsixmanifest',
    `<?xml version="1.0" encoding="utf-8"?>
<PackageManifest Version="2.0.0" xmlns="http://schemas.microsoft.com/developer/vsx-schema/2011">
  <Metadata>
    <Identity Language="en-US" Id="${xmlEscape(pkg.name)}" Version="${xmlEscape(pkg.version)}" Publisher="${xmlEscape(pkg.publisher)}" />
    <DisplayName>${xmlEscape(pkg.displayName || pkg.name)}</DisplayName>
    <Properties>
      <Property Id="Microsoft.VisualStudio.Code.Engine" Value="${xmlEscape(pkg.engines?.vscode || '*')}" />
    </Properties>
  </Metadata>
  <Installation><InstallationTarget Id="Microsoft.VisualStudio.Code"/></Installation>
  <Dependencies/>
  <Assets>
    <Asset Type="Microsoft.VisualStudio.Code.Manifest" Path="extension/package.json" Addressable="true" />
  </Assets>
</PackageManifest>
`,
    { date },
  );
  zip.file(
    '[Content_Types].xml',
    '<?xml version="1.0" encoding="utf-8"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
      '<Default Extension=".json" ContentType="application/json"/><Default Extension=".vsixmanifest" ContentType="text/xml"/>' +
      '<Default Extension=".js" ContentType="application/javascript"/><Default Extension=".md" ContentType="text/markdown"/>' +
      '<Default Extension=".svg" ContentType="image/svg+xml"/><Default Extension=".css" ContentType="text/css"/>' +
      '<Default Extension=".png" ContentType="image/png"/><Default Extension=".txt" ContentType="text/plain"/></Types>\n',
    { date },
  );
  const buf = await zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE', compressionOptions: { level: 6 } });
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  fs.writeFileSync(out, buf);
  return { file: path.resolve(out), id, version: pkg.version, bytes: buf.length };
}

module.exports = { packVsix, extensionFiles };

if (require.main === module) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: node scripts/packVsix.js <out.vsix>');
    process.exit(2);
  }
  packVsix(out).then(
    (r) => console.log(`${r.file} (${r.id} ${r.version}, ${(r.bytes / 1024).toFixed(0)} KiB)`),
    (e) => {
      console.error(e.message || e);
      process.exit(1);
    },
  );
}
