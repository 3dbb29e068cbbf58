/**
 * `tbah inspect`: one JSON document for a container or an image, with
 * Buildah's top-level keys so scripts written for `buildah inspect` keep working.
 */
import { TbahError } from '../errors.js';
import { configForFormat } from './commit.js';
import type { ContainerState } from '../store/containers.js';
import type { ImageRecord } from '../store/images.js';
import type { Store } from '../store/store.js';

export type InspectType = 'container' | 'image';

export async function inspectObject(store: Store, spec: string, type?: InspectType): Promise<Record<string, unknown>> {
  if (type !== 'image') {
    const c = await store.containers.find(spec);
    if (c) return await inspectContainer(store, c);
    if (type === 'container') throw new TbahError('not-found', `${spec}: container not known`, { hint: 'see `tbah containers`' });
  }
  const img = await store.images.find(spec);
  if (img) return inspectImage(store, img);
  throw new TbahError('not-found', `${spec}: no such container or image`, { hint: 'see `tbah containers` and `tbah images`' });
}

async function inspectContainer(store: Store, c: ContainerState): Promise<Record<string, unknown>> {
  const oci = configForFormat(c.image.config, 'oci');
  const docker = configForFormat(c.image.config, 'docker');
  // Buildah shows the base image's manifest here; scratch has none.
  const manifest = c.fromImageDigest
    ? await store.blobs.readBytes(c.fromImageDigest).then((b) => b.toString('utf8'), () => '')
    : '';
  return {
    Type: 'tbah 0.0.1',
    FromImage: c.fromImage ?? '',
    FromImageID: c.fromImageId ? c.fromImageId.slice(7) : '',
    FromImageDigest: c.fromImageDigest ?? '',
    Config: JSON.stringify(c.format === 'docker' ? docker : oci),
    Manifest: manifest,
    Container: c.name,
    ContainerID: c.id,
    MountPoint: c.mounted ? store.containers.rootfs(c.id) : '',
    ImageAnnotations: c.image.annotations,
    ImageCreatedBy: c.image.createdBy ?? '',
    OCIv1: oci,
    Docker: docker,
    Format: c.format,
    Driver: c.driver,
    Layers: c.layers.map((l) => ({ digest: l.descriptor.digest, size: l.descriptor.size, diffID: l.diffId, mediaType: l.descriptor.mediaType })),
    History: c.image.config.history ?? [],
    Created: c.created,
  };
}

async function inspectImage(store: Store, img: ImageRecord): Promise<Record<string, unknown>> {
  const manifestBytes = (await store.blobs.readBytes(img.manifestDescriptor.digest)).toString('utf8');
  const configBytes = (await store.blobs.readBytes(img.manifest.config.digest)).toString('utf8');
  return {
    Type: 'image',
    FromImage: img.names[0] ?? '',
    FromImageID: img.id.slice(7),
    FromImageDigest: img.manifestDescriptor.digest,
    Names: img.names,
    Config: configBytes,
    Manifest: manifestBytes,
    ManifestType: img.manifestDescriptor.mediaType,
    ImageAnnotations: img.manifest.annotations ?? {},
    OCIv1: configForFormat(img.config, 'oci'),
    Docker: configForFormat(img.config, 'docker'),
    History: img.config.history ?? [],
  };
}
