/**
 * `tbah inspect`: one JSON document for a container or an image, with
 * Buildah's top-level keys so scripts written for `buildah inspect` keep working.
 */
import { TbahError } from '../errors.js';
import { mountPointOf } from '../driver/index.js';
import { configForFormat } from '../image.js';
import { type Platform, checkImageConfig, digestHex } from '../oci.js';
import { formatDockerReference, parseImageRef } from '../refs.js';
import { type RegistryOptions, clientFor, fetchImageManifest, readSmallBlob, withDefaultTag } from '../transports/registry.js';
import type { ContainerState } from '../store/containers.js';
import type { ImageRecord } from '../store/images.js';
import type { Store } from '../store/store.js';

export type InspectType = 'container' | 'image';

export async function inspectObject(
  store: Store, spec: string, type?: InspectType, remote: RegistryOptions & { platform?: Partial<Platform> } = {},
): Promise<Record<string, unknown>> {
  if (spec.startsWith('docker://')) {
    if (type === 'container') throw new TbahError('invalid-argument', `${spec} is a registry image, not a container`, { hint: 'use --type image' });
    return inspectRemote(spec, remote);
  }
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
    MountPoint: c.mounted ? mountPointOf(store, c) : '',
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

/** An image in a registry, without pulling it: the manifest and config only. */
async function inspectRemote(spec: string, opts: RegistryOptions & { platform?: Partial<Platform> }): Promise<Record<string, unknown>> {
  const ref = parseImageRef(spec, 'docker');
  if (ref.transport !== 'docker') throw new TbahError('internal', 'inspectRemote called for a non-registry reference');
  const client = await clientFor(ref.ref, opts);
  const m = await fetchImageManifest(client, ref.ref, opts.platform);
  const name = formatDockerReference(withDefaultTag(ref.ref));
  const configBytes = await readSmallBlob(client, ref.ref.path, m.manifest.config, `config of ${name}`);
  const config = checkImageConfig(JSON.parse(configBytes.toString('utf8')) as unknown, `config of ${name}`);
  return {
    Type: 'image',
    FromImage: name,
    FromImageID: digestHex(m.manifest.config.digest),
    FromImageDigest: m.digest,
    ...(m.indexDigest ? { IndexDigest: m.indexDigest } : {}),
    Names: [name],
    Config: configBytes.toString('utf8'),
    Manifest: m.bytes.toString('utf8'),
    ManifestType: m.mediaType,
    ImageAnnotations: m.manifest.annotations ?? {},
    OCIv1: configForFormat(config, 'oci'),
    Docker: configForFormat(config, 'docker'),
    History: config.history ?? [],
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
