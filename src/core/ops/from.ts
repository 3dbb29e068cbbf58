/** `tbah from`: create a working container from an image (or scratch). */
import type { EditableImage } from '../config-edit.js';
import { chooseDriver, driverFor } from '../driver/index.js';
import { type Digest, type ImageConfig, type ImageFormat, hostPlatform } from '../oci.js';
import { type ImageRef, containerNamePrefix, parseImageRef } from '../refs.js';
import type { ContainerState, LayerRef } from '../store/containers.js';
import type { Store } from '../store/store.js';
import { removeTree } from '../util/fsx.js';
import { type ResolveOptions, resolveImage } from './import.js';

export { unpackLayers } from '../driver/dir.js';

/** Registry options, pull policy and platform apply when the image comes from a registry. */
export interface FromOptions extends ResolveOptions {
  /** `scratch`, a store name or ID, a registry reference (`docker://…` or a name not in the store), or `oci:`, `oci-archive:`, `docker-archive:` references. */
  image: string;
  /** Exact container name (an error if taken). */
  name?: string;
  /** Replaces `working-container` in the generated name. */
  suffix?: string;
  /** Default format for later commits. */
  format?: ImageFormat;
  /** Non-fatal notes while unpacking (e.g. devices skipped when not root). */
  onWarning?: (msg: string) => void;
  /** `dir` or `overlay`; default $TBAH_STORAGE_DRIVER, else overlay as root where it works, else dir. */
  storageDriver?: string;
}

export function scratchConfig(): ImageConfig {
  const p = hostPlatform();
  return {
    architecture: p.architecture,
    os: p.os,
    ...(p.variant ? { variant: p.variant } : {}),
    config: {},
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
}

/**
 * What the container is named after: a store image by its name; a transport
 * reference by its ref, or (docker-archive) the archive's own tag, or else the
 * transport's name, as Buildah does (`oci-archive-working-container`).
 */
function namingSource(image: string, names: string[]): ImageRef | string {
  const ref = parseImageRef(image, 'store');
  switch (ref.transport) {
    case 'store':
      return names[0] ?? ref;
    case 'docker-archive':
      return ref.ref || ref.index !== undefined || !names[0] ? ref : names[0];
    default:
      return ref;
  }
}

export async function createContainer(store: Store, opts: FromOptions): Promise<ContainerState> {
  const format = opts.format ?? 'oci';
  const scratch = opts.image === 'scratch';
  return store.withBlobs(async () => {
    const img = scratch ? undefined : await resolveImage(store, opts.image, opts);
    const driverName = await chooseDriver(store, opts.storageDriver);
    const id = store.containers.newId();
    const staged = await store.containers.stage(id);
    try {
      const layers: LayerRef[] = (img?.manifest.layers ?? []).map((d, i) => ({
        descriptor: { mediaType: d.mediaType, digest: d.digest, size: d.size },
        diffId: img!.config.rootfs.diff_ids[i] as Digest,
      }));
      const fields = await (await driverFor(store, driverName)).create(staged, layers, opts.onWarning ? { onWarning: opts.onWarning } : {});
      const config: ImageConfig = img ? structuredClone(img.config) : scratchConfig();
      config.config ??= {};
      const image: EditableImage = { config, annotations: {} };
      const state: Omit<ContainerState, 'name'> = {
        version: 1,
        type: 'tbah-working-container',
        id,
        created: new Date().toISOString(),
        fromImage: img ? (img.names[0] ?? null) : null,
        fromImageId: img ? img.id : null,
        fromImageDigest: img ? img.manifestDescriptor.digest : null,
        driver: driverName,
        format,
        layers,
        image,
        mounted: false,
        ...fields,
      };
      const prefix = scratch ? 'working-container' : `${containerNamePrefix(namingSource(opts.image, img!.names))}-${opts.suffix ?? 'working-container'}`;
      return await store.containers.publish(staged, state, { ...(opts.name !== undefined ? { exact: opts.name } : {}), prefix: scratch && opts.suffix ? opts.suffix : prefix });
    } catch (err) {
      await removeTree(staged);
      throw err;
    }
  });
}
