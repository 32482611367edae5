/* eslint-disable @typescript-eslint/no-require-imports */
// The AWS SDK's module graph, in layers. Requiring @aws-sdk/client-s3 sets up
// ~500 KB of modules in one synchronous stretch (~40-65 ms), too long for the
// extension host's shared event loop. Its larger dependencies, required
// first, each in a turn of its own, leave the client's own set-up short: a
// package's module runs once, and client-s3 then finds them loaded. The
// extension's build makes this file a bundle of its own, dist/sdk.js, so that
// compiling the engine's bundle and the SDK's are separate stretches too
// (esbuild.js). A test checks that each layer is the copy client-s3 loads.
import type * as S3 from '@aws-sdk/client-s3';

/** Client-s3's dependencies, heaviest set-up first, each one step. */
export const SDK_LAYERS: ReadonlyArray<readonly [name: string, load: () => unknown]> = [
  ['@smithy/core', () => require('@smithy/core')],
  ['@aws-sdk/core', () => require('@aws-sdk/core')],
  ['@smithy/node-http-handler', () => require('@smithy/node-http-handler')],
  ['@aws-sdk/middleware-sdk-s3', () => require('@aws-sdk/middleware-sdk-s3')],
  ['@aws-sdk/checksums', () => require('@aws-sdk/checksums')],
];

/** The S3 client's module (its dependencies already loaded when SDK_LAYERS ran). */
export function clientS3(): typeof S3 {
  return require('@aws-sdk/client-s3') as typeof S3;
}

/** Every step at once: what a worker thread runs to make V8's code cache of this bundle (extension/host/engineLoad.ts). */
export function setUpAll(): void {
  for (const [, load] of SDK_LAYERS) load();
  clientS3();
}
