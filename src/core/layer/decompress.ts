/** Open a layer blob as an uncompressed tar stream, whatever its compression. */
import { spawn } from 'node:child_process';
import { createGunzip } from 'node:zlib';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TbahError } from '../errors.js';
import { type LayerCompression, layerCompression } from '../oci.js';
import { keep } from '../util/streams.js';

export function decompress(blob: Readable, mediaType: string): Readable {
  return decompressAs(blob, layerCompression(mediaType));
}

export function decompressAs(blob: Readable, c: LayerCompression): Readable {
  if (c === 'none') return blob;
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  out.on('error', keep); // an early error waits in `out` for its consumer (util/streams chain)
  if (c === 'gzip') {
    // Not pipeline(blob, gunzip, out): it would destroy `out` with zlib's bare
    // "unexpected end of file" before we could say which layer is corrupt.
    const gunzip = createGunzip({ chunkSize: 1 << 18 });
    const fail = (err: unknown): void => {
      out.destroy(asCorrupt(err));
      gunzip.destroy();
      blob.destroy();
    };
    blob.on('error', fail);
    gunzip.on('error', fail);
    out.on('close', () => { // a consumer that stops early stops the reading too
      if (!gunzip.destroyed) gunzip.destroy();
      if (!blob.destroyed) blob.destroy();
    });
    blob.pipe(gunzip).pipe(out);
    return out;
  }
  // zstd: Debian's zstd CLI is the fastest decoder available here (docs/architecture.md).
  const child = spawn('zstd', ['-dc', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.on('error', (err) => out.destroy(new TbahError('unsupported', `cannot run zstd to read a zstd layer: ${err.message}`, { hint: 'install zstd (apt-get install zstd)' })));
  pipeline(blob, child.stdin).catch((err: unknown) => out.destroy(asCorrupt(err)));
  child.stdout.pipe(out, { end: false });
  child.on('close', (code) => {
    if (code === 0) out.end();
    else out.destroy(new TbahError('corrupt', `zstd layer could not be decompressed: ${stderr.trim() || `exit ${code}`}`));
  });
  return out;
}

function asCorrupt(err: unknown): Error {
  if (err instanceof TbahError) return err;
  const e = err as Error;
  return new TbahError('corrupt', `layer could not be decompressed: ${e.message}`, { hint: 'the layer blob is corrupt or not in the format its media type says' });
}
