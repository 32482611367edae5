// Encryption against the real server: encrypted round trips across an
// incremental chain (workspace and app data), tampering with the real stored
// objects (a flipped byte in any chunk, a cut-off pack, two chunks swapped, a
// chunk from another object, the key object replaced) refused with nothing
// written, planted and older plain backups, wrong and missing passphrases, a
// passphrase change, the decrypt path, and the passphrase absent from every
// object, log line and cached file.
import * as assert from 'assert';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { CHUNK, decryptBuffer, encryptBuffer, HEADER_LENGTH, sealedRange, decryptChunks, type DataKey } from '../../src/core/crypto/chunkCipher';
import { BackupEngine, type BackupResult } from '../../src/core/engine';
import { makeBackupKey } from '../../src/core/format/backupKeys';
import type { Logger } from '../../src/core/util/engineLogger';
import { BackupError } from '../../src/core/util/engineErrors';
import { expectCode } from '../helpers/assertions';
import { createTestBucket, requireS3Server, type TestBucket } from '../helpers/s3';
import { digestTree as digest } from '../helpers/tree';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
// Cheap parameters for the many keys these tests make; one test below uses the default ones.
const FAST_SCRYPT = { N: 2 ** 12, r: 8, p: 1 };
const PASSPHRASE = 'correct horse battery staple 7Qx';
const MARKER = 'PLAINTEXT-MARKER-4b1d';

function isUnauthentic(e: unknown): boolean {
  return e instanceof BackupError && e.code === 'Unauthentic' && !/\n/.test(e.message);
}

describe('chunked AES-256-GCM (crypto/chunkCipher.ts)', () => {
  const dk: DataKey = { id: Buffer.alloc(16, 7), key: Buffer.alloc(32, 9) };
  const ring = { current: dk, all: [dk] };
  const data = Buffer.from(Array.from({ length: 3 * CHUNK + 123 }, (_, i) => (i * 31) & 0xff));

  it('round-trips every size around the chunk boundaries, and ranges decrypt just their chunks', () => {
    for (const n of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, data.length]) {
      const plain = data.subarray(0, n);
      const sealed = encryptBuffer(dk, 'packs/ab/x.zip', plain);
      assert.strictEqual(sealed.length, HEADER_LENGTH + n + Math.max(1, Math.ceil(n / CHUNK)) * 16);
      assert.ok(decryptBuffer(ring, 'packs/ab/x.zip', sealed).equals(plain), `size ${n}`);
    }
    const sealed = encryptBuffer(dk, 'n', data);
    for (const [s, e] of [[0, 0], [CHUNK - 2, CHUNK + 2], [5, 2 * CHUNK + 7], [3 * CHUNK, data.length - 1], [100, 100]]) {
      const r = sealedRange(s, e);
      const got = decryptChunks(ring, 'n', sealed.subarray(0, HEADER_LENGTH), r.firstChunk, sealed.subarray(r.start, r.end + 1), Math.floor(e / CHUNK) - r.firstChunk + 1);
      const from = s - r.firstChunk * CHUNK;
      assert.ok(got.subarray(from, from + e - s + 1).equals(data.subarray(s, e + 1)), `${s}..${e}`);
    }
  });

  it('refuses a flipped byte in any chunk, a swap, a drop, a cut at a chunk boundary, another name, another key', () => {
    const sealed = encryptBuffer(dk, 'n', data);
    const S = CHUNK + 16;
    const chunkAt = (i: number): Buffer => sealed.subarray(HEADER_LENGTH + i * S, HEADER_LENGTH + (i + 1) * S);
    for (let i = 0; i < 4; i++) {
      const bad = Buffer.from(sealed);
      bad[HEADER_LENGTH + i * S + 5] ^= 1;
      assert.throws(() => decryptBuffer(ring, 'n', bad), isUnauthentic, `flip in chunk ${i}`);
    }
    const header = Buffer.from(sealed);
    header[40] ^= 1;
    assert.throws(() => decryptBuffer(ring, 'n', header), isUnauthentic, 'salt changed');
    const swapped = Buffer.concat([sealed.subarray(0, HEADER_LENGTH), chunkAt(1), chunkAt(0), chunkAt(2), chunkAt(3)]);
    assert.throws(() => decryptBuffer(ring, 'n', swapped), isUnauthentic, 'swap');
    const dropped = Buffer.concat([sealed.subarray(0, HEADER_LENGTH), chunkAt(0), chunkAt(2), chunkAt(3)]);
    assert.throws(() => decryptBuffer(ring, 'n', dropped), isUnauthentic, 'drop');
    assert.throws(() => decryptBuffer(ring, 'n', sealed.subarray(0, HEADER_LENGTH + 2 * S)), isUnauthentic, 'cut at a boundary');
    const other = encryptBuffer(dk, 'm', data);
    const moved = Buffer.concat([sealed.subarray(0, HEADER_LENGTH + S), other.subarray(HEADER_LENGTH + S, HEADER_LENGTH + 2 * S), chunkAt(2), chunkAt(3)]);
    assert.throws(() => decryptBuffer(ring, 'n', moved), isUnauthentic, 'chunk from another object');
    assert.throws(() => decryptBuffer(ring, 'm2', other), isUnauthentic, 'other name');
    const dk2: DataKey = { id: dk.id, key: Buffer.alloc(32, 1) };
    assert.throws(() => decryptBuffer({ current: dk2, all: [dk2] }, 'n', sealed), isUnauthentic, 'other key');
    assert.ok(decryptBuffer(ring, 'n', sealed).equals(data), 'the untouched object still opens');
  });
});

describe('encrypted repositories (real S3)', function () {
  this.timeout(300_000);
  let bucket: TestBucket;
  let work: string;
  const logLines: string[] = [];
  const logger: Logger = {
    debug: (m: string) => void logLines.push(m),
    info: (m: string) => void logLines.push(m),
    warn: (m: string) => void logLines.push(m),
    error: (m: string) => void logLines.push(m),
  } as Logger;
  let n = 0;

  const engineFor = (rootPath: string, passphrase: string | undefined, host = 'enc-a', o: ConstructorParameters<typeof BackupEngine>[1] = {}): BackupEngine =>
    new BackupEngine(bucket.profileAt(rootPath), {
      hostname: host,
      tmpDir: path.join(work, 'tmp'),
      snapshotRoot: path.join(work, 'snapshots'),
      cacheDir: path.join(work, 'cache'),
      packLimits: { bytes: 256 * 1024, entries: 50, uploads: 2 },
      logger,
      scrypt: FAST_SCRYPT,
      ...(passphrase === undefined ? {} : { passphrase }),
      ...o,
    });

  /** A source folder with small files, a big one (several chunks) and the marker in every file. */
  function makeSource(name: string, seed: number): string {
    const dir = path.join(work, 'src', name);
    fs.mkdirSync(path.join(dir, 'lib'), { recursive: true });
    for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(dir, 'lib', `f${i}.ts`), `// ${MARKER} ${seed} ${i}\n${'x'.repeat(i * 97)}\n`);
    const big = Buffer.alloc(600 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + seed * 13 + (i >> 9)) & 0xff;
    Buffer.from(MARKER).copy(big, 1000);
    fs.writeFileSync(path.join(dir, 'big.bin'), big);
    fs.writeFileSync(path.join(dir, 'README.md'), `# ${MARKER}\n`);
    return dir;
  }

  function userDir(name: string): string {
    const dir = path.join(work, 'user', name);
    fs.mkdirSync(path.join(dir, 'snippets'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'settings.json'), `{\n  "editor.fontSize": 15,\n  "marker.comment": "${MARKER}"\n}\n`);
    fs.writeFileSync(path.join(dir, 'keybindings.json'), '[]\n');
    fs.writeFileSync(path.join(dir, 'snippets', 'ts.json'), `{"log": {"prefix": "log", "body": "${MARKER}"}}\n`);
    return dir;
  }

  const dest = (): string => path.join(work, 'restore', `r${++n}`);

  async function restoreInto(engine: BackupEngine, key: string, target: string, o: { allowPlain?: boolean } = {}): Promise<Record<string, string>> {
    const fetched = await engine.fetch(key, o);
    try {
      await engine.apply(await engine.plan(fetched, { 'workspace/app': target }));
    } finally {
      await fetched.dispose();
    }
    return digest(target);
  }

  /** A restore that must fail: the code it fails with, and the target left without a single file. */
  async function refusedRestore(engine: BackupEngine, key: string, code: string, o: { allowPlain?: boolean } = {}): Promise<void> {
    const target = dest();
    await assert.rejects(() => restoreInto(engine, key, target, o), expectCode(code));
    assert.deepStrictEqual(digest(target), {}, 'nothing written to the target');
  }

  before(async () => {
    requireS3Server();
    bucket = await createTestBucket('encryption');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-enc-'));
  });

  after(async () => {
    await bucket?.cleanup();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  describe('a chain of encrypted backups', () => {
    const root = 'chain';
    let src: string;
    let first: BackupResult;
    let second: BackupResult;

    before(async () => {
      src = makeSource('chain', 1);
      const engine = engineFor(root, PASSPHRASE);
      first = await engine.backup({ kind: 'full', folders: [{ name: 'app', path: src }], appData: { userDir: userDir('a') } });
      fs.writeFileSync(path.join(src, 'lib', 'f3.ts'), `// ${MARKER} changed\n`);
      fs.writeFileSync(path.join(src, 'new.ts'), `// ${MARKER} new\n`);
      second = await engine.backup({ kind: 'full', folders: [{ name: 'app', path: src }], appData: { userDir: userDir('a') } });
      engine.dispose();
    });

    it('restores workspace and app data of both backups on another machine; the second stored only what changed', async () => {
      assert.ok(second.added.files <= 3, `the second backup added ${second.added.files} files`);
      assert.ok(second.unchanged > 25);
      const b = engineFor(root, PASSPHRASE, 'enc-b');
      assert.deepStrictEqual(await b.encryption(), { encrypted: true, passphrase: true });
      const got = await restoreInto(b, second.key, dest());
      assert.deepStrictEqual(got, digest(src));
      const old = await restoreInto(b, first.key, dest());
      assert.strictEqual(old['lib/f3.ts'], sha(`// ${MARKER} 1 3\n${'x'.repeat(3 * 97)}\n`));
      assert.strictEqual(old['new.ts'], undefined);
      const fetched = await b.fetch(second.key);
      assert.strictEqual(fetched.encrypted, true);
      const app = await b.readAppData(fetched);
      assert.match(app.files.get('settings.json')?.toString() ?? '', /"editor.fontSize": 15/);
      assert.match(app.files.get('snippets/ts.json')?.toString() ?? '', new RegExp(MARKER));
      const summary = await b.summary({ ...second, format: 2 });
      assert.strictEqual(summary?.encrypted, true);
      assert.strictEqual(summary?.totals.files, second.files);
      await b.verify(second.key);
      b.dispose();
    });

    it('stores nothing readable: no object holds the marker, a gzip or zip signature, or the passphrase', async () => {
      const objects = await bucket.listObjects(`${root}/`);
      assert.ok(objects.some((o) => o.key.includes('/packs/')) && objects.some((o) => o.key.includes('/keys/')));
      for (const o of objects) {
        const body = await bucket.getObject(o.key);
        assert.ok(!body.includes(Buffer.from(MARKER)), `${o.key} holds the marker`);
        assert.ok(!body.includes(Buffer.from(PASSPHRASE)), `${o.key} holds the passphrase`);
        if (o.key.includes('/keys/')) continue;
        assert.ok(!body.subarray(0, 4).equals(Buffer.from('PK\u0003\u0004', 'latin1')) && !(body[0] === 0x1f && body[1] === 0x8b), `${o.key} is not sealed`);
        assert.strictEqual(body.subarray(0, 6).toString('latin1'), 'S3BENC');
      }
    });

    it('refuses without a passphrase and with a wrong one, in one plain sentence, writing nothing', async () => {
      const none = engineFor(root, undefined, 'enc-c');
      await refusedRestore(none, second.key, 'PassphraseNeeded');
      const keysNow = async (): Promise<string[]> => (await bucket.listObjects(`${root}/`)).map((o) => o.key).sort();
      const before = await keysNow();
      await assert.rejects(() => none.backup({ kind: 'workspace', folders: [{ name: 'app', path: src }] }), expectCode('PassphraseNeeded'));
      assert.deepStrictEqual(await keysNow(), before, 'the refused backup wrote nothing (no lock, no pack)');
      assert.deepStrictEqual(await none.encryption(), { encrypted: true, passphrase: false });
      const wrong = engineFor(root, 'not the passphrase', 'enc-c');
      await refusedRestore(wrong, second.key, 'WrongPassphrase');
      await assert.rejects(() => wrong.summary({ ...second, format: 2 }), expectCode('WrongPassphrase'));
      await assert.rejects(() => wrong.encryption(), expectCode('WrongPassphrase'));
      none.dispose();
      wrong.dispose();
    });

    it('refuses tampered packs: a flipped byte in any chunk, a cut-off pack, two chunks swapped, a chunk from another pack', async () => {
      const m = (await engineFor(root, PASSPHRASE).fetch(second.key)).manifest;
      // The pack holding big.bin (several chunks), and another pack.
      const bigFile = m.files.find((f) => f.path === 'workspace/app/big.bin')!;
      const packId = m.packs![bigFile.refs![0][0]];
      const packKey = `${root}/packs/${packId.slice(0, 2)}/${packId}.zip`;
      const otherId = m.packs!.find((p) => p !== packId)!;
      const otherKey = `${root}/packs/${otherId.slice(0, 2)}/${otherId}.zip`;
      const original = await bucket.getObject(packKey);
      const other = await bucket.getObject(otherKey);
      const S = CHUNK + 16;
      const chunks = Math.ceil((original.length - HEADER_LENGTH) / S);
      assert.ok(chunks >= 4, `the pack has ${chunks} chunks`);
      const variants: Array<[string, Buffer]> = [];
      for (const i of [0, 1, Math.floor(chunks / 2), chunks - 1]) {
        const bad = Buffer.from(original);
        bad[Math.min(bad.length - 1, HEADER_LENGTH + i * S + 100)] ^= 0x40;
        variants.push([`flip in chunk ${i}`, bad]);
      }
      variants.push(['cut off at a chunk boundary', original.subarray(0, HEADER_LENGTH + (chunks - 1) * S)]);
      variants.push(['cut off mid-chunk', original.subarray(0, original.length - 1000)]);
      const at = (b: Buffer, i: number): Buffer => b.subarray(HEADER_LENGTH + i * S, HEADER_LENGTH + (i + 1) * S);
      variants.push(['two chunks swapped', Buffer.concat([original.subarray(0, HEADER_LENGTH), at(original, 1), at(original, 0), original.subarray(HEADER_LENGTH + 2 * S)])]);
      variants.push(['a chunk from another pack', Buffer.concat([original.subarray(0, HEADER_LENGTH), at(other, 0), original.subarray(HEADER_LENGTH + S)])]);
      variants.push(['the header of another pack', Buffer.concat([other.subarray(0, HEADER_LENGTH), original.subarray(HEADER_LENGTH)])]);
      try {
        for (const [what, body] of variants) {
          await bucket.putObject(packKey, body);
          const engine = engineFor(root, PASSPHRASE, 'enc-b');
          const target = dest();
          await assert.rejects(() => restoreInto(engine, second.key, target), (e: unknown) => {
            assert.ok(e instanceof BackupError && e.code === 'Unauthentic', `${what}: ${String(e)}`);
            assert.ok(!/\n/.test(e.message));
            return true;
          }, what);
          assert.deepStrictEqual(digest(target), {}, `${what}: nothing written`);
          await assert.rejects(() => engine.verify(second.key), (e: unknown) => e instanceof BackupError && e.code === 'Unauthentic', `${what}: verify`);
          engine.dispose();
        }
      } finally {
        await bucket.putObject(packKey, original);
      }
      const engine = engineFor(root, PASSPHRASE, 'enc-b');
      assert.deepStrictEqual(await restoreInto(engine, second.key, dest()), digest(src), 'the pack put back restores again');
      engine.dispose();
    });

    it('refuses a tampered or moved manifest', async () => {
      const original = await bucket.getObject(second.key);
      const flipped = Buffer.from(original);
      flipped[flipped.length - 20] ^= 1;
      const moved = makeBackupKey(root, { time: new Date(), host: 'enc-a', kind: 'full' });
      await bucket.putObject(moved, original);
      const keyFlipped = makeBackupKey(root, { time: new Date(Date.now() + 1000), host: 'enc-a', kind: 'full' });
      await bucket.putObject(keyFlipped, flipped);
      const engine = engineFor(root, PASSPHRASE, 'enc-b');
      await refusedRestore(engine, moved, 'Unauthentic');
      await refusedRestore(engine, keyFlipped, 'Unauthentic');
      engine.dispose();
      await bucket.client.send(new (await import('@aws-sdk/client-s3')).DeleteObjectCommand({ Bucket: bucket.bucket, Key: moved }));
      await bucket.client.send(new (await import('@aws-sdk/client-s3')).DeleteObjectCommand({ Bucket: bucket.bucket, Key: keyFlipped }));
    });

    it('refuses when the key object is replaced: by one of another passphrase, or by another repository key of the same passphrase', async () => {
      const keyObj = (await bucket.listObjects(`${root}/keys/`))[0].key;
      const original = await bucket.getObject(keyObj);
      // Another repository, another passphrase; then another repository with the same passphrase.
      const x = engineFor('other-pass', 'an attacker passphrase');
      await x.backup({ kind: 'workspace', folders: [{ name: 'app', path: makeSource('x', 5) }] });
      const y = engineFor('same-pass', PASSPHRASE);
      await y.backup({ kind: 'workspace', folders: [{ name: 'app', path: makeSource('y', 6) }] });
      x.dispose();
      y.dispose();
      const foreign = await bucket.getObject((await bucket.listObjects('other-pass/keys/'))[0].key);
      const samePass = await bucket.getObject((await bucket.listObjects('same-pass/keys/'))[0].key);
      try {
        await bucket.putObject(keyObj, foreign);
        await refusedRestore(engineFor(root, PASSPHRASE, 'enc-b'), second.key, 'WrongPassphrase');
        await bucket.putObject(keyObj, samePass);
        await refusedRestore(engineFor(root, PASSPHRASE, 'enc-b'), second.key, 'Unauthentic');
      } finally {
        await bucket.putObject(keyObj, original);
      }
      assert.deepStrictEqual(await restoreInto(engineFor(root, PASSPHRASE, 'enc-b'), second.key, dest()), digest(src));
    });

    it('ignores planted key objects that ask for gigabytes of scrypt memory or are not key objects', async () => {
      const hostile = JSON.stringify({ format: 's3-backup-key', version: 1, keyId: 'ab'.repeat(16), kdf: { name: 'scrypt', N: 2 ** 24, r: 8, p: 1, salt: 'AAAA' }, wrap: { name: 'aes-256-gcm', iv: 'AAAA', data: 'AAAA' } });
      const planted = [`${root}/keys/${'e'.repeat(32)}.json`, `${root}/keys/${'f'.repeat(32)}.json`];
      await bucket.putObject(planted[0], hostile);
      await bucket.putObject(planted[1], 'not json');
      try {
        const engine = engineFor(root, PASSPHRASE, 'enc-b');
        assert.deepStrictEqual(await restoreInto(engine, second.key, dest()), digest(src));
        engine.dispose();
        await refusedRestore(engineFor(root, 'another passphrase', 'enc-b'), second.key, 'WrongPassphrase');
      } finally {
        for (const k of planted) await bucket.client.send(new (await import('@aws-sdk/client-s3')).DeleteObjectCommand({ Bucket: bucket.bucket, Key: k }));
      }
    });

    it('refuses a planted plain backup, even with allowPlain; the next encrypted backup does not reuse its content', async () => {
      // A plain backup made elsewhere, its manifest and packs copied into the encrypted repository.
      const plain = engineFor('plain-src', undefined, 'enc-a');
      const planted = await plain.backup({ kind: 'workspace', folders: [{ name: 'app', path: makeSource('planted', 9) }] });
      plain.dispose();
      const plantedKey = `${root}/${planted.key.slice('plain-src/'.length)}`;
      for (const o of await bucket.listObjects('plain-src/')) {
        await bucket.putObject(`${root}/${o.key.slice('plain-src/'.length)}`, await bucket.getObject(o.key));
      }
      const engine = engineFor(root, PASSPHRASE, 'enc-b');
      await refusedRestore(engine, plantedKey, 'PlainBackup');
      await refusedRestore(engine, plantedKey, 'PlainBackup', { allowPlain: true });
      await assert.rejects(() => engine.download(plantedKey, path.join(work, 'planted.zip'), { allowPlain: true }), expectCode('PlainBackup'));
      assert.ok(!fs.existsSync(path.join(work, 'planted.zip')));
      // The next encrypted backup does not reuse the planted content, and restores.
      const next = await engine.backup({ kind: 'workspace', folders: [{ name: 'app', path: src }] });
      assert.deepStrictEqual(await restoreInto(engine, next.key, dest()), digest(src));
      engine.dispose();
    });
  });

  describe('turning encryption on in a repository with plain backups', () => {
    const root = 'upgrade';
    let src: string;
    let plainBackup: BackupResult;

    before(async () => {
      src = makeSource('upgrade', 2);
      const plain = engineFor(root, undefined);
      plainBackup = await plain.backup({ kind: 'workspace', folders: [{ name: 'app', path: src }] });
      plain.dispose();
      // S3's LastModified has whole seconds: the key object must come later than the plain manifest.
      await new Promise((r) => setTimeout(r, 1500));
      const enc = engineFor(root, PASSPHRASE);
      await enc.backup({ kind: 'workspace', folders: [{ name: 'app', path: src }] });
      enc.dispose();
    });

    it('lists the older plain backup as plain, restores it only when allowed; the plain engine still reads nothing encrypted', async () => {
      const engine = engineFor(root, PASSPHRASE, 'enc-b');
      const refs = await engine.listAll();
      assert.strictEqual(refs.length, 2);
      const summaries = await Promise.all(refs.map((r) => engine.summary(r)));
      assert.deepStrictEqual(summaries.map((s) => s?.encrypted), [true, false]);
      await refusedRestore(engine, plainBackup.key, 'PlainBackup');
      await assert.rejects(() => engine.fetch(plainBackup.key), (e: unknown) => e instanceof BackupError && e.params.reason === 'older');
      assert.deepStrictEqual(await restoreInto(engine, plainBackup.key, dest(), { allowPlain: true }), digest(src));
      engine.dispose();
    });

    it('a clean-up keeps the packs of both the plain and the encrypted backups', async () => {
      const engine = engineFor(root, PASSPHRASE, 'enc-b');
      const gc = await engine.collectGarbage({ dryRun: true });
      assert.strictEqual(gc.ran, true);
      assert.strictEqual(gc.deletedPacks, 0);
      assert.ok(gc.keptPacks >= 2);
      engine.dispose();
    });
  });

  describe('changing the passphrase', () => {
    const root = 'rewrap';

    it('rewraps the key with the default scrypt parameters: old backups restore with the new passphrase, the old one fails, nothing is uploaded again', async () => {
      const src = makeSource('rewrap', 3);
      const a = engineFor(root, PASSPHRASE, 'enc-a', { scrypt: undefined });
      const b1 = await a.backup({ kind: 'workspace', folders: [{ name: 'app', path: src }] });
      const keyObj = (await bucket.listObjects(`${root}/keys/`))[0];
      const stored = JSON.parse((await bucket.getObject(keyObj.key)).toString()) as { kdf: { N: number; r: number; p: number } };
      assert.deepStrictEqual([stored.kdf.N, stored.kdf.r, stored.kdf.p], [2 ** 17, 8, 1]);
      const before = (await bucket.listObjects(`${root}/`)).filter((o) => !o.key.includes('/keys/'));
      await a.changePassphrase('a new passphrase, longer');
      a.dispose();
      const after = (await bucket.listObjects(`${root}/`)).filter((o) => !o.key.includes('/keys/'));
      assert.deepStrictEqual(after, before, 'no data object changed');
      const keys = await bucket.listObjects(`${root}/keys/`);
      assert.strictEqual(keys.length, 1);
      assert.notStrictEqual(keys[0].key, keyObj.key, 'the old key object is gone');
      await refusedRestore(engineFor(root, PASSPHRASE, 'enc-b'), b1.key, 'WrongPassphrase');
      const c = engineFor(root, 'a new passphrase, longer', 'enc-b');
      assert.deepStrictEqual(await restoreInto(c, b1.key, dest()), digest(src));
      c.dispose();
    });
  });

  describe('decrypt and secrets', () => {
    const root = 'decrypt';

    it('decrypts a pack into the plain zip it holds, and a backup into one plain zip', async () => {
      const src = makeSource('decrypt', 4);
      const engine = engineFor(root, PASSPHRASE);
      const b = await engine.backup({ kind: 'workspace', folders: [{ name: 'app', path: src }] });
      const pack = (await bucket.listObjects(`${root}/packs/`))[0].key;
      const zip = path.join(work, 'pack.zip');
      await engine.decrypt(pack, zip);
      const t = spawnSync('unzip', ['-t', zip], { encoding: 'utf8' });
      assert.strictEqual(t.status, 0, t.stdout + t.stderr);
      const whole = path.join(work, 'backup.zip');
      await engine.decrypt(b.key, whole);
      const list = spawnSync('unzip', ['-Z1', whole], { encoding: 'utf8' });
      assert.strictEqual(list.status, 0);
      assert.ok(list.stdout.includes('workspace/app/big.bin'));
      // A tampered pack leaves no file.
      const original = await bucket.getObject(pack);
      const bad = Buffer.from(original);
      bad[HEADER_LENGTH + 10] ^= 1;
      await bucket.putObject(pack, bad);
      const out = path.join(work, 'bad.zip');
      await assert.rejects(() => engine.decrypt(pack, out), expectCode('Unauthentic'));
      assert.ok(!fs.existsSync(out));
      assert.deepStrictEqual(fs.readdirSync(work).filter((f) => f.includes('bad.zip')), []);
      await bucket.putObject(pack, original);
      engine.dispose();
    });

    it('never writes the passphrase: not to any object, log line or cached file', async () => {
      for (const o of await bucket.listObjects()) assert.ok(!(await bucket.getObject(o.key)).includes(Buffer.from(PASSPHRASE)), o.key);
      assert.ok(logLines.length > 10);
      for (const l of logLines) assert.ok(!l.includes(PASSPHRASE) && !l.includes('a new passphrase'), l);
      const walk = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)])) : []);
      const cached = walk(path.join(work, 'cache'));
      assert.ok(cached.length > 0);
      for (const f of [...cached, ...walk(path.join(work, 'snapshots'))]) {
        const body = fs.readFileSync(f);
        assert.ok(!body.includes(Buffer.from(PASSPHRASE)), f);
      }
      // The cached manifests are kept sealed, as stored.
      assert.ok(cached.some((f) => fs.readFileSync(f).subarray(0, 6).toString('latin1') === 'S3BENC'));
    });
  });
});
