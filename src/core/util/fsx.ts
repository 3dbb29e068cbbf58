/**
 * File-system primitives for "nothing is lost, ever": every durable write goes
 * to a temporary name, is fsynced, renamed into place, and the directory is
 * fsynced so the rename itself survives a crash.
 */
import { promises as fsp, constants } from 'node:fs';
import * as path from 'node:path';
import { TbahError, diskError, errnoError, isErrno } from '../errors.js';

let tempSeq = 0;

/**
 * A temp name beside `target` (12 hex digits: pid, a counter, randomness).
 * Not from node:crypto: loading it cost ~3 ms of every config, mount and
 * umount (measured); temp files are created O_EXCL, so a clash is an error,
 * never a shared file.
 */
export function tempName(target: string): string {
  const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0').slice(-w);
  const id = `${hex(process.pid, 4)}${hex(tempSeq++, 2)}${hex(Math.floor(Math.random() * 0x1000000), 6)}`;
  return path.join(path.dirname(target), `.tmp-${path.basename(target)}-${id}`);
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
  try {
    const fh = await fsp.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, target);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw diskError(err, 'writing', target); // a full disk names the store, not a temp file
  }
  await fsyncDir(path.dirname(target));
}

export async function writeJsonAtomic(target: string, value: unknown, mode = 0o644): Promise<void> {
  await writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n', mode);
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

/**
 * Fail now, before the work, if `writeUserFile(p)` would fail later: the
 * path too long, its directory missing or not writable. (A race can still
 * fail the write; this catches the mistakes.)
 */
export async function checkUserFile(p: string, what: string): Promise<void> {
  const target = await resolveOutput(p, what);
  const probe = target.kind === 'missing' ? path.dirname(target.path) : target.path;
  try {
    if (target.kind === 'missing' && !(await fsp.stat(probe)).isDirectory()) {
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    }
    if (target.kind === 'other' && (await fsp.stat(probe)).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    await fsp.access(probe, constants.W_OK);
  } catch (err) {
    throw errnoError(err, what, p);
  }
}

/** Where a user-named output path really lives and what is there now. */
export interface OutputTarget {
  /** The path with every symlink of its last component followed (dangling links too). */
  path: string;
  /** Nothing there yet, a regular file, or something else (device, FIFO, socket, directory). */
  kind: 'missing' | 'file' | 'other';
}

/**
 * Follow the last component's symlinks (up to 40, as the kernel), so a write
 * can go where the link points and the link stays a link.
 */
export async function resolveOutput(p: string, what = 'writing'): Promise<OutputTarget> {
  let cur = path.resolve(p);
  for (let hops = 0; hops <= 40; hops++) {
    let st;
    try {
      st = await fsp.lstat(cur);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return { path: cur, kind: 'missing' };
      throw errnoError(err, what, p);
    }
    if (!st.isSymbolicLink()) return { path: cur, kind: st.isFile() ? 'file' : 'other' };
    cur = path.resolve(path.dirname(cur), await fsp.readlink(cur));
  }
  throw new TbahError('invalid-argument', `too many levels of symbolic links ${what} ${p}`, { hint: 'check the links along the path' });
}

/**
 * A byte sink for a user-named output (an archive): a regular file (or a new
 * one) is written to a temp name beside the real file and renamed onto it when
 * complete, so a failed write leaves the old file and a symlink stays a link;
 * a device or FIFO is opened and streamed into, never replaced.
 */
export class OutputFile {
  private constructor(readonly fh: fsp.FileHandle, private readonly tmp: string | undefined, readonly target: OutputTarget, private readonly what: string) {}

  static async open(p: string, what: string, mode = 0o644): Promise<OutputFile> {
    const target = await resolveOutput(p, what);
    try {
      if (target.kind === 'other') {
        return new OutputFile(await fsp.open(target.path, constants.O_WRONLY | constants.O_TRUNC), undefined, target, what);
      }
      const tmp = tempName(target.path);
      return new OutputFile(await fsp.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode), tmp, target, what);
    } catch (err) {
      throw errnoError(err, what, p);
    }
  }

  /** Make the output durable and visible. */
  async commit(): Promise<void> {
    try {
      if (this.tmp === undefined) {
        await this.fh.close();
        return;
      }
      await this.fh.sync();
      await this.fh.close();
      await fsp.rename(this.tmp, this.target.path);
      await fsyncDir(path.dirname(this.target.path));
    } catch (err) {
      await this.abort();
      throw errnoError(err, this.what, this.target.path);
    }
  }

  /** Leave the old file as it was; nothing half-written stays. */
  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    if (this.tmp !== undefined) await fsp.rm(this.tmp, { force: true });
  }
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

/**
 * `mkdir -p`. Not fs.mkdir({ recursive: true }): libuv retries forever when
 * mkdir(2) says ENOENT although the parent exists (/proc/x hangs Node 20).
 * Each missing parent is made once, then the child is tried once more.
 */
export async function mkdirAll(dir: string, mode = 0o755): Promise<void> {
  const target = path.resolve(dir);
  try {
    await fsp.mkdir(target, mode);
    return;
  } catch (err) {
    if (isErrno(err, 'EEXIST')) {
      if ((await fsp.stat(target)).isDirectory()) return;
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${target}'`), { code: 'ENOTDIR', syscall: 'mkdir', path: target });
    }
    const parent = path.dirname(target);
    if (!isErrno(err, 'ENOENT') || parent === target) throw err;
  }
  await mkdirAll(path.dirname(target), mode);
  try {
    await fsp.mkdir(target, mode);
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
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
