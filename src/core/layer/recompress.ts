/**
 * A stored layer under another compression (`push --compression-format`):
 * decompress → compress → hash → disk in one streamed pass, made once and
 * remembered in the layer's meta so a second push reuses the blob.
 */
import { spawn } from 'node:child_process';
import { Duplex, PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TbahError } from '../errors.js';
import { type Descriptor, type ImageFormat, type LayerCompression, layerCompression, layerMediaType } from '../oci.js';
import { HashCounter } from '../util/hashing.js';
import type { Store } from '../store/store.js';
import { decompress } from './decompress.js';
import { createGzipStream } from './pgzip.js';

export type TargetCompression = 'gzip' | 'zstd';

/** The layer descriptor in `target` compression and `format` media type, compressing (once) when needed. */
export async function layerAs(store: Store, desc: Descriptor, format: ImageFormat, target: TargetCompression | undefined): Promise<Descriptor> {
  const current = layerCompression(desc.mediaType);
  const want: LayerCompression = target ?? current;
  const mediaType = layerMediaType(format, want);
  if (want === current) return { mediaType, digest: desc.digest, size: desc.size };
  const meta = await store.getLayerMeta(desc.digest);
  const known = meta?.variants?.[want as TargetCompression];
  // A variant blob is referenced by no image, so GC may have swept it: check before trusting the meta.
  if (known && (await store.blobs.has(known.digest))) return { mediaType, digest: known.digest, size: known.size };
  const w = await store.blobs.writer();
  try {
    const diff = new HashCounter();
    const blob = new HashCounter();
    await pipeline(decompress(await store.blobs.open(desc.digest, desc.size), desc.mediaType), diff, compressor(want as TargetCompression), blob, w.sink());
    if (meta && meta.diffId !== diff.digest) {
      throw new TbahError('corrupt', `layer ${desc.digest} does not match its diff ID ${meta.diffId}`, { hint: 'remove the image with `tbah rmi` and get it again' });
    }
    await w.commit(blob.digest);
    await store.putLayerMeta(blob.digest, { diffId: diff.digest, uncompressedSize: diff.size });
    await store.putLayerMeta(desc.digest, { diffId: diff.digest, variants: { [want]: { digest: blob.digest, size: blob.size } } });
    return { mediaType, digest: blob.digest, size: blob.size };
  } catch (err) {
    await w.abort();
    throw err;
  }
}

function compressor(c: TargetCompression): Duplex {
  return c === 'gzip' ? createGzipStream() : zstdStream();
}

/** Debian's zstd CLI at level 3 on all cores: faster than any npm binding measured (docs/architecture.md). */
export function zstdStream(): Duplex {
  const child = spawn('zstd', ['-3', '-T0', '-q', '-c', '--no-progress'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const duplex = Duplex.from({ writable: child.stdin, readable: out as Readable });
  child.stdout.pipe(out, { end: false });
  child.on('error', (err) => duplex.destroy(new TbahError('unsupported', `cannot run zstd: ${err.message}`, { hint: 'install zstd (apt-get install zstd)' })));
  child.on('close', (code) => {
    if (code === 0) out.end();
    else duplex.destroy(new TbahError('io', `zstd failed: ${stderr.trim() || `exit ${code}`}`));
  });
  duplex.on('close', () => {
    if (child.exitCode === null) child.kill();
  });
  return duplex;
}
