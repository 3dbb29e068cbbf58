/**
 * `tbah commit`: the changes since the container's previous commit (or since
 * `from`) become one new layer; the image is written and named (or written to
 * a transport: `docker://`, `oci:`, archives); the container continues on top
 * of that layer (design §3). How the changes are found and how the container
 * continues is its rootfs driver's business.
 */
import { containerDriver } from '../driver/index.js';
import { isEmptyChangeSet } from '../driver/changes.js';
import { type TimePolicy, layerEntries } from '../driver/entries.js';
import type { CommittedLayer, PendingCommit } from '../driver/types.js';
import { TbahError } from '../errors.js';
import { buildManifest, configForFormat, rfc3339 } from '../image.js';
import type { TarHeader } from '../layer/tar-types.js';
import { writeLayerFromEntries } from '../layer/write.js';
import { type Descriptor, type Digest, type HistoryEntry, type ImageConfig, type ImageFormat, configMediaType, layerMediaType } from '../oci.js';
import { formatDockerReference, parseImageRef, parseLocalName } from '../refs.js';
import type { ContainerState, LayerRef } from '../store/containers.js';
import type { Store } from '../store/store.js';
import type { RegistryOptions } from '../transports/registry.js';

export interface CommitOptions {
  /** Container name or ID. */
  container: string;
  /**
   * Where the image goes: a store name (a name without a registry goes under
   * `localhost/`), or a transport reference (`docker://…`, `oci:DIR[:ref]`,
   * `oci-archive:FILE`, `docker-archive:FILE`), which gets the image and leaves
   * no unnamed copy in the store. Omit for an unnamed image in the store.
   */
  image?: string;
  format?: ImageFormat;
  /** Fold every layer into one. */
  squash?: boolean;
  /** Remove the container afterwards. */
  rm?: boolean;
  /** Seconds since the epoch: the created time, and every file's mtime in the new layer. */
  timestamp?: number;
  /** SOURCE_DATE_EPOCH: the created time, and the ceiling for file mtimes in the new layer. */
  sourceDateEpoch?: number;
  omitHistory?: boolean;
  /** How a `docker://` destination is reached. */
  registry?: RegistryOptions;
}

export interface CommitResult {
  /** Image ID: the config digest. */
  id: Digest;
  manifestDigest: Digest;
  names: string[];
  /** The new layer, if the container had changes. */
  layer?: LayerRef;
}

/** A destination with a transport prefix (anything but a store name). */
function transportDest(image: string | undefined): string | undefined {
  if (image === undefined) return undefined;
  return parseImageRef(image, 'store').transport === 'store' ? undefined : image;
}

export async function commitContainer(store: Store, opts: CommitOptions): Promise<CommitResult> {
  const dest = transportDest(opts.image);
  if (dest === undefined) return commitToStore(store, opts);
  const { checkPushTarget, pushImage } = await import('./push.js');
  const { removeIfUnnamed } = await import('./manage.js');
  checkPushTarget(dest, opts.format); // before anything changes
  const r = await commitToStore(store, { ...opts, image: undefined });
  try {
    // As Buildah: a transport destination gets the image; the store keeps no unnamed copy.
    await pushImage(store, { image: r.manifestDigest, dest, ...opts.registry, ...(opts.format ? { format: opts.format } : {}) });
  } catch (err) {
    // The commit itself happened: keep the image and say how to finish.
    if (err instanceof TbahError) {
      const short = r.id.slice(7, 19);
      throw new TbahError(err.code, `committed as ${short}, but writing ${dest} failed: ${err.message}`, {
        hint: `fix the cause, then \`tbah push ${short} ${dest}\`${err.hint ? `; ${err.hint}` : ''}`, cause: err,
      });
    }
    throw err;
  }
  await removeIfUnnamed(store, r.manifestDigest);
  return r;
}

async function commitToStore(store: Store, opts: CommitOptions): Promise<CommitResult> {
  const names = opts.image === undefined ? [] : [formatDockerReference(parseLocalName(opts.image))];
  const result = await store.withBlobs(() => store.containers.withContainer(opts.container, async (state) => {
    const format = opts.format ?? state.format;
    const createdMs = opts.timestamp !== undefined ? opts.timestamp * 1000
      : opts.sourceDateEpoch !== undefined ? opts.sourceDateEpoch * 1000 : Date.now();
    const created = rfc3339(createdMs);
    const time: TimePolicy = opts.timestamp !== undefined ? { setTo: opts.timestamp }
      : opts.sourceDateEpoch !== undefined ? { clampTo: opts.sourceDateEpoch } : {};
    const driver = await containerDriver(store, state);
    const pending = await driver.startCommit(state, { squash: opts.squash === true });
    const progress = { saved: false };
    try {
      return await commitWith(store, state, pending, progress, { ...opts, format, created, time, names });
    } catch (err) {
      // Once the state is saved the commit happened: the driver's leftovers are swept later.
      if (!progress.saved) await pending.abort();
      throw err;
    }
  }));
  if (opts.rm) {
    const c = await store.containers.get(opts.container);
    await (await containerDriver(store, c)).remove(c);
  }
  return result;
}

async function commitWith(
  store: Store, state: ContainerState, pending: PendingCommit, progress: { saved: boolean },
  opts: CommitOptions & { format: ImageFormat; created: string; time: TimePolicy; names: string[] },
): Promise<CommitResult> {
  const { format, created, names } = opts;
  // 1. The changes, as one layer.
  const cs = pending.changes;
  let committed: CommittedLayer | undefined;
  if (!isEmptyChangeSet(cs) || (opts.squash && state.layers.length > 0)) {
    const headers: TarHeader[] = [];
    const entries = layerEntries(pending.root, cs, { time: opts.time, ids: pending.ids, onEmit: (h) => headers.push(h) });
    const w = await writeLayerFromEntries(store.blobs, entries, 'gzip');
    await store.putLayerMeta(w.digest, { diffId: w.diffId, uncompressedSize: w.uncompressedSize });
    committed = { ref: { descriptor: { mediaType: layerMediaType('oci', 'gzip'), digest: w.digest, size: w.size }, diffId: w.diffId }, headers };
  }
  const layer = committed?.ref;
  const layers = opts.squash ? (layer ? [layer] : []) : layer ? [...state.layers, layer] : state.layers;

  // 2. Config with history.
  const base = state.image.config;
  const entry: HistoryEntry = { created, created_by: state.image.createdBy ?? '/bin/sh' };
  if (state.image.historyComment) entry.comment = state.image.historyComment;
  if (!layer) entry.empty_layer = true;
  const prevHistory = (base.history ?? []).map((h) => (opts.squash ? { ...h, empty_layer: true } : h));
  const history = [...prevHistory, entry];
  const full: ImageConfig = { ...structuredClone(base), created, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) }, history };
  const out = configForFormat(full, format);
  if (opts.omitHistory) delete out.history;

  // 3. Blobs, then the name (index.json last: an image is visible only when whole).
  const cfg = await store.blobs.putJson(out);
  const annotations: Record<string, string> = { ...state.image.annotations };
  if (state.fromImage && !opts.squash) {
    annotations['org.opencontainers.image.base.name'] ??= state.fromImage;
    if (state.fromImageDigest) annotations['org.opencontainers.image.base.digest'] ??= state.fromImageDigest;
  }
  const manifest = buildManifest(format, { mediaType: configMediaType(format), digest: cfg.digest, size: cfg.size }, layers, annotations);
  const mb = await store.blobs.putJson(manifest);
  const desc: Descriptor = { mediaType: manifest.mediaType!, digest: mb.digest, size: mb.size };
  await store.withIndexLock(() => store.images.addNames(desc, names));

  // 4. The container continues on top of the new layer (the state is the commit point). Also
  // with --rm: the overlay driver then keeps the upper as the layer's unpacked form.
  const fields = await pending.prepare(committed);
  const next: ContainerState = { ...state, ...fields, layers, image: { ...state.image, config: { ...full, history } } };
  await store.containers.save(next);
  progress.saved = true;
  await pending.finish(committed, opts.rm ? { ...next, mounted: false } : next);
  return { id: cfg.digest, manifestDigest: mb.digest, names, ...(layer ? { layer } : {}) };
}
