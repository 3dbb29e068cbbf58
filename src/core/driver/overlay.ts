/**
 * The overlay driver: a container is an upper and a work directory over the
 * shared unpacked layers (`layer-store.ts`); `mount` is a real overlayfs mount
 * that stays until `umount` or `rm`; commands that need the tree while it is
 * not mounted mount it for their duration. A commit reads only the upper
 * directory, and the upper then *becomes* the new layer's unpacked form (made
 * to match the blob exactly) while a fresh upper starts: the next commit
 * carries only what changed after it, and `from` of the new image copies
 * nothing. `from` of an image whose layers are unpacked is O(1).
 *
 * Crash safety: the container's state names its upper generation; a commit
 * makes the next generation, saves the state (the commit point), then moves
 * the old upper into the layer store. A crash before the move leaves an
 * orphan directory (swept later) and a layer that is unpacked again from its
 * blob on first use.
 */
import { promises as fsp } from 'node:fs';
import fs from 'node:fs';
import * as path from 'node:path';
import { TbahError } from '../errors.js';
import { recoverInterruptedRun } from '../runtime/mount-points.js';
import type { ContainerState, LayerRef } from '../store/containers.js';
import type { Store } from '../store/store.js';
import { pathExists } from '../util/fsx.js';
import { computeChanges } from './changes.js';
import { identityIds } from './entries.js';
import { LayerStore, lowerLookup } from './layer-store.js';
import { isMountPoint, mountOverlay, mountsUnder, unmount } from './mounts.js';
import type { CommittedLayer, DriverFields, PendingCommit, RootfsDriver } from './types.js';
import { conformToLayer, upperChanges } from './upper.js';

export class OverlayDriver implements RootfsDriver {
  readonly name = 'overlay' as const;
  readonly layers: LayerStore;

  constructor(private readonly store: Store) {
    this.layers = new LayerStore(store.paths.layersDir, store.paths.locksDir);
  }

  private dir(c: ContainerState): string {
    return this.store.containers.dir(c.id);
  }

  private upper(c: ContainerState, gen = c.overlay?.gen ?? 0): string {
    return path.join(this.dir(c), `upper-${gen}`);
  }

  private work(c: ContainerState, gen = c.overlay?.gen ?? 0): string {
    return path.join(this.dir(c), `work-${gen}`);
  }

  async create(dir: string, layers: LayerRef[], opts: { onWarning?: (msg: string) => void } = {}): Promise<DriverFields> {
    if (process.geteuid?.() !== 0) {
      throw new TbahError('unsupported', 'the overlay storage driver needs root', { hint: 'use --storage-driver dir (the default without root)' });
    }
    await this.layers.ensure(this.store, layers, opts.onWarning);
    const upper = path.join(dir, 'upper-0');
    await fsp.mkdir(upper, { mode: 0o755 });
    await fsp.mkdir(path.join(dir, 'work-0'), { mode: 0o700 });
    await fsp.mkdir(path.join(dir, 'merged'), { mode: 0o755 });
    // The merged root directory is the upper's own: give it the image's root.
    const top = layers.length > 0 ? this.layers.contentDir(layers[layers.length - 1]!.diffId) : undefined;
    if (top !== undefined) await copyDirMeta(top, upper);
    return { snapshot: null, overlay: { gen: 0 } };
  }

  mountPoint(c: ContainerState): string {
    return path.join(this.dir(c), 'merged');
  }

  isMounted(c: ContainerState): boolean {
    return isMountPoint(this.mountPoint(c));
  }

  private async doMount(c: ContainerState, target: string): Promise<void> {
    await this.layers.ensure(this.store, c.layers);
    const lower = c.layers.length > 0 ? c.layers.map((l) => this.layers.linkName(l.diffId)).reverse() : [await this.layers.emptyDir()];
    await mountOverlay({ lower, upper: this.upper(c), work: this.work(c), cwd: this.layers.dir, target });
  }

  async mount(c: ContainerState): Promise<string> {
    const target = this.mountPoint(c);
    if (!this.isMounted(c)) await this.doMount(c, target);
    return target;
  }

  async unmount(c: ContainerState): Promise<void> {
    if (this.isMounted(c)) await unmount(this.mountPoint(c));
    await this.tidyWork(c);
  }

  /** overlayfs leaves its scratch directory in `work-N` after an unmount: a mount that came and went changes nothing. */
  private async tidyWork(c: ContainerState): Promise<void> {
    await fsp.rmdir(path.join(this.work(c), 'work')).catch(() => undefined);
  }

  async withRootfs<T>(c: ContainerState, fn: (root: string) => Promise<T>): Promise<T> {
    const target = this.mountPoint(c);
    if (this.isMounted(c)) return fn(target);
    await this.doMount(c, target);
    try {
      return await fn(target);
    } finally {
      // Busy (a process the command left behind still uses it): leave it mounted; the
      // next command uses it, and a commit refuses to move the upper from under it.
      if (await unmount(target).then(() => true, () => false)) await this.tidyWork(c);
    }
  }

  async startCommit(c: ContainerState, opts: { squash: boolean }): Promise<PendingCommit> {
    const journal = this.store.containers.runJournal(c.id);
    if (await pathExists(journal)) {
      // A `run` killed mid-way may have left its mount points: they are not the container's changes.
      await this.withRootfs(c, (root) => recoverInterruptedRun(root, journal));
    }
    const target = this.mountPoint(c);
    const wasMounted = this.isMounted(c);
    let mountedHere = false;
    let root: string;
    let changes;
    if (opts.squash) {
      if (!wasMounted) {
        await this.doMount(c, target);
        mountedHere = true;
      }
      root = target;
      changes = computeChanges(target, undefined);
    } else {
      // The upper is read alone and then moved: nothing may write through a mount meanwhile.
      if (wasMounted) await unmount(target);
      root = this.upper(c);
      const lower = lowerLookup(c.layers.map((l) => this.layers.contentDir(l.diffId)).reverse());
      changes = upperChanges(root, lower);
    }
    const gen = c.overlay?.gen ?? 0;
    let next: number | undefined;
    const self = this;
    return {
      root,
      changes,
      ids: identityIds,
      async prepare(layer: CommittedLayer | undefined): Promise<DriverFields> {
        if (!layer) return { snapshot: null, overlay: { gen } };
        next = gen + 1;
        await fsp.rm(self.upper(c, next), { recursive: true, force: true });
        await fsp.rm(self.work(c, next), { recursive: true, force: true });
        await fsp.mkdir(self.upper(c, next), { mode: 0o755 });
        await fsp.mkdir(self.work(c, next), { mode: 0o700 });
        await copyDirMeta(self.upper(c, gen), self.upper(c, next));
        return { snapshot: null, overlay: { gen: next } };
      },
      async finish(layer: CommittedLayer | undefined, state: ContainerState): Promise<void> {
        if (layer) {
          if (opts.squash) {
            if (self.isMounted(c)) await unmount(target);
            // The container continues on the one squashed layer: unpack it from its blob.
            await self.layers.ensure(self.store, [layer.ref]);
            await fsp.rm(self.upper(c, gen), { recursive: true, force: true });
          } else {
            await self.layers.adopt(layer.ref.diffId, self.upper(c, gen), (d) => conformToLayer(d, layer.headers));
          }
          await fsp.rm(self.work(c, gen), { recursive: true, force: true });
        } else if (mountedHere) {
          await unmount(target);
        }
        for (const stale of staleGenerations(self.dir(c), state.overlay?.gen ?? gen)) await fsp.rm(stale, { recursive: true, force: true });
        if (state.mounted) await self.mount(state);
      },
      async abort(): Promise<void> {
        if (next !== undefined) {
          await fsp.rm(self.upper(c, next), { recursive: true, force: true });
          await fsp.rm(self.work(c, next), { recursive: true, force: true });
        }
        if (mountedHere) await unmount(target).catch(() => undefined);
        else if (wasMounted && !self.isMounted(c)) await self.doMount(c, target).catch(() => undefined);
      },
    };
  }

  async remove(c: ContainerState): Promise<void> {
    // Nothing shared is written through a container's mount (only its upper),
    // so a busy mount may be detached and left to die with its last user.
    for (const m of mountsUnder(this.dir(c))) await unmount(m, { lazy: true });
    await this.store.containers.remove(c.id);
  }
}

/** Owner, mode and times of one directory onto another (the merged root is the upper's). */
async function copyDirMeta(from: string, to: string): Promise<void> {
  const st = await fsp.lstat(from);
  await fsp.lchown(to, st.uid, st.gid);
  await fsp.chmod(to, st.mode & 0o7777);
  await fsp.utimes(to, st.atime, st.mtime);
}

/** Upper/work directories of generations the state no longer names (a commit killed after its commit point). */
export function staleGenerations(containerDir: string, gen: number): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(containerDir);
  } catch {
    return [];
  }
  return names.filter((n) => {
    const m = /^(upper|work)-(\d+)$/.exec(n);
    return m !== null && Number(m[2]) !== gen;
  }).map((n) => path.join(containerDir, n));
}
