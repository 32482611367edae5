// Step 10: two windows on one computer (two extension hosts, one user-data
// folder) with automatic backups on: exactly one of them backs up, both status
// bar entries date that backup, and no second backup follows once the other
// window has looked again. A folder of its own, so no earlier restore's grace
// period and no earlier schedule applies: the first automatic backup of a
// target is due two minutes after a window starts, in both windows.
import * as fs from 'fs';
import * as path from 'path';
import { parseBackupKey } from '../../src/core/format/backupKeys';
import { waitForWorkbench, workbenchUrl } from '../harness/browser';
import { assert, bucket, editJson, extensionLogLines, log, machine, ROOT_PATH, shot, step, until, userFile, VIEWPORT, type Machine } from './world';

const STATUS = '.part.statusbar .left-items [aria-label^="S3 Backup: last backup"]';
/** The other window looks again a minute after it found the lock taken (BUSY_RETRY_MS), then reschedules. */
const LOOK_AGAIN_MS = 75_000;

/** Extension host processes under a code-server: one per open window. */
function extensionHosts(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ppid = Number(/^\d+ \(.*\) \S (\d+)/s.exec(fs.readFileSync(`/proc/${d}/stat`, 'utf8'))?.[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // the process ended meanwhile
    }
  }
  const hosts: number[] = [];
  const walk = (pid: number): void => {
    for (const c of children.get(pid) ?? []) {
      const cmd = fs.existsSync(`/proc/${c}/cmdline`) ? fs.readFileSync(`/proc/${c}/cmdline`, 'utf8') : '';
      if (cmd.includes('--type=extensionHost')) hosts.push(c);
      walk(c);
    }
  };
  walk(rootPid);
  return hosts;
}

async function workspaceBackups(): Promise<string[]> {
  const objects = await (await bucket()).listObjects();
  return objects
    .map((o) => parseBackupKey(ROOT_PATH, o.key, o.size))
    .filter((r) => r?.kind === 'workspace')
    .map((r) => r!.key);
}

describe('Step 10: two windows, one automatic backup', () => {
  it(
    'runs the due automatic backup in exactly one of two windows, and both windows date it',
    step('10-two-windows', async () => {
      const a = await machine('A');
      const folder = path.join(a.base, 'home', 'journal');
      fs.mkdirSync(folder, { recursive: true });
      fs.writeFileSync(path.join(folder, 'today.md'), '# Journal\n\nTwo windows, one backup.\n');
      fs.writeFileSync(path.join(folder, 'ideas.txt'), 'Back up once, not twice.\n');
      const settingsFile = userFile(a.userDataDir, 'settings.json');
      editJson(settingsFile, ['s3Backup.autoBackup.mode'], 'every15m');
      const before = new Set(await workspaceBackups());

      // Window 1: A's tab opens the new folder (its extension host starts again);
      // window 2: a second tab of the same browser, which holds the connection's secrets.
      const started = Date.now();
      await a.page.goto(workbenchUrl(a.server.url, { folder }), { waitUntil: 'domcontentloaded', timeout: 60000 });
      await waitForWorkbench(a.page);
      const second = await a.page.context().newPage();
      await second.setViewportSize(VIEWPORT);
      await second.goto(workbenchUrl(a.server.url, { folder }), { waitUntil: 'domcontentloaded', timeout: 60000 });
      await waitForWorkbench(second);
      const windows: Machine[] = [a, { ...a, page: second }];
      const hosts = await until('two extension hosts', async () => {
        const h = extensionHosts(a.server.pid);
        return h.length >= 2 && h;
      }, 60000);
      log(`extension hosts under computer A's code-server: ${hosts.join(', ')}`);
      try {
        // Due two minutes after each window started; the backup itself takes seconds.
        const made = await until('the automatic backup in the bucket', async () => {
          const fresh = (await workspaceBackups()).filter((k) => !before.has(k));
          return fresh.length > 0 && fresh;
        }, 5 * 60_000);
        const madeAt = Date.now();
        log(`automatic backup ${made.join(', ')} ${((madeAt - started) / 1000).toFixed(0)} s after the windows opened`);

        for (const w of windows) {
          const status = w.page.locator(STATUS).first();
          await until(`the status bar of window ${w === a ? 1 : 2} dating the backup`, async () => (await status.isVisible()) && /^(now|\d+ (sec|min)\. ago)$/.test((await status.innerText()).trim()), 120_000);
        }
        await shot(windows[1]!, '10a-second-window-status');

        // Both windows were due: one ran it, the other found the lock taken (it looks
        // again a minute later) or, under the lock, the backup just made.
        const decided = await until("the other window's decision in its log", async () => {
          const logs = extensionLogLines(a).filter((l) => l.lines.some((line) => line.includes('[auto]')));
          const ran = logs.filter((l) => l.lines.some((line) => / automatic workspace backup, \d+ files/.test(line)));
          const deferred = logs.filter((l) => !ran.includes(l) && l.lines.some((line) => /another window (is running|has just run) this automatic backup/.test(line)));
          return deferred.length > 0 && { logs, ran, deferred };
        }, 120_000);
        assert.strictEqual(decided.ran.length, 1, `one window's log has the backup: ${decided.logs.map((l) => l.file).join(', ')}`);
        if (decided.deferred.some((l) => l.lines.some((line) => line.includes('another window is running')))) {
          const wait = madeAt + LOOK_AGAIN_MS - Date.now();
          if (wait > 0) await a.page.waitForTimeout(wait);
        }
        const after = (await workspaceBackups()).filter((k) => !before.has(k));
        assert.deepStrictEqual(after, made, `exactly one automatic backup of the folder: ${after.join(', ')}`);
      } finally {
        editJson(settingsFile, ['s3Backup.autoBackup.mode'], undefined);
        await second.close();
      }
    }),
  );
});
