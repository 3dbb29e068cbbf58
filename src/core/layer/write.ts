/**
 * One pass per layer (brief: tar → hash → compress → hash → disk), streamed:
 * the diffID and the blob digest are computed on the way to the temp file and
 * no layer is ever held in memory. The compression is the caller's choice
 * (commit stores the tar as it is, through reused buffers; `commit
 * --compression-format gzip|zstd` compresses, zstd through the zstd CLI).
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { TbahError } from '../errors.js';
import { pipeline } from 'node:stream/promises';
import type { BlobStore } from '../store/blobs.js';
import { HashCounter } from '../util/hashing.js';
import type { Digest, LayerCompression } from '../oci.js';
import { createGzipStream } from './pgzip.js';
import { zstdStream } from './recompress.js';
import { packTar, tarChunks, type TarEntry } from './tar.js';

export interface WrittenLayer {
  /** Digest of the blob as stored (compressed). */
  digest: Digest;
  size: number;
  /** sha256 of the uncompressed tar. */
  diffId: Digest;
  uncompressedSize: number;
  compression: LayerCompression;
}

export async function writeLayerFromEntries(
  blobs: BlobStore, entries: AsyncIterable<TarEntry> | Iterable<TarEntry>, compression: LayerCompression = 'gzip',
): Promise<WrittenLayer> {
  if (compression === 'none') return writeTarLayer(blobs, entries);
  return writeLayerFromTar(blobs, packTar(entries), compression);
}

/**
 * An uncompressed layer (what commit stores): tar → sha256 → disk with the
 * tar's reused buffers (tarChunks), each chunk hashed and written before the
 * next is made, so memory stays flat whatever the layer's size.
 */
async function writeTarLayer(blobs: BlobStore, entries: AsyncIterable<TarEntry> | Iterable<TarEntry>): Promise<WrittenLayer> {
  const w = await blobs.writer();
  try {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of tarChunks(entries)) {
      hash.update(chunk);
      size += chunk.length;
      await w.write(chunk);
    }
    const digest = `sha256:${hash.digest('hex')}` as Digest;
    await w.commit(digest);
    return { digest, size, diffId: digest, uncompressedSize: size, compression: 'none' };
  } catch (err) {
    await w.abort();
    throw err;
  }
}

export async function writeLayerFromTar(blobs: BlobStore, tar: Readable, compression: LayerCompression = 'gzip'): Promise<WrittenLayer> {
  const w = await blobs.writer();
  try {
    const diff = new HashCounter();
    const blob = new HashCounter();
    if (compression === 'gzip') {
      await pipeline(tar, diff, createGzipStream(), blob, w.sink());
    } else if (compression === 'zstd') {
      await pipeline(tar, diff, zstdStream(), blob, w.sink());
    } else if (compression === 'none') {
      await pipeline(tar, diff, w.sink());
    } else {
      throw new TbahError('unsupported', `layer compression ${String(compression)} is not supported`, { hint: 'use gzip, zstd or none' });
    }
    const digest = compression === 'none' ? diff.digest : blob.digest;
    await w.commit(digest);
    return {
      digest,
      size: compression === 'none' ? diff.size : blob.size,
      diffId: diff.digest,
      uncompressedSize: diff.size,
      compression,
    };
  } catch (err) {
    await w.abort();
    throw err;
  }
}
