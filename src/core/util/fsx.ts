/**
 * File-system primitives for "nothing is lost, ever": every durable write goes
 * to a temporary name, is fsynced, renamed into place, and the directory is
 * fsynced so the rename itself survives a crash.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp, constants } from 'node:fs';
import * as path from 'node:path';
import { errnoError, isErrno } from '../errors.js';

export function tempName(target: string): string {
  return path.join(path.dirname(target), `.tmp-${path.basename(target)}-${randomBytes(6).toString('hex')}`);
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Atomically replace `target` with `data` (temp + fsync + rename + dir fsync). */
export async function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = tempName(target);
  const fh = await fsp.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await fsp.rename(tmp, target);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(path.dirname(target));
}

/**
 * Write a file the user named (--iidfile, --cidfile, --digestfile …) the way
 * Buildah does (Go's os.WriteFile): open following symlinks, O_WRONLY|O_CREAT|
 * O_TRUNC, write, close. Never a rename: the path may be /dev/null, a FIFO
 * someone reads, or a symlink that must stay one — a rename would replace it.
 */
export async function writeUserFile(target: string, data: string | Uint8Array, mode = 0o644, what = 'writing'): Promise<void> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, mode);
  } catch (err) {
    throw errnoError(err, what, target);
  }
  try {
    await fh.writeFile(data);
  } catch (err) {
    throw errnoError(err, what, target);
  } finally {
    await fh.close();
  }
}

export async function writeJsonAtomic(target: string, value: unknown, mode = 0o644): Promise<void> {
  await writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n', mode);
}

export async function readJsonFile<T>(file: string): Promise<T> {
  return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
}

export async function pathExists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return false;
    throw err;
  }
}

/** Names in a directory; none when it does not exist (yet). */
export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}

/**
 * Remove a tree. Renames it aside first so that a crash half-way never leaves
 * a half-deleted tree under its real name.
 */
export async function removeTree(p: string): Promise<void> {
  const aside = tempName(p) + '.del';
  try {
    await fsp.rename(p, aside);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  await fsp.rm(aside, { recursive: true, force: true, maxRetries: 3 });
}
