/**
 * `tbah push IMAGE [DEST]`: write a stored image to a registry, `oci:`,
 * `oci-archive:`, `docker-archive:`, `dir:` or a containers/storage store.
 * `writeImageTo` is the same for a caller that already holds the image
 * (commit to a destination). Each destination's code is loaded only when used,
 * so a registry push does not load the archive and layer machinery.
 */
import type { Readable } from 'node:stream';
import { TbahError } from '../errors.js';
import {
  type Descriptor, type ImageConfig, type ImageFormat, type ImageManifest, MediaType, checkImageConfig,
} from '../oci.js';
import { type ImageRef, formatImageRef, parseImageRef } from '../refs.js';
import type { ImageRecord } from '../store/images.js';
import type { Store } from '../store/store.js';
import type { ArchiveImage } from '../transports/archive.js';
import { buildManifest, configForFormat } from '../image.js';
import type { TargetCompression } from '../layer/recompress.js';
import { type RegistryOptions, checkAuthFile, withDefaultTag } from '../transports/registry.js';

export interface PushOptions extends RegistryOptions {
  image: string;
  /**
   * Destination: `docker://HOST/REPO[:TAG]` (the default transport),
   * `oci:DIR[:ref]`, `oci-archive:FILE[:ref]`, `docker-archive:FILE[:name:tag]`,
   * `dir:DIR`, `containers-storage:[STORE]NAME`.
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
  let layers = manifest.layers;
  if (compression !== undefined) {
    const { layerAs } = await import('../layer/recompress.js');
    layers = await Promise.all(manifest.layers.map((d) => layerAs(store, d, target, compression)));
  }
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
      const [{ decompress }, { HashCounter }, { chain }] = await Promise.all([
        import('../layer/decompress.js'), import('../util/hashing.js'), import('../util/streams.js'),
      ]);
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
      hint: 'use --format oci, or write docker-archive:FILE or dir:DIR',
    });
  }
  if (ref.transport === 'store') {
    throw new TbahError('invalid-reference', `push destination ${dest} names no transport`, { hint: 'use oci:DIR, oci-archive:FILE, docker-archive:FILE or dir:DIR' });
  }
  return ref;
}

/** Every blob a manifest names: layers, then config. */
function blobsOf(m: ImageManifest): Descriptor['digest'][] {
  return [...m.layers.map((l) => l.digest), m.config.digest];
}

/**
 * Write a stored image to a destination (parsed with checkPushTarget).
 * The caller holds the store's blobs (`store.withBlobs`) for the duration;
 * commit calls this after writing the image, push after finding it.
 */
export async function writeImageTo(store: Store, rec: ImageRecord, ref: ImageRef, opts: Omit<PushOptions, 'image' | 'dest'> = {}): Promise<PushResult> {
  const c = opts.compression;
  const dest = formatImageRef(ref);
  switch (ref.transport) {
    case 'oci': {
      const [img, { writeOciLayout }] = await Promise.all([materialise(store, rec, opts.format ?? 'oci', c), import('../transports/oci-layout.js')]);
      await writeOciLayout(ref.path, { blobFile: (d) => store.blobs.path(d) },
        { descriptor: img.manifestDescriptor, blobs: [...blobsOf(img.manifest), img.manifestDescriptor.digest] }, ref.ref);
      return { manifestDigest: img.manifestDescriptor.digest };
    }
    case 'oci-archive': {
      const [img, { writeOciArchive }] = await Promise.all([materialise(store, rec, opts.format ?? 'oci', c), import('../transports/archive.js')]);
      await writeOciArchive(ref.path, img, ref.ref);
      return { manifestDigest: img.manifestDescriptor.digest };
    }
    case 'docker-archive': {
      const [img, { writeDockerArchive }] = await Promise.all([materialise(store, rec, 'docker', c), import('../transports/archive.js')]);
      await writeDockerArchive(ref.path, img, img.config, ref.ref);
      return { manifestDigest: img.manifestDescriptor.digest };
    }
    case 'dir': {
      const [img, { writeDirImage }] = await Promise.all([materialise(store, rec, opts.format, c), import('../transports/dir.js')]);
      await writeDirImage(ref.path, { manifestBytes: img.manifestBytes, blobs: blobsOf(img.manifest), blobFile: (d) => store.blobs.path(d) });
      return { manifestDigest: img.manifestDescriptor.digest };
    }
    case 'containers-storage': {
      const cs = await import('../transports/containers-storage.js');
      const name = cs.storageDestName(ref.name, dest);
      await cs.requireStorage(ref.store, dest);
      const [img, { writeDirImage }] = await Promise.all([materialise(store, rec, opts.format, c), import('../transports/dir.js')]);
      // skopeo reads a dir: image (any manifest format) from the store's temp space.
      const tmp = await store.tempDir('containers-storage');
      try {
        await writeDirImage(tmp, { manifestBytes: img.manifestBytes, blobs: blobsOf(img.manifest), blobFile: (d) => store.blobs.path(d) });
        await cs.copyDirIntoStorage(tmp, ref.store, name, dest);
      } finally {
        const { removeTree } = await import('../util/fsx.js');
        await removeTree(tmp);
      }
      return { manifestDigest: img.manifestDescriptor.digest };
    }
    case 'docker': {
      const [img, { pushToRegistry }] = await Promise.all([materialise(store, rec, opts.format, c), import('../transports/registry-push.js')]);
      const digest = await pushToRegistry(store, {
        manifest: img.manifest, manifestBytes: img.manifestBytes, manifestMediaType: img.manifestDescriptor.mediaType, openBlob: img.openBlob,
      }, withDefaultTag(ref.ref), opts);
      return { manifestDigest: digest };
    }
    case 'store':
      throw new TbahError('invalid-reference', `push destination ${dest} names no transport`, { hint: 'use oci:DIR, oci-archive:FILE, docker-archive:FILE or dir:DIR' });
  }
}

export async function pushImage(store: Store, opts: PushOptions): Promise<PushResult> {
  const ref = checkPushTarget(opts.dest ?? opts.image, opts.format);
  // As Buildah: a named auth file must exist, whatever the destination.
  await checkAuthFile(opts.authFile);
  return store.withBlobs(async () => writeImageTo(store, await store.images.get(opts.image), ref, opts));
}
