// The spec reporter, plus the counts scripts/test.js sums up across suites.
// Contract for every suite runner: write {passed, failed, skipped} as JSON to the
// file named by S3B_RESULT_FILE (when set) before exiting.
import * as fs from 'fs';
import Mocha from 'mocha';

export interface SuiteCounts {
  passed: number;
  failed: number;
  skipped: number;
}

/** Writes the suite's counts to `$S3B_RESULT_FILE` (no-op when the variable is unset). */
export function writeResultFile(counts: SuiteCounts, file = process.env.S3B_RESULT_FILE): void {
  if (!file) return;
  fs.writeFileSync(file, JSON.stringify(counts));
}

/** Counts of a finished mocha runner; hook failures count as failures, pending tests as skipped. */
export function countsOf(runner: Mocha.Runner): SuiteCounts {
  const s = runner.stats;
  return { passed: s?.passes ?? 0, failed: s?.failures ?? 0, skipped: s?.pending ?? 0 };
}

/** Mocha reporter: spec output, then the counts file. Use with `--reporter out/test/helpers/mochaCount.js`. */
export default class MochaCount extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => writeResultFile(countsOf(runner)));
  }
}
