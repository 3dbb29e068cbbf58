/**
 * The dir driver: the root file system is a plain directory holding every
 * layer applied in order, so `mount` is a real path for every user and needs
 * no privilege. A commit diffs the tree against the snapshot taken at the
 * last unpack or commit (`changes.ts`); its cost grows with the whole tree.
 *
 * Without root the files on disk are all the caller's and stay usable by it;
 * what the disk cannot hold (other owners, modes that would lock the caller
 * out, devices, root-only xattrs) is the container's metadata record
 * (`record.ts`), read back by commit. `run` applies it to the disk inside
 * tbah's user namespace for the command's duration (`materialize.ts`).
 */
import { promises as fsp, lstatSync } from 'node:fs';
import * as path from 'node:path';
import { TbahError, isErrno } from '../errors.js';
import { type MetadataRecorder, applyLayer } from '../layer/apply.js';
import { decompress } from '../layer/decompress.js';
import { recoverInterruptedRun } from '../runtime/mount-points.js';
import { type IdRange, currentMapping, insideId, planNamespace } from '../runtime/userns.js';
import type { ContainerState, LayerRef } from '../store/containers.js';
import type { Store } from '../store/store.js';
import { inInitialUserNamespace, isRoot } from '../store/paths.js';
import { pathExists, readJsonFile, writeFileAtomic } from '../util/fsx.js';
import { HashCounter } from '../util/hashing.js';
import { chain } from '../util/streams.js';
import { type ChangeSet, computeChanges } from './changes.js';
import { type MaterializeJournal, applyMaterialize, dematerialize, planMaterialize } from './materialize.js';
import { MetadataRecord, RECORD_FILE, type RecordFile, rootlessIds } from './record.js';
import { type FileStat, type SnapshotFile, type StatTuple, byteCompare, takeSnapshot, tupleOf } from './snapshot.js';
import { identityIds } from './entries.js';
import type { CommittedLayer, DriverFields, PendingCommit, RootfsDriver } from './types.js';

/** A snapshot with the record as it was at that commit (rootless), to see owner-only changes. */
type SnapshotWithRecord = SnapshotFile & { record?: RecordFile };

const MATERIALIZED = 'materialized.json';

/**
 * Apply layers onto one directory in order, checking each layer's diffID as
 * it streams. With `record` (rootless) the files stay the caller's and the
 * real metadata goes to the record; as root, owners are set on disk.
 */
export async function unpackLayers(store: Store, layers: LayerRef[], rootfs: string, onWarning?: (msg: string) => void, record?: MetadataRecorder): Promise<void> {
  // Without root: the disk keeps every file usable by the caller, even with no record to keep the rest.
  const ownership = isRoot() ? 'chown' : 'record';
  for (const l of layers) {
    const blob = await store.blobs.open(l.descriptor.digest, l.descriptor.size);
    const counter = new HashCounter();
    const tar = chain(decompress(blob, l.descriptor.mediaType), counter);
    await applyLayer(rootfs, tar, { ownership, ...(record ? { record } : {}), ...(onWarning ? { onWarning } : {}) });
    for await (const _ of tar) { /* drain trailing padding so the diffID covers the whole tar */ }
    if (counter.digest !== l.diffId) {
      throw new TbahError('corrupt', `layer ${l.descriptor.digest} does not match its diff ID ${l.diffId}`, {
        hint: 'the image is corrupt; remove it with `tbah rmi` and get it again',
      });
    }
    await store.putLayerMeta(l.descriptor.digest, { diffId: l.diffId, uncompressedSize: counter.size });
  }
}

/**
 * Snapshots keep owners as host ids: one taken outside tbah's user namespace
 * (`from`) must compare with a tree walked inside it (`commit` in a `tbah
 * unshare` shell, `run`), where the same files show shifted ids.
 */
function hostView(): { toHost: (s: SnapshotFile) => SnapshotFile; fromHost: (s: SnapshotFile) => SnapshotFile; tuple: (t: StatTuple) => StatTuple } | undefined {
  if (inInitialUserNamespace()) return undefined;
  const m = currentMapping();
  const out = (ranges: IdRange[], id: number): number => {
    for (const r of ranges) if (id >= r.inside && id < r.inside + r.count) return r.outside + (id - r.inside);
    return id;
  };
  const back = (ranges: IdRange[], id: number): number => insideId(ranges, id) ?? OVERFLOW_ID;
  const map = (s: SnapshotFile, f: (t: StatTuple) => StatTuple): SnapshotFile => {
    const entries: Record<string, StatTuple> = {};
    for (const [k, t] of Object.entries(s.entries)) entries[k] = f(t);
    return { ...s, entries };
  };
  const tuple = (t: StatTuple): StatTuple => [t[0], t[1], out(m.uids, t[2]), out(m.gids, t[3]), t[4], t[5], t[6], t[7]];
  return {
    tuple,
    toHost: (s) => map(s, tuple),
    fromHost: (s) => map(s, (t) => [t[0], t[1], back(m.uids, t[2]), back(m.gids, t[3]), t[4], t[5], t[6], t[7]]),
  };
}

/** What the kernel shows for an id a user namespace does not map. */
const OVERFLOW_ID = 65534;

/** The caller as this process sees it (root of tbah's user namespace sees itself as 0). */
function callerView(): { uid: number; gid: number } {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

export class DirDriver implements RootfsDriver {
  readonly name = 'dir' as const;
  /** Without root, owners and the rest live in the record (root puts them on disk). */
  private readonly rootless = !isRoot();
  constructor(private readonly store: Store) {}

  private rootfs(c: ContainerState): string {
    return this.store.containers.rootfs(c.id);
  }

  private recordFile(c: ContainerState): string {
    return path.join(this.store.containers.dir(c.id), RECORD_FILE);
  }

  async create(dir: string, layers: LayerRef[], opts: { onWarning?: (msg: string) => void } = {}): Promise<DriverFields> {
    const rootfs = path.join(dir, 'rootfs');
    await fsp.mkdir(rootfs, { recursive: true, mode: 0o755 });
    const record = this.rootless ? new MetadataRecord(rootfs) : undefined;
    await unpackLayers(this.store, layers, rootfs, opts.onWarning, record);
    const snapshot = 'snapshot-0.json';
    const view = hostView();
    const taken = takeSnapshot(rootfs);
    const snap: SnapshotWithRecord = view ? view.toHost(taken) : taken;
    if (record) {
      // The record names inodes of the final tree; the snapshot carries it for the next commit's diff.
      snap.record = record.toFile();
      await writeFileAtomic(path.join(dir, RECORD_FILE), JSON.stringify(snap.record));
    }
    await writeFileAtomic(path.join(dir, snapshot), JSON.stringify(snap));
    return { snapshot };
  }

  mountPoint(c: ContainerState): string {
    return this.rootfs(c);
  }

  isMounted(c: ContainerState): boolean {
    return c.mounted;
  }

  async mount(c: ContainerState): Promise<string> {
    await this.checkNotMaterialized(c);
    return this.rootfs(c);
  }

  async unmount(): Promise<void> {
    // A plain directory: nothing to undo.
  }

  async withRootfs<T>(c: ContainerState, fn: (root: string) => Promise<T>): Promise<T> {
    await this.checkNotMaterialized(c);
    return fn(this.rootfs(c));
  }

  async withRecord<T>(c: ContainerState, fn: (record: MetadataRecord | undefined) => Promise<T>): Promise<T> {
    if (!this.rootless) return fn(undefined);
    await this.checkNotMaterialized(c);
    const record = await MetadataRecord.load(this.recordFile(c), this.rootfs(c));
    const out = await fn(record);
    await record.save(this.recordFile(c));
    return out;
  }

  /**
   * A `run` killed while the record was applied left files owned by other ids
   * of the user namespace: inside it they are given back now; outside it that
   * cannot be done, so the command stops with how to finish it.
   */
  private async checkNotMaterialized(c: ContainerState): Promise<void> {
    if (!this.rootless) return;
    const journal = path.join(this.store.containers.dir(c.id), MATERIALIZED);
    if (!(await pathExists(journal))) return;
    if ((process.getuid?.() ?? 0) === 0) {
      await this.giveBack(c, await readJsonFile<MaterializeJournal>(journal));
      return;
    }
    throw new TbahError('conflict', `${c.name}: a \`tbah run\` was killed while the container's files had their image owners`, {
      hint: `\`tbah unshare -- tbah mount ${c.name}\` gives them back (so does its next \`tbah run\`), after which this command works`,
    });
  }

  /** Read the tree back after a run (or a killed one), save the record, and tell the snapshot which ctimes tbah moved. */
  private async giveBack(c: ContainerState, journal: MaterializeJournal): Promise<void> {
    const dir = this.store.containers.dir(c.id);
    const record = await MetadataRecord.load(this.recordFile(c), this.rootfs(c));
    const { untouched } = dematerialize(record, journal);
    await record.save(this.recordFile(c));
    if (c.snapshot && untouched.length > 0) {
      // Only ctimes moved for these (owner and mode went there and back): unless something else
      // changed them since the last commit, they are still what the snapshot says.
      const file = path.join(dir, c.snapshot);
      const snap = await readJsonFile<SnapshotWithRecord>(file);
      const view = hostView();
      let patched = 0;
      for (const u of untouched) {
        const t = snap.entries[u.rel];
        if (t === undefined || t[6] !== u.ctimeBefore || t[0] !== u.st.ino || t[4] !== u.st.size || t[5] !== u.st.mtimeMs) continue;
        let now;
        try {
          now = lstatSync(path.join(this.rootfs(c), u.rel));
        } catch {
          continue;
        }
        const nt = view ? view.tuple(tupleOf(now)) : tupleOf(now);
        if (nt[0] === t[0] && nt[1] === t[1] && nt[2] === t[2] && nt[3] === t[3] && nt[4] === t[4] && nt[5] === t[5]) {
          snap.entries[u.rel] = nt;
          patched++;
        }
      }
      if (patched > 0) await writeFileAtomic(file, JSON.stringify(snap));
    }
    await fsp.rm(path.join(dir, MATERIALIZED), { force: true });
  }

  async withRunRootfs<T>(c: ContainerState, fn: (root: string) => Promise<T>): Promise<T> {
    if (!this.rootless) return fn(this.rootfs(c));
    if ((process.getuid?.() ?? 0) !== 0) {
      throw new TbahError('unsupported', 'run without root needs tbah\'s user namespace', {
        hint: 'use the tbah command (it enters one for run), or call from a process started by `tbah unshare`',
      });
    }
    await this.checkNotMaterialized(c);
    const dir = this.store.containers.dir(c.id);
    const record = await MetadataRecord.load(this.recordFile(c), this.rootfs(c));
    const journal = planMaterialize(record, currentMapping());
    // Written before anything changes: a killed run is put back from it.
    await writeFileAtomic(path.join(dir, MATERIALIZED), JSON.stringify(journal));
    try {
      applyMaterialize(this.rootfs(c), journal);
      return await fn(this.rootfs(c));
    } finally {
      await this.giveBack(c, journal);
    }
  }

  async startCommit(c: ContainerState, opts: { squash: boolean }): Promise<PendingCommit> {
    const rootfs = this.rootfs(c);
    const dir = this.store.containers.dir(c.id);
    await this.checkNotMaterialized(c);
    // A `run` killed mid-way may have left its mount points: they are not the container's changes.
    await recoverInterruptedRun(rootfs, this.store.containers.runJournal(c.id));
    const view = hostView();
    const stored = opts.squash || !c.snapshot ? undefined : await readJsonFile<SnapshotWithRecord>(path.join(dir, c.snapshot));
    const snap = stored && view ? { ...view.fromHost(stored), ...(stored.record ? { record: stored.record } : {}) } : stored;
    let changes = computeChanges(rootfs, snap);
    const record = this.rootless ? await MetadataRecord.load(this.recordFile(c), rootfs) : undefined;
    const recordNow = record?.toFile();
    if (recordNow !== undefined && snap !== undefined) {
      changes = withPaths(rootfs, changes, MetadataRecord.changedPaths(snap.record, recordNow));
    }
    const store = this.store;
    const recordFile = this.recordFile(c);
    let written: string | undefined;
    return {
      root: rootfs,
      changes,
      ids: this.rootless ? rootlessIds(() => planNamespace().mapping) : identityIds,
      ...(record ? { meta: record.source(callerView()) } : {}),
      async prepare(layer: CommittedLayer | undefined, alsoShow: LayerRef[] = []): Promise<DriverFields> {
        if (!layer && !opts.squash && alsoShow.length === 0) return { snapshot: c.snapshot };
        let taken = changes.snapshot!;
        let rec = recordNow;
        if (alsoShow.length > 0) {
          // The tree gets what the image has beyond the changes; the next commit diffs against all of it.
          await unpackLayers(store, alsoShow, rootfs, undefined, record);
          taken = takeSnapshot(rootfs);
          if (record) {
            rec = record.toFile();
            await writeFileAtomic(recordFile, JSON.stringify(rec));
          }
        }
        written = `snapshot-${Date.now()}-${process.pid}.json`;
        const walked = view ? view.toHost(taken) : taken;
        const next: SnapshotWithRecord = { ...walked, ...(rec ? { record: rec } : {}) };
        await writeFileAtomic(path.join(dir, written), JSON.stringify(next));
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
    await this.checkNotMaterialized(c); // a killed run's files of other ids cannot be deleted from outside
    await this.store.containers.remove(c.id);
  }
}

/**
 * A change set with `extra` paths (and their parents) as changed too: paths
 * whose recorded metadata changed while the disk did not (a directory whose
 * owner `copy --chown` or `chown` inside `run` changed).
 */
function withPaths(root: string, cs: ChangeSet, extra: string[]): ChangeSet {
  const have = new Set(cs.changed.map((c) => c.rel));
  const add: { rel: string; st: FileStat }[] = [];
  const take = (rel: string): void => {
    if (have.has(rel)) return;
    try {
      add.push({ rel, st: lstatSync(path.join(root, rel)) });
      have.add(rel);
    } catch (err) {
      if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw err;
    }
  };
  for (const rel of extra) {
    if (have.has(rel)) continue;
    const before = add.length;
    take(rel);
    if (add.length > before) for (let d = path.posix.dirname(rel); d !== '.'; d = path.posix.dirname(d)) take(d);
  }
  if (add.length === 0) return cs;
  return { ...cs, changed: [...cs.changed, ...add].sort((a, b) => byteCompare(a.rel, b.rel)) };
}
