/**
 * Tar entries of one OCI layer from a change set over a directory (the dir
 * driver's rootfs or the overlay driver's upper): content entries, `.wh.`
 * whiteouts and `.wh..wh..opq` markers in byte order, numeric owners through
 * an explicit id map, times through the commit's time policy. Deterministic.
 */
import { closeSync, constants, openSync, readSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { TbahError } from '../errors.js';
import type { TarEntry } from '../layer/tar.js';
import type { TarEntryType, TarHeader } from '../layer/tar-types.js';
import { nativeFs } from '../util/native.js';
import type { ChangeSet } from './changes.js';
import { byteCompare, type FileStat } from './snapshot.js';

export interface TimePolicy {
  /** Every entry gets exactly this mtime (commit --timestamp). */
  setTo?: number;
  /** Entries newer than this are clamped to it (SOURCE_DATE_EPOCH). */
  clampTo?: number;
}

/** How owners on disk become owners in the layer. */
export interface IdMap {
  uid(onDisk: number): number;
  gid(onDisk: number): number;
}

export const identityIds: IdMap = { uid: (u) => u, gid: (g) => g };

/**
 * Without root, the caller's own files are root's in the image, as in a
 * rootless user namespace (Buildah rootless maps the caller to uid 0).
 */
export function callerIsRoot(caller: { uid: number; gid: number }): IdMap {
  return { uid: (u) => (u === caller.uid ? 0 : u), gid: (g) => (g === caller.gid ? 0 : g) };
}

/** The id map for files this process wrote: identity as root, the caller as 0:0 otherwise. */
export function processIds(): IdMap {
  const uid = process.getuid?.() ?? 0;
  return uid === 0 ? identityIds : callerIsRoot({ uid, gid: process.getgid?.() ?? uid });
}

export interface EntryOptions {
  time: TimePolicy;
  ids: IdMap;
  /** Sees every header as it is emitted (the overlay driver makes its upper match the layer). */
  onEmit?: (h: TarHeader) => void;
}

function entryType(st: FileStat): TarEntryType | undefined {
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

/**
 * xattrs worth keeping in a layer: file capabilities and user attributes, but
 * never overlayfs's own markers (user.overlay.* in a user namespace).
 */
export function keepXattr(name: string): boolean {
  return name === 'security.capability' || (name.startsWith('user.') && !name.startsWith('user.overlay.'));
}

export function readXattrs(file: string, st: FileStat): Map<string, Buffer> | undefined {
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
export function headerFor(
  root: string, rel: string, st: FileStat, time: TimePolicy, ids: IdMap, readlink: (p: string) => string, withXattrs = true,
): TarHeader | undefined {
  const type = entryType(st);
  if (!type) return undefined;
  const full = path.join(root, rel);
  const h: TarHeader = {
    name: rel,
    type,
    mode: st.mode & 0o7777,
    uid: ids.uid(st.uid),
    gid: ids.gid(st.gid),
    size: type === 'file' ? st.size : 0,
    mtime: applyTime(Math.floor(st.mtimeMs / 1000), time),
  };
  if (type === 'symlink') h.linkname = readlink(full);
  if (type === 'char' || type === 'block') Object.assign(h, devNumbers(st.rdev));
  const x = withXattrs ? readXattrs(full, st) : undefined;
  if (x) h.xattrs = x;
  return h;
}

export function whiteoutHeader(name: string, time: TimePolicy): TarHeader {
  return { name, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtime: applyTime(0, time) };
}

/**
 * The tar entries of a change set, in byte order of their names: content
 * entries, whiteouts and opaque markers interleaved; hardlinks inside the
 * layer become link entries to the first name seen.
 */
export async function* layerEntries(root: string, cs: ChangeSet, opts: EntryOptions): AsyncGenerator<TarEntry> {
  const { time, ids } = opts;
  const emit = opts.onEmit ?? ((): void => undefined);
  const items: { name: string; kind: 'path' | 'whiteout' | 'opaque'; st?: FileStat }[] = [];
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
      const h = whiteoutHeader(it.name, time);
      emit(h);
      yield { header: h };
      continue;
    }
    const st = it.st!;
    const small = st.isFile() && st.size <= SMALL_FILE;
    const header = headerFor(root, it.name, st, time, ids, (p) => readlinkSync(p, 'utf8'), !small);
    if (!header) continue;
    if (header.type === 'file' && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = firstLink.get(key);
      if (first !== undefined) {
        const link: TarHeader = { ...header, type: 'hardlink', size: 0, linkname: first, xattrs: undefined };
        emit(link);
        yield { header: link };
        continue;
      }
      firstLink.set(key, it.name);
    }
    if (small) {
      const f = readSmallFile(path.join(root, it.name), st.size);
      if (f) {
        if (f.xattrs) header.xattrs = f.xattrs;
        emit(header);
        yield { header, source: f.data };
        continue;
      }
    }
    emit(header);
    yield header.type === 'file' ? { header, source: path.join(root, it.name) } : { header };
  }
}
