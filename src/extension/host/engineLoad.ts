// The engine's first use in a session, in turns of the extension host's
// event loop, which every extension shares. Loading it all at once held the
// loop ~115 ms: Node's own modules compiled on their first require (http,
// tls, http2, zlib, ...), compiling the engine bundle (~850 KB, most of it
// the SDK) and the SDK's module set-up. The SDK is now a bundle of its own
// (dist/sdk.js), set up in layers; each piece runs in a turn of its own,
// with a timer's turn between (other timers and I/O run). No `vscode` here:
// the bench loads the engine the same way (bench/rss.js).

/**
 * Node's modules that loading dist/engine.js and the SDK's first request
 * require (`process.moduleLoadList`; test/core/engineLoad.test.ts keeps
 * this list whole).
 */
export const ENGINE_BUILTINS: readonly string[] = [
  'assert',
  'crypto',
  'diagnostics_channel',
  'fs/promises',
  'http',
  'http2',
  'https',
  'net',
  'os',
  'perf_hooks',
  'process',
  'stream',
  'stream/promises',
  'string_decoder',
  'tls',
  'worker_threads',
  'zlib',
];

const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Node's modules, then `load()` (the engine module), then each step of
 * `steps(module)` (the SDK, see BackupEngine.sdkSteps), with a turn of the
 * loop after each.
 */
export async function loadInTurns<T>(load: () => T, steps: (module: T) => Iterable<void>): Promise<T> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  for (const m of ENGINE_BUILTINS) require(m);
  await turn();
  const module = load();
  await turn();
  for (const _ of steps(module)) await turn();
  await turn();
  return module;
}
