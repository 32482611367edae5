import { randomBytes } from 'crypto';
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type * as S3 from '@aws-sdk/client-s3';
import { throwIfAborted } from '../util/engineErrors';

type Sdk = typeof S3;

/** What the fallback needs of the store. */
export interface FallbackStore {
  head(key: string, o: { signal?: AbortSignal }): Promise<unknown>;
  putFile(key: string, file: string, size: number, signal: AbortSignal): Promise<string | undefined>;
}

/**
 * Plays the server's side of a multipart upload for a server that refused
 * one: parts are spooled to a temporary file at their offsets, and "complete"
 * sends that file in a single PutObject.
 */
export class SinglePutFallback {
  active = false;
  private file: string | undefined;
  private handleP: Promise<fsp.FileHandle> | undefined;
  private size = 0;

  constructor(
    private readonly store: FallbackStore,
    private readonly key: string,
    private readonly partSize: number,
    private readonly tmpDir: string | undefined,
  ) {}

  async handle(command: { input: Record<string, unknown> }, s3: Sdk, signal: AbortSignal): Promise<unknown> {
    this.active = true;
    if (command instanceof s3.CreateMultipartUploadCommand) {
      this.file = path.join(this.tmpDir ?? os.tmpdir(), `s3-backup-put-${randomBytes(6).toString('hex')}.tmp`);
      this.handleP = fsp.open(this.file, 'wx+');
      await this.handleP;
      return { UploadId: 'single-put-fallback', $metadata: {} };
    }
    if (command instanceof s3.UploadPartCommand) {
      throwIfAborted(signal);
      const fh = await this.handleP!;
      const data = command.input.Body as Uint8Array;
      const offset = ((command.input.PartNumber as number) - 1) * this.partSize;
      await fh.write(data, 0, data.length, offset);
      this.size = Math.max(this.size, offset + data.length);
      return { ETag: `"part-${command.input.PartNumber as number}"`, $metadata: {} };
    }
    if (command instanceof s3.CompleteMultipartUploadCommand) {
      const fh = await this.handleP!;
      await fh.sync();
      if (await this.store.head(this.key, { signal })) {
        throw Object.assign(new Error('exists'), { name: 'PreconditionFailed', Code: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
      }
      const etag = await this.store.putFile(this.key, this.file!, this.size, signal);
      await this.dispose();
      return { ETag: etag, Key: this.key, $metadata: {} };
    }
    if (command instanceof s3.AbortMultipartUploadCommand) {
      await this.dispose();
      return { $metadata: {} };
    }
    throw new Error('Unexpected request during a single-PUT upload.');
  }

  async dispose(): Promise<void> {
    const p = this.handleP;
    const file = this.file;
    this.handleP = undefined;
    this.file = undefined;
    if (p) await (await p.catch(() => undefined))?.close().catch(() => undefined);
    if (file) await fsp.rm(file, { force: true });
  }
}
