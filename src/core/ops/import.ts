/**
 * Getting an image into the store from any source, and resolving what a user
 * typed (a store name or ID, or a transport reference) to a stored image.
 */
import { TbahError } from '../errors.js';
import type { Descriptor } from '../oci.js';
import { type ImageRef, formatDockerReference, parseImageRef, parseLocalName } from '../refs.js';
import type { ImageRecord } from '../store/images.js';
import type { Store } from '../store/store.js';
import { openDockerArchive, openOciArchive } from '../transports/archive.js';
import { openOciLayout } from '../transports/oci-layout.js';
import type { SourceImage } from '../transports/source.js';

/** Copy a source image's blobs (verified while streaming) into the store, then name it. */
export async function importImage(store: Store, src: SourceImage, names: string[]): Promise<ImageRecord> {
  return store.withBlobs(async () => {
    const diffIds = src.config.rootfs.diff_ids;
    if (diffIds.length !== src.manifest.layers.length) {
      throw new TbahError('corrupt', `image has ${src.manifest.layers.length} layers but its config lists ${diffIds.length} diff IDs`);
    }
    for (const [i, layer] of src.manifest.layers.entries()) {
      if (!(await store.blobs.has(layer.digest))) {
        await store.blobs.putStream(await src.openLayer(layer), { digest: layer.digest, size: layer.size });
      }
      await store.putLayerMeta(layer.digest, { diffId: diffIds[i]! });
    }
    await store.blobs.putBytes(src.configBytes);
    const m = await store.blobs.putBytes(src.manifestBytes);
    const desc: Descriptor = { mediaType: src.manifestMediaType, digest: m.digest, size: m.size };
    await store.withIndexLock(() => store.images.addNames(desc, names));
    return (await store.images.byManifest(desc.digest)) ?? store.images.load(desc, names);
  });
}

/** Open a non-store transport as a source image. Caller must close it. */
export async function openSource(store: Store, ref: ImageRef, label: string): Promise<SourceImage> {
  switch (ref.transport) {
    case 'oci':
      return openOciLayout(ref.path, ref.ref, label);
    case 'oci-archive':
      return openOciArchive(ref.path, ref.ref, await store.tempDir('oci-archive'), label);
    case 'docker-archive':
      return openDockerArchive(ref.path, { ...(ref.ref ? { ref: ref.ref } : {}), ...(ref.index !== undefined ? { index: ref.index } : {}) }, await store.tempDir('docker-archive'), label);
    case 'docker':
      throw new TbahError('unsupported', `${label}: pulling from a registry (docker://) is not available in this version of tbah`, {
        hint: 'save the image with `skopeo copy docker://… oci-archive:FILE` and use oci-archive:FILE',
      });
    case 'store':
      throw new TbahError('internal', 'openSource called for a store name');
  }
}

/** The store name an imported image gets: the source's own full name, or the ref as a local name. */
function importNames(src: SourceImage, ref: ImageRef): string[] {
  if (src.name) return [src.name];
  if ((ref.transport === 'oci' || ref.transport === 'oci-archive') && ref.ref) {
    try {
      return [formatDockerReference(parseLocalName(ref.ref))];
    } catch {
      return [];
    }
  }
  return [];
}

/** Resolve a user's image argument to a stored image, importing from a transport when one is named. */
export async function resolveImage(store: Store, spec: string): Promise<ImageRecord> {
  const ref = parseImageRef(spec, 'store');
  if (ref.transport === 'store') return store.images.get(ref.name);
  const src = await openSource(store, ref, spec);
  try {
    return await importImage(store, src, importNames(src, ref));
  } finally {
    await src.close();
  }
}
