/**
 * The metadata record of a rootless container (dir driver without root):
 * what an unprivileged user cannot put on disk, kept beside the rootfs in
 * `record.json`, and read back by `commit` into the layer headers exactly.
 *
 * On disk every file is the caller's and stays usable by the caller: a
 * directory at least u+rwx, a file at least u+rw, a device an empty regular
 * file. The record holds, per path that differs from "0:0 with the mode on
 * disk": the real owner, the real mode, the device type and numbers, and the
 * xattrs only root may set (security.capability, trusted.*). Paths without an
 * entry are 0:0 in the layer, which is also what files added through `mount`
 * get (the caller is root of the image, as in a rootless user namespace).
 *
 * An entry names the inode it was recorded for: a path replaced since (a new
 * inode, e.g. a file deleted and written again through `mount`) is a new file
 * and gets 0:0. An owner or mode changed on disk since (chmod through `mount`)
 * wins over the record for that field.
 *
 * Why a per-container file, not umoci's `user.rootlesscontainers` xattr: user
 * xattrs cannot be set on symlinks or FIFOs (the kernel allows them only on
 * regular files and directories), so their owners would need a second store
 * anyway; a record also needs no xattr support from the store's file system,
 * costs one read per command instead of one getxattr per file at commit, and
 * can be diffed against the record of the last commit to see owner-only
 * changes of directories (which change neither mtime nor size). What the
 * xattr would give, following a rename, tbah gets inside `run` (the record is
 * applied to the disk in the user namespace and read back after, by path) but
 * not for a rename through `mount`: such a file loses its recorded owner.
 */
import { lstatSync } from 'node:fs';
import * as path from 'node:path';
import type { TarEntryType, TarHeader } from '../layer/tar-types.js';
import type { MetadataRecorder } from '../layer/apply.js';
import { readJsonFile, writeFileAtomic } from '../util/fsx.js';
import { type IdMap, type MetadataSource, identityIds } from './entries.js';
import { type FileStat, byteCompare } from './snapshot.js';

/** A path's type on disk: regular file (also a device kept as one), directory, symlink, FIFO. */
export type DiskType = 'f' | 'd' | 'l' | 'p';

export interface RecordEntry {
  /** Inode the entry was recorded for. */
  ino: number;
  type: DiskType;
  uid: number;
  gid: number;
  /** The real permission bits (07777). */
  mode: number;
  /** A device node, kept on disk as an empty regular file. */
  dev?: { type: 'char' | 'block'; major: number; minor: number };
  /** xattrs the caller cannot set on disk, values base64. */
  xattrs?: Record<string, string>;
}

export interface RecordFile {
  version: 1;
  entries: Record<string, RecordEntry>;
}

export const RECORD_FILE = 'record.json';

/** The mode a path has on disk: usable by the caller whatever the real one (symlinks have none). */
export function diskMode(mode: number, type: DiskType): number {
  if (type === 'l') return 0o777;
  return (mode & 0o7777) | (type === 'd' ? 0o700 : 0o600);
}

/** xattrs an unprivileged user can set on a file or directory it owns. */
export function settableXattr(name: string): boolean {
  return name.startsWith('user.');
}

export function diskTypeOf(st: FileStat): DiskType | undefined {
  if (st.isFile()) return 'f';
  if (st.isDirectory()) return 'd';
  if (st.isSymbolicLink()) return 'l';
  if (st.isFIFO()) return 'p';
  return undefined;
}

function diskTypeFor(t: TarEntryType): DiskType | undefined {
  switch (t) {
    case 'file': case 'char': case 'block': return 'f';
    case 'dir': return 'd';
    case 'symlink': return 'l';
    case 'fifo': return 'p';
    default: return undefined;
  }
}

/** Real metadata of one path, as a layer header carries it. */
export interface RealMeta {
  type: TarEntryType;
  uid: number;
  gid: number;
  mode: number;
  devmajor?: number;
  devminor?: number;
  xattrs?: Map<string, Buffer>;
}

type Pending = Omit<RecordEntry, 'ino'>;

/** The entry for real metadata, or undefined when "0:0, mode as on disk" says it all. */
export function entryFor(m: RealMeta): Pending | undefined {
  const type = diskTypeFor(m.type);
  if (type === undefined) return undefined;
  const mode = m.mode & 0o7777;
  const e: Pending = { type, uid: m.uid, gid: m.gid, mode: type === 'l' ? (mode || 0o777) : mode };
  if (m.type === 'char' || m.type === 'block') e.dev = { type: m.type, major: m.devmajor ?? 0, minor: m.devminor ?? 0 };
  if (m.xattrs) {
    const hidden = [...m.xattrs].filter(([n]) => !settableXattr(n)).sort(([a], [b]) => byteCompare(a, b));
    if (hidden.length > 0) e.xattrs = Object.fromEntries(hidden.map(([n, v]) => [n, v.toString('base64')]));
  }
  const plain = e.uid === 0 && e.gid === 0 && e.dev === undefined && e.xattrs === undefined && e.mode === diskMode(e.mode, type);
  return plain ? undefined : e;
}

export class MetadataRecord implements MetadataRecorder {
  private readonly entries = new Map<string, RecordEntry>();
  /** Noted while a layer or copy is being written; inodes are read at `flush`, when paths are final. */
  private readonly pending = new Map<string, Pending>();

  constructor(readonly root: string, file?: RecordFile) {
    if (file) for (const [k, v] of Object.entries(file.entries)) this.entries.set(k, v);
  }

  static async load(file: string, root: string): Promise<MetadataRecord> {
    try {
      return new MetadataRecord(root, await readJsonFile<RecordFile>(file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new MetadataRecord(root);
      throw err;
    }
  }

  private rel(abs: string): string | undefined {
    const r = path.relative(this.root, abs);
    if (r === '' || r.startsWith('..') || path.isAbsolute(r)) return undefined;
    return r.split(path.sep).join('/');
  }

  get size(): number {
    return this.entries.size;
  }

  get(rel: string): RecordEntry | undefined {
    return this.entries.get(rel);
  }

  set(rel: string, e: RecordEntry): void {
    this.entries.set(rel, e);
  }

  delete(rel: string): void {
    this.entries.delete(rel);
  }

  paths(): string[] {
    return [...this.entries.keys()];
  }

  /** `abs` now holds an entry with this real metadata. */
  note(abs: string, m: RealMeta | TarHeader): void {
    const rel = this.rel(abs);
    if (rel === undefined) return;
    const e = entryFor(m as RealMeta);
    this.entries.delete(rel);
    if (e === undefined) this.pending.delete(rel);
    else this.pending.set(rel, e);
  }

  /** `abs` and everything below it are gone (or replaced). */
  forget(abs: string): void {
    const rel = this.rel(abs);
    if (rel === undefined) return;
    const below = `${rel}/`;
    for (const map of [this.entries, this.pending] as Map<string, unknown>[]) {
      for (const k of [...map.keys()]) if (k === rel || k.startsWith(below)) map.delete(k);
    }
  }

  /** `abs` is a hard link to `target`: the same inode, so the same metadata. */
  link(abs: string, target: string): void {
    const rel = this.rel(abs);
    const t = this.rel(target);
    if (rel === undefined || t === undefined) return;
    const e = this.pending.get(t) ?? this.entries.get(t);
    this.entries.delete(rel);
    if (e === undefined) this.pending.delete(rel);
    else this.pending.set(rel, { type: e.type, uid: e.uid, gid: e.gid, mode: e.mode, ...(e.dev ? { dev: e.dev } : {}), ...(e.xattrs ? { xattrs: e.xattrs } : {}) });
  }

  /** Give noted entries the inode they ended up with (paths gone meanwhile are dropped). */
  flush(): void {
    for (const [rel, e] of this.pending) {
      let st: FileStat;
      try {
        st = lstatSync(path.join(this.root, rel));
      } catch {
        continue;
      }
      const type = diskTypeOf(st);
      if (type === e.type) this.entries.set(rel, { ino: st.ino, ...e });
    }
    this.pending.clear();
  }

  toFile(): RecordFile {
    this.flush();
    const keys = [...this.entries.keys()].sort(byteCompare);
    return { version: 1, entries: Object.fromEntries(keys.map((k) => [k, this.entries.get(k)!])) };
  }

  async save(file: string): Promise<void> {
    await writeFileAtomic(file, JSON.stringify(this.toFile()));
  }

  /**
   * Paths whose recorded metadata differs between two records (an owner
   * changed by `copy --chown` or inside `run` leaves a directory's mtime and
   * size alone, so the tree walk alone would miss it).
   */
  static changedPaths(before: RecordFile | undefined, after: RecordFile): string[] {
    const a = before?.entries ?? {};
    const b = after.entries;
    const out: string[] = [];
    const same = (x: RecordEntry | undefined, y: RecordEntry | undefined): boolean => {
      if (x === undefined || y === undefined) return x === y;
      const { ino: _i, ...xs } = x;
      const { ino: _j, ...ys } = y;
      return JSON.stringify(xs) === JSON.stringify(ys);
    };
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) if (!same(a[k], b[k])) out.push(k);
    return out.sort(byteCompare);
  }

  /**
   * The headers a commit writes: the record where it still describes the path
   * (same inode and type), field by field where the disk was not changed since.
   */
  source(caller: { uid: number; gid: number }): MetadataSource {
    return {
      header: (rel: string, st: FileStat, h: TarHeader): TarHeader => {
        const e = this.entries.get(rel);
        if (e === undefined || e.ino !== st.ino || e.type !== diskTypeOf(st)) return h;
        const out: TarHeader = { ...h };
        if (st.uid === caller.uid) out.uid = e.uid;
        if (st.gid === caller.gid) out.gid = e.gid;
        if ((st.mode & 0o7777) === diskMode(e.mode, e.type)) out.mode = e.mode;
        if (e.dev !== undefined && st.isFile() && st.size === 0) {
          out.type = e.dev.type;
          out.devmajor = e.dev.major;
          out.devminor = e.dev.minor;
          out.size = 0;
        }
        if (e.xattrs !== undefined) {
          const x = new Map(h.xattrs ?? []);
          for (const [n, v] of Object.entries(e.xattrs)) x.set(n, Buffer.from(v, 'base64'));
          out.xattrs = new Map([...x].sort(([a], [b]) => byteCompare(a, b)));
        }
        return out;
      },
    };
  }
}

/**
 * How owners on disk become owners in the layer for a rootless container:
 * the caller is root; ids of the caller's subordinate ranges (left by a `run`
 * that was killed before it gave the files back, or by a `chown` inside
 * `tbah unshare`) are the ids they stand for in tbah's user namespace. Inside
 * that namespace (uid 0) what is seen already is the container's view.
 */
export function rootlessIds(subordinate: () => { uids: { inside: number; outside: number; count: number }[]; gids: { inside: number; outside: number; count: number }[] }): IdMap {
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return identityIds;
  const gid = process.getgid?.() ?? uid;
  let m: ReturnType<typeof subordinate> | undefined;
  const inside = (ranges: 'uids' | 'gids', id: number): number => {
    m ??= subordinate();
    for (const r of m[ranges]) if (id >= r.outside && id < r.outside + r.count) return r.inside + (id - r.outside);
    return id;
  };
  return { uid: (u) => (u === uid ? 0 : inside('uids', u)), gid: (g) => (g === gid ? 0 : inside('gids', g)) };
}
