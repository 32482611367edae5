// sendParts against the real server, with failures injected into the
// requests it sends: what it sends, in what order, and that a failure stops
// the upload with nothing left running.
import * as assert from 'assert';
import { randomBytes } from 'crypto';
import { Readable } from 'stream';
import * as sdk from '@aws-sdk/client-s3';
import { PartBuffers, sendParts } from '../../src/core/storage/multipart';
import { createTestBucket, requireS3Server, type TestBucket } from '../helpers/s3';

const PART = 5 * 1024 * 1024;

function bodyOf(size: number, chunk = 256 * 1024): { stream: Readable; data: Buffer } {
  const data = randomBytes(size);
  let off = 0;
  const stream = new Readable({
    read() {
      if (off >= data.length) return void this.push(null);
      this.push(data.subarray(off, off + chunk));
      off += chunk;
    },
  });
  return { stream, data };
}

describe('sendParts (multipart upload)', function () {
  this.timeout(120_000);
  let tb: TestBucket;

  before(async () => {
    requireS3Server();
    tb = await createTestBucket('multipart');
  });
  after(async () => tb?.cleanup());

  /** The real client's send, with a hook that may fail a request instead of sending it. */
  function sender(fail?: (command: unknown, n: number) => Error | undefined) {
    const sent: string[] = [];
    const bodies = new Set<ArrayBufferLike>();
    let inFlight = 0;
    let maxInFlight = 0;
    const send = async (command: unknown): Promise<unknown> => {
      const name = (command as object).constructor.name.replace(/Command$/, '');
      sent.push(name);
      const err = fail?.(command, sent.length);
      if (err) throw err;
      if (command instanceof sdk.UploadPartCommand) bodies.add((command.input.Body as Uint8Array).buffer);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        return await tb.client.send(command as never);
      } finally {
        inFlight--;
      }
    };
    return { send, sent, bodies, maxInFlight: () => maxInFlight };
  }

  it('sends a small body in one PutObject', async () => {
    const { stream, data } = bodyOf(100_000);
    const s = sender();
    await sendParts(s.send, sdk, { Bucket: tb.bucket, Key: 'small', ContentType: 'application/zip' }, stream, { partSize: PART, queueSize: 4, signal: new AbortController().signal });
    assert.deepStrictEqual(s.sent, ['PutObject']);
    assert.deepStrictEqual(await tb.getObject('small'), data);
  });

  it('sends parts of partSize, about queueSize at a time, from queueSize + 1 reused buffers', async () => {
    const { stream, data } = bodyOf(7 * PART + 1234);
    const s = sender();
    await sendParts(s.send, sdk, { Bucket: tb.bucket, Key: 'big', ContentType: 'application/zip' }, stream, { partSize: PART, queueSize: 2, signal: new AbortController().signal });
    assert.deepStrictEqual(s.sent, ['CreateMultipartUpload', ...Array(8).fill('UploadPart'), 'CompleteMultipartUpload']);
    // The last part goes out from the buffer being filled: queueSize + 1 at the very end.
    assert.ok(s.maxInFlight() <= 3, `${s.maxInFlight()} requests at once`);
    assert.ok(s.bodies.size <= 3, `${s.bodies.size} part buffers`);
    assert.deepStrictEqual(await tb.getObject('big'), data);
  });

  it('uploads one after the other share their part buffers, given back only once nothing sends, and let go when idle', async () => {
    const buffers = new PartBuffers(6);
    const s = sender();
    const one = bodyOf(4 * PART + 10);
    await sendParts(s.send, sdk, { Bucket: tb.bucket, Key: 'shared-1', ContentType: 'application/zip' }, one.stream, { partSize: PART, queueSize: 2, signal: new AbortController().signal, buffers });
    const first = new Set(s.bodies);
    assert.ok(first.size >= 1 && first.size <= 3 && buffers.held === first.size, `${first.size} buffers used, ${buffers.held} given back`);
    s.bodies.clear();
    const two = bodyOf(4 * PART + 20);
    await sendParts(s.send, sdk, { Bucket: tb.bucket, Key: 'shared-2', ContentType: 'application/zip' }, two.stream, { partSize: PART, queueSize: 2, signal: new AbortController().signal, buffers });
    assert.ok([...s.bodies].every((b) => first.has(b)), 'the second upload sent from the first one\'s buffers');
    assert.deepStrictEqual(await tb.getObject('shared-1'), one.data);
    assert.deepStrictEqual(await tb.getObject('shared-2'), two.data);
    // A failed upload gives its buffers back too, after its last request settled.
    const boom = Object.assign(new Error('injected'), { $metadata: { httpStatusCode: 500 } });
    const failing = sender((c) => (c instanceof sdk.UploadPartCommand && c.input.PartNumber === 2 ? boom : undefined));
    await assert.rejects(
      sendParts(failing.send, sdk, { Bucket: tb.bucket, Key: 'shared-3', ContentType: 'application/zip' }, bodyOf(4 * PART).stream, { partSize: PART, queueSize: 2, signal: new AbortController().signal, buffers }),
      (e) => e === boom,
    );
    assert.ok(buffers.held >= 1, 'given back after the failure');
    await new Promise((r) => setTimeout(r, 2300));
    assert.strictEqual(buffers.held, 0, 'let go once no upload took them for a while');
  });

  it('a failed part stops the upload: the first error is the one thrown, nothing is completed, nothing left running', async () => {
    const { stream } = bodyOf(6 * PART);
    const boom = Object.assign(new Error('injected'), { $metadata: { httpStatusCode: 500 } });
    let running = 0;
    const s = sender((c) => (c instanceof sdk.UploadPartCommand && c.input.PartNumber === 3 ? boom : undefined));
    const counting = async (command: unknown): Promise<unknown> => {
      running++;
      try {
        return await s.send(command);
      } finally {
        running--;
      }
    };
    await assert.rejects(
      sendParts(counting, sdk, { Bucket: tb.bucket, Key: 'failed', ContentType: 'application/zip' }, stream, { partSize: PART, queueSize: 2, signal: new AbortController().signal }),
      (e) => e === boom,
    );
    assert.strictEqual(running, 0, 'a request was still running after sendParts rejected');
    assert.ok(!s.sent.includes('CompleteMultipartUpload'));
    assert.ok(s.sent.filter((n) => n === 'UploadPart').length <= 5, `kept sending after the failure: ${s.sent.join(', ')}`);
    // The caller (S3Store.upload) aborts the upload by id; here the upload is simply left for cleanup.
    assert.ok(!(await tb.listObjects()).some((o) => o.key === 'failed'));
  });

  it('an abort ends the upload with CancelledError, even while the body is waiting for data', async () => {
    const ac = new AbortController();
    const stream = new Readable({ read() {} }); // never produces
    const p = sendParts(sender().send, sdk, { Bucket: tb.bucket, Key: 'aborted', ContentType: 'application/zip' }, stream, { partSize: PART, queueSize: 2, signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(p, (e: { code?: string }) => e.code === 'Cancelled');
  });
});
