/** `tbah push IMAGE DEST`: write a stored image to `oci:`, `oci-archive:` or `docker-archive:`. */
import type { Readable } from 'node:stream';
import { TbahError } from '../errors.js';
import { HashCounter } from '../store/blobs.js';
import { decompress } from '../layer/decompress.js';
import {
  type Descriptor, type ImageConfig, type ImageFormat, type ImageManifest, MediaType, checkImageConfig,
} from '../oci.js';
import { type ImageRef, parseImageRef } from '../refs.js';
import type { ImageRecord } from '../store/images.js';
import type { Store } from '../store/store.js';
import { type ArchiveImage, writeDockerArchive, writeOciArchive } from '../transports/archive.js';
import { writeOciLayout } from '../transports/oci-layout.js';
import { buildManifest, configForFormat } from './commit.js';
import { chain } from '../util/streams.js';

export interface PushOptions {
  image: string;
  /** Destination reference: `oci:DIR[:ref]`, `oci-archive:FILE[:ref]`, `docker-archive:FILE[:name:tag]`. */
  dest: string;
  /** Convert the manifest; default: keep it as stored (OCI for oci:, Docker for docker-archive:). */
  format?: ImageFormat;
}

export interface PushResult {
  /** Digest of the manifest written (for --digestfile). */
  manifestDigest: string;
}

/** The image as bytes in the requested format (unchanged when it already is). */
async function materialise(store: Store, rec: ImageRecord, format: ImageFormat | undefined): Promise<ArchiveImage & { config: ImageConfig }> {
  let manifestBytes = await store.blobs.readBytes(rec.manifestDescriptor.digest);
  let manifest: ImageManifest = rec.manifest;
  let configBytes = await store.blobs.readBytes(rec.manifest.config.digest);
  let config = rec.config;
  let manifestDescriptor: Descriptor = { mediaType: rec.manifestDescriptor.mediaType, digest: rec.manifestDescriptor.digest, size: rec.manifestDescriptor.size };
  const current: ImageFormat = (manifest.mediaType ?? rec.manifestDescriptor.mediaType) === MediaType.dockerManifest ? 'docker' : 'oci';
  if (format && format !== current) {
    const cfg = configForFormat(config, format);
    const c = await store.blobs.putJson(cfg);
    configBytes = c.bytes;
    config = checkImageConfig(cfg);
    manifest = buildManifest(format, { mediaType: '', digest: c.digest, size: c.size },
      manifest.layers.map((d, i) => ({ descriptor: d, diffId: config.rootfs.diff_ids[i]! })), format === 'oci' ? (rec.manifest.annotations ?? {}) : {});
    const m = await store.blobs.putJson(manifest);
    manifestBytes = m.bytes;
    manifestDescriptor = { mediaType: manifest.mediaType!, digest: m.digest, size: m.size };
  }
  return {
    manifestDescriptor, manifestBytes, manifest, configBytes, config,
    openBlob: (d: Descriptor) => store.blobs.open(d.digest, d.size),
    async openUncompressedLayer(i: number): Promise<{ size: number; stream: Readable }> {
      const d = manifest.layers[i]!;
      let meta = await store.getLayerMeta(d.digest);
      if (meta?.uncompressedSize === undefined) {
        // Not known yet (imported compressed): measure once and remember.
        const counter = new HashCounter();
        for await (const _ of chain(decompress(await store.blobs.open(d.digest, d.size), d.mediaType), counter)) { /* count */ }
        meta = { diffId: counter.digest, uncompressedSize: counter.size };
        await store.putLayerMeta(d.digest, meta);
      }
      return { size: meta.uncompressedSize!, stream: decompress(await store.blobs.open(d.digest, d.size), d.mediaType) };
    },
  };
}

/** Refuse a destination/format pair up front, before any work or change. */
export function checkPushTarget(dest: string, format: ImageFormat | undefined): ImageRef {
  const ref = parseImageRef(dest, 'docker');
  if (format === 'docker' && (ref.transport === 'oci' || ref.transport === 'oci-archive')) {
    // Other tools (containers/image, umoci) only read OCI manifests from a layout.
    throw new TbahError('invalid-argument', `--format docker cannot be written to ${ref.transport}: (an OCI layout holds OCI manifests)`, {
      hint: 'use --format oci, or write docker-archive:FILE',
    });
  }
  return ref;
}

export async function pushImage(store: Store, opts: PushOptions): Promise<PushResult> {
  const ref = checkPushTarget(opts.dest, opts.format);
  return store.withBlobs(async () => {
    const rec = await store.images.get(opts.image);
    switch (ref.transport) {
      case 'oci': {
        const img = await materialise(store, rec, opts.format ?? 'oci');
        await writeOciLayout(ref.path, { blobFile: (d) => store.blobs.path(d) },
          { descriptor: img.manifestDescriptor, blobs: [...img.manifest.layers.map((l) => l.digest), img.manifest.config.digest, img.manifestDescriptor.digest] }, ref.ref);
        return { manifestDigest: img.manifestDescriptor.digest };
      }
      case 'oci-archive': {
        const img = await materialise(store, rec, opts.format ?? 'oci');
        await writeOciArchive(ref.path, img, ref.ref);
        return { manifestDigest: img.manifestDescriptor.digest };
      }
      case 'docker-archive': {
        const img = await materialise(store, rec, 'docker');
        await writeDockerArchive(ref.path, img, img.config, ref.ref);
        return { manifestDigest: img.manifestDescriptor.digest };
      }
      case 'docker':
        throw new TbahError('unsupported', `push to a registry (${opts.dest}) is not available in this version of tbah`, {
          hint: 'write oci:DIR, oci-archive:FILE or docker-archive:FILE, then `skopeo copy` it',
        });
      case 'store':
        throw new TbahError('invalid-reference', `push destination ${opts.dest} names no transport`, { hint: 'use oci:DIR, oci-archive:FILE or docker-archive:FILE' });
    }
  });
}
