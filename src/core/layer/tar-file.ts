/**
 * Sequential writer of a tar file (oci-archive, docker-archive): headers from
 * the shared codec, bodies streamed from blobs. A regular file is written to a
 * temp name and renamed into place only when complete; /dev/null or a FIFO is
 * streamed into (util/fsx OutputFile).
 */
import type { Readable } from 'node:stream';
import { TbahError, errnoError } from '../errors.js';
import { OutputFile } from '../util/fsx.js';
import { encodeHeader } from './tar.js';
import type { TarHeader } from './tar-types.js';

const ZERO = Buffer.alloc(1024);

export class TarFileWriter {
  private constructor(private readonly out: OutputFile, readonly target: string) {}

  static async create(target: string): Promise<TarFileWriter> {
    return new TarFileWriter(await OutputFile.open(target, 'writing the archive'), target);
  }

  private async write(data: Uint8Array): Promise<void> {
    try {
      await this.out.fh.write(data);
    } catch (err) {
      throw errnoError(err, 'writing the archive', this.target);
    }
  }

  private header(name: string, type: 'file' | 'dir', size: number): TarHeader {
    return { name, type, mode: type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size, mtime: 0 };
  }

  async dir(name: string): Promise<void> {
    await this.write(encodeHeader(this.header(name, 'dir', 0)));
  }

  async file(name: string, data: Uint8Array): Promise<void> {
    await this.write(encodeHeader(this.header(name, 'file', data.length)));
    await this.write(data);
    await this.pad(data.length);
  }

  /** A body of known size from a stream; a size mismatch is an error, never a corrupt archive. */
  async stream(name: string, size: number, body: Readable): Promise<void> {
    await this.write(encodeHeader(this.header(name, 'file', size)));
    let n = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > size) break;
      await this.write(chunk);
    }
    if (n !== size) {
      body.destroy();
      throw new TbahError('corrupt', `${name}: expected ${size} bytes, got ${n > size ? 'more' : n}`, { hint: 'the blob changed or is corrupt' });
    }
    await this.pad(size);
  }

  private async pad(size: number): Promise<void> {
    const rem = size % 512;
    if (rem !== 0) await this.write(ZERO.subarray(0, 512 - rem));
  }

  async finish(): Promise<void> {
    await this.write(ZERO);
    await this.out.commit();
  }

  async abort(): Promise<void> {
    await this.out.abort();
  }
}
