/** Listing, naming, mounting and removing: `images`, `containers`, `tag`, `rm`, `rmi`, `mount`, `umount`. */
import { containerDriver, mountPointOf } from '../driver/index.js';
import { TbahError } from '../errors.js';
import type { Digest } from '../oci.js';
import { formatDockerReference, localCandidates, parseLocalName } from '../refs.js';
import type { ContainerState } from '../store/containers.js';
import type { ImageRecord } from '../store/images.js';
import type { Store } from '../store/store.js';

export interface ImageSummary {
  id: Digest;
  names: string[];
  manifestDigest: Digest;
  created: string | undefined;
  /** Uncompressed size of the layers where known, else the stored size. */
  size: number;
  record: ImageRecord;
}

export async function listImages(store: Store): Promise<ImageSummary[]> {
  const out: ImageSummary[] = [];
  for (const r of await store.images.list()) {
    let size = 0;
    for (const l of r.manifest.layers) size += (await store.getLayerMeta(l.digest))?.uncompressedSize ?? l.size;
    out.push({ id: r.id, names: r.names, manifestDigest: r.manifestDescriptor.digest, created: r.config.created, size, record: r });
  }
  return out;
}

export function listContainers(store: Store): Promise<ContainerState[]> {
  return store.containers.list();
}

export async function tagImage(store: Store, image: string, newNames: string[]): Promise<ImageRecord> {
  if (newNames.length === 0) throw new TbahError('usage', 'tag needs at least one new name');
  const names = newNames.map((n) => formatDockerReference(parseLocalName(n)));
  return store.withIndexLock(async () => {
    const img = await store.images.get(image);
    await store.images.addNames(img.manifestDescriptor, names);
    return store.images.get(names[0]!);
  });
}

export { mountPointOf };

/** Show the container's root file system until `umount` or `rm` (overlay: a real mount, valid for every process). */
export async function mountContainer(store: Store, spec: string): Promise<{ container: ContainerState; mountPoint: string }> {
  return store.containers.withContainer(spec, async (c) => {
    const mountPoint = await (await containerDriver(store, c)).mount(c);
    if (!c.mounted) await store.containers.save({ ...c, mounted: true });
    return { container: { ...c, mounted: true }, mountPoint };
  });
}

export async function umountContainer(store: Store, spec: string): Promise<ContainerState> {
  return store.containers.withContainer(spec, async (c) => {
    await (await containerDriver(store, c)).unmount(c);
    if (c.mounted) await store.containers.save({ ...c, mounted: false });
    return { ...c, mounted: false };
  });
}

export async function removeContainer(store: Store, spec: string): Promise<ContainerState> {
  const c = await store.containers.withContainer(spec, async (state) => {
    await (await containerDriver(store, state)).remove(state);
    return state;
  });
  await store.collectGarbage();
  return c;
}

export interface RemoveImagesResult {
  untagged: string[];
  removed: Digest[];
}

/**
 * Remove images by name or ID. A name untags; the image goes when its last
 * name does (or when given by ID). An image a container uses is refused unless
 * `force`, which removes those containers too.
 */
export async function removeImages(store: Store, specs: string[], opts: { force?: boolean; all?: boolean } = {}): Promise<RemoveImagesResult> {
  const res: RemoveImagesResult = { untagged: [], removed: [] };
  const targets: { spec: string; rec: ImageRecord }[] = [];
  if (opts.all) {
    for (const r of await store.images.list()) targets.push({ spec: r.id, rec: r });
  } else {
    for (const s of specs) targets.push({ spec: s, rec: await store.images.get(s) });
  }
  const containers = await store.containers.list();
  // Names each image loses: when that is all of them, the image goes.
  const losing = new Map<string, Set<string>>();
  for (const { spec, rec } of targets) {
    const name = opts.all ? undefined : rec.names.find((n) => nameCandidates(spec).includes(n));
    if (name !== undefined) {
      const set = losing.get(rec.manifestDescriptor.digest) ?? new Set<string>();
      losing.set(rec.manifestDescriptor.digest, set.add(name));
    }
  }
  // Plan first, so a refused image leaves the store exactly as it was.
  const seen = new Set<string>();
  const plan = targets.filter(({ rec }) => !seen.has(rec.manifestDescriptor.digest) && seen.add(rec.manifestDescriptor.digest)).map(({ spec, rec }) => {
    const names = [...(losing.get(rec.manifestDescriptor.digest) ?? [])];
    const name = names[0];
    const byIdToo = targets.some((t) => t.rec.manifestDescriptor.digest === rec.manifestDescriptor.digest && !rec.names.some((n) => nameCandidates(t.spec).includes(n)));
    const untagOnly = !opts.all && !byIdToo && names.length > 0 && names.length < rec.names.length;
    if (!opts.all && name === undefined && rec.names.length > 1 && !opts.force) {
      throw new TbahError('in-use', `unable to delete image ${spec} by ID with more than one tag (${rec.names.join(', ')})`, {
        hint: 'remove the names one by one, or use `tbah rmi --force`',
      });
    }
    const users = containers.filter((c) => c.fromImageId === rec.id);
    if (!untagOnly && users.length > 0 && !opts.force) {
      throw new TbahError('in-use', `image ${spec} is in use by a container (${users.map((c) => c.name).join(', ')})`, {
        hint: 'remove the container with `tbah rm`, or use `tbah rmi --force`',
      });
    }
    return { rec, names, untagOnly, users };
  });
  for (const { rec, names, untagOnly, users } of plan) {
    if (untagOnly) {
      for (const n of names) {
        await store.withIndexLock(() => store.images.removeName(n));
        res.untagged.push(n);
      }
      continue;
    }
    for (const c of users) await (await containerDriver(store, c)).remove(c);
    await store.withIndexLock(() => store.images.removeImage(rec.manifestDescriptor.digest));
    res.untagged.push(...rec.names);
    res.removed.push(rec.id);
  }
  await store.collectGarbage();
  return res;
}

/** Drop an image that has no name (e.g. the store copy of `commit CTR oci:DIR`), then collect its blobs. */
export async function removeIfUnnamed(store: Store, manifestDigest: Digest): Promise<void> {
  await store.withIndexLock(async () => {
    const rec = await store.images.byManifest(manifestDigest);
    if (rec && rec.names.length === 0) await store.images.removeImage(manifestDigest);
  });
  await store.collectGarbage();
}

/** Store names a user-typed image name may mean; the text itself when it is no valid name. */
export function nameCandidates(spec: string): string[] {
  try {
    return localCandidates(spec);
  } catch {
    return [spec];
  }
}
