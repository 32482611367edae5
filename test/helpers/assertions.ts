import * as assert from 'assert';
import { BackupError } from '../../src/core/util/engineErrors';

/** For `assert.rejects`: the error is a BackupError with `code`, told in one plain line. */
export function expectCode(code: string): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof BackupError, `expected a BackupError, got ${String(e)}`);
    assert.strictEqual(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    assert.ok(!/\n/.test(e.message), 'one plain sentence');
    return true;
  };
}
