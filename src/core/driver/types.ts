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
import type { IdMap, MetadataSource } from './entries.js';
import type { MetadataRecord } from './record.js';

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
  /**
   * Rootless dir driver: run `fn` with the container's metadata record (owners,
   * modes, devices the disk cannot hold) for a writer such as `copy` to add to;
   * saved when `fn` succeeds. Drivers that put real owners on disk (root, or
   * overlay in tbah's user namespace) have none: `fn` gets undefined.
   */
  withRecord?<T>(c: ContainerState, fn: (record: MetadataRecord | undefined) => Promise<T>): Promise<T>;
  /**
   * Like `withRootfs`, with the tree as a command run in tbah's user namespace
   * must see it (rootless dir: the record applied to the disk, read back after).
   */
  withRunRootfs?<T>(c: ContainerState, fn: (root: string) => Promise<T>): Promise<T>;
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
 *
 * `alsoShow` lists content the committed image has beyond the changes, which
 * the container continues on too: layers written after `layer` (`commit
 * --add-file`, `copy --link`, already in the state's layer list), or files
 * folded into a squashed layer. The overlay driver sees them through its lower
 * layers; the dir driver applies them to its tree before its new snapshot.
 */
export interface PendingCommit {
  readonly root: string;
  readonly changes: ChangeSet;
  readonly ids: IdMap;
  /** What the disk does not hold (rootless dir driver: the metadata record). */
  readonly meta?: MetadataSource;
  prepare(layer: CommittedLayer | undefined, alsoShow?: LayerRef[]): Promise<DriverFields>;
  finish(layer: CommittedLayer | undefined, state: ContainerState): Promise<void>;
  abort(): Promise<void>;
}
