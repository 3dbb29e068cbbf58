/**
 * Turns a directory rootfs plus its last snapshot into the tar entries of one
 * OCI layer: added and modified paths (with their parent directories), `.wh.`
 * whiteouts for deletions and `.wh..wh..opq` for directories that were
 * replaced. Output is sorted by byte order and fully deterministic.
 */
import { closeSync, constants, openSync, readSync, readlinkSync, type Stats } from 'node:fs';
import { TbahError } from '../errors.js';
import * as path from 'node:path';
import { nativeFs } from '../util/native.js';
import type { TarEntry } from '../layer/tar.js';
import type { TarEntryType, TarHeader } from '../layer/tar-types.js';
import { type SnapshotFile, type StatTuple, byteCompare, sameStat, walkTree } from './snapshot.js';

export interface TimePolicy {
  /** Every entry gets exactly this mtime (commit --timestamp). */
  setTo?: number;
  /** Entries newer than this are clamped to it (SOURCE_DATE_EPOCH). */
  clampTo?: number;
}

export interface ChangeSet {
  /** Added or modified paths, plus the parents of any change, in byte order. */
  changed: { rel: string; st: Stats }[];
  /** Deleted paths whose parent was not deleted too. */
  deleted: string[];
  /** Directories that were replaced (new inode or type): lower contents are hidden. */
  opaque: string[];
  /** The record of the tree as walked, for the next commit to diff against. */
  snapshot: SnapshotFile;
}

const S_IFMT = 0o170000;

export function computeChanges(root: string, snap: SnapshotFile | undefined): ChangeSet {
  const prev = snap?.entries ?? {};
  const seen = new Set<string>();
  const changedMap = new Map<string, Stats>();
  const all = new Map<string, Stats>();
  const opaque: string[] = [];
  const replacedPrefixes: string[] = [];
  const next: Record<string, StatTuple> = {};

  for (const { rel, st } of walkTree(root)) {
    seen.add(rel);
    all.set(rel, st);
    next[rel] = tuple(st);
    const p = prev[rel];
    const insideReplaced = replacedPrefixes.length > 0 && replacedPrefixes.some((d) => rel.startsWith(d + '/'));
    if (!p || insideReplaced) {
      changedMap.set(rel, st);
      continue;
    }
    if (st.isDirectory()) {
      const wasDir = (p[1] & S_IFMT) === constants.S_IFDIR;
      if (!wasDir || p[0] !== st.ino) {
        changedMap.set(rel, st);
        if (wasDir) {
          opaque.push(rel);
          replacedPrefixes.push(rel);
        }
      } else if (!sameStat(p, tuple(st))) {
        changedMap.set(rel, st);
      }
    } else if (!sameStat(p, tuple(st))) {
      changedMap.set(rel, st);
    }
  }

  const deletedAll = Object.keys(prev).filter((rel) => !seen.has(rel));
  const deletedSet = new Set(deletedAll);
  const deleted = deletedAll.filter((rel) => {
    const parent = path.posix.dirname(rel);
    if (parent !== '.' && deletedSet.has(parent)) return false;
    // Children of a replaced directory are hidden by its opaque marker.
    return !replacedPrefixes.some((d) => rel.startsWith(d + '/'));
  });

  // Parents of every change carry their own metadata in the layer, as Docker's do.
  const withParents = new Set<string>(changedMap.keys());
  const addParents = (rel: string): void => {
    for (let d = path.posix.dirname(rel); d !== '.'; d = path.posix.dirname(d)) {
      if (withParents.has(d)) break;
      withParents.add(d);
    }
  };
  for (const rel of [...changedMap.keys(), ...deleted, ...opaque]) addParents(rel);
  const changed = [...withParents]
    .sort(byteCompare)
    .map((rel) => ({ rel, st: changedMap.get(rel) ?? all.get(rel)! }));
  return { changed, deleted: deleted.sort(byteCompare), opaque, snapshot: { version: 1, entries: next } };
}

function tuple(st: Stats): StatTuple {
  return [st.ino, st.mode, st.uid, st.gid, st.size, st.mtimeMs, st.ctimeMs, st.nlink];
}

export function isEmptyChangeSet(cs: ChangeSet): boolean {
  return cs.changed.length === 0 && cs.deleted.length === 0;
}

function entryType(st: Stats): TarEntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return undefined; // sockets cannot be represented in a layer
}

export function applyTime(mtime: number, t: TimePolicy): number {
  if (t.setTo !== undefined) return t.setTo;
  if (t.clampTo !== undefined && mtime > t.clampTo) return t.clampTo;
  return mtime;
}

/** xattrs worth keeping in a layer: file capabilities and user attributes. */
function keepXattr(name: string): boolean {
  return name === 'security.capability' || name.startsWith('user.');
}

export function readXattrs(file: string, st: Stats): Map<string, Buffer> | undefined {
  if (!st.isFile() && !st.isDirectory()) return undefined;
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined; // unreadable (e.g. mode 0000 as non-root): no xattrs to carry
  }
  try {
    return xattrsOfFd(fd);
  } finally {
    closeSync(fd);
  }
}

function xattrsOfFd(fd: number): Map<string, Buffer> | undefined {
  try {
    const names = nativeFs().listAttrsSync(fd).filter(keepXattr).sort(byteCompare);
    if (names.length === 0) return undefined;
    const out = new Map<string, Buffer>();
    for (const n of names) {
      const v = nativeFs().getAttrSync(fd, n);
      if (v !== null) out.set(n, v);
    }
    return out.size > 0 ? out : undefined;
  } catch {
    return undefined;
  }
}

/** Files up to this size are read with their xattrs through one open (half the opens of a commit). */
const SMALL_FILE = 256 * 1024;

/** Content and xattrs of a small file through one descriptor; undefined if it cannot be opened. */
function readSmallFile(file: string, size: number): { data: Buffer; xattrs: Map<string, Buffer> | undefined } | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined; // let the tar writer report it with its own error
  }
  try {
    const data = Buffer.allocUnsafe(size + 1);
    let got = 0;
    for (let n; got <= size && (n = readSync(fd, data, got, size + 1 - got, null)) > 0;) got += n;
    if (got !== size) {
      throw new TbahError('io', `${file} changed while it was being committed (${got > size ? 'grew' : 'shrank'})`, { hint: 'stop writing into the container while committing, then commit again' });
    }
    return { data: data.subarray(0, size), xattrs: xattrsOfFd(fd) };
  } finally {
    closeSync(fd);
  }
}

function devNumbers(rdev: number): { devmajor: number; devminor: number } {
  // Linux new_encode_dev layout.
  const major = ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xff & 0xfffff);
  return { devmajor: major, devminor: minor };
}

/** Header for a path on disk; `name` is its path in the archive. */
export async function headerFor(
  root: string, rel: string, st: Stats, time: TimePolicy, readlink: (p: string) => string, withXattrs = true,
): Promise<TarHeader | undefined> {
  const type = entryType(st);
  if (!type) return undefined;
  const full = path.join(root, rel);
  // Without root, the caller's own files are root's in the image, as in a
  // rootless user namespace (Buildah rootless maps the caller to uid 0).
  const self = callerIds();
  const h: TarHeader = {
    name: rel,
    type,
    mode: st.mode & 0o7777,
    uid: self && st.uid === self.uid ? 0 : st.uid,
    gid: self && st.gid === self.gid ? 0 : st.gid,
    size: type === 'file' ? st.size : 0,
    mtime: applyTime(Math.floor(st.mtimeMs / 1000), time),
  };
  if (type === 'symlink') h.linkname = readlink(full);
  if (type === 'char' || type === 'block') Object.assign(h, devNumbers(st.rdev));
  const x = withXattrs ? readXattrs(full, st) : undefined;
  if (x) h.xattrs = x;
  return h;
}

/** The caller's ids when not root (undefined as root). */
function callerIds(): { uid: number; gid: number } | undefined {
  const uid = process.getuid?.() ?? 0;
  return uid === 0 ? undefined : { uid, gid: process.getgid?.() ?? uid };
}

export function whiteoutHeader(name: string, time: TimePolicy): TarHeader {
  return { name, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtime: applyTime(0, time) };
}

/**
 * The tar entries of a change set, in byte order of their names: content
 * entries, whiteouts and opaque markers interleaved; hardlinks inside the
 * layer become link entries to the first name seen.
 */
export async function* layerEntries(root: string, cs: ChangeSet, time: TimePolicy): AsyncGenerator<TarEntry> {
  const items: { name: string; kind: 'path' | 'whiteout' | 'opaque'; st?: Stats }[] = [];
  for (const c of cs.changed) items.push({ name: c.rel, kind: 'path', st: c.st });
  for (const d of cs.deleted) {
    const dir = path.posix.dirname(d);
    items.push({ name: (dir === '.' ? '' : dir + '/') + '.wh.' + path.posix.basename(d), kind: 'whiteout' });
  }
  for (const o of cs.opaque) items.push({ name: `${o}/.wh..wh..opq`, kind: 'opaque' });
  items.sort((a, b) => byteCompare(a.name, b.name));

  const firstLink = new Map<string, string>();
  for (const it of items) {
    if (it.kind !== 'path') {
      yield { header: whiteoutHeader(it.name, time) };
      continue;
    }
    const st = it.st!;
    const small = st.isFile() && st.size <= SMALL_FILE;
    const header = await headerFor(root, it.name, st, time, (p) => readlinkSync(p, 'utf8'), !small);
    if (!header) continue;
    if (header.type === 'file' && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = firstLink.get(key);
      if (first !== undefined) {
        yield { header: { ...header, type: 'hardlink', size: 0, linkname: first, xattrs: undefined } };
        continue;
      }
      firstLink.set(key, it.name);
    }
    if (small) {
      const f = readSmallFile(path.join(root, it.name), st.size);
      if (f) {
        if (f.xattrs) header.xattrs = f.xattrs;
        yield { header, source: f.data };
        continue;
      }
    }
    yield header.type === 'file' ? { header, source: path.join(root, it.name) } : { header };
  }
}
