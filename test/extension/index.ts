/*
 * Mocha entry loaded by VS Code's extension host as `extensionTestsPath`
 * (code-server through the workbench payload, or @vscode/test-electron).
 * It loads every out/test/extension/**\/*.test.js (BDD: describe/it).
 *
 * Environment (reaches the host through code-server's own environment):
 *   S3B_GREP          only tests whose full title matches this (regular expression)
 *   S3B_RESULT_FILE   where to write {"passed","failed","skipped","total","durationMs","failures"} as JSON
 *   S3B_TEST_TIMEOUT  per-test timeout in ms (default 120000)
 *   S3B_OUTPUT_FILE   console output of the run is also appended here (the code-server
 *                     runner streams it: in the browser workbench the host's console is
 *                     indistinguishable from the workbench's own log lines)
 */
import * as fs from 'fs';
import * as path from 'path';
import * as util from 'util';
import Mocha from 'mocha';
import type { ExtensionTestResult } from '../harness/extensionTests';

export type IntegrationResult = ExtensionTestResult;

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...findTests(p));
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

function writeResult(result: IntegrationResult): void {
  const file = process.env.S3B_RESULT_FILE;
  if (!file) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
}

function teeConsole(file: string): () => void {
  const levels = ['log', 'info', 'warn', 'error'] as const;
  // VS Code's host installs console.* as accessor properties that forward to the
  // renderer; plain assignment is swallowed by their setters, so redefine them.
  const saved = levels.map((level) => [level, Object.getOwnPropertyDescriptor(console, level)] as const);
  for (const level of levels) {
    const original = console[level].bind(console);
    Object.defineProperty(console, level, {
      configurable: true,
      enumerable: true,
      writable: true,
      value: (...args: unknown[]) => {
        try {
          fs.appendFileSync(file, util.format(...args) + '\n');
        } catch {
          /* the console still gets it */
        }
        original(...args);
      },
    });
  }
  return () => {
    for (const [level, desc] of saved) if (desc) Object.defineProperty(console, level, desc);
  };
}

/** Called by the extension host; resolves when every test passed, rejects otherwise. */
export async function run(): Promise<void> {
  const untee = process.env.S3B_OUTPUT_FILE ? teeConsole(process.env.S3B_OUTPUT_FILE) : () => undefined;
  try {
    await runMocha();
  } finally {
    untee();
  }
}

function runMocha(): Promise<void> {
  // The host forwards console output to the workbench as separate arguments;
  // formatting here keeps mocha's printf-style lines ("%d passing") readable.
  Mocha.reporters.Base.consoleLog = (...args: unknown[]) => console.log(util.format(...args));
  const mocha = new Mocha({
    ui: 'bdd',
    reporter: 'spec',
    color: false,
    timeout: Number(process.env.S3B_TEST_TIMEOUT) || 120000,
    grep: process.env.S3B_GREP || undefined,
  });
  for (const f of findTests(__dirname)) mocha.addFile(f);

  const started = Date.now();
  return new Promise<void>((resolve, reject) => {
    const failures: IntegrationResult['failures'] = [];
    let runner: Mocha.Runner;
    try {
      runner = mocha.run((failed) => {
        const stats = runner.stats ?? { passes: 0, failures: failed, pending: 0, tests: 0 };
        const result: IntegrationResult = {
          passed: stats.passes,
          failed: Math.max(stats.failures, failed),
          skipped: stats.pending,
          total: stats.passes + Math.max(stats.failures, failed) + stats.pending,
          durationMs: Date.now() - started,
          failures,
        };
        try {
          writeResult(result);
        } catch (e) {
          console.error('could not write S3B_RESULT_FILE:', e);
        }
        console.log(`[extension] result ${JSON.stringify({ passed: result.passed, failed: result.failed, skipped: result.skipped })}`);
        if (failed > 0) reject(new Error(`${failed} extension-host test(s) failed`));
        else resolve();
      });
      runner.on('fail', (test, err: Error) => failures.push({ title: test.fullTitle(), error: String(err?.stack ?? err).slice(0, 2000) }));
    } catch (e) {
      // A test file that throws while loading counts as one failure, not as silence.
      writeResult({ passed: 0, failed: 1, skipped: 0, total: 1, durationMs: Date.now() - started, failures: [{ title: 'loading test files', error: String((e as Error)?.stack ?? e) }] });
      reject(e);
    }
  });
}
