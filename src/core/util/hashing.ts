/**
 * Hashing streams shared by the store, the layer writer, transports and the
 * registry client: count-and-hash on the way through, or verify against an
 * expected digest and size and fail instead of ending on a mismatch.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { TbahError } from '../errors.js';
import type { Digest } from '../oci.js';

/** A pass-through that hashes and counts what flows through it. */
export class HashCounter extends Transform {
  private readonly hash: Hash = createHash('sha256');
  size = 0;
  private result: Digest | undefined;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
  get digest(): Digest {
    this.result ??= `sha256:${this.hash.digest('hex')}` as Digest;
    return this.result;
  }
}

/** Verifies a stream against an expected digest and size; errors instead of ending on mismatch. */
export class VerifyingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private size = 0;
  constructor(private readonly expected: Digest, private readonly expectedSize: number | undefined, private readonly what: string) {
    super();
    if (!expected.startsWith('sha256:')) {
      throw new TbahError('unsupported', `${what}: digest algorithm of ${expected} is not supported`);
    }
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    if (this.expectedSize !== undefined && this.size > this.expectedSize) {
      cb(this.mismatch(`more than ${this.expectedSize} bytes`));
      return;
    }
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    if (this.expectedSize !== undefined && this.size !== this.expectedSize) {
      cb(this.mismatch(`${this.size} bytes, expected ${this.expectedSize}`));
      return;
    }
    const got = `sha256:${this.hash.digest('hex')}`;
    if (got !== this.expected) {
      cb(this.mismatch(`digest ${got}`));
      return;
    }
    cb();
  }
  private mismatch(detail: string): TbahError {
    return new TbahError('corrupt', `${this.what} ${this.expected} does not match its content (${detail})`, {
      hint: 'the blob is corrupt or was changed; pull or copy the image again',
    });
  }
}
