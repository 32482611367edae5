// The bucket's locks against the real S3 server: a lock released while one
// of its refreshes is still on its way must not come back after the removal
// (a backup's commit now refreshes its lock while the last pack uploads, and
// a failure there releases the lock at once).
import * as assert from 'assert';
import { acquireLock, type LockStore } from '../../src/core/repository/locks';
import { S3Store } from '../../src/core/storage/s3Store';
import { createTestBucket, requireS3Server, type TestBucket } from '../helpers/s3';

describe('locks (real S3)', function () {
  this.timeout(60_000);
  let bucket: TestBucket;
  let store: S3Store;

  before(async () => {
    requireS3Server();
    bucket = await createTestBucket('locks');
    store = new S3Store(bucket.profileAt('lk'));
  });
  after(async () => {
    await bucket?.cleanup();
  });

  const locksLeft = async (): Promise<string[]> => (await bucket.listObjects('lk/')).map((o) => o.key).filter((k) => k.includes('/locks/'));

  it('a release while a refresh is on its way leaves no lock behind', async () => {
    // The server is real; only the refresh's write is held back, as on a slow link.
    let holdPuts = 0;
    const slow: LockStore = {
      profile: store.profile,
      listAll: (prefix, o) => store.listAll(prefix, o),
      delete: (key) => store.delete(key),
      putBuffer: async (key, data, o) => {
        if (holdPuts > 0) await new Promise((r) => setTimeout(r, holdPuts));
        return store.putBuffer(key, data, o);
      },
    };
    const lock = await acquireLock(slow, 'shared', { host: 'h', purpose: 'test', waitMs: 0 });
    assert.strictEqual((await locksLeft()).length, 1);
    holdPuts = 400;
    const refreshing = lock.refresh();
    await new Promise((r) => setTimeout(r, 30));
    await lock.release();
    await refreshing;
    // Had the removal gone first, the refresh's write would have put the lock back, for every clean-up to wait on.
    await new Promise((r) => setTimeout(r, 100));
    assert.deepStrictEqual(await locksLeft(), []);
  });
});
