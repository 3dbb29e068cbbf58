/**
 * The overlay driver's diff, from the upper directory alone: overlayfs puts
 * every changed path there (copied up with its parents), marks deletions with
 * whiteout devices and replaced directories with the opaque xattr. Reading it
 * costs what the container changed, not what its image holds.
 */
import fs from 'node:fs';
import * as path from 'node:path';
import type { TarHeader } from '../layer/tar-types.js';
import { nativeFs } from '../util/native.js';
import type { ChangeSet } from './changes.js';
import { keepXattr } from './entries.js';
import { OPAQUE_XATTR, isOpaqueDir, isWhiteoutStat } from './layer-store.js';
import { byteCompare, walkTree, type FileStat } from './snapshot.js';

type Lower = (rel: string) => { path: string; st: FileStat } | null;

/**
 * The change set an upper directory holds. Directories overlayfs copied up
 * only to hold something that is gone again (a run's mount point, a file made
 * and removed) and that are the same as below are left out: they change nothing.
 */
export function upperChanges(upper: string, lower: Lower, opaqueXattr = OPAQUE_XATTR): ChangeSet {
  const entries: { rel: string; st: FileStat; whiteout: boolean; opaque: boolean }[] = [];
  for (const { rel, st } of walkTree(upper)) {
    const whiteout = isWhiteoutStat(st);
    entries.push({ rel, st, whiteout, opaque: !whiteout && st.isDirectory() && isOpaqueDir(path.join(upper, rel), opaqueXattr) });
  }
  // Children come after their parent in the walk: deciding in reverse sees every child first.
  const needed = new Set<string>(); // directories that hold something kept
  const keep = new Set<string>();
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i]!;
    let kept = true;
    if (e.st.isDirectory() && !e.opaque && !needed.has(e.rel)) {
      const below = lower(e.rel);
      kept = below === null || !below.st.isDirectory() || below.st.mode !== e.st.mode || below.st.uid !== e.st.uid
        || below.st.gid !== e.st.gid || Math.floor(below.st.mtimeMs / 1000) !== Math.floor(e.st.mtimeMs / 1000);
    }
    if (!kept) continue;
    keep.add(e.rel);
    const parent = path.posix.dirname(e.rel);
    if (parent !== '.') needed.add(parent);
  }
  const changed: { rel: string; st: FileStat }[] = [];
  const deleted: string[] = [];
  const opaque: string[] = [];
  for (const e of entries) {
    if (!keep.has(e.rel)) continue;
    if (e.whiteout) deleted.push(e.rel);
    else changed.push({ rel: e.rel, st: e.st });
    if (e.opaque) opaque.push(e.rel);
  }
  return { changed, deleted: deleted.sort(byteCompare), opaque };
}

/**
 * Make a committed upper directory hold exactly what its layer blob holds, so
 * it can serve as that layer for every container: times as the layer wrote
 * them (whole seconds, clamped or set by the commit's time policy), no xattrs
 * the layer left out (overlayfs's bookkeeping, for one), nothing the layer
 * could not carry (sockets) or did not need (unchanged copied-up directories).
 */
export function conformToLayer(dir: string, headers: TarHeader[], opaqueXattr = OPAQUE_XATTR): void {
  const byName = new Map<string, TarHeader>();
  for (const h of headers) byName.set(h.name, h);
  const dirs: { abs: string; mtime: number }[] = [];
  const entries = [...walkTree(dir)];
  // Deepest first, so removing an unneeded directory finds it empty.
  for (let i = entries.length - 1; i >= 0; i--) {
    const { rel, st } = entries[i]!;
    const abs = path.join(dir, rel);
    if (isWhiteoutStat(st)) continue;
    const h = byName.get(rel);
    if (h === undefined) {
      if (st.isDirectory()) fs.rmSync(abs, { recursive: true, force: true });
      else fs.unlinkSync(abs);
      continue;
    }
    if (h.type === 'hardlink') continue; // shares the inode of its first name
    if (st.isFile() || st.isDirectory()) stripXattrs(abs, st, h, opaqueXattr);
    if (st.isDirectory()) dirs.push({ abs, mtime: h.mtime });
    else fs.lutimesSync(abs, h.mtime, h.mtime);
  }
  // Directory times last: removing children above changed them.
  for (const d of dirs) fs.utimesSync(d.abs, d.mtime, d.mtime);
}

function stripXattrs(abs: string, st: FileStat, h: TarHeader, opaqueXattr: string): void {
  let fd: number;
  try {
    fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return;
  }
  try {
    for (const name of nativeFs().listAttrsSync(fd)) {
      if (st.isDirectory() && name === opaqueXattr) continue;
      if (keepXattr(name) && h.xattrs?.has(name)) continue;
      try {
        nativeFs().removeAttrSync(fd, name);
      } catch { /* a namespace we may not touch (security.selinux): it was never in the layer either way */ }
    }
  } finally {
    fs.closeSync(fd);
  }
}
