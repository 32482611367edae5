/*
 * Independent readers of a zip file for test/core/zipWriter.test.ts: yauzl in
 * this process; Info-ZIP unzip, bsdtar, python3's zipfile and Java's
 * java.util.zip as separate programs (test/setup/install.sh installs them).
 * A missing program fails the test that needs it: CI must run every reader.
 */
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as yauzl from 'yauzl';
import * as zlib from 'zlib';

/** Runs a program to completion; fails the test when it is missing or exits non-zero. Returns stdout. */
export function tool(cmd: string, args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 256 * 1024 * 1024 });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') assert.fail(`${cmd} is not installed (test/setup/install.sh installs it)`);
  if (r.error) throw r.error;
  assert.strictEqual(r.status, 0, `${cmd} ${args.join(' ')} exited with ${r.status}:\n${r.stderr}\n${r.stdout.slice(-4000)}`);
  return r.stdout;
}

export interface YauzlRead {
  entry: yauzl.Entry;
  local: yauzl.LocalFileHeader;
  /** The content, inflated by yauzl with size checks on, for entries up to `dataUpTo` bytes. */
  data?: Buffer;
}

/** Every entry as yauzl sees it (central directory, local header, content). */
export async function readWithYauzl(source: string | Buffer, o: { dataUpTo?: number } = {}): Promise<{ entryCount: number; entries: YauzlRead[] }> {
  const opts: yauzl.Options = { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: true };
  const zip = typeof source === 'string' ? await yauzl.openPromise(source, opts) : await yauzl.fromBufferPromise(source, opts);
  try {
    const entries: yauzl.Entry[] = await new Promise((resolve, reject) => {
      const all: yauzl.Entry[] = [];
      zip.on('entry', (e: yauzl.Entry) => {
        all.push(e);
        zip.readEntry();
      });
      zip.on('end', () => resolve(all));
      zip.on('error', reject);
      zip.readEntry();
    });
    const out: YauzlRead[] = [];
    for (const entry of entries) {
      const local = await zip.readLocalFileHeaderPromise(entry);
      let data: Buffer | undefined;
      if (entry.uncompressedSize <= (o.dataUpTo ?? 1024 * 1024) && !entry.fileName.endsWith('/')) {
        const chunks: Buffer[] = [];
        for await (const c of await zip.openReadStreamPromise(entry)) chunks.push(c as Buffer);
        data = Buffer.concat(chunks);
      }
      out.push({ entry, local, data });
    }
    return { entryCount: zip.entryCount, entries: out };
  } finally {
    zip.close();
  }
}

/** The extra fields of a header, by id (each id at most once, or the test fails). */
export function extraFields(extra: Buffer): Map<number, Buffer> {
  const fields = new Map<number, Buffer>();
  for (let i = 0; i < extra.length; ) {
    assert.ok(i + 4 <= extra.length, 'truncated extra field header');
    const id = extra.readUInt16LE(i);
    const len = extra.readUInt16LE(i + 2);
    assert.ok(i + 4 + len <= extra.length, `extra field 0x${id.toString(16)} overruns the extra data`);
    assert.ok(!fields.has(id), `extra field 0x${id.toString(16)} twice`);
    fields.set(id, extra.subarray(i + 4, i + 4 + len));
    i += 4 + len;
  }
  return fields;
}

export interface PythonEntry {
  name: string;
  date_time: number[];
  size: number;
  compressed: number;
  crc: number;
  mode: number;
  method: number;
  offset: number;
}

const PYTHON = `
import json, sys, zipfile
from zlib import crc32
with zipfile.ZipFile(sys.argv[1]) as z:
    names = sys.argv[2:]
    # testzip() reads every entry and returns the first bad name, or None
    bad = z.testzip() if not names else next((n for n in names if crc32(z.read(n)) != z.getinfo(n).CRC), None)
    entries = [dict(name=i.filename, date_time=list(i.date_time), size=i.file_size, compressed=i.compress_size,
                    crc=i.CRC, mode=i.external_attr >> 16, method=i.compress_type, offset=i.header_offset) for i in z.infolist()]
    print(json.dumps(dict(bad=bad, entries=entries)))
`;

/**
 * python3's zipfile: the central directory, and `testzip()` (or, given `read`,
 * those entries read and CRC-checked). Its `-m zipfile -t` exit code is 0
 * even on a bad CRC, so the result is what the script prints.
 */
export function readWithPython(file: string, read: string[] = []): { bad: string | null; entries: PythonEntry[] } {
  return JSON.parse(tool('python3', ['-c', PYTHON, file, ...read]));
}

export interface JavaEntry {
  name: string;
  method: number;
  size: number;
  compressed: number;
  crc: number;
  mtimeMs: number;
  directory: boolean;
}

/**
 * Java's java.util.zip: `stream` reads every entry in order with
 * ZipInputStream (local headers and data descriptors only), `list` the
 * central directory with ZipFile. `TZ` is the zone Java reads DOS times in.
 */
export function readWithJava(mode: 'stream' | 'list', file: string, tz: string): JavaEntry[] {
  const source = path.resolve(__dirname, '../../../test/helpers/ZipRead.java');
  const out = tool('java', [source, mode, file], { TZ: tz });
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [name, method, size, compressed, crc, mtimeMs, directory] = l.split('\t');
      return { name, method: +method, size: +size, compressed: +compressed, crc: +crc, mtimeMs: +mtimeMs, directory: directory === 'true' };
    });
}

/** CRC-32 of `n` zero bytes, from a reused buffer. */
export function zerosCrc(n: number, chunk: Buffer): number {
  let crc = 0;
  for (let left = n; left > 0; left -= chunk.length) crc = zlib.crc32(left >= chunk.length ? chunk : chunk.subarray(0, left), crc);
  return crc >>> 0;
}
