// Retention: the policy as a table (dates across day, ISO week, month and
// time-zone boundaries, several machines, kinds and folder sets, pins), then
// against the real server with real backups of two machines: retention after
// a backup touches only this machine's group, a prune plan changes nothing,
// a prune frees what it said and leaves every kept backup restorable, one
// prune at a time, and a pinned backup is never deleted.
import * as assert from 'assert';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BackupEngine, type BackupResult } from '../../src/core/engine';
import { makeBackupKey, type BackupKind } from '../../src/core/format/backupKeys';
import { acquireLock } from '../../src/core/repository/locks';
import { pinsPrefix } from '../../src/core/repository/pins';
import { applyRetentionPolicy, isoWeek, normalizePolicy, reasonText, type PolicyItem, type RetentionPolicy } from '../../src/core/retention/policy';
import { BackupError } from '../../src/core/util/engineErrors';
import { createTestBucket, requireS3Server, type TestBucket } from '../helpers/s3';

const UTC = { utcOffsetMinutes: () => 0 };
const FILE_BYTES = 20_000;
const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ keepLast: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0, ...p });

let seq = 0;
function item(iso: string, o: Partial<PolicyItem> = {}): PolicyItem {
  return { key: `k${String(seq++).padStart(4, '0')}-${iso}`, time: new Date(iso), host: 'alpha', kind: 'workspace', folders: ['/home/u/app'], ...o };
}

/** The times kept, newest first, with their reasons: "2026-01-05T10:00Z last,daily". */
function kept(items: PolicyItem[], p: RetentionPolicy, o = UTC): string[] {
  const groups = applyRetentionPolicy(items, p, o);
  return groups.flatMap((g) => g.decisions.filter((d) => d.keep).map((d) => `${d.item.time.toISOString().replace(':00.000Z', 'Z')} ${d.reasons.join(',')}`));
}

describe('retention policy (table)', () => {
  it('ISO weeks across year ends', () => {
    const table: Array<[string, string]> = [
      ['2021-01-03', '2020-W53'],
      ['2021-01-04', '2021-W01'],
      ['2024-12-29', '2024-W52'],
      ['2024-12-30', '2025-W01'],
      ['2025-12-28', '2025-W52'],
      ['2025-12-29', '2026-W01'],
      ['2026-01-01', '2026-W01'],
      ['2026-01-04', '2026-W01'],
      ['2026-01-05', '2026-W02'],
      ['2026-12-31', '2026-W53'],
      ['2027-01-03', '2026-W53'],
      ['2027-01-04', '2027-W01'],
    ];
    for (const [day, week] of table) assert.strictEqual(isoWeek(new Date(`${day}T12:00:00Z`)), week, day);
  });

  it('keep-last keeps the newest N whatever their dates', () => {
    const items = ['2026-01-01T10:00Z', '2026-01-01T11:00Z', '2026-01-03T09:00Z', '2026-01-02T09:00Z', '2026-01-04T09:00Z'].map((t) => item(t));
    assert.deepStrictEqual(kept(items, policy({ keepLast: 3 })), ['2026-01-04T09:00Z last', '2026-01-03T09:00Z last', '2026-01-02T09:00Z last']);
  });

  it('keep-daily keeps the newest of each of the last N days that have backups (days without any do not count)', () => {
    const items = ['2026-03-10T08:00Z', '2026-03-10T18:00Z', '2026-03-07T23:59Z', '2026-03-07T00:00Z', '2026-03-01T12:00Z', '2026-02-28T12:00Z'].map((t) => item(t));
    assert.deepStrictEqual(kept(items, policy({ keepDaily: 3 })), ['2026-03-10T18:00Z daily', '2026-03-07T23:59Z daily', '2026-03-01T12:00Z daily']);
  });

  it('keep-weekly counts ISO weeks (Monday starts one), also across a year end', () => {
    // Sun 2026-01-04 and Mon 2026-01-05 are two weeks; Mon 2025-12-29 and Thu 2026-01-01 are one (2026-W01).
    const items = ['2026-01-05T09:00Z', '2026-01-04T20:00Z', '2026-01-01T09:00Z', '2025-12-29T09:00Z', '2025-12-28T09:00Z', '2025-12-20T09:00Z'].map((t) => item(t));
    assert.deepStrictEqual(kept(items, policy({ keepWeekly: 3 })), ['2026-01-05T09:00Z weekly', '2026-01-04T20:00Z weekly', '2025-12-28T09:00Z weekly']);
  });

  it('keep-monthly keeps the newest of each month, and months follow the time zone', () => {
    const items = ['2026-02-01T00:30Z', '2026-01-31T23:30Z', '2026-01-15T12:00Z', '2025-12-31T12:00Z', '2025-11-30T12:00Z'].map((t) => item(t));
    assert.deepStrictEqual(kept(items, policy({ keepMonthly: 3 })), ['2026-02-01T00:30Z monthly', '2026-01-31T23:30Z monthly', '2025-12-31T12:00Z monthly']);
    // In Tokyo (UTC+9) 2026-01-31T23:30Z is already 1 February: one month with 00:30Z, so January's newest is the 15th.
    const tokyo = { utcOffsetMinutes: () => 9 * 60 };
    assert.deepStrictEqual(kept(items, policy({ keepMonthly: 3 }), tokyo), ['2026-02-01T00:30Z monthly', '2026-01-15T12:00Z monthly', '2025-12-31T12:00Z monthly']);
    // In New York (UTC-5) 2026-02-01T00:30Z is still 31 January.
    const newYork = { utcOffsetMinutes: () => -5 * 60 };
    assert.deepStrictEqual(kept(items, policy({ keepMonthly: 2 }), newYork), ['2026-02-01T00:30Z monthly', '2025-12-31T12:00Z monthly']);
  });

  it('days follow the time zone too', () => {
    const items = ['2026-05-02T01:00Z', '2026-05-01T23:00Z', '2026-05-01T10:00Z'].map((t) => item(t));
    assert.deepStrictEqual(kept(items, policy({ keepDaily: 5 })), ['2026-05-02T01:00Z daily', '2026-05-01T23:00Z daily']);
    // UTC-3: 01:00Z on 2 May is 22:00 on 1 May, the newest of that day; 23:00Z and 10:00Z are 1 May as well.
    assert.deepStrictEqual(kept(items, policy({ keepDaily: 5 }), { utcOffsetMinutes: () => -180 }), ['2026-05-02T01:00Z daily']);
  });

  it('rules combine: a backup kept by several rules names them all, the rest go', () => {
    const times = [
      '2026-06-30T18:00Z', '2026-06-30T09:00Z', '2026-06-29T18:00Z', '2026-06-28T18:00Z', '2026-06-21T18:00Z',
      '2026-06-14T18:00Z', '2026-05-31T18:00Z', '2026-05-20T18:00Z', '2026-04-30T18:00Z',
    ];
    const items = times.map((t) => item(t));
    assert.deepStrictEqual(kept(items, policy({ keepLast: 2, keepDaily: 3, keepWeekly: 3, keepMonthly: 3 })), [
      '2026-06-30T18:00Z last,daily,weekly,monthly',
      '2026-06-30T09:00Z last',
      '2026-06-29T18:00Z daily',
      '2026-06-28T18:00Z daily,weekly',
      '2026-06-21T18:00Z weekly',
      '2026-05-31T18:00Z monthly',
      '2026-04-30T18:00Z monthly',
    ]);
  });

  it('a pinned backup is kept whatever the rules say, and still counts for them', () => {
    const items = [item('2026-01-10T10:00Z'), item('2026-01-09T10:00Z', { pinned: true }), item('2026-01-08T10:00Z'), item('2025-06-01T10:00Z', { pinned: true })];
    assert.deepStrictEqual(kept(items, policy({ keepLast: 2 })), ['2026-01-10T10:00Z last', '2026-01-09T10:00Z pinned,last', '2025-06-01T10:00Z pinned']);
  });

  it('groups by machine, kind and folder set: each keeps its own newest', () => {
    const items = [
      item('2026-01-10T10:00Z'),
      item('2026-01-09T10:00Z'),
      item('2026-01-08T10:00Z', { host: 'beta' }),
      item('2026-01-07T10:00Z', { host: 'beta' }),
      item('2026-01-06T10:00Z', { kind: 'appdata', folders: ['appdata'] }),
      item('2026-01-05T10:00Z', { kind: 'appdata', folders: ['appdata'] }),
      item('2026-01-04T10:00Z', { folders: ['/home/u/other'] }),
      item('2026-01-03T10:00Z', { folders: ['/home/u/other'] }),
      item('2026-01-02T10:00Z', { kind: 'full' as BackupKind, folders: undefined }),
    ];
    const groups = applyRetentionPolicy(items, policy({ keepLast: 1 }), UTC);
    const summary = groups.map((g) => `${g.host} ${g.kind} ${(g.folders ?? ['?']).join('+')}: ${g.decisions.map((d) => (d.keep ? 'K' : '-')).join('')}`).sort();
    assert.deepStrictEqual(summary, [
      'alpha appdata appdata: K-',
      'alpha full ?: K',
      'alpha workspace /home/u/app: K-',
      'alpha workspace /home/u/other: K-',
      'beta workspace /home/u/app: K-',
    ]);
    // Folder order does not make another set.
    const two = [item('2026-01-02T10:00Z', { folders: ['/a', '/b'] }), item('2026-01-01T10:00Z', { folders: ['/b', '/a'] })];
    assert.deepStrictEqual(kept(two, policy({ keepLast: 1 })), ['2026-01-02T10:00Z last']);
  });

  it('every rule 0 is "off": nothing goes; an unreadable manifest is kept and not counted', () => {
    const items = [item('2026-01-03T10:00Z'), item('2026-01-02T10:00Z'), item('2026-01-01T10:00Z')];
    assert.deepStrictEqual(kept(items, policy({})), ['2026-01-03T10:00Z off', '2026-01-02T10:00Z off', '2026-01-01T10:00Z off']);
    const withBad = [item('2026-01-04T10:00Z', { unreadable: true }), ...items];
    assert.deepStrictEqual(kept(withBad, policy({ keepLast: 1 })), ['2026-01-04T10:00Z unreadable', '2026-01-03T10:00Z last']);
  });

  it('normalizePolicy takes whole numbers >= 0 (strings from flags too) and names a bad one', () => {
    assert.deepStrictEqual(normalizePolicy({ keepLast: '3', keepDaily: 0 }), { keepLast: 3, keepDaily: 0, keepWeekly: 4, keepMonthly: 0 });
    assert.throws(() => normalizePolicy({ keepWeekly: -1 }), /keepWeekly must be a whole number/);
    assert.throws(() => normalizePolicy({ keepLast: 2.5 }), /keepLast/);
    assert.throws(() => normalizePolicy({ keepDaily: 'many' }), /keepDaily/);
    assert.strictEqual(reasonText('last', policy({ keepLast: 10 })), 'last 10');
  });

  it('the default calendar is the local time zone of the machine running it', () => {
    // 1 January 00:30 local and 31 December 23:30 local are two days, whatever TZ this test runs in.
    const a = new Date(2026, 0, 1, 0, 30);
    const b = new Date(2025, 11, 31, 23, 30);
    const items = [item(a.toISOString()), item(b.toISOString())];
    assert.strictEqual(applyRetentionPolicy(items, policy({ keepDaily: 2 }))[0].decisions.filter((d) => d.keep).length, 2);
    assert.strictEqual(applyRetentionPolicy(items, policy({ keepMonthly: 1 }))[0].decisions.filter((d) => d.keep).length, 1);
  });
});

describe('retention and prune (real S3, two machines)', function () {
  this.timeout(300_000);
  let bucket: TestBucket;
  let work: string;
  const rootPath = 'ret';
  const engines: BackupEngine[] = [];

  const engineFor = (host: string, o: ConstructorParameters<typeof BackupEngine>[1] = {}): BackupEngine => {
    const e = new BackupEngine(bucket.profileAt(rootPath), { hostname: host, tmpDir: path.join(work, 'tmp'), retentionCalendar: UTC, ...o });
    engines.push(e);
    return e;
  };

  /** Backs up `dir` with a new file (new content, so a new pack), then moves the backup to `time` (its key holds the time). */
  async function backupAt(engine: BackupEngine, dir: string, time: string, kind: BackupKind = 'workspace'): Promise<string> {
    // One file of its own (random, so incompressible), the previous one removed: each backup has a pack only it references.
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const data = randomBytes(FILE_BYTES);
    fs.writeFileSync(path.join(dir, `${time.replace(/[:.]/g, '')}.bin`), data);
    const r: BackupResult =
      kind === 'appdata'
        ? await engine.backup({ kind, folders: [], extra: [{ archivePath: 'appdata/settings.json', data, size: data.length, mtimeMs: 0, mode: 0o644 }] })
        : await engine.backup({ kind, folders: [{ name: path.basename(dir), path: dir }] });
    const key = makeBackupKey(rootPath, { time: new Date(time), host: r.host, kind });
    await bucket.putObject(key, await bucket.getObject(r.key));
    await engine.store.delete(r.key);
    return key;
  }

  const objects = async (): Promise<string[]> => (await bucket.listObjects(`${rootPath}/`)).map((o) => `${o.key} ${o.size}`).sort();
  const bucketBytes = async (): Promise<number> => (await bucket.listObjects(`${rootPath}/`)).filter((o) => !o.key.includes('/locks/')).reduce((n, o) => n + o.size, 0);

  let alpha: BackupEngine;
  let beta: BackupEngine;
  const keys: Record<string, string> = {};

  before(async () => {
    requireS3Server();
    bucket = await createTestBucket('retention');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-ret-'));
    alpha = engineFor('alpha');
    beta = engineFor('beta');
    const a = path.join(work, 'alpha', 'app');
    const b = path.join(work, 'beta', 'app');
    for (const [i, t] of ['2026-01-01T10:00:00Z', '2026-01-02T10:00:00Z', '2026-01-03T10:00:00Z', '2026-01-04T10:00:00Z', '2026-01-05T10:00:00Z'].entries()) keys[`a${i}`] = await backupAt(alpha, a, t);
    for (const [i, t] of ['2026-01-01T12:00:00Z', '2026-01-02T12:00:00Z', '2026-01-03T12:00:00Z'].entries()) keys[`b${i}`] = await backupAt(beta, b, t);
    for (const [i, t] of ['2026-01-01T14:00:00Z', '2026-01-02T14:00:00Z'].entries()) keys[`s${i}`] = await backupAt(alpha, a, t, 'appdata');
  });

  after(async () => {
    for (const e of engines) e.dispose();
    await bucket?.cleanup();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('pins are markers every machine sees in its listing', async () => {
    await alpha.pin(keys.a0, true);
    assert.ok((await bucket.listObjects(pinsPrefix(rootPath))).some((o) => o.key.endsWith(path.posix.basename(keys.a0))));
    const seen = await beta.listAll();
    assert.deepStrictEqual(seen.filter((r) => r.pinned).map((r) => r.key), [keys.a0]);
    // A marker whose name is no backup's is ignored; pinning a backup that does not exist is NotFound.
    await bucket.putObject(`${pinsPrefix(rootPath)}not-a-backup`, 'x');
    assert.deepStrictEqual([...(await beta.pins())], [keys.a0]);
    await assert.rejects(alpha.pin(makeBackupKey(rootPath, { time: new Date(), host: 'alpha', kind: 'workspace' }), true), (e: BackupError) => e.code === 'NotFound');
  });

  it('a prune plan for all machines says what goes and what it frees, and changes nothing', async () => {
    const before = await objects();
    const plan = await beta.planPrune(policy({ keepLast: 2 }));
    const bases = (list: { key: string }[]): string[] => list.map((f) => f.key).sort();
    // alpha workspace: a4, a3 last; a0 pinned. beta: b2, b1. alpha appdata: s1, s0.
    assert.deepStrictEqual(bases(plan.forget), [keys.a1, keys.a2, keys.b0].sort());
    assert.strictEqual(plan.kept, 7);
    assert.strictEqual(plan.pinned, 1);
    assert.ok(plan.measured);
    assert.deepStrictEqual(plan.byHost.map((h) => `${h.host} ${h.forgotten}/${h.kept}`), ['alpha 2/5', 'beta 1/2']);
    assert.ok(plan.freedBytes > 3 * FILE_BYTES, `frees the forgotten backups' packs: ${plan.freedBytes}`);
    assert.strictEqual(plan.byHost.reduce((n, h) => n + h.freedBytes, 0), plan.freedBytes, 'no pack is shared between the machines here');
    const reasons = plan.groups.flatMap((g) => g.kept).find((k) => k.key === keys.a0)?.reasons;
    assert.deepStrictEqual(reasons, ['pinned']);
    assert.deepStrictEqual(await objects(), before, 'a plan deletes nothing');
  });

  it('retention after a backup forgets only this machine\'s backups of the same kind and folders', async () => {
    const r = await alpha.backup({ kind: 'workspace', folders: [{ name: 'app', path: path.join(work, 'alpha', 'app') }], retention: policy({ keepLast: 2 }) });
    assert.ok(r.retention, 'retention ran');
    assert.strictEqual(r.retention.error, undefined);
    // New, a4 kept (last 2); a0 pinned; a3, a2, a1 go. beta and alpha's app data are untouched.
    assert.deepStrictEqual([...r.retention.deleted].sort(), [keys.a1, keys.a2, keys.a3].sort());
    const left = (await alpha.listAll()).map((x) => x.key).sort();
    assert.deepStrictEqual(left, [r.key, keys.a4, keys.a0, keys.b0, keys.b1, keys.b2, keys.s0, keys.s1].sort());
    assert.ok(r.retention.freedBytes > 3 * FILE_BYTES, `freed ${r.retention.freedBytes}`);
    keys.a5 = r.key;
    for (const k of left) await alpha.verify(k);
  });

  it('prune deletes what it planned, frees what it said, and every kept backup still verifies', async () => {
    const plan = await alpha.planPrune(policy({ keepLast: 1 }));
    assert.deepStrictEqual(plan.forget.map((f) => f.key).sort(), [keys.a4, keys.b0, keys.b1, keys.s0].sort());
    const bytesBefore = await bucketBytes();
    const result = await alpha.prune(plan);
    assert.deepStrictEqual([...result.deleted].sort(), plan.forget.map((f) => f.key).sort());
    assert.ok(result.gc.ran);
    const bytesAfter = await bucketBytes();
    assert.strictEqual(bytesBefore - bytesAfter, plan.freedBytes, 'the bucket shrank by what the plan said');
    assert.strictEqual(result.freedBytes, plan.freedBytes);
    assert.strictEqual(result.packsPending, false);
    const left = (await beta.listAll()).map((x) => x.key).sort();
    assert.deepStrictEqual(left, [keys.a5, keys.a0, keys.b2, keys.s1].sort());
    for (const k of left) {
      const m = await beta.verify(k);
      assert.ok(m.totals.files >= 1);
    }
    assert.ok(left.includes(keys.a0), 'the pinned backup stays');
  });

  it('a backup pinned after the plan was made is not deleted by it', async () => {
    const plan = await beta.planPrune(policy({ keepLast: 1, keepDaily: 0 }));
    // alpha workspace: a5 last, a0 pinned; nothing else goes. Unpin a0: a plan now forgets it...
    assert.strictEqual(plan.forget.length, 0);
    await beta.pin(keys.a0, false);
    const plan2 = await beta.planPrune(policy({ keepLast: 1 }));
    assert.deepStrictEqual(plan2.forget.map((f) => f.key), [keys.a0]);
    // ...but it is pinned again before the prune runs: the prune keeps it.
    await alpha.pin(keys.a0, true);
    const result = await beta.prune(plan2);
    assert.deepStrictEqual(result.deleted, []);
    assert.deepStrictEqual(result.skipped, [keys.a0]);
    assert.ok((await alpha.listAll()).some((r) => r.key === keys.a0));
  });

  it('never two prunes at once: the second is refused with a plain sentence; a killed prune\'s lock expires', async () => {
    const held = await acquireLock(alpha.store, 'prune', { host: 'other', purpose: 'prune', waitMs: 0 });
    try {
      const plan = await beta.planPrune(policy({ keepLast: 1 }));
      await assert.rejects(beta.prune(plan), (e: BackupError) => e.code === 'Busy' && e.message === 'Another prune is running on this bucket.' && e.params?.reason === 'prune');
      // Backups are not held up by a prune lock.
      await beta.backup({ kind: 'workspace', folders: [{ name: 'app', path: path.join(work, 'beta', 'app') }] });
      // Retention after a backup gives way too, and says why without failing the backup.
      const r = await beta.backup({ kind: 'workspace', folders: [{ name: 'app', path: path.join(work, 'beta', 'app') }], retention: policy({ keepLast: 1 }) });
      assert.strictEqual(r.retention?.error?.code, 'Busy');
      // A lock not refreshed for longer than staleMs is a killed prune's: it no longer counts.
      const later = engineFor('beta', { lock: { now: () => Date.now() + 31 * 60_000 } });
      const result = await later.prune(await later.planPrune(policy({ keepLast: 1 })));
      assert.strictEqual(result.deleted.length, 2, 'beta\'s two older workspace backups went');
    } finally {
      await held.release();
    }
    assert.ok((await alpha.listAll()).some((r) => r.key === keys.a0), 'the pinned backup is still there');
  });

  it('a prune while a backup runs deletes the backups but leaves their packs to the next clean-up', async () => {
    const old = await backupAt(alpha, path.join(work, 'alpha', 'app'), '2026-01-06T10:00:00Z');
    const plan = await alpha.planPrune(policy({ keepLast: 1 }));
    assert.deepStrictEqual(plan.forget.map((f) => f.key), [old]);
    const packsBefore = (await bucket.listObjects(`${rootPath}/packs/`)).length;
    // A backup on another machine holds the shared lock: no pack may go while it runs.
    const running = await acquireLock(beta.store, 'shared', { host: 'beta', purpose: 'backup (workspace)', waitMs: 0 });
    try {
      const result = await alpha.prune(plan);
      assert.deepStrictEqual(result.deleted, [old]);
      assert.strictEqual(result.packsPending, true);
      assert.strictEqual((await bucket.listObjects(`${rootPath}/packs/`)).length, packsBefore);
    } finally {
      await running.release();
    }
    const gc = await alpha.collectGarbage();
    assert.ok(gc.ran && gc.deletedPacks >= 1, JSON.stringify(gc));
    for (const r of await alpha.listAll()) await alpha.verify(r.key);
  });

  it('deleting a pinned backup by hand removes its pin marker', async () => {
    await alpha.delete(keys.a0);
    assert.deepStrictEqual((await bucket.listObjects(pinsPrefix(rootPath))).map((o) => o.key), [`${pinsPrefix(rootPath)}not-a-backup`]);
  });
});
