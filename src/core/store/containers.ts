/**
 * Working containers on disk: `containers/<id>/` holds `state.json` (one
 * versioned document, replaced atomically after every change) and what its
 * rootfs driver keeps (dir: `rootfs/` and the snapshot record the next commit
 * diffs against; overlay: `upper-N/`, `work-N/`, `merged/`). A container directory
 * appears under its final name only when complete (built under a temp name,
 * then renamed), so a crash never leaves a half-made container visible.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { EditableImage } from '../config-edit.js';
import type { DriverName } from '../driver/types.js';
import { TbahError, isErrno } from '../errors.js';
import type { Descriptor, Digest, ImageFormat } from '../oci.js';
import { readJsonFile, readdirOrEmpty, removeTree, writeJsonAtomic } from '../util/fsx.js';
import { withLock } from './lock.js';
import type { StorePaths } from './paths.js';

export const STATE_VERSION = 1;

export interface LayerRef {
  /** The layer blob as stored, with its media type (compressed). */
  descriptor: Descriptor;
  diffId: Digest;
}

export interface ContainerState {
  version: typeof STATE_VERSION;
  type: 'tbah-working-container';
  id: string;
  name: string;
  created: string;
  /** Name of the base image as the user gave it resolved (full name), or null for scratch. */
  fromImage: string | null;
  fromImageId: Digest | null;
  fromImageDigest: Digest | null;
  /** The rootfs driver, chosen at `from` for the container's life (states before the overlay driver say 'dir'). */
  driver: DriverName;
  /** Default output format of `commit`. */
  format: ImageFormat;
  /** The layers below the working rootfs: the base image's, then one per commit. */
  layers: LayerRef[];
  /** Pending image config, annotations and history settings. */
  image: EditableImage;
  /** `tbah mount` was asked (and no `umount` since): the root file system stays shown at the mount point. */
  mounted: boolean;
  /** dir driver: file name (in the container dir) of the snapshot the next commit diffs against. */
  snapshot: string | null;
  /** overlay driver: generation of the upper/work directories in use. */
  overlay?: { gen: number };
}

export class ContainerStore {
  constructor(private readonly paths: StorePaths) {}

  dir(id: string): string { return this.paths.container(id); }
  /** The dir driver's root file system (other drivers: see `RootfsDriver.mountPoint`). */
  rootfs(id: string): string { return path.join(this.dir(id), 'rootfs'); }
  stateFile(id: string): string { return path.join(this.dir(id), 'state.json'); }
  /** Written by `run` while it has mount points in the rootfs; left only by a killed run. */
  runJournal(id: string): string { return path.join(this.dir(id), 'run-journal.json'); }
  lockFile(id: string): string { return path.join(this.paths.locksDir, `container-${id}.lock`); }
  private get namesLock(): string { return path.join(this.paths.locksDir, 'containers.lock'); }

  async list(): Promise<ContainerState[]> {
    const names = await readdirOrEmpty(this.paths.containersDir);
    const out: ContainerState[] = [];
    for (const n of names.sort()) {
      if (!/^[a-f0-9]{64}$/.test(n)) continue; // temp dirs of containers being made or removed
      try {
        out.push(await readJsonFile<ContainerState>(this.stateFile(n)));
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue; // removed meanwhile
        throw new TbahError('corrupt', `container state ${this.stateFile(n)} is unreadable: ${(err as Error).message}`);
      }
    }
    return out.sort((a, b) => a.created.localeCompare(b.created) || a.name.localeCompare(b.name));
  }

  async find(spec: string): Promise<ContainerState | undefined> {
    const all = await this.list();
    const byName = all.find((c) => c.name === spec);
    if (byName) return byName;
    if (/^[a-f0-9]{1,64}$/.test(spec)) {
      const hits = all.filter((c) => c.id.startsWith(spec));
      if (hits.length > 1) throw new TbahError('invalid-argument', `container ID prefix ${spec} is ambiguous`, { hint: 'give more digits of the ID, or the name' });
      return hits[0];
    }
    return undefined;
  }

  async get(spec: string): Promise<ContainerState> {
    const c = await this.find(spec);
    if (!c) throw new TbahError('not-found', `${spec}: container not known`, { hint: 'see `tbah containers` for the working containers in this store' });
    return c;
  }

  async save(state: ContainerState): Promise<void> {
    await writeJsonAtomic(this.stateFile(state.id), state, 0o600);
  }

  /** Run `fn` holding the container's own lock, with its freshly read state. */
  async withContainer<T>(spec: string, fn: (state: ContainerState) => Promise<T>): Promise<T> {
    const first = await this.get(spec);
    return withLock(this.lockFile(first.id), 'exclusive', async () => {
      let state: ContainerState;
      try {
        state = await readJsonFile<ContainerState>(this.stateFile(first.id));
      } catch (err) {
        if (isErrno(err, 'ENOENT')) throw new TbahError('not-found', `${spec}: container was removed by another process`);
        throw err;
      }
      return fn(state);
    });
  }

  /**
   * Like withContainer, for several containers at once (`copy --from` another
   * container): the locks are taken in ID order, so two such commands crossing
   * each other wait instead of deadlocking.
   */
  async withContainers<T>(specs: string[], fn: (states: ContainerState[]) => Promise<T>): Promise<T> {
    const firsts = await Promise.all(specs.map((s) => this.get(s)));
    const ids = [...new Set(firsts.map((c) => c.id))].sort();
    const take = async (i: number): Promise<T> => {
      if (i < ids.length) return withLock(this.lockFile(ids[i]!), 'exclusive', () => take(i + 1));
      const fresh = new Map<string, ContainerState>();
      for (const id of ids) {
        try {
          fresh.set(id, await readJsonFile<ContainerState>(this.stateFile(id)));
        } catch (err) {
          if (isErrno(err, 'ENOENT')) throw new TbahError('not-found', `${specs[firsts.findIndex((c) => c.id === id)]}: container was removed by another process`);
          throw err;
        }
      }
      return fn(firsts.map((c) => fresh.get(c.id)!));
    };
    return take(0);
  }

  newId(): string {
    return randomBytes(32).toString('hex');
  }

  /** A temp directory for a container being built; `publish` makes it visible. */
  async stage(id: string): Promise<string> {
    const dir = path.join(this.paths.containersDir, `.new-${id}`);
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  /**
   * Claim a name and publish the staged container atomically with respect to
   * other tbah processes (a `make -j` of `from` calls gets distinct names).
   */
  async publish(staged: string, state: Omit<ContainerState, 'name'>, name: { exact?: string; prefix: string }): Promise<ContainerState> {
    return withLock(this.namesLock, 'exclusive', async () => {
      const taken = new Set((await this.list()).map((c) => c.name));
      let chosen: string;
      if (name.exact !== undefined) {
        if (taken.has(name.exact)) {
          throw new TbahError('conflict', `the container name "${name.exact}" is already in use`, {
            hint: 'choose another --name, or remove the other container with `tbah rm`',
          });
        }
        chosen = name.exact;
      } else {
        chosen = name.prefix;
        for (let i = 1; taken.has(chosen); i++) chosen = `${name.prefix}-${i}`;
      }
      const full: ContainerState = { ...state, name: chosen } as ContainerState;
      await writeJsonAtomic(path.join(staged, 'state.json'), full, 0o600);
      await fsp.mkdir(this.paths.containersDir, { recursive: true });
      await fsp.rename(staged, this.dir(state.id));
      return full;
    });
  }

  async remove(id: string): Promise<void> {
    await removeTree(this.dir(id));
    await fsp.rm(this.lockFile(id), { force: true });
  }
}
