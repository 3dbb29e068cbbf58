/**
 * Content-addressed blobs in an OCI layout (`blobs/sha256/<hex>`). Writes
 * stream into a temp file while hashing, then fsync + rename; reads verify the
 * digest as they stream, so a corrupt blob fails loudly instead of being used.
 */
import { createHash } from 'node:crypto';
import { promises as fsp, constants } from 'node:fs';
import * as path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TbahError, diskError, isErrno, noteStoreRoot } from '../errors.js';
import { type Digest, isDigest } from '../oci.js';
import { fsyncDir, pathExists, readdirOrEmpty, tempName } from '../util/fsx.js';
import { HashCounter, VerifyingStream } from '../util/hashing.js';
import { chain } from '../util/streams.js';

export function blobPath(blobsDir: string, digest: Digest): string {
  const i = digest.indexOf(':');
  return path.join(blobsDir, digest.slice(0, i), digest.slice(i + 1));
}

export class BlobStore {
  constructor(readonly blobsDir: string, readonly tmpDir: string) {
    noteStoreRoot(path.dirname(blobsDir)); // a full disk under it is reported as the store's
  }

  path(digest: Digest): string {
    return blobPath(this.blobsDir, digest);
  }

  has(digest: Digest): Promise<boolean> {
    return pathExists(this.path(digest));
  }

  async size(digest: Digest): Promise<number> {
    try {
      return (await fsp.stat(this.path(digest))).size;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw this.missing(digest);
      throw err;
    }
  }

  /** A verified read stream. */
  async open(digest: Digest, size?: number): Promise<Readable> {
    const file = this.path(digest);
    const fh = await fsp.open(file, constants.O_RDONLY).catch((err: unknown) => {
      if (isErrno(err, 'ENOENT')) throw this.missing(digest);
      throw err;
    });
    const raw = fh.createReadStream({ highWaterMark: 1 << 20 }); // owns and closes the handle
    const verify = new VerifyingStream(digest, size, 'blob');
    return chain(raw, verify); // errors reach the reader; a reader that stops early closes the fd
  }

  /** Read and verify a small blob (manifest, config). */
  async readBytes(digest: Digest): Promise<Buffer> {
    let data: Buffer;
    try {
      data = await fsp.readFile(this.path(digest));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw this.missing(digest);
      throw err;
    }
    const got = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    if (got !== digest) {
      throw new TbahError('corrupt', `blob ${digest} in the store does not match its content`, {
        hint: 'the store was modified by hand or the disk is failing; remove the image and pull or build it again',
      });
    }
    return data;
  }

  async readJson<T>(digest: Digest): Promise<T> {
    return JSON.parse((await this.readBytes(digest)).toString('utf8')) as T;
  }

  async putBytes(data: Uint8Array): Promise<{ digest: Digest; size: number }> {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
    if (!(await this.has(digest))) {
      const w = await this.writer();
      try {
        await w.write(data);
        await w.commit(digest);
      } catch (err) {
        await w.abort();
        throw diskError(err, 'writing', this.tmpDir);
      }
    }
    return { digest, size: data.length };
  }

  async putJson(value: unknown): Promise<{ digest: Digest; size: number; bytes: Buffer }> {
    const bytes = Buffer.from(JSON.stringify(value));
    const { digest, size } = await this.putBytes(bytes);
    return { digest, size, bytes };
  }

  /** Stream `src` into the store; returns its digest. With `expected`, a mismatch stores nothing. */
  async putStream(src: Readable, expected?: { digest: Digest; size?: number }): Promise<{ digest: Digest; size: number }> {
    const w = await this.writer();
    try {
      const counter = new HashCounter();
      if (expected) await pipeline(src, new VerifyingStream(expected.digest, expected.size, 'blob'), counter, w.sink());
      else await pipeline(src, counter, w.sink());
      await w.commit(counter.digest);
      return { digest: counter.digest, size: counter.size };
    } catch (err) {
      await w.abort();
      throw diskError(err, 'writing', this.tmpDir);
    }
  }

  /** A temp file in the store that becomes a blob on commit. */
  async writer(): Promise<BlobWriter> {
    const tmp = tempName(path.join(this.tmpDir, 'blob'));
    try {
      await fsp.mkdir(this.tmpDir, { recursive: true });
      return new BlobWriter(this, await fsp.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644), tmp);
    } catch (err) {
      throw diskError(err, 'writing', this.tmpDir);
    }
  }

  missing(digest: Digest): TbahError {
    return new TbahError('corrupt', `blob ${digest} is missing from the store`, {
      hint: 'the store is incomplete; remove the image and pull or build it again',
    });
  }

  async *list(): AsyncGenerator<Digest> {
    for (const n of await readdirOrEmpty(path.join(this.blobsDir, 'sha256'))) {
      const d = `sha256:${n}`;
      if (isDigest(d)) yield d;
    }
  }
}

export class BlobWriter {
  private closed = false;
  constructor(private readonly store: BlobStore, private readonly fh: fsp.FileHandle, readonly tmpPath: string) {}

  async write(data: Uint8Array): Promise<void> {
    for (let off = 0; off < data.length;) {
      const { bytesWritten } = await this.fh.write(data, off, data.length - off);
      off += bytesWritten;
    }
  }

  sink(): Writable {
    const fh = this.fh;
    return new Writable({
      highWaterMark: 1 << 20,
      writev(chunks, cb) {
        fh.writev(chunks.map((c) => c.chunk as Buffer)).then(() => cb(), cb);
      },
      write(chunk: Buffer, _enc, cb) {
        fh.write(chunk).then(() => cb(), cb);
      },
    });
  }

  async commit(digest: Digest): Promise<string> {
    await this.fh.sync();
    await this.fh.close();
    this.closed = true;
    const dest = this.store.path(digest);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    await fsp.rename(this.tmpPath, dest);
    await fsyncDir(path.dirname(dest));
    return dest;
  }

  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.fh.close().catch(() => undefined);
    }
    await fsp.rm(this.tmpPath, { force: true });
  }
}
