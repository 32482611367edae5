'use strict';
// Small helpers shared by the project's scripts (test runner, npm start, bench).

const fs = require('fs');
const net = require('net');

/** Whether 127.0.0.1:`port` can be listened on now. */
function canListen(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port the system says is free on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A port P with P+1 and P+2 free too (test/setup/rgw.sh puts the Ceph mon there). */
async function freePortTriple() {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p + 2 < 65536 && (await canListen(p + 1)) && (await canListen(p + 2))) return p;
  }
  throw new Error('no free port triple found for Ceph RGW');
}

/** Parses a shell env file of `[export ]NAME=value` lines (what rgw.sh writes). */
function parseEnvFile(file) {
  const env = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2].trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    env[m[1]] = v;
  }
  return env;
}

module.exports = { canListen, freePort, freePortTriple, parseEnvFile };
