// Step 10: two windows of one VS Code, each with its own extension host, on
// one user-data folder (code-server: two browser windows on computer A's
// server). Automatic backups are turned on in the user settings, which both
// windows read: both schedulers fall due at the same moment, and exactly one
// backup reaches the bucket. The loser looks again a minute later (under the
// lock, where it finds the backup done), so the count is checked after that.
// The real clock: the scheduler's start grace (2 minutes) is waited out, once.
// The target is the app data: step 5 restored into A's workspace folder, and
// no automatic backup of a folder runs within 30 minutes of a restore into it.
import * as fs from 'fs';
import * as path from 'path';
import type { Page } from 'playwright-core';
import { openWorkbench } from '../harness/browser';
import { parseBackupKey } from '../../src/core/format/backupKeys';
import { START_GRACE_MS } from '../../src/core/schedule/autoSchedule';
import { assert, bucket, log, machine, ROOT_PATH, shot, step, until, VIEWPORT, world } from './world';

const sdk = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');

/** The scheduler's "another window holds the lock: look again after this long", plus slack. */
const LOSER_LOOKS_AGAIN_MS = 60_000 + 15_000;

/** App data backups under the e2e root path, as the bucket holds them. */
async function appDataBackups(): Promise<string[]> {
  const tb = await bucket();
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await tb.client.send(new sdk.ListObjectsV2Command({ Bucket: tb.bucket, Prefix: `${ROOT_PATH}/`, ContinuationToken: token }));
    for (const o of out.Contents ?? []) if (o.Key && parseBackupKey(ROOT_PATH, o.Key)?.kind === 'appdata') keys.push(o.Key);
    token = out.NextContinuationToken;
  } while (token);
  return keys;
}

/** The extension host processes under a code-server: one per connected window. */
function extensionHosts(serverPid: number): number[] {
  const children = (pid: number): number[] => {
    try {
      return fs
        .readdirSync(`/proc/${pid}/task`)
        .flatMap((t) => fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      return [];
    }
  };
  const found: number[] = [];
  const walk = (pid: number): void => {
    for (const c of children(pid)) {
      const cmd = fs.existsSync(`/proc/${c}/cmdline`) ? fs.readFileSync(`/proc/${c}/cmdline`, 'utf8') : '';
      if (cmd.includes('--type=extensionHost')) found.push(c);
      walk(c);
    }
  };
  walk(serverPid);
  return found;
}

function statusEntry(page: Page) {
  return page.locator('.part.statusbar .left-items [aria-label^="S3 Backup"]').first();
}

describe('Step 10: two windows on one user-data folder', () => {
  it(
    'back up once when an automatic backup falls due in both',
    step('10-two-windows', async () => {
      const a = await machine('A');
      const settingsFile = path.join(a.userDataDir, 'User', 'settings.json');
      const settingsBefore = fs.readFileSync(settingsFile, 'utf8');
      const second = await openWorkbench(world().browser!, a.server.url, { folder: a.folder, viewport: VIEWPORT });
      try {
        // The extension is running in the second window too (its status bar entry), in an extension host of its own.
        await statusEntry(second).waitFor({ state: 'visible', timeout: 60000 });
        const hosts = await until('two extension hosts on computer A', async () => {
          const h = extensionHosts(a.server.pid);
          return h.length >= 2 && h;
        }, 30000);
        log(`extension hosts on computer A: ${hosts.join(', ')}`);
        const secondStarted = Date.now();
        const before = await appDataBackups();

        // A window that has just started waits out the start grace: let the second one get past it, so both fall due at once.
        await new Promise((r) => setTimeout(r, Math.max(0, secondStarted + START_GRACE_MS + 5000 - Date.now())));
        const settings = JSON.parse(settingsBefore) as Record<string, unknown>;
        fs.writeFileSync(settingsFile, JSON.stringify({ ...settings, 's3Backup.autoBackup.mode': 'hourly', 's3Backup.autoBackup.what': 'appData' }, null, 2) + '\n');
        const t = Date.now();

        const made = await until('an automatic backup in the bucket', async () => {
          const now = await appDataBackups();
          return now.length > before.length && now.filter((k) => !before.includes(k));
        }, 120000);
        log(`automatic backup ${made.join(', ')} after ${((Date.now() - t) / 1000).toFixed(1)} s`);
        // Both windows show it: the state the scheduler keeps is shared by every window of this VS Code.
        for (const [name, page] of [['first', a.page], ['second', second]] as const) {
          const label = await until(`the ${name} window's status bar to date the backup`, async () => {
            const l = (await statusEntry(page).getAttribute('aria-label')) ?? '';
            // "now" or "1 minute ago": the backups of the earlier steps are more than 2 minutes old by now.
            return /last backup (now|1 minute ago)/.test(l) && l;
          }, 90000);
          log(`${name} window: ${label}`);
        }
        await shot(a, '10-two-windows-first');
        await new Promise((r) => setTimeout(r, Math.max(0, t + LOSER_LOOKS_AGAIN_MS - Date.now())));
        const after = await appDataBackups();
        assert.deepStrictEqual(after.filter((k) => !before.includes(k)), made, 'exactly one automatic backup from the two windows');
      } finally {
        // Automatic backups off again (the later steps expect none), the second window closed.
        fs.writeFileSync(settingsFile, settingsBefore);
        await second.context().close().catch(() => undefined);
      }
    }),
  );
});
