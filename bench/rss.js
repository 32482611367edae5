'use strict';
// Peak RSS of one engine operation, measured in a child process of its own so
// that nothing else the bench did inflates it. The child reads its high-water
// mark (VmHWM) at the end; worker threads count, they share the process.
const { spawn } = require('child_process');
const { peakRss } = require('./lib');

/**
 * Runs `op` ('idle' | 'backup' | 'restore') in a fresh Node process; resolves
 * with the child's JSON report ({ ms, peakRss, ... }).
 */
function measure(op, args, server) {
  return new Promise((resolve, reject) => {
    const env = {
      ...process.env,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      BENCH_RSS_SERVER: JSON.stringify(server),
      BENCH_RSS_ARGS: JSON.stringify({ op, ...args }),
    };
    const child = spawn(process.execPath, [__filename, '--child'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() || '';
      let report;
      try { report = JSON.parse(line); } catch { /* fall through */ }
      if (code === 0 && report && !report.error) resolve(report);
      else reject(new Error(`rss child (${op}) failed: ${(report && report.error) || err.trim().split('\n').slice(-3).join(' ') || `exit ${code}`}`));
    });
  });
}

async function child() {
  const { makeEngine, ourBackup, ourRestore } = require('./engine');
  const server = JSON.parse(process.env.BENCH_RSS_SERVER);
  const a = JSON.parse(process.env.BENCH_RSS_ARGS);
  const engine = makeEngine(server, a.bucket, a.rootPath, { tmpDir: a.tmpDir });
  const t0 = process.hrtime.bigint();
  let result;
  if (a.op === 'idle') result = { listed: (await engine.list({ pageSize: 10 })).backups.length };
  else if (a.op === 'backup') result = await ourBackup(engine, a.dir, a.name);
  else if (a.op === 'restore') result = await ourRestore(engine, a.key, a.name, a.dest);
  else throw new Error(`unknown op ${a.op}`);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  process.stdout.write(JSON.stringify({ op: a.op, ms, peakRss: peakRss(), maxRssKiB: process.resourceUsage().maxRSS, result }) + '\n');
}

if (require.main === module && process.argv.includes('--child')) {
  child().then(
    () => process.exit(0),
    (e) => {
      process.stdout.write(JSON.stringify({ error: `${e.code ? e.code + ': ' : ''}${e.message}` }) + '\n');
      process.exit(1);
    },
  );
}

module.exports = { measure };
