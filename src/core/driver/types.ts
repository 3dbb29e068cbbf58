/**
 * The rootfs driver boundary (design §7): everything that depends on how a
 * working container's root filesystem lives on disk — making it over the base
 * layers, showing it (mount), finding what changed since the last commit, and
 * continuing on the new layer. Two drivers implement it: `dir` (a plain
 * directory and a snapshot record; no privilege) and `overlay` (shared
 * unpacked layers and an upper directory; root, or root in a user namespace).
 */
import type { TarHeader } from '../layer/tar-types.js';
import type { ContainerState, LayerRef } from '../store/containers.js';
import type { ChangeSet } from './changes.js';
import type { IdMap } from './entries.js';

export type DriverName = 'dir' | 'overlay';

export const DRIVER_NAMES: readonly DriverName[] = ['dir', 'overlay'];

/** The driver's own part of a container's state. */
export interface DriverFields {
  /** dir: file name (in the container dir) of the snapshot the next commit diffs against. */
  snapshot: string | null;
  /** overlay: generation of the upper and work directories (`upper-N`, `work-N`). */
  overlay?: { gen: number };
}

export interface RootfsDriver {
  readonly name: DriverName;
  /** Make a new container's file system in `dir` (the staged container directory) over `layers`. */
  create(dir: string, layers: LayerRef[], opts?: { onWarning?: (msg: string) => void }): Promise<DriverFields>;
  /** Where the root file system is shown: what `tbah mount` prints. */
  mountPoint(c: ContainerState): string;
  /** Whether the root file system is shown there right now. */
  isMounted(c: ContainerState): boolean;
  /** Show the root file system at `mountPoint` until `unmount` (or `remove`); returns the path. */
  mount(c: ContainerState): Promise<string>;
  unmount(c: ContainerState): Promise<void>;
  /** Run `fn` with the root file system available (shown only for the call when it was not). */
  withRootfs<T>(c: ContainerState, fn: (root: string) => Promise<T>): Promise<T>;
  /** The changes since the last commit (or all content, for squash), ready to become a layer. */
  startCommit(c: ContainerState, opts: { squash: boolean }): Promise<PendingCommit>;
  /** Remove the container's file system (unmounting first). */
  remove(c: ContainerState): Promise<void>;
}

/** The new layer, as written, with the headers it carries. */
export interface CommittedLayer {
  ref: LayerRef;
  headers: TarHeader[];
}

/**
 * A commit in progress. The caller writes the layer from `changes` read under
 * `root`, then the image, then calls `prepare` (before saving the container's
 * state with the fields it returns) and `finish` (after); `abort` on failure.
 */
export interface PendingCommit {
  readonly root: string;
  readonly changes: ChangeSet;
  readonly ids: IdMap;
  prepare(layer: CommittedLayer | undefined): Promise<DriverFields>;
  finish(layer: CommittedLayer | undefined, state: ContainerState): Promise<void>;
  abort(): Promise<void>;
}
