import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { AutoBackup } from '../../src/extension/auto/autoBackup';
import { AutoStateFile } from '../../src/extension/auto/autoState';
import { ManualClock } from '../../src/extension/auto/clock';
import { describeStatus } from '../../src/extension/auto/statusItem';
import type { TestApi } from '../../src/extension/extension';
import type { TestBucket } from '../helpers/s3';
import { getApi, requireS3Server, ScriptedPrompts, waitFor } from './helpers';

const MIN = 60_000;
const HOUR = 60 * MIN;

// Automatic backups in the real extension host against the real server. The
// schedulers made here run on a clock the test moves (ManualClock): no test
// sleeps for an interval. "Two windows" are two schedulers in this one
// extension host sharing one state folder and its real lock files (a second
// code-server extension host on the same user-data folder would cost a
// second workbench per run); a window that crashed is a lock file whose
// process has exited.
describe('automatic backups (real S3 server, test clock)', function () {
  let api: TestApi;
  let bucket: TestBucket | undefined;
  let prompts: ScriptedPrompts;
  let fixture: string;
  let s3env: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
  const name = `s3b-auto-${crypto.randomBytes(3).toString('hex')}`;
  const made: AutoBackup[] = [];
  const dirs: string[] = [];

  const settings = vscode.workspace.getConfiguration('s3Backup.autoBackup');
  async function setMode(mode: string | undefined, extra: Record<string, unknown> = {}): Promise<void> {
    await settings.update('mode', mode, vscode.ConfigurationTarget.Global);
    for (const k of ['what', 'idleMinutes', 'dailyTime']) await settings.update(k, extra[k], vscode.ConfigurationTarget.Global);
  }

  function newDir(): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 's3b-auto-state-'));
    dirs.push(d);
    return d;
  }

  /** A scheduler as a window would start it, on the test clock and the given state folder. */
  function scheduler(clock: ManualClock, dir: string): AutoBackup {
    const a = api.createAutoBackup({ clock, dir }).start();
    made.push(a);
    return a;
  }

  async function workspaceBackups(): Promise<string[]> {
    const engine = await api.engineHost.getEngine();
    return (await engine.listAll()).filter((r) => r.kind === 'workspace' && api.engineHost.isThisMachine(r.host)).map((r) => r.key);
  }

  /** Moves the clock and waits until the scheduler has settled on its next time (a run in between included). */
  async function advance(a: AutoBackup, clock: ManualClock, ms: number): Promise<void> {
    clock.advance(ms);
    // A run takes real time (S3); it ends with a reschedule to a time after now.
    await waitFor('the scheduler to settle', () => a.nextAt === undefined || a.nextAt > clock.now(), 60_000);
    await new Promise((r) => setTimeout(r, 50));
    await waitFor('the scheduler to settle', () => a.nextAt === undefined || a.nextAt > clock.now(), 60_000);
  }

  function touchFixture(): void {
    fs.writeFileSync(path.join(fixture, 'changing.txt'), `${crypto.randomBytes(8).toString('hex')}\n`);
  }

  before(async function () {
    requireS3Server();
    api = await getApi();
    // The window's own scheduler runs on the real clock: paused, so only the ones made here act.
    api.auto.paused = true;
    const s3 = require('../helpers/s3') as typeof import('../helpers/s3');
    s3env = s3.s3TestEnv();
    bucket = await s3.createTestBucket('auto');
    await api.engineHost.saveProfile({ ...s3env, bucket: bucket.bucket, rootPath: name });
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder && folder.uri.scheme === 'file', 'the tests need a workspace folder on disk');
    fixture = path.join(folder.uri.fsPath, name);
    fs.mkdirSync(fixture, { recursive: true });
    fs.writeFileSync(path.join(fixture, 'kept.txt'), 'kept\n');
    touchFixture();
    await setMode('hourly');
  });

  beforeEach(() => {
    prompts = new ScriptedPrompts(api.prompts);
  });

  afterEach(() => {
    prompts?.dispose();
    for (const a of made.splice(0)) a.dispose();
  });

  after(async () => {
    if (!api) return;
    await setMode(undefined);
    api.auto.paused = false;
    const s = vscode.workspace.getConfiguration('s3Backup');
    for (const k of ['endpoint', 'region', 'bucket', 'rootPath', 'addressingStyle']) await s.update(k, undefined, vscode.ConfigurationTarget.Global);
    await api.secrets.clear();
    if (fixture) fs.rmSync(fixture, { recursive: true, force: true });
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    await bucket?.cleanup();
  });

  it('keeps the interval across a restart: the first backup after the start grace, none at the next start, the next one an hour after the last', async () => {
    const clock = new ManualClock(Date.now());
    const dir = newDir();
    const before = (await workspaceBackups()).length;
    let a = scheduler(clock, dir);
    await waitFor('a first run to be scheduled', () => a.nextAt);
    assert.strictEqual(a.nextAt! - clock.now(), 2 * MIN, 'never backed up: the first one after the start grace');
    await advance(a, clock, 2 * MIN);
    assert.strictEqual(a.lastRun, 'backedUp');
    const ranAt = clock.now();
    assert.strictEqual((await workspaceBackups()).length, before + 1);
    assert.strictEqual(a.nextAt, ranAt + HOUR);

    // 40 minutes later the window reloads: a new scheduler on the same state.
    await advance(a, clock, 40 * MIN);
    a.dispose();
    touchFixture();
    a = scheduler(clock, dir);
    await waitFor('the restarted scheduler to plan', () => a.nextAt);
    assert.strictEqual(a.nextAt, ranAt + HOUR, 'the rhythm is kept, no backup at start');
    await advance(a, clock, 19 * MIN);
    assert.strictEqual(a.lastRun, undefined);
    assert.strictEqual((await workspaceBackups()).length, before + 1);
    await advance(a, clock, 1 * MIN);
    assert.strictEqual(a.lastRun, 'backedUp');
    assert.strictEqual((await workspaceBackups()).length, before + 2);
  });

  it('runs a missed backup once, after the start grace, not a burst', async () => {
    const clock = new ManualClock(Date.now());
    const dir = newDir();
    // The last one five hours ago: four hourly runs were missed while VS Code was closed.
    await new AutoStateFile(dir).update((d) => (d.schedule[api.auto.target().id] = { lastAttempt: clock.now() - 5 * HOUR }));
    touchFixture();
    const before = (await workspaceBackups()).length;
    const a = scheduler(clock, dir);
    await waitFor('a run to be scheduled', () => a.nextAt);
    assert.strictEqual(a.nextAt! - clock.now(), 2 * MIN);
    await advance(a, clock, 2 * MIN);
    await advance(a, clock, 30 * MIN);
    assert.strictEqual((await workspaceBackups()).length, before + 1);
    assert.strictEqual(a.nextAt, clock.now() - 30 * MIN + HOUR);
  });

  it('makes no backup when nothing changed, and says so in the log and the status tooltip', async () => {
    const clock = new ManualClock(Date.now());
    const dir = newDir();
    touchFixture();
    const a = scheduler(clock, dir);
    await waitFor('a run to be scheduled', () => a.nextAt);
    await advance(a, clock, 2 * MIN);
    assert.strictEqual(a.lastRun, 'backedUp');
    const before = await workspaceBackups();
    await advance(a, clock, HOUR);
    assert.strictEqual(a.lastRun, 'unchanged');
    assert.deepStrictEqual(await workspaceBackups(), before);
    assert.ok(api.log.captured?.some((l) => /nothing changed since \S+: no automatic backup/.test(l)), 'the log says why');
    const view = describeStatus(await a.status(), clock.now());
    assert.match(view.tooltip, /Nothing changed since the last backup \(checked .+\): no new backup\./);
    assert.match(view.text, /^\$\(cloud\) /);
  });

  it('two windows on one user-data folder: exactly one backs up; a crashed window\'s lock does not block', async () => {
    const clock = new ManualClock(Date.now());
    const dir = newDir();
    touchFixture();
    const before = (await workspaceBackups()).length;
    const a = scheduler(clock, dir);
    const b = scheduler(clock, dir);
    await waitFor('both to plan', () => a.nextAt && b.nextAt);
    clock.advance(2 * MIN);
    await waitFor('one of them to back up', () => a.lastRun === 'backedUp' || b.lastRun === 'backedUp', 60_000);
    await advance(a, clock, 0);
    await advance(b, clock, 0);
    // The loser looks again a minute later, under the lock, and finds it done.
    await advance(a, clock, 2 * MIN);
    await advance(b, clock, 0);
    assert.strictEqual((await workspaceBackups()).length, before + 1);
    assert.deepStrictEqual([a.lastRun, b.lastRun].sort(), ['backedUp', undefined].sort());
    a.dispose();
    b.dispose();

    // A window killed while it held the lock: its process is gone, the file stays.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const pid = Number(dead.stdout);
    assert.ok(pid > 0, 'a process id for the crashed window');
    const id = api.auto.target().id;
    fs.writeFileSync(path.join(dir, `${id}.lock`), JSON.stringify({ owner: { pid, host: os.hostname(), started: new Date().toISOString() }, token: 'crashed', refreshed: Date.now() }));
    await new AutoStateFile(dir).update((d) => (d.schedule[id] = { lastAttempt: clock.now() - 2 * HOUR }));
    touchFixture();
    const c = scheduler(clock, dir);
    await waitFor('a run to be scheduled', () => c.nextAt);
    await advance(c, clock, 2 * MIN);
    assert.strictEqual(c.lastRun, 'backedUp');
    assert.strictEqual((await workspaceBackups()).length, before + 2);
    assert.ok(!fs.existsSync(path.join(dir, `${id}.lock`)), 'the lock is released after the run');
  });

  it('waits 30 minutes after a restore into the folder', async () => {
    const clock = new ManualClock(Date.now());
    const dir = newDir();
    await new AutoStateFile(dir).update((d) => (d.schedule[api.auto.target().id] = { lastAttempt: clock.now() - 2 * HOUR }));
    const a = scheduler(clock, dir);
    await waitFor('a run to be scheduled', () => a.nextAt);
    assert.strictEqual(a.nextAt! - clock.now(), 2 * MIN);
    await a.recordRestore([vscode.workspace.workspaceFolders![0].uri.fsPath]);
    assert.strictEqual(a.nextAt! - clock.now(), 30 * MIN);
  });

  it('retries a failure that may pass with growing waits, then shows one notification with Retry and Show Log', async () => {
    const s3 = require('../helpers/s3') as typeof import('../helpers/s3');
    const port = await s3.unusedPort();
    await api.engineHost.saveProfile({ endpoint: `http://127.0.0.1:${port}` });
    try {
      const clock = new ManualClock(Date.now());
      const dir = newDir();
      const a = scheduler(clock, dir);
      await waitFor('a run to be scheduled', () => a.nextAt);
      const tries = (): number => (api.log.captured ?? []).filter((l) => l.includes(`${a.target().id}: automatic backup, try`)).length;
      const start = tries();
      clock.advance(2 * MIN);
      await waitFor('the first try to fail', () => tries() === start + 1, 60_000);
      assert.strictEqual(a.nextAt! - clock.now(), 30_000, 'the second try 30 s later');
      assert.strictEqual(prompts.shown.filter((m) => m.kind !== 'info').length, 0, 'no message per try');
      clock.advance(30_000);
      await waitFor('the second try to fail', () => tries() === start + 2, 60_000);
      assert.strictEqual(a.nextAt! - clock.now(), 2 * MIN, 'the third try 2 min later');
      clock.advance(2 * MIN);
      const shown = await prompts.waitForMessage(/^The automatic backup failed: /);
      assert.strictEqual(tries(), start + 3);
      assert.strictEqual(shown.kind, 'warning');
      assert.deepStrictEqual(shown.items, ['Retry', 'Show Log']);
      assert.strictEqual(prompts.shown.filter((m) => /automatic backup failed/.test(m.message)).length, 1);
      await advance(a, clock, 0);
      assert.strictEqual(a.lastRun, 'failed');
      const view = describeStatus(await a.status(), clock.now());
      assert.match(view.text, /^\$\(warning\)/);
      assert.match(view.tooltip, /the last backup failed: /);
      // The next regular attempt is an interval after this one, not a burst of retries.
      assert.ok(a.nextAt! - clock.now() > 50 * MIN);
    } finally {
      await api.engineHost.saveProfile({ endpoint: s3env.endpoint });
    }
  });

  it('after changes: a saved file starts the idle timer; the backup runs once the workspace was idle', async () => {
    await setMode('afterChanges', { idleMinutes: 5 });
    try {
      const clock = new ManualClock(Date.now());
      const dir = newDir();
      const a = scheduler(clock, dir);
      await new Promise((r) => setTimeout(r, 500));
      assert.strictEqual(a.nextAt, undefined, 'nothing changed: nothing scheduled');
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(path.join(fixture, 'kept.txt')));
      const edit = new vscode.WorkspaceEdit();
      edit.insert(doc.uri, new vscode.Position(0, 0), 'edited ');
      assert.ok(await vscode.workspace.applyEdit(edit));
      const savedAt = clock.now();
      assert.ok(await doc.save());
      await waitFor('the save to start the idle timer', () => a.nextAt);
      assert.strictEqual(a.nextAt, savedAt + 5 * MIN);
      const before = (await workspaceBackups()).length;
      await advance(a, clock, 5 * MIN);
      assert.strictEqual(a.lastRun, 'backedUp');
      assert.strictEqual((await workspaceBackups()).length, before + 1);
      assert.strictEqual(a.nextAt, undefined, 'covered: nothing more to do until the next change');
    } finally {
      await setMode('hourly');
    }
  });

  it('a manual backup spins and then dates the status bar, and the first one offers automatic backups once', async () => {
    await setMode(undefined);
    await api.services.context.globalState.update('s3Backup.autoBackup.offered', undefined);
    touchFixture();
    prompts.onMessage = (m) => (/^Back up automatically\?/.test(m.message) ? 'Turn On Automatic Backups' : undefined);
    const running = api.statusItem.item;
    // Every text the entry shows while the command runs, sampled often (a small backup is quick).
    const texts = new Set<string>();
    let finished = false;
    const done = Promise.resolve(vscode.commands.executeCommand('s3Backup.backUpWorkspace')).finally(() => (finished = true));
    while (!finished) {
      texts.add(running.text);
      await new Promise((r) => setTimeout(r, 5));
    }
    await done;
    assert.ok([...texts].some((t) => t.startsWith('$(sync~spin)')), `the spinner while it ran; seen: ${[...texts].join(' | ')}`);
    await waitFor('the age of the new backup', () => /^\$\(cloud\) \S/.test(running.text), 30_000);
    assert.match(String(running.tooltip), /^S3 Backup: last backup /);
    const offer = await prompts.waitForMessage(/^Back up automatically\?/);
    assert.deepStrictEqual(offer.items, ['Turn On Automatic Backups']);
    await waitFor('the setting to be written', () => vscode.workspace.getConfiguration('s3Backup.autoBackup').get('mode') === 'hourly');
    // Once only.
    await setMode(undefined);
    touchFixture();
    await vscode.commands.executeCommand('s3Backup.backUpWorkspace');
    await new Promise((r) => setTimeout(r, 300));
    assert.strictEqual(prompts.shown.filter((m) => /^Back up automatically\?/.test(m.message)).length, 1);
  });
});
