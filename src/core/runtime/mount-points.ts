/**
 * Mount points a run creates in the rootfs and removes afterwards, so they never
 * reach a commit; and the recovery of those a killed run left behind.
 */
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { isErrno } from '../errors.js';
import { resolveInRoot } from '../layer/secure-path.js';

/**
 * The components of `target` (container path) that do not exist yet, outermost first.
 * These are what the runtime will create as mount points and what we remove afterwards.
 */
export async function missingComponents(rootfs: string, target: string): Promise<string[]> {
  const parts = path.posix.normalize(`/${target}`).split('/').filter((p) => p !== '');
  const missing: string[] = [];
  for (let i = 1; i <= parts.length; i++) {
    const p = `/${parts.slice(0, i).join('/')}`;
    if (missing.length > 0) { missing.push(p); continue; }
    try {
      await fsp.lstat(await resolveInRoot(rootfs, p, { followFinal: false }));
    } catch (err) {
      if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw err;
      missing.push(p);
    }
  }
  return missing;
}

/** Times of a directory, to put back once what was created in it for a run is gone. */
export interface DirTimes { atimeMs: number; mtimeMs: number }

/**
 * The times of the existing directories that will receive mount points: making
 * and removing an entry changes a directory's mtime, which would make it a
 * change of its own (a commit after a plain `run` would carry `/etc`).
 */
export async function parentTimes(rootfs: string, created: Set<string>): Promise<Record<string, DirTimes>> {
  const out: Record<string, DirTimes> = {};
  for (const p of created) {
    const parent = path.posix.dirname(p);
    if (created.has(parent) || parent in out) continue;
    try {
      const st = await fsp.lstat(await resolveInRoot(rootfs, parent));
      if (st.isDirectory()) out[parent] = { atimeMs: st.atimeMs, mtimeMs: st.mtimeMs };
    } catch (err) {
      if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw err;
    }
  }
  return out;
}

/** Remove run-only mount points, deepest first; only empty dirs and empty files go. */
export async function removeMountPoints(rootfs: string, created: Set<string>, times: Record<string, DirTimes> = {}): Promise<void> {
  const byDepth = [...created].sort((a, b) => b.split('/').length - a.split('/').length || b.localeCompare(a));
  for (const p of byDepth) {
    const host = path.join(rootfs, p);
    try {
      // The command may have turned a parent into a symlink (even to a host path): only
      // remove what still sits where it was made.
      if (await resolveInRoot(rootfs, path.posix.dirname(p)) !== path.dirname(host)) continue;
      const st = await fsp.lstat(host);
      if (st.isDirectory()) await fsp.rmdir(host);
      else if (st.isFile() && st.size === 0) await fsp.unlink(host);
    } catch (err) {
      // Not empty means the command put content there: that is its change, keep it.
      if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTEMPTY') && !isErrno(err, 'EBUSY')) throw err;
    }
  }
  for (const [dir, t] of Object.entries(times)) {
    try {
      const host = await resolveInRoot(rootfs, dir);
      // Only where nothing else remains of the run: a directory that still holds a kept mount point changed.
      if ([...created].some((p) => path.posix.dirname(p) === dir && existsSync(path.join(rootfs, p)))) continue;
      await fsp.utimes(host, t.atimeMs / 1000, t.mtimeMs / 1000);
    } catch (err) {
      if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw err;
    }
  }
}

/**
 * After a run that was killed before it could clean up: remove the mount points
 * its journal lists (only those still empty, as after any run). Call it holding
 * the container's lock, before anything reads or runs in the rootfs.
 */
export async function recoverInterruptedRun(rootfs: string, journal: string): Promise<void> {
  let j: { created?: unknown; times?: unknown };
  try {
    j = JSON.parse(await fsp.readFile(journal, 'utf8')) as { created?: unknown; times?: unknown };
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    if (!(err instanceof SyntaxError)) throw err;
    j = {}; // torn by the crash: nothing was mounted yet when it was being written
  }
  const created = Array.isArray(j.created) ? j.created.filter((p): p is string => typeof p === 'string' && p.startsWith('/')) : [];
  const times = typeof j.times === 'object' && j.times !== null ? j.times as Record<string, DirTimes> : {};
  await removeMountPoints(path.resolve(rootfs), new Set(created), times);
  await fsp.rm(journal, { force: true });
}
