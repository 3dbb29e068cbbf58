/**
 * A rootless container's record applied to the disk for the length of a
 * `run`, inside tbah's user namespace (where the caller is root and, with
 * subordinate ids, other owners exist): before the command every recorded
 * owner and mode is put on the files, so the command sees the image as it is
 * (`/home/app` 1000:1000 0700 is app's, not root's); after it, the tree is
 * read back, what the command changed (chown, chmod, adduser, setcap) becomes
 * the record, and every file is given back to the caller in its usable form.
 *
 * What the disk still cannot hold inside the namespace (device nodes, owners
 * outside the mapped ranges, file capabilities, which a user namespace would
 * store in its own v3 form) stays in the record only: an entry the command did
 * not touch is kept as it was.
 *
 * A journal (written before anything changes) says what was applied, so a
 * `run` killed half-way is put back by the next one.
 */
import fs from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../errors.js';
import { nativeFs } from '../util/native.js';
import { type IdMapping, isMapped } from '../runtime/userns.js';
import { type DiskType, type MetadataRecord, type RecordEntry, diskMode, diskTypeOf, entryFor } from './record.js';
import { type FileStat, walkTree } from './snapshot.js';

/** Per recorded path: what the disk holds once the record was applied, and its ctime before. */
export interface MaterializeJournal {
  version: 1;
  /** When the record was applied (ms): a file changed after it is the command's change. */
  since: number;
  entries: Record<string, { ino: number; uid: number; gid: number; mode: number; ctimeBefore: number }>;
}

const CAPS = 'security.capability';

function lstatOrNull(p: string): FileStat | null {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return null;
    throw err;
  }
}

/** The journal of what applying `record` will do (nothing changes yet). */
export function planMaterialize(record: MetadataRecord, ids: IdMapping): MaterializeJournal {
  const entries: MaterializeJournal['entries'] = {};
  for (const rel of record.paths()) {
    const e = record.get(rel)!;
    const st = lstatOrNull(path.join(record.root, rel));
    if (st === null || st.ino !== e.ino || diskTypeOf(st) !== e.type) continue; // stale: the path was replaced
    const uid = isMapped(ids.uids, e.uid) ? e.uid : st.uid;
    const gid = isMapped(ids.gids, e.gid) ? e.gid : st.gid;
    entries[rel] = { ino: st.ino, uid, gid, mode: e.type === 'l' ? 0o777 : e.mode, ctimeBefore: st.ctimeMs };
  }
  return { version: 1, since: Date.now(), entries };
}

/** Put the planned owners and modes on the files (as root of the user namespace). */
export function applyMaterialize(root: string, j: MaterializeJournal): void {
  for (const [rel, want] of Object.entries(j.entries)) {
    const abs = path.join(root, rel);
    const st = lstatOrNull(abs);
    if (st === null || st.ino !== want.ino) continue;
    if (st.uid !== want.uid || st.gid !== want.gid) fs.lchownSync(abs, want.uid, want.gid);
    // After chown, which clears setuid/setgid.
    if (!st.isSymbolicLink()) fs.chmodSync(abs, want.mode);
  }
}

export interface Dematerialized {
  /** Recorded paths the command left as they were: only their ctime moved (for the dir driver's snapshot). */
  untouched: { rel: string; ctimeBefore: number; st: FileStat }[];
}

function readCaps(abs: string): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    return nativeFs().getAttrSync(fd, CAPS) ?? undefined;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

function dropCaps(abs: string): void {
  const fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    nativeFs().removeAttrSync(fd, CAPS);
  } catch { /* already gone */ } finally {
    fs.closeSync(fd);
  }
}

/** Give a path back to the caller (root here) in its usable form. */
function restore(abs: string, st: FileStat, type: DiskType, mode: number): void {
  const chowned = st.uid !== 0 || st.gid !== 0;
  if (chowned) fs.lchownSync(abs, 0, 0);
  if (type !== 'l' && (chowned || (st.mode & 0o7777) !== diskMode(mode, type))) fs.chmodSync(abs, diskMode(mode, type));
}

/**
 * Read the tree back after the command: the record becomes what the files
 * say (kept as it was for entries the command did not touch), and every file
 * is the caller's again in its usable form.
 */
export function dematerialize(record: MetadataRecord, j: MaterializeJournal): Dematerialized {
  const root = record.root;
  const next = new Map<string, RecordEntry>();
  const untouched: Dematerialized['untouched'] = [];
  // Directories are given back after their children (a 0500 directory must stay writable while we walk below it).
  const dirs: { abs: string; st: FileStat; mode: number }[] = [];
  // Hard links: the first name decides for the inode (giving it back changes what the other names show).
  const byInode = new Map<number, { entry: RecordEntry | undefined; untouched: boolean }>();
  for (const { rel, st } of walkTree(root)) {
    const type = diskTypeOf(st);
    if (type === undefined) continue; // sockets, and devices the command made: no layer can hold the former
    const abs = path.join(root, rel);
    const linked = type === 'f' && st.nlink > 1 ? byInode.get(st.ino) : undefined;
    if (linked !== undefined) {
      if (linked.entry !== undefined) next.set(rel, linked.entry);
      const want = j.entries[rel];
      if (linked.untouched && want !== undefined) untouched.push({ rel, ctimeBefore: want.ctimeBefore, st });
      continue;
    }
    const old = record.get(rel);
    const want = j.entries[rel];
    const perm = st.mode & 0o7777;
    if (old !== undefined && want !== undefined && want.ino === st.ino && old.type === type
      && st.uid === want.uid && st.gid === want.gid && (type === 'l' || perm === want.mode)) {
      next.set(rel, old);
      if (type === 'd') dirs.push({ abs, st, mode: old.mode });
      else restore(abs, st, type, old.mode);
      untouched.push({ rel, ctimeBefore: want.ctimeBefore, st });
      if (type === 'f' && st.nlink > 1) byInode.set(st.ino, { entry: old, untouched: true });
      continue;
    }
    const sameFile = old !== undefined && old.ino === st.ino && old.type === type;
    let caps: Buffer | undefined;
    if (type === 'f' && st.ctimeMs >= j.since) caps = readCaps(abs);
    const xattrs = caps !== undefined ? new Map([[CAPS, caps]])
      : sameFile && old.xattrs !== undefined ? new Map(Object.entries(old.xattrs).map(([n, v]) => [n, Buffer.from(v, 'base64')]))
      : undefined;
    const dev = sameFile && old.dev !== undefined && type === 'f' && st.size === 0 ? old.dev : undefined;
    const e = entryFor({
      type: dev ? dev.type : type === 'f' ? 'file' : type === 'd' ? 'dir' : type === 'l' ? 'symlink' : 'fifo',
      uid: st.uid, gid: st.gid, mode: type === 'l' ? 0o777 : perm,
      ...(dev ? { devmajor: dev.major, devminor: dev.minor } : {}),
      ...(xattrs ? { xattrs } : {}),
    });
    if (e !== undefined) next.set(rel, { ino: st.ino, ...e });
    if (type === 'f' && st.nlink > 1) byInode.set(st.ino, { entry: e !== undefined ? { ino: st.ino, ...e } : undefined, untouched: false });
    if (caps !== undefined) dropCaps(abs); // a user namespace's capability would reach the layer in its v3 form
    if (type === 'd') dirs.push({ abs, st, mode: perm });
    else restore(abs, st, type, perm);
  }
  for (let i = dirs.length - 1; i >= 0; i--) restore(dirs[i]!.abs, dirs[i]!.st, 'd', dirs[i]!.mode);
  for (const rel of record.paths()) record.delete(rel);
  for (const [rel, e] of next) record.set(rel, e);
  return { untouched };
}
