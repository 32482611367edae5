// Run as a child process: archives, verifies and extracts one big file, then
// prints the peak RSS of each step as JSON. A fresh process, so the peaks are
// this work's own. Usage: node rssProbe.js <workdir> <MiB>
import * as fs from 'fs';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import { verifyArchive } from '../../src/core/archive/verifyArchive';
import { extractEntries } from '../../src/core/restore/extract';
import { writeArchive } from './v1/archiveWriter';
import { randomStream } from './tree';

async function main(): Promise<void> {
  const [dir, mibArg] = process.argv.slice(2);
  const size = Number(mibArg) * 1024 * 1024;
  const src = path.join(dir, 'big.bin');
  const fh = await fs.promises.open(src, 'w');
  const rnd = randomStream(600);
  for (let left = size; left > 0; left -= 4 * 1024 * 1024) await fh.write(rnd(Math.min(left, 4 * 1024 * 1024)));
  await fh.close();
  const base = process.resourceUsage().maxRSS;
  const mib = (kib: number): number => Math.round(kib / 1024);

  const zip = path.join(dir, 'big.zip');
  let t = Date.now();
  const a = writeArchive([{ archivePath: 'workspace/big/big.bin', absPath: src, size, mtimeMs: Date.now(), mode: 0o644 }], {
    kind: 'workspace', hostname: 'probe', platform: process.platform, created: new Date().toISOString(), sources: ['workspace/big'], toolVersion: '0',
  });
  await Promise.all([pipeline(a.stream, fs.createWriteStream(zip)), a.done]);
  const writeMs = Date.now() - t;
  const afterWrite = process.resourceUsage().maxRSS;

  t = Date.now();
  const manifest = await verifyArchive(zip);
  const verifyMs = Date.now() - t;
  const afterVerify = process.resourceUsage().maxRSS;

  t = Date.now();
  const out = path.join(dir, 'restored.bin');
  await extractEntries(zip, manifest, (p) => (p === 'workspace/big/big.bin' ? out : undefined));
  const extractMs = Date.now() - t;
  const afterExtract = process.resourceUsage().maxRSS;
  process.stdout.write(
    JSON.stringify({
      baseMiB: mib(base), writeMiB: mib(afterWrite), verifyMiB: mib(afterVerify), extractMiB: mib(afterExtract),
      writeMs, verifyMs, extractMs, zipBytes: fs.statSync(zip).size, restoredBytes: fs.statSync(out).size,
    }),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
