/**
 * The dir driver's diff, pure: a walk of the rootfs against the snapshot taken
 * at the last unpack or commit gives the added and modified paths (with their
 * parent directories), the deleted ones and the directories that were replaced.
 * Turning a change set into tar entries is `entries.ts`'s job.
 */
import { constants } from 'node:fs';
import * as path from 'node:path';
import { type SnapshotFile, type StatTuple, byteCompare, sameDirStat, sameStat, walkTree, type FileStat } from './snapshot.js';

/** What one layer carries: the same shape whichever driver found it. */
export interface ChangeSet {
  /** Added or modified paths, plus the parents of any change, in byte order. */
  changed: { rel: string; st: FileStat }[];
  /** Deleted paths whose parent was not deleted too. */
  deleted: string[];
  /** Directories that were replaced (new inode or type): lower contents are hidden. */
  opaque: string[];
  /** The dir driver's record of the tree as walked, for the next commit to diff against. */
  snapshot?: SnapshotFile;
}

const S_IFMT = 0o170000;

export function computeChanges(root: string, snap: SnapshotFile | undefined): ChangeSet {
  const prev = snap?.entries ?? {};
  const seen = new Set<string>();
  const changedMap = new Map<string, FileStat>();
  const all = new Map<string, FileStat>();
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
      } else if (!sameDirStat(p, tuple(st))) {
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

function tuple(st: FileStat): StatTuple {
  return [st.ino, st.mode, st.uid, st.gid, st.size, st.mtimeMs, st.ctimeMs, st.nlink];
}

export function isEmptyChangeSet(cs: ChangeSet): boolean {
  return cs.changed.length === 0 && cs.deleted.length === 0;
}
