/**
 * The dir driver: the root file system is a plain directory holding every
 * layer applied in order, so `mount` is a real path for every user and needs
 * no privilege. A commit diffs the tree against the snapshot taken at the
 * last unpack or commit (`changes.ts`); its cost grows with the whole tree.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TbahError } from '../errors.js';
import { applyLayer } from '../layer/apply.js';
import { decompress } from '../layer/decompress.js';
import { recoverInterruptedRun } from '../runtime/mount-points.js';
import type { ContainerState, LayerRef } from '../store/containers.js';
import type { Store } from '../store/store.js';
import { isRoot } from '../store/paths.js';
import { readJsonFile, writeFileAtomic } from '../util/fsx.js';
import { HashCounter } from '../util/hashing.js';
import { chain } from '../util/streams.js';
import { computeChanges } from './changes.js';
import { processIds } from './entries.js';
import { type SnapshotFile, takeSnapshot } from './snapshot.js';
import type { CommittedLayer, DriverFields, PendingCommit, RootfsDriver } from './types.js';

/** Apply layers onto one directory in order, checking each layer's diffID as it streams. */
export async function unpackLayers(store: Store, layers: LayerRef[], rootfs: string, onWarning?: (msg: string) => void): Promise<void> {
  for (const l of layers) {
    const blob = await store.blobs.open(l.descriptor.digest, l.descriptor.size);
    const counter = new HashCounter();
    const tar = chain(decompress(blob, l.descriptor.mediaType), counter);
    await applyLayer(rootfs, tar, { ownership: isRoot() ? 'chown' : 'ignore', ...(onWarning ? { onWarning } : {}) });
    for await (const _ of tar) { /* drain trailing padding so the diffID covers the whole tar */ }
    if (counter.digest !== l.diffId) {
      throw new TbahError('corrupt', `layer ${l.descriptor.digest} does not match its diff ID ${l.diffId}`, {
        hint: 'the image is corrupt; remove it with `tbah rmi` and get it again',
      });
    }
    await store.putLayerMeta(l.descriptor.digest, { diffId: l.diffId, uncompressedSize: counter.size });
  }
}

export class DirDriver implements RootfsDriver {
  readonly name = 'dir' as const;
  constructor(private readonly store: Store) {}

  private rootfs(c: ContainerState): string {
    return this.store.containers.rootfs(c.id);
  }

  async create(dir: string, layers: LayerRef[], opts: { onWarning?: (msg: string) => void } = {}): Promise<DriverFields> {
    const rootfs = path.join(dir, 'rootfs');
    await fsp.mkdir(rootfs, { recursive: true, mode: 0o755 });
    await unpackLayers(this.store, layers, rootfs, opts.onWarning);
    const snapshot = 'snapshot-0.json';
    await writeFileAtomic(path.join(dir, snapshot), JSON.stringify(takeSnapshot(rootfs)));
    return { snapshot };
  }

  mountPoint(c: ContainerState): string {
    return this.rootfs(c);
  }

  isMounted(c: ContainerState): boolean {
    return c.mounted;
  }

  async mount(c: ContainerState): Promise<string> {
    return this.rootfs(c);
  }

  async unmount(): Promise<void> {
    // A plain directory: nothing to undo.
  }

  withRootfs<T>(c: ContainerState, fn: (root: string) => Promise<T>): Promise<T> {
    return fn(this.rootfs(c));
  }

  async startCommit(c: ContainerState, opts: { squash: boolean }): Promise<PendingCommit> {
    const rootfs = this.rootfs(c);
    const dir = this.store.containers.dir(c.id);
    // A `run` killed mid-way may have left its mount points: they are not the container's changes.
    await recoverInterruptedRun(rootfs, this.store.containers.runJournal(c.id));
    const snap = opts.squash || !c.snapshot ? undefined : await readJsonFile<SnapshotFile>(path.join(dir, c.snapshot));
    const changes = computeChanges(rootfs, snap);
    let written: string | undefined;
    return {
      root: rootfs,
      changes,
      ids: processIds(),
      async prepare(layer: CommittedLayer | undefined): Promise<DriverFields> {
        if (!layer && !opts.squash) return { snapshot: c.snapshot };
        written = `snapshot-${Date.now()}-${process.pid}.json`;
        await writeFileAtomic(path.join(dir, written), JSON.stringify(changes.snapshot));
        return { snapshot: written };
      },
      async finish(): Promise<void> {
        if (written !== undefined && c.snapshot && written !== c.snapshot) await fsp.rm(path.join(dir, c.snapshot), { force: true });
      },
      async abort(): Promise<void> {
        if (written !== undefined) await fsp.rm(path.join(dir, written), { force: true });
      },
    };
  }

  async remove(c: ContainerState): Promise<void> {
    await this.store.containers.remove(c.id);
  }
}
