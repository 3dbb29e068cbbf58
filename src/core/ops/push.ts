/** `tbah push IMAGE [DEST]`: write a stored image to a registry, `oci:`, `oci-archive:` or `docker-archive:`. */
import type { Readable } from 'node:stream';
import { TbahError } from '../errors.js';
import { HashCounter } from '../util/hashing.js';
import { decompress } from '../layer/decompress.js';
import {
  type Descriptor, type ImageConfig, type ImageFormat, type ImageManifest, MediaType, checkImageConfig,
} from '../oci.js';
import { type ImageRef, parseImageRef } from '../refs.js';
import type { ImageRecord } from '../store/images.js';
import type { Store } from '../store/store.js';
import { type ArchiveImage, writeDockerArchive, writeOciArchive } from '../transports/archive.js';
import { writeOciLayout } from '../transports/oci-layout.js';
import { buildManifest, configForFormat } from '../image.js';
import { chain } from '../util/streams.js';
import { type TargetCompression, layerAs } from '../layer/recompress.js';
import { pushToRegistry } from '../transports/registry-push.js';
import { type RegistryOptions, withDefaultTag } from '../transports/registry.js';

export interface PushOptions extends RegistryOptions {
  image: string;
  /**
   * Destination: `docker://HOST/REPO[:TAG]` (the default transport),
   * `oci:DIR[:ref]`, `oci-archive:FILE[:ref]`, `docker-archive:FILE[:name:tag]`.
   * Default: `image` as typed, read as a registry reference (as Buildah).
   */
  dest?: string;
  /** Convert the manifest; default: keep it as stored (OCI for oci:, Docker for docker-archive:). */
  format?: ImageFormat;
  /** Layer compression at the destination; default: as stored. */
  compression?: TargetCompression;
}

export interface PushResult {
  /** Digest of the manifest written (for --digestfile). */
  manifestDigest: string;
}

/** The image as bytes in the requested format (unchanged when it already is). */
async function materialise(
  store: Store, rec: ImageRecord, format: ImageFormat | undefined, compression?: TargetCompression,
): Promise<ArchiveImage & { config: ImageConfig }> {
  let manifestBytes = await store.blobs.readBytes(rec.manifestDescriptor.digest);
  let manifest: ImageManifest = rec.manifest;
  let configBytes = await store.blobs.readBytes(rec.manifest.config.digest);
  let config = rec.config;
  let manifestDescriptor: Descriptor = { mediaType: rec.manifestDescriptor.mediaType, digest: rec.manifestDescriptor.digest, size: rec.manifestDescriptor.size };
  const current: ImageFormat = (manifest.mediaType ?? rec.manifestDescriptor.mediaType) === MediaType.dockerManifest ? 'docker' : 'oci';
  const target = format ?? current;
  if (target === 'docker' && compression === 'zstd') {
    throw new TbahError('invalid-argument', '--compression-format zstd needs an OCI manifest (Docker schema 2 has no zstd layers)', { hint: 'add --format oci' });
  }
  const layers = compression === undefined ? manifest.layers : await Promise.all(manifest.layers.map((d) => layerAs(store, d, target, compression)));
  if (target !== current || layers.some((l, i) => l.digest !== manifest.layers[i]!.digest)) {
    const cfg = target !== current ? configForFormat(config, target) : config;
    const c = target !== current ? await store.blobs.putJson(cfg) : { digest: manifest.config.digest, size: manifest.config.size, bytes: configBytes };
    configBytes = c.bytes;
    config = checkImageConfig(cfg);
    manifest = buildManifest(target, { mediaType: '', digest: c.digest, size: c.size },
      layers.map((d, i) => ({ descriptor: d, diffId: config.rootfs.diff_ids[i]! })), target === 'oci' ? (rec.manifest.annotations ?? {}) : {});
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
  const ref = checkPushTarget(opts.dest ?? opts.image, opts.format);
  const c = opts.compression;
  return store.withBlobs(async () => {
    const rec = await store.images.get(opts.image);
    switch (ref.transport) {
      case 'oci': {
        const img = await materialise(store, rec, opts.format ?? 'oci', c);
        await writeOciLayout(ref.path, { blobFile: (d) => store.blobs.path(d) },
          { descriptor: img.manifestDescriptor, blobs: [...img.manifest.layers.map((l) => l.digest), img.manifest.config.digest, img.manifestDescriptor.digest] }, ref.ref);
        return { manifestDigest: img.manifestDescriptor.digest };
      }
      case 'oci-archive': {
        const img = await materialise(store, rec, opts.format ?? 'oci', c);
        await writeOciArchive(ref.path, img, ref.ref);
        return { manifestDigest: img.manifestDescriptor.digest };
      }
      case 'docker-archive': {
        const img = await materialise(store, rec, 'docker', c);
        await writeDockerArchive(ref.path, img, img.config, ref.ref);
        return { manifestDigest: img.manifestDescriptor.digest };
      }
      case 'docker': {
        const img = await materialise(store, rec, opts.format, c);
        const digest = await pushToRegistry(store, {
          manifest: img.manifest, manifestBytes: img.manifestBytes, manifestMediaType: img.manifestDescriptor.mediaType, openBlob: img.openBlob,
        }, withDefaultTag(ref.ref), opts);
        return { manifestDigest: digest };
      }
      case 'store':
        throw new TbahError('invalid-reference', `push destination ${opts.dest} names no transport`, { hint: 'use oci:DIR, oci-archive:FILE or docker-archive:FILE' });
    }
  });
}
