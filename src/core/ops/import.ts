/**
 * Getting an image into the store from any source, and resolving what a user
 * typed (a store name or ID, or a transport reference) to a stored image,
 * pulling from a registry as the pull policy says.
 */
import { TbahError } from '../errors.js';
import type { Descriptor, Platform } from '../oci.js';
import {
  type DockerReference, type ImageRef, formatDockerReference, isImageIdPrefix, localCandidates, parseDockerReference, parseImageRef, parseLocalName,
} from '../refs.js';
import type { ImageRecord } from '../store/images.js';
import type { Store } from '../store/store.js';
import {
  DEFAULT_JOBS, type RegistryOptions, type TransferEvent, checkAuthFile, clientFor, countingStream, fetchImageManifest, openRegistryImage, withDefaultTag,
} from '../transports/registry.js';
import type { SourceImage } from '../transports/source.js';
import { mapLimit } from '../util/limit.js';
import { chain } from '../util/streams.js';

/** Buildah's `--pull` values: `missing` (default for from), `always`, `never`, `newer`. */
export type PullPolicy = 'always' | 'missing' | 'never' | 'newer';

export interface ImportOptions {
  jobs?: number;
  onProgress?: (ev: TransferEvent) => void;
  /** `registry/repository` the blobs came from (remembered for cross-repository mounts). */
  source?: string;
}

/**
 * Copy a source image's blobs (verified while streaming) into the store, then
 * name it. Layers arrive in parallel; the name is written last, so an image
 * is visible only once whole.
 */
export async function importImage(store: Store, src: SourceImage, names: string[], opts: ImportOptions = {}): Promise<ImageRecord> {
  return store.withBlobs(async () => {
    const diffIds = src.config.rootfs.diff_ids;
    if (diffIds.length !== src.manifest.layers.length) {
      throw new TbahError('corrupt', `image has ${src.manifest.layers.length} layers but its config lists ${diffIds.length} diff IDs`);
    }
    const progress = opts.onProgress;
    await mapLimit(src.manifest.layers, opts.jobs ?? DEFAULT_JOBS, async (layer, i) => {
      progress?.({ kind: 'blob-start', digest: layer.digest, size: layer.size, role: 'layer' });
      if (await store.blobs.has(layer.digest)) {
        progress?.({ kind: 'blob-done', digest: layer.digest, how: 'exists' });
      } else {
        const stream = await src.openLayer(layer);
        await store.blobs.putStream(progress ? chain(stream, countingStream(layer, progress)) : stream, { digest: layer.digest, size: layer.size });
        progress?.({ kind: 'blob-done', digest: layer.digest, how: 'copied' });
      }
      await store.putLayerMeta(layer.digest, { diffId: diffIds[i]!, ...(opts.source ? { sources: [opts.source] } : {}) });
    });
    const cfg = src.manifest.config;
    progress?.({ kind: 'blob-start', digest: cfg.digest, size: cfg.size, role: 'config' });
    const had = await store.blobs.has(cfg.digest);
    if (!had) await store.blobs.putBytes(src.configBytes);
    progress?.({ kind: 'blob-done', digest: cfg.digest, how: had ? 'exists' : 'copied' });
    const m = await store.blobs.putBytes(src.manifestBytes);
    progress?.({ kind: 'manifest', digest: m.digest });
    const desc: Descriptor = { mediaType: src.manifestMediaType, digest: m.digest, size: m.size };
    await store.withIndexLock(() => store.images.addNames(desc, names));
    return (await store.images.byManifest(desc.digest)) ?? store.images.load(desc, names);
  });
}

export interface ResolveOptions extends RegistryOptions {
  /** Default `missing`. */
  pull?: PullPolicy;
  /** Platform to choose from an index (default: this host). */
  platform?: Partial<Platform>;
  /** Status notes such as "Trying to pull …" (stderr material, not warnings). */
  onNote?: (msg: string) => void;
}

/** The transports read by importing a whole image (everything but the store itself and registries). */
export type LocalSourceRef = Exclude<ImageRef, { transport: 'store' | 'docker' }>;

/** Open a non-store, non-registry transport as a source image (each transport's code loaded on use). Caller must close it. */
export async function openSource(store: Store, ref: LocalSourceRef, label: string): Promise<SourceImage> {
  switch (ref.transport) {
    case 'oci':
      return (await import('../transports/oci-layout.js')).openOciLayout(ref.path, ref.ref, label);
    case 'oci-archive':
      return (await import('../transports/archive.js')).openOciArchive(ref.path, ref.ref, await store.tempDir('oci-archive'), label);
    case 'docker-archive':
      return (await import('../transports/archive.js')).openDockerArchive(ref.path, { ...(ref.ref ? { ref: ref.ref } : {}), ...(ref.index !== undefined ? { index: ref.index } : {}) }, await store.tempDir('docker-archive'), label);
    case 'dir':
      return (await import('../transports/dir.js')).openDirImage(ref.path, label);
    case 'containers-storage': {
      const cs = await import('../transports/containers-storage.js');
      await cs.requireStorage(ref.store, label);
      return cs.openStorageImage(ref.store, ref.name, await store.tempDir('containers-storage'), label);
    }
  }
}

/**
 * The store name an imported image gets: the source's own full name (a
 * registry's, a docker-archive's tag, a containers-storage name), or an
 * OCI ref as a local name. A `dir:` image arrives unnamed, as in Buildah.
 */
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

/** Pull one image from a registry into the store (always contacts the registry). */
export async function pullFromRegistry(store: Store, ref: DockerReference, opts: ResolveOptions = {}): Promise<ImageRecord> {
  const src = await openRegistryImage(ref, opts);
  try {
    const rec = await importImage(store, src, src.name ? [src.name] : [], {
      source: src.repository,
      ...(opts.jobs !== undefined ? { jobs: opts.jobs } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    return rec;
  } finally {
    await src.close();
  }
}

/** A stored image for a registry reference: by its name, or by digest when the reference pins one. */
async function findLocal(store: Store, ref: DockerReference): Promise<ImageRecord | undefined> {
  const byName = await store.images.find(formatDockerReference(ref));
  if (byName || ref.digest === undefined) return byName;
  return store.images.byManifest(ref.digest);
}

/**
 * Resolve a user's image argument to a stored image. Local transports are
 * imported; registry references (`docker://…`, or a name not in the store)
 * follow the pull policy as Buildah's `--pull` does.
 */
export async function resolveImage(store: Store, spec: string, opts: ResolveOptions = {}): Promise<ImageRecord> {
  const ref = parseImageRef(spec, 'store');
  const policy = opts.pull ?? 'missing';
  // As Buildah: a named auth file must exist, whatever the source.
  await checkAuthFile(opts.authFile);
  if (ref.transport === 'containers-storage' && ref.store === undefined && policy !== 'always') {
    // Buildah's spelling of "the local store": tbah's own store first; Buildah's or Podman's when tbah lacks the image.
    const local = await store.images.find(ref.name).catch(() => undefined);
    if (local) return local;
    if (policy === 'never') {
      throw new TbahError('not-found', `${spec}: image not known`, { hint: 'pull it first, or use --pull missing' });
    }
  }
  if (ref.transport === 'store' || ref.transport === 'docker') {
    let local: ImageRecord | undefined;
    let remote: DockerReference | undefined;
    if (ref.transport === 'store') {
      local = await store.images.find(ref.name);
      // An ID (or an ID prefix that found an image by ID) is never a registry name.
      const byId = /^(sha256:)?[a-f0-9]{64}$/.test(ref.name)
        || (local !== undefined && isImageIdPrefix(ref.name) && !localCandidates(ref.name).some((n) => local!.names.includes(n)));
      if (!byId) remote = parseDockerReference(ref.name);
      // HOST/REPO@DIGEST finds an image stored under its tag too.
      if (!local && remote?.digest !== undefined) local = await store.images.byManifest(remote.digest);
    } else {
      remote = ref.ref;
      local = await findLocal(store, remote);
    }
    if (remote === undefined || policy === 'never') {
      if (local) return local;
      throw new TbahError('not-found', `${spec}: image not known`, {
        hint: policy === 'never' ? 'pull it first, or use --pull missing' : 'see `tbah images` for the images in this store',
      });
    }
    if (local && policy === 'missing') return local;
    if (local && (policy === 'newer' || remote.digest !== undefined)) {
      if (remote.digest !== undefined && local.manifestDescriptor.digest === remote.digest) return local;
      if (policy === 'newer' && (await remoteDigest(remote, opts).catch(() => local!.manifestDescriptor.digest)) === local.manifestDescriptor.digest) {
        return local;
      }
    }
    const full = formatDockerReference(withDefaultTag(remote));
    opts.onNote?.(`Trying to pull ${full}...`);
    try {
      return await pullFromRegistry(store, remote, opts);
    } catch (err) {
      // `newer` keeps using the local image when the registry cannot be asked.
      if (local && policy === 'newer') return local;
      if (!local && ref.transport === 'store' && err instanceof TbahError) {
        // The user typed a name: say it is not local before saying why the pull failed.
        throw new TbahError(err.code, `${spec}: image not known locally, and pulling ${full} failed: ${err.message}`, {
          ...(err.hint !== undefined ? { hint: err.hint } : {}), cause: err,
        });
      }
      throw err;
    }
  }
  // Held from the start: an archive's or skopeo's temp files in the store must not be swept by a concurrent GC.
  return store.withBlobs(async () => {
    const src = await openSource(store, ref, spec);
    try {
      return await importImage(store, src, importNames(src, ref), {
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      });
    } finally {
      await src.close();
    }
  });
}

/** The manifest digest a reference has on its registry now (for `--pull newer`). */
async function remoteDigest(ref: DockerReference, opts: ResolveOptions): Promise<string> {
  const m = await fetchImageManifest(await clientFor(ref, opts), ref, opts.platform);
  return m.digest;
}

/**
 * `tbah pull`: a name without a transport is a registry reference; the policy
 * defaults to `always` (Buildah's for pull). Local transports are imported.
 */
export async function pullImage(store: Store, spec: string, opts: ResolveOptions = {}): Promise<ImageRecord> {
  const ref = parseImageRef(spec, 'docker');
  const asSpec = ref.transport === 'docker' ? `docker://${formatDockerReference(ref.ref)}` : spec;
  return resolveImage(store, asSpec, { ...opts, pull: opts.pull ?? 'always' });
}

/**
 * `tbah pull --all-tags REPO`: every tag the registry lists for the
 * repository (a tag or digest in `spec` is ignored, as Buildah does), in the
 * registry's order, each pulled as `pull` would. Registries only.
 */
export async function pullAllTags(store: Store, spec: string, opts: ResolveOptions = {}): Promise<ImageRecord[]> {
  const ref = parseImageRef(spec, 'docker');
  if (ref.transport !== 'docker') {
    throw new TbahError('invalid-argument', `pulling all tags is not supported for ${ref.transport} transport`, { hint: 'give a registry repository: [docker://]HOST/REPO' });
  }
  await checkAuthFile(opts.authFile);
  const repo: DockerReference = { domain: ref.ref.domain, path: ref.ref.path };
  const tags = await (await clientFor(repo, opts)).listTags(repo.path);
  if (tags.length === 0) {
    throw new TbahError('not-found', `${repo.domain}/${repo.path} has no tags`, { hint: 'push an image to it first, or check the repository name' });
  }
  const out: ImageRecord[] = [];
  for (const tag of tags) out.push(await pullImage(store, `docker://${formatDockerReference({ ...repo, tag })}`, opts));
  return out;
}
