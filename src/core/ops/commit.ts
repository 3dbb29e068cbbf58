/**
 * `tbah commit`: the changes since the container's previous commit (or since
 * `from`) become one new layer; the image is written and named; the container
 * continues on top of that layer (design §3).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { type ChangeSet, type TimePolicy, computeChanges, isEmptyChangeSet, layerEntries } from '../driver/changes.js';
import type { SnapshotFile } from '../driver/snapshot.js';
import { writeLayerFromEntries } from '../layer/write.js';
import { buildManifest, configForFormat, rfc3339 } from '../image.js';
import { type Descriptor, type Digest, type HistoryEntry, type ImageConfig, type ImageFormat, configMediaType, layerMediaType } from '../oci.js';
import { formatDockerReference, parseLocalName } from '../refs.js';
import type { ContainerState, LayerRef } from '../store/containers.js';
import type { Store } from '../store/store.js';
import { readJsonFile, writeFileAtomic } from '../util/fsx.js';
import { recoverInterruptedRun } from '../runtime/mount-points.js';

export interface CommitOptions {
  /** Container name or ID. */
  container: string;
  /** Image name; a name without a registry goes under `localhost/`. Omit for an unnamed image. */
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
}

export interface CommitResult {
  /** Image ID: the config digest. */
  id: Digest;
  manifestDigest: Digest;
  names: string[];
  /** The new layer, if the container had changes. */
  layer?: LayerRef;
}

export async function commitContainer(store: Store, opts: CommitOptions): Promise<CommitResult> {
  const names = opts.image === undefined ? [] : [formatDockerReference(parseLocalName(opts.image))];
  const result = await store.withBlobs(() => store.containers.withContainer(opts.container, async (state) => {
    const format = opts.format ?? state.format;
    const createdMs = opts.timestamp !== undefined ? opts.timestamp * 1000
      : opts.sourceDateEpoch !== undefined ? opts.sourceDateEpoch * 1000 : Date.now();
    const created = rfc3339(createdMs);
    const time: TimePolicy = opts.timestamp !== undefined ? { setTo: opts.timestamp }
      : opts.sourceDateEpoch !== undefined ? { clampTo: opts.sourceDateEpoch } : {};
    const rootfs = store.containers.rootfs(state.id);
    const dir = store.containers.dir(state.id);
    // A `run` killed mid-way may have left its mount points: they are not the container's changes.
    await recoverInterruptedRun(rootfs, store.containers.runJournal(state.id));

    // 1. The changes, as one layer.
    let cs: ChangeSet;
    if (opts.squash) {
      cs = computeChanges(rootfs, undefined);
    } else {
      const snap = state.snapshot ? await readJsonFile<SnapshotFile>(path.join(dir, state.snapshot)) : undefined;
      cs = computeChanges(rootfs, snap);
    }
    let layer: LayerRef | undefined;
    if (!isEmptyChangeSet(cs) || (opts.squash && state.layers.length > 0)) {
      const w = await writeLayerFromEntries(store.blobs, layerEntries(rootfs, cs, time), 'gzip');
      await store.putLayerMeta(w.digest, { diffId: w.diffId, uncompressedSize: w.uncompressedSize });
      layer = { descriptor: { mediaType: layerMediaType('oci', 'gzip'), digest: w.digest, size: w.size }, diffId: w.diffId };
    }
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

    // 4. The container continues on top of the new layer.
    if (!opts.rm) {
      let snapshot = state.snapshot;
      if (layer || opts.squash) {
        snapshot = `snapshot-${Date.now()}-${process.pid}.json`;
        await writeFileAtomic(path.join(dir, snapshot), JSON.stringify(cs.snapshot));
      }
      const next: ContainerState = { ...state, layers, image: { ...state.image, config: { ...full, history } } };
      next.snapshot = snapshot;
      await store.containers.save(next);
      if (snapshot !== state.snapshot && state.snapshot) await fsp.rm(path.join(dir, state.snapshot), { force: true });
    }
    return { id: cfg.digest, manifestDigest: mb.digest, names, ...(layer ? { layer } : {}) };
  }));
  if (opts.rm) {
    const c = await store.containers.get(opts.container);
    await store.containers.remove(c.id);
  }
  return result;
}

