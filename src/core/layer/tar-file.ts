/**
 * Sequential writer of a tar file (oci-archive, docker-archive): headers from
 * the shared codec, bodies streamed from blobs, written to a temp file that is
 * fsynced and renamed into place only when complete.
 */
import { promises as fsp, constants } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { TbahError } from '../errors.js';
import { fsyncDir, tempName } from '../util/fsx.js';
import { encodeHeader } from './tar.js';
import type { TarHeader } from './tar-types.js';

const ZERO = Buffer.alloc(1024);

export class TarFileWriter {
  private constructor(private readonly fh: fsp.FileHandle, private readonly tmp: string, readonly target: string) {}

  static async create(target: string): Promise<TarFileWriter> {
    const tmp = tempName(target);
    const fh = await fsp.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    return new TarFileWriter(fh, tmp, target);
  }

  private header(name: string, type: 'file' | 'dir', size: number): TarHeader {
    return { name, type, mode: type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size, mtime: 0 };
  }

  async dir(name: string): Promise<void> {
    await this.fh.write(encodeHeader(this.header(name, 'dir', 0)));
  }

  async file(name: string, data: Uint8Array): Promise<void> {
    await this.fh.write(encodeHeader(this.header(name, 'file', data.length)));
    await this.fh.write(data);
    await this.pad(data.length);
  }

  /** A body of known size from a stream; a size mismatch is an error, never a corrupt archive. */
  async stream(name: string, size: number, body: Readable): Promise<void> {
    await this.fh.write(encodeHeader(this.header(name, 'file', size)));
    let n = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > size) break;
      await this.fh.write(chunk);
    }
    if (n !== size) {
      body.destroy();
      throw new TbahError('corrupt', `${name}: expected ${size} bytes, got ${n > size ? 'more' : n}`, { hint: 'the blob changed or is corrupt' });
    }
    await this.pad(size);
  }

  private async pad(size: number): Promise<void> {
    const rem = size % 512;
    if (rem !== 0) await this.fh.write(ZERO.subarray(0, 512 - rem));
  }

  async finish(): Promise<void> {
    await this.fh.write(ZERO);
    await this.fh.sync();
    await this.fh.close();
    await fsp.rename(this.tmp, this.target);
    await fsyncDir(path.dirname(this.target));
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await fsp.rm(this.tmp, { force: true });
  }
}
