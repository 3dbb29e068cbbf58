/**
 * `tbah commit`: the changes since the container's previous commit (or since
 * `from`) become one new layer; the image is written and named (or written to
 * a transport: `docker://`, `oci:`, archives); the container continues on top
 * of that layer (design §3). How the changes are found and how the container
 * continues is its rootfs driver's business.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import {
  commitHistory, defaultCreatedBy, manifestAnnotations, outputConfig, parseAddFile, wantIdentityLabel,
  parseAnnotation,
} from '../commit-meta.js';
import { containerDriver } from '../driver/index.js';
import { computeChanges, isEmptyChangeSet } from '../driver/changes.js';
import { type TimePolicy, applyTime, layerEntries, processIds } from '../driver/entries.js';
import type { CommittedLayer, PendingCommit } from '../driver/types.js';
import { TbahError, isErrno } from '../errors.js';
import { buildManifest, configForFormat, rfc3339 } from '../image.js';
import { VERSION } from '../info.js';
import type { TarEntry } from '../layer/tar.js';
import type { TarHeader } from '../layer/tar-types.js';
import { type WrittenLayer, writeLayerFromEntries } from '../layer/write.js';
import {
  type Descriptor, type Digest, type HistoryEntry, type ImageConfig, type ImageFormat, type LayerCompression, configMediaType, layerMediaType,
} from '../oci.js';
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
  /** SOURCE_DATE_EPOCH or --source-date-epoch: the created time, and the ceiling for file mtimes in the new layers. */
  sourceDateEpoch?: number;
  omitHistory?: boolean;
  /**
   * How new layers are stored: as plain tars (the default, as Buildah's storage;
   * a push compresses them once), or gzip/zstd (`--compression-format`).
   */
  compression?: LayerCompression;
  /** A transport destination gets the layers uncompressed (`-D`, `--disable-compression`). */
  disableCompression?: boolean;
  /** `--unsetenv`: variables left out of the written image. */
  unsetEnv?: string[];
  /** `--add-file SRC[:DEST]`: host files added to the image as a layer of their own (folded in with `squash`), 0644, 0:0. */
  addFiles?: string[];
  /** `--annotation K[=V]` for the manifest. */
  annotations?: string[];
  /** `--unsetannotation K`: also suppresses the generated base annotations and the created one. */
  unsetAnnotations?: string[];
  /** `--created-annotation` (default true): `org.opencontainers.image.created` in the manifest. */
  createdAnnotation?: boolean;
  /** `--identity-label`: default on unless the commit has a fixed time. */
  identityLabel?: boolean;
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
    await pushImage(store, {
      image: r.manifestDigest, dest, ...opts.registry, ...(opts.format ? { format: opts.format } : {}),
      ...(opts.disableCompression ? { disableCompression: true } : {}),
      ...(opts.compression !== undefined && opts.compression !== 'none' ? { compression: opts.compression } : {}),
    });
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
  for (const a of opts.annotations ?? []) parseAnnotation(a); // a bad one fails before anything is written
  const addFiles = await checkAddFiles(opts.addFiles ?? []);
  const result = await store.withBlobs(() => store.containers.withContainer(opts.container, async (state) => {
    if (opts.squash && (state.image.linked ?? []).length > 0) {
      throw new TbahError('conflict', `${state.name} has copies made with \`copy --link\`, which must stay layers of their own: it cannot be squashed`, {
        hint: 'commit without --squash (as Buildah, which refuses the same)',
      });
    }
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
      return await commitWith(store, state, pending, progress, { ...opts, format, created, time, names, addFilesChecked: addFiles });
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
  opts: CommitOptions & { format: ImageFormat; created: string; time: TimePolicy; names: string[]; addFilesChecked: AddFile[] },
): Promise<CommitResult> {
  const { format, created, names } = opts;
  // Stored uncompressed, as Buildah's local storage does: gzip is paid once, at the first push
  // (docs/architecture.md, "Layers are stored uncompressed"), not at every commit.
  const compression = opts.compression ?? 'none';
  const fixedTime = opts.timestamp !== undefined || opts.sourceDateEpoch !== undefined;
  const addFiles = opts.addFilesChecked;
  // --add-file content carries the commit's time, clamped like everything else.
  const fileTime = applyTime(Math.floor(Date.parse(created) / 1000), opts.time);
  // 1. The changes, as one layer (with --squash: everything, --add-file content folded in).
  const cs = pending.changes;
  let committed: CommittedLayer | undefined;
  if (!isEmptyChangeSet(cs) || (opts.squash && (state.layers.length > 0 || addFiles.length > 0))) {
    const headers: TarHeader[] = [];
    const changes = layerEntries(pending.root, cs, { time: opts.time, ids: pending.ids, ...(pending.meta ? { meta: pending.meta } : {}), onEmit: (h) => headers.push(h) });
    const entries = opts.squash && addFiles.length > 0 ? overlayEntries(changes, addFileEntries(addFiles, fileTime)) : changes;
    const w = await writeLayerFromEntries(store.blobs, entries, compression);
    committed = { ref: await storedLayer(store, w), headers };
  }
  const layer = committed?.ref;
  // 1b. Layers after it: --add-file (unless folded in) and each `copy --link` copy.
  const extra: { ref: LayerRef; history: HistoryEntry }[] = [];
  if (addFiles.length > 0 && !opts.squash) {
    const w = await writeLayerFromEntries(store.blobs, addFileEntries(addFiles, fileTime), compression);
    extra.push({ ref: await storedLayer(store, w), history: { created, created_by: `/bin/sh -c #(nop) ADD dir:${w.diffId.slice(7)} in /` } });
  }
  for (const l of state.image.linked ?? []) {
    const dir = path.join(store.containers.dir(state.id), l.dir);
    const w = await writeLayerFromEntries(store.blobs, layerEntries(dir, computeChanges(dir, undefined), { time: opts.time, ids: processIds() }), compression);
    extra.push({ ref: await storedLayer(store, w), history: l.history });
  }
  const layers = [...(opts.squash ? [] : state.layers), ...(layer ? [layer] : []), ...extra.map((e) => e.ref)];
  // What the dir driver must add to its tree: the extra layers, or the files folded into a squash.
  const alsoShow = opts.squash && addFiles.length > 0
    ? [await storedLayer(store, await writeLayerFromEntries(store.blobs, addFileEntries(addFiles, fileTime), compression))]
    : extra.map((e) => e.ref);

  // 2. Config with history.
  const base = state.image.config;
  const own: HistoryEntry = { created, created_by: defaultCreatedBy(state.image.createdBy, base) };
  if (base.author) own.author = base.author;
  if (state.image.historyComment) own.comment = state.image.historyComment;
  if (!layer) own.empty_layer = true;
  const history = commitHistory({
    base: base.history ?? [], squash: opts.squash === true, pending: state.image.pendingHistory ?? [], own, extra: extra.map((e) => e.history),
    ...(fixedTime ? { fixedCreated: created } : {}),
    ...(state.fromImage && !state.image.committed && !/^(sha256:)?[a-f0-9]{12,64}$/.test(state.fromImage) ? { fromComment: `FROM ${state.fromImage}` } : {}),
  });
  const full: ImageConfig = { ...structuredClone(base), created, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) }, history };
  const out = outputConfig(configForFormat(full, format), {
    ...(wantIdentityLabel(opts.identityLabel, fixedTime) ? { identityLabel: { version: VERSION } } : {}),
    ...(opts.unsetEnv ? { unsetEnv: opts.unsetEnv } : {}),
  });
  if (opts.omitHistory) delete out.history;

  // 3. Blobs, then the name (index.json last: an image is visible only when whole).
  const cfg = await store.blobs.putJson(out);
  const annotations = manifestAnnotations({
    own: state.image.annotations,
    ...(state.fromImage && !opts.squash ? { base: { name: state.fromImage, ...(state.fromImageDigest ? { digest: state.fromImageDigest } : {}) } } : {}),
    ...(state.image.unsetAnnotations ? { unsetBefore: state.image.unsetAnnotations } : {}),
    ...(opts.createdAnnotation !== false ? { created } : {}),
    ...(opts.unsetAnnotations ? { unset: opts.unsetAnnotations } : {}),
    ...(opts.annotations ? { set: opts.annotations } : {}),
  });
  const manifest = buildManifest(format, { mediaType: configMediaType(format), digest: cfg.digest, size: cfg.size }, layers, annotations);
  const mb = await store.blobs.putJson(manifest);
  const desc: Descriptor = { mediaType: manifest.mediaType!, digest: mb.digest, size: mb.size };
  await store.withIndexLock(() => store.images.addNames(desc, names));

  // 4. The container continues on top of the new layers (the state is the commit point). Also
  // with --rm: the overlay driver then keeps the upper as the layer's unpacked form.
  const fields = await pending.prepare(committed, alsoShow);
  const image = { ...state.image, config: { ...full, history }, committed: true };
  delete image.pendingHistory;
  delete image.linked;
  const next: ContainerState = { ...state, ...fields, layers, image };
  await store.containers.save(next);
  progress.saved = true;
  await pending.finish(committed, opts.rm ? { ...next, mounted: false } : next);
  // The linked copies are layers now.
  for (const l of state.image.linked ?? []) await fsp.rm(path.join(store.containers.dir(state.id), l.dir), { recursive: true, force: true });
  return { id: cfg.digest, manifestDigest: mb.digest, names, ...(layer ? { layer } : {}) };
}

/** A written layer as the store keeps it: its meta recorded, its descriptor with an honest media type. */
async function storedLayer(store: Store, w: WrittenLayer): Promise<LayerRef> {
  await store.putLayerMeta(w.digest, { diffId: w.diffId, uncompressedSize: w.uncompressedSize });
  return { descriptor: { mediaType: layerMediaType('oci', w.compression), digest: w.digest, size: w.size }, diffId: w.diffId };
}

interface AddFile { source: string; dest: string; size: number }

/** `--add-file` specs checked before anything is written: each source a readable regular file. */
async function checkAddFiles(specs: string[]): Promise<AddFile[]> {
  const out = new Map<string, AddFile>();
  for (const spec of specs) {
    const { source, dest } = parseAddFile(spec);
    let st;
    try {
      st = await fsp.stat(source);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) throw new TbahError('not-found', `--add-file ${spec}: ${source} does not exist`);
      throw err;
    }
    if (!st.isFile()) throw new TbahError('invalid-argument', `--add-file ${spec}: ${source} is not a regular file`, { hint: 'add a directory with `tbah copy` before committing' });
    out.set(dest, { source: path.resolve(source), dest, size: st.size }); // a later spec for the same DEST wins, as in Buildah's map
  }
  return [...out.values()].sort((a, b) => Buffer.compare(Buffer.from(a.dest), Buffer.from(b.dest)));
}

/** The `--add-file` entries: regular files, 0644, 0:0, the commit's time (Buildah's synthesized layer). */
function addFileEntries(files: AddFile[], mtime: number): TarEntry[] {
  return files.map((f) => ({ header: { name: f.dest.slice(1), type: 'file', mode: 0o644, uid: 0, gid: 0, size: f.size, mtime }, source: f.source }));
}

/** `base` in byte order with `over` merged in (also byte-ordered); an entry of `over` replaces one of the same name. */
async function* overlayEntries(base: AsyncIterable<TarEntry>, over: TarEntry[]): AsyncGenerator<TarEntry> {
  let i = 0;
  const cmp = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
  for await (const e of base) {
    while (i < over.length && cmp(over[i]!.header.name, e.header.name) < 0) yield over[i++]!;
    if (i < over.length && over[i]!.header.name === e.header.name) {
      yield over[i++]!;
      continue;
    }
    yield e;
  }
  while (i < over.length) yield over[i++]!;
}
