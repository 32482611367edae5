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
function measure(op, args, server, o = {}) {
  return new Promise((resolve, reject) => {
    // With `osTime`, /usr/bin/time reports the whole process's peak RSS and wall time as the kernel counts them.
    const timeFile = o.osTime ? `${require('os').tmpdir()}/bench-time-${process.pid}-${Date.now()}.txt` : undefined;
    const env = {
      ...process.env,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      BENCH_RSS_SERVER: JSON.stringify(server),
      BENCH_RSS_ARGS: JSON.stringify({ op, ...args }),
    };
    const argv = [__filename, '--child'];
    const t0 = process.hrtime.bigint();
    const child = timeFile
      ? spawn('/usr/bin/time', ['-f', '%e %M', '-o', timeFile, process.execPath, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() || '';
      let report;
      try { report = JSON.parse(line); } catch { /* fall through */ }
      if (code === 0 && report && !report.error) {
        if (timeFile) {
          const os = readTimeFile(timeFile);
          report.os = { wallMs: Number(process.hrtime.bigint() - t0) / 1e6, peakRss: os.peakRss };
        }
        resolve(report);
      }
      else reject(new Error(`rss child (${op}) failed: ${(report && report.error) || err.trim().split('\n').slice(-3).join(' ') || `exit ${code}`}`));
    });
  });
}

/** /usr/bin/time -f '%e %M' output: peak RSS in bytes (the file is removed). */
function readTimeFile(file) {
  const fs = require('fs');
  const text = fs.readFileSync(file, 'utf8');
  fs.rmSync(file, { force: true });
  const m = /([\d.]+) (\d+)\s*$/.exec(text.trim());
  if (!m) throw new Error(`unexpected /usr/bin/time output: ${text.trim().slice(0, 200)}`);
  return { seconds: Number(m[1]), peakRss: Number(m[2]) * 1024 };
}

/** Runs a command under /usr/bin/time: wall time (ms, measured here) and the process's peak RSS as the kernel counts it. */
async function osRun(cmd, args, o = {}) {
  const { run } = require('./lib');
  const file = `${require('os').tmpdir()}/bench-time-${process.pid}-${Date.now()}.txt`;
  const r = await run('/usr/bin/time', ['-f', '%e %M', '-o', file, cmd, ...args], o);
  return { ms: r.ms, peakRss: readTimeFile(file).peakRss, stdout: r.stdout };
}

async function child() {
  const { firstUse, makeEngine, ourBackup, ourRestore, precompiled } = require('./engine');
  const server = JSON.parse(process.env.BENCH_RSS_SERVER);
  const a = JSON.parse(process.env.BENCH_RSS_ARGS);
  // The longest time this thread went without a turn, as the extension host would feel it. The
  // histogram's timer runs first: a block right after enable(), before its first tick, is not seen.
  const loop = require('perf_hooks').monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  await new Promise((resolve) => setTimeout(resolve, 15));
  // The first use in a session, as the extension's (EngineHost): Node's modules, the bundle and the
  // SDK load in turns of their own, then a first listing (the tree's, usually). Measured apart: it
  // happens once a session.
  await firstUse();
  const engine = makeEngine(server, a.bucket, a.rootPath, { tmpDir: a.tmpDir });
  const listed = (await engine.list({ pageSize: 10 })).backups.length;
  await new Promise((resolve) => setTimeout(resolve, 15));
  const firstUseStallMs = loop.max / 1e6;
  loop.reset();
  const t0 = process.hrtime.bigint();
  let result;
  if (a.op === 'idle') result = { listed };
  else if (a.op === 'backup') result = await ourBackup(engine, a.dir, a.name);
  else if (a.op === 'restore') result = await ourRestore(engine, a.key, a.name, a.dest);
  else throw new Error(`unknown op ${a.op}`);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  loop.disable();
  process.stdout.write(JSON.stringify({ op: a.op, ms, stallMs: loop.max / 1e6, firstUseStallMs, precompiled, peakRss: peakRss(), maxRssKiB: process.resourceUsage().maxRSS, result }) + '\n');
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

module.exports = { measure, osRun };
