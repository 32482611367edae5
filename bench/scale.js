'use strict';
// The scaling table of issue 15: how time and memory grow with the number of
// files and the size of the tree, for us and restic, each operation a fresh
// process run under /usr/bin/time (wall time, and the peak RSS of the whole
// process, worker threads included, as the kernel counts it). Every restore is
// compared file by file with its source.
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const lib = require('./lib');
const tree = require('./tree');
const { measure, osRun } = require('./rss');
const { fmtMs, fmtMiB, fmtRatio, run, ROOT } = lib;

/** The rows; `big` ones only with --scale (they take minutes and GiBs of the server's memory). */
const ROWS = [
  { id: 'files2k', label: '2,000 small files', spec: tree.small(2000), kind: 'files' },
  { id: 'files30k', label: '30,000 small files', spec: tree.small(30000), kind: 'files' },
  { id: 'files100k', label: '100,000 small files', spec: tree.small(100000), kind: 'files', big: true },
  { id: 'tree50m', label: '50 MiB tree (2,000 files)', spec: tree.MEDIUM, kind: 'bytes' },
  { id: 'tree1g', label: '1 GiB tree (400 files + one 600 MiB file)', spec: tree.LARGE, kind: 'bytes', big: true },
  { id: 'tree5g', label: '5 GiB tree (4,000 files + one 4 GiB file)', spec: tree.HUGE, kind: 'bytes', big: true },
];

/**
 * Removes a restored tree and lets the file system settle (sync): deleting
 * 100,000 files leaves the kernel journal commits and discards to do, and
 * they slowed whichever tool ran next (the order, not the tool, decided up to
 * a second of a 100,000-file restore).
 */
async function removeSettled(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  await run('sync', [], { timeoutMs: 120_000 });
}

const CLI = path.join(ROOT, 'dist', 'cli.js');

/** The CLI's environment for the bench's server (the secret in the environment, as the CLI wants it). */
function cliEnv(server, bucket, rootPath) {
  return {
    ...process.env,
    S3_BACKUP_ENDPOINT: server.endpoint,
    S3_BACKUP_REGION: server.region,
    S3_BACKUP_BUCKET: bucket,
    S3_BACKUP_ACCESS_KEY_ID: server.accessKeyId,
    S3_BACKUP_SECRET_ACCESS_KEY: server.secretAccessKey,
    S3_BACKUP_ROOT_PATH: rootPath,
    S3_BACKUP_ADDRESSING_STYLE: 'path',
    S3_BACKUP_HOSTNAME: 'bench',
  };
}

/** Runs the rows (`all`: the big ones too), alternating which tool goes first. */
async function scaling(ctx, o, resticEnv, say) {
  const { server, work } = ctx;
  const client = lib.s3Client(server);
  const bucket = `bench-scale-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
  await lib.createBucket(client, bucket);
  ctx.cleanups.push(() => lib.deleteBucket(client, bucket).catch((e) => say(`warning: clean-up of ${bucket}: ${e.message}`)));
  const tmpDir = path.join(work, 'scale-tmp');
  fs.mkdirSync(tmpDir, { recursive: true });
  const rows = [];
  const chosen = ROWS.filter((r) => (o.rows ? o.rows.includes(r.id) : o.all || !r.big));
  for (const [n, row] of chosen.entries()) {
    const g = await lib.timed(() => tree.ensureTree(path.join(ROOT, '.cache', 'bench'), row.spec));
    const t = g.value;
    say(`  ${row.label}: ${t.files.toLocaleString('en')} files, ${fmtMiB(t.bytes)}${g.ms > 1000 ? `, generated in ${fmtMs(g.ms)}` : ''}`);
    const digest = await lib.digestTree(t.dir);
    const figures = { ours: [], cli: [], restic: [] };
    for (let round = 0; round < o.rounds; round++) {
      const prefix = `${row.id}-${round}`;
      const ours = async () => {
        const common = { bucket, rootPath: `${prefix}-ours`, tmpDir, name: 'scale' };
        const b = await measure('backup', { ...common, dir: t.dir }, server, { osTime: true });
        const dest = path.join(work, `scale-ours-${prefix}`);
        fs.mkdirSync(dest);
        const r = await measure('restore', { ...common, key: b.result.key, dest }, server, { osTime: true });
        lib.assertSameTree(digest, await lib.digestTree(dest), `our restore of ${row.label}`);
        await removeSettled(dest);
        // The first use is measured as the extension makes it: both bundles from the worker's code cache.
        const notCached = [...b.precompiled, ...r.precompiled].filter((x) => !x.endsWith(': cached'));
        if (notCached.length) say(`    first use not as the extension's: ${notCached.join('; ')}`);
        figures.ours.push({ backupMs: b.os.wallMs, backupRss: b.os.peakRss, restoreMs: r.os.wallMs, restoreRss: r.os.peakRss, stored: b.result.uploaded, stallMs: Math.max(b.stallMs, r.stallMs), firstUseStallMs: Math.max(b.firstUseStallMs, r.firstUseStallMs) });
        // The server keeps objects in memory: free them before the other tool's turn.
        await lib.emptyPrefix(client, bucket, `${prefix}-ours/`);
      };
      // The same backup and restore as `s3-backup backup` and `restore` run them (what a script or cron
      // runs, as restic is run): a process that loads the CLI's bundle and does the one operation.
      const cli = async () => {
        const env = cliEnv(server, bucket, `${prefix}-cli`);
        const snapshots = path.join(tmpDir, `snapshots-${prefix}`);
        const cb = await osRun(process.execPath, [CLI, 'backup', t.dir, '--json', '--snapshots', snapshots], { env, timeoutMs: 3_600_000 });
        const cliKey = JSON.parse(cb.stdout.trim().split('\n').pop()).key;
        const cliDest = path.join(work, `scale-cli-${prefix}`);
        fs.mkdirSync(cliDest);
        const cr = await osRun(process.execPath, [CLI, 'restore', cliKey, cliDest, '--yes', '--json', '--snapshots', snapshots], { env, timeoutMs: 3_600_000 });
        lib.assertSameTree(digest, await lib.digestTree(cliDest), `the CLI's restore of ${row.label}`);
        await removeSettled(cliDest);
        fs.rmSync(snapshots, { recursive: true, force: true });
        figures.cli.push({ backupMs: cb.ms, backupRss: cb.peakRss, restoreMs: cr.ms, restoreRss: cr.peakRss });
        await lib.emptyPrefix(client, bucket, `${prefix}-cli/`);
      };
      const restic = async () => {
        const repo = `s3:${server.endpoint}/${bucket}/${prefix}-restic`;
        await run('restic', ['-r', repo, 'init', '-q'], { env: resticEnv, timeoutMs: 120_000 });
        const b = await osRun('restic', ['-r', repo, 'backup', '-q', '--host', 'bench', t.dir], { env: resticEnv, timeoutMs: 3_600_000 });
        const dest = path.join(work, `scale-restic-${prefix}`);
        fs.mkdirSync(dest);
        const r = await osRun('restic', ['-r', repo, 'restore', 'latest', '-q', '--target', dest], { env: resticEnv, timeoutMs: 3_600_000 });
        lib.assertSameTree(digest, await lib.digestTree(path.join(dest, t.dir)), `restic restore of ${row.label}`);
        await removeSettled(dest);
        figures.restic.push({ backupMs: b.ms, backupRss: b.peakRss, restoreMs: r.ms, restoreRss: r.peakRss });
        await lib.emptyPrefix(client, bucket, `${prefix}-restic/`);
      };
      // Each file-creating run leaves the disk slower for the next (journal, discards; see removeSettled):
      // the three turn about, a row and a round each.
      const steps = [ours, cli, restic];
      const first = (n + round) % steps.length;
      for (const step of [...steps.slice(first), ...steps.slice(0, first)]) await step();
    }
    const med = (side, k) => lib.median(figures[side].map((x) => x[k]));
    const r = { id: row.id, label: row.label, kind: row.kind, files: t.files, bytes: t.bytes, rounds: figures };
    const keys = ['backupMs', 'backupRss', 'restoreMs', 'restoreRss'];
    for (const side of ['ours', 'cli', 'restic']) r[side] = Object.fromEntries(keys.map((k) => [k, med(side, k)]));
    r.ratios = Object.fromEntries(keys.map((k) => [k, r.ours[k] / r.restic[k]]));
    r.cliRatios = Object.fromEntries(keys.map((k) => [k, r.cli[k] / r.restic[k]]));
    // The worst round's longest event-loop stall, backup or restore.
    r.ours.stallMs = Math.max(...figures.ours.map((x) => x.stallMs));
    // The same for the engine's first use in each process (bundle load, first listing): once a session in the extension.
    r.ours.firstUseStallMs = Math.max(...figures.ours.map((x) => x.firstUseStallMs));
    say(`    backup  ours ${fmtMs(r.ours.backupMs)} (${fmtMiB(r.ours.backupRss)}) | restic ${fmtMs(r.restic.backupMs)} (${fmtMiB(r.restic.backupRss)}) -> ${fmtRatio(r.ratios.backupMs)} time, ${fmtRatio(r.ratios.backupRss)} RSS`);
    say(`    restore ours ${fmtMs(r.ours.restoreMs)} (${fmtMiB(r.ours.restoreRss)}) | restic ${fmtMs(r.restic.restoreMs)} (${fmtMiB(r.restic.restoreRss)}) -> ${fmtRatio(r.ratios.restoreMs)} time, ${fmtRatio(r.ratios.restoreRss)} RSS`);
    say(`    the CLI: backup ${fmtMs(r.cli.backupMs)} (${fmtMiB(r.cli.backupRss)}) -> ${fmtRatio(r.cliRatios.backupMs)}, restore ${fmtMs(r.cli.restoreMs)} (${fmtMiB(r.cli.restoreRss)}) -> ${fmtRatio(r.cliRatios.restoreMs)} restic's time`);
    say(`    longest event-loop stall of ours (backup or restore): ${fmtMs(r.ours.stallMs)}; at the engine's first use before it (load, first listing): ${fmtMs(r.ours.firstUseStallMs)}`);
    rows.push(r);
  }
  return { rows, all: !!o.all, rounds: o.rounds };
}

/** The table for docs/PERFORMANCE.md. */
function scalingTable(s) {
  const lines = [];
  lines.push('| tree | backup ours / restic | ratio | restore ours / restic | ratio | peak RSS backup ours / restic | peak RSS restore ours / restic | longest stall, ours |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of s.rows) {
    lines.push(`| ${r.label} | ${fmtMs(r.ours.backupMs)} / ${fmtMs(r.restic.backupMs)} | ${fmtRatio(r.ratios.backupMs)} | ${fmtMs(r.ours.restoreMs)} / ${fmtMs(r.restic.restoreMs)} | ${fmtRatio(r.ratios.restoreMs)} | ${fmtMiB(r.ours.backupRss)} / ${fmtMiB(r.restic.backupRss)} | ${fmtMiB(r.ours.restoreRss)} / ${fmtMiB(r.restic.restoreRss)} | ${r.ours.stallMs === undefined ? 'n/a' : fmtMs(r.ours.stallMs)} |`);
  }
  lines.push('');
  lines.push('The same operations as the CLI runs them (`s3-backup backup`, `s3-backup restore`), against the same restic runs:');
  lines.push('');
  lines.push('| tree | CLI backup / restic | ratio | CLI restore / restic | ratio | peak RSS, CLI backup / restore |');
  lines.push('| --- | --- | --- | --- | --- | --- |');
  for (const r of s.rows) {
    if (!r.cli) continue;
    lines.push(`| ${r.label} | ${fmtMs(r.cli.backupMs)} / ${fmtMs(r.restic.backupMs)} | ${fmtRatio(r.cliRatios.backupMs)} | ${fmtMs(r.cli.restoreMs)} / ${fmtMs(r.restic.restoreMs)} | ${fmtRatio(r.cliRatios.restoreMs)} | ${fmtMiB(r.cli.backupRss)} / ${fmtMiB(r.cli.restoreRss)} |`);
  }
  return lines.join('\n');
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** An SVG line plot of wall time against file count (log scale), both tools, backup and restore. */
function scalingSvg(s) {
  const pts = s.rows.filter((r) => r.kind === 'files').sort((a, b) => a.files - b.files);
  const W = 640, H = 400, L = 64, R = 170, T = 36, B = 52;
  const series = [
    { name: 'S3 Backup, backup', color: '#1f77b4', dash: '', get: (r) => r.ours.backupMs },
    { name: 'restic, backup', color: '#d62728', dash: '', get: (r) => r.restic.backupMs },
    { name: 'S3 Backup, restore', color: '#1f77b4', dash: '6 4', get: (r) => r.ours.restoreMs },
    { name: 'restic, restore', color: '#d62728', dash: '6 4', get: (r) => r.restic.restoreMs },
  ];
  const maxS = Math.max(1, ...pts.flatMap((r) => series.map((x) => x.get(r) / 1000)));
  const yTop = Math.ceil(maxS / 5) * 5 || 5;
  const xs = pts.map((r) => Math.log10(r.files));
  const x0 = Math.min(...xs, 3), x1 = Math.max(...xs, 5);
  const X = (f) => L + ((Math.log10(f) - x0) / (x1 - x0 || 1)) * (W - L - R);
  const Y = (sec) => H - B - (sec / yTop) * (H - T - B);
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${L}" y="20" font-size="14" font-weight="bold">Wall time against file count (small files, ~1 KB each)</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = (yTop / 5) * i;
    out.push(`<line x1="${L}" x2="${W - R}" y1="${Y(v)}" y2="${Y(v)}" stroke="#ddd"/><text x="${L - 6}" y="${Y(v) + 4}" text-anchor="end">${v.toFixed(yTop < 10 ? 1 : 0)} s</text>`);
  }
  for (const r of pts) out.push(`<line x1="${X(r.files)}" x2="${X(r.files)}" y1="${T}" y2="${H - B}" stroke="#eee"/><text x="${X(r.files)}" y="${H - B + 16}" text-anchor="middle">${r.files.toLocaleString('en')}</text>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">files (log scale)</text>`);
  out.push(`<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#000"/><line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#000"/>`);
  series.forEach((sr, i) => {
    const d = pts.map((r, k) => `${k ? 'L' : 'M'}${X(r.files).toFixed(1)},${Y(sr.get(r) / 1000).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${sr.color}" stroke-width="2"${sr.dash ? ` stroke-dasharray="${sr.dash}"` : ''}/>`);
    for (const r of pts) out.push(`<circle cx="${X(r.files).toFixed(1)}" cy="${Y(sr.get(r) / 1000).toFixed(1)}" r="3" fill="${sr.color}"/>`);
    const ly = T + 10 + i * 20;
    out.push(`<line x1="${W - R + 12}" x2="${W - R + 40}" y1="${ly}" y2="${ly}" stroke="${sr.color}" stroke-width="2"${sr.dash ? ` stroke-dasharray="${sr.dash}"` : ''}/><text x="${W - R + 46}" y="${ly + 4}">${esc(sr.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

module.exports = { ROWS, scaling, scalingTable, scalingSvg };
