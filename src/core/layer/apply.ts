/**
 * Safe extraction of one OCI layer onto a directory that holds the lower
 * layers (umoci's UnpackEntry in spirit). Guarantees:
 * - nothing is written outside `root`: parents are resolved with
 *   resolveInRoot (a symlink in the image, or one made earlier by this very
 *   layer, is followed as if `root` were `/`), the final component is never
 *   followed (files are created O_EXCL|O_NOFOLLOW after removing what was there);
 * - OCI whiteouts remove lower-layer content only; entries of this layer
 *   survive whatever order the tar lists them in;
 * - metadata lands in the order the kernel needs: content, lchown, chmod
 *   (chown clears setuid), xattrs (chown clears security.capability), times;
 *   directory modes and times are set last, after their children were written.
 *
 * Entry names: a leading '/' is stripped (the name is re-rooted, as GNU tar,
 * Docker and containerd do); a name whose `..` climbs above the root is
 * refused with 'unsafe-path'. The root entry ('.') may only be a directory.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { TbahError, isErrno, unsafePath } from '../errors.js';
import { nativeFs } from '../util/native.js';
import { mkdirAllInRoot, resolveInRoot } from './secure-path.js';
import { readTar } from './tar.js';
import type { TarHeader } from './tar-types.js';

export interface ApplyOptions {
  /** 'chown' sets each entry's uid/gid (needs root, or root in a user namespace); 'ignore' leaves the caller as owner. */
  ownership: 'chown' | 'ignore';
  /** Non-fatal problems (xattrs the filesystem refuses, devices skipped without root). */
  onWarning?: (msg: string) => void;
}

export interface ApplyStats {
  /** Tar entries processed, whiteouts included. */
  entries: number;
  /** Bytes of file content written. */
  bytes: number;
}

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';
/** Largest batch handed to one writev. */
const WRITE_BATCH = 1024 * 1024;
/** Files up to this size are collected from the tar and written with one synchronous writev. */
const SMALL_FILE = 1024 * 1024;

// Made on first use: promisify reads execFile, which would load child_process with this module.
let execFileAsync: ((cmd: string, args: string[]) => Promise<unknown>) | undefined;
const run = (cmd: string, args: string[]) => (execFileAsync ??= promisify(execFile))(cmd, args);


/** Apply the layer tar `tar` onto `root`. */
export async function applyLayer(root: string, tar: AsyncIterable<Buffer>, opts: ApplyOptions): Promise<ApplyStats> {
  const r = path.resolve(root);
  let st: fs.Stats;
  try {
    st = await lstat(r);
  } catch (err) {
    throw new TbahError('not-found', `layer root '${r}' does not exist`, { cause: err });
  }
  if (!st.isDirectory()) throw new TbahError('invalid-argument', `layer root '${r}' is not a directory`);
  if (opts.ownership === 'chown' && process.geteuid?.() !== 0) {
    throw new TbahError('invalid-argument', 'applying a layer with ownership needs root', {
      hint: "run as root (or in a user namespace), or apply with ownership 'ignore'",
    });
  }
  const a = new Applier(r, opts);
  for await (const { header, body } of readTar(tar)) {
    try {
      await a.entry(header, body);
    } catch (err) {
      if (err instanceof TbahError) throw err;
      throw new TbahError('io', `applying layer entry '${header.name}': ${(err as Error).message}`, { cause: err });
    }
  }
  await a.finish();
  return a.stats;
}

interface DeferredDir {
  mode: number;
  mtime: number;
  /** Value of Applier.generation when recorded. */
  generation: number;
}

class Applier {
  readonly stats: ApplyStats = { entries: 0, bytes: 0 };
  private readonly warn: (msg: string) => void;
  private readonly chown: boolean;
  private readonly isRoot = process.geteuid?.() === 0;
  /** Lexical parent directory → its resolved host path (known to be a real directory). */
  private readonly dirCache = new Map<string, string>();
  /** Bumped whenever a directory or symlink is removed: resolved paths recorded before may be stale. */
  private generation = 0;
  /** Host paths this layer wrote, and every directory above them: whiteouts must leave these alone. */
  private readonly written = new Set<string>();
  private readonly ancestors = new Set<string>();
  private readonly dirs = new Map<string, DeferredDir>();

  constructor(
    private readonly root: string,
    opts: ApplyOptions,
  ) {
    this.warn = opts.onWarning ?? (() => {});
    this.chown = opts.ownership === 'chown';
  }

  async entry(h: TarHeader, body: AsyncIterable<Buffer>): Promise<void> {
    this.stats.entries++;
    const rel = cleanName(h.name, h.name);
    if (rel === '') {
      if (h.type !== 'dir') throw unsafePath(`layer entry '${h.name}' would turn the root into a ${h.type}`);
      this.dirMeta(this.root, h);
      return;
    }
    const slash = rel.lastIndexOf('/');
    const dirRel = slash < 0 ? '' : rel.slice(0, slash);
    const base = rel.slice(slash + 1);
    if (base.startsWith(WH)) {
      await this.whiteout(dirRel, base, h.name);
      return;
    }
    const abs = path.join(await this.parentDir(dirRel), base);
    switch (h.type) {
      case 'file':
        await this.file(abs, h, body);
        break;
      case 'dir':
        this.dir(abs, h);
        break;
      case 'symlink':
        this.create(abs, () => fs.symlinkSync(h.linkname ?? '', abs));
        if (this.chown) fs.lchownSync(abs, h.uid, h.gid);
        if (h.xattrs !== undefined) this.warn(`xattrs of symlink '${h.name}' were not applied`);
        fs.lutimesSync(abs, time(h.mtime), time(h.mtime));
        break;
      case 'hardlink':
        if (!(await this.hardlink(abs, h))) return;
        break;
      case 'char':
      case 'block':
      case 'fifo':
        if (!(await this.special(abs, h))) return;
        break;
    }
    this.markWritten(abs);
  }

  /**
   * Set directory modes and times last: creating children changes a directory's mtime.
   * Deepest-first (reverse entry order), so a parent turning 0500 cannot lock us out of a child.
   */
  async finish(): Promise<void> {
    for (const [abs, d] of [...this.dirs].reverse()) {
      if (d.generation !== this.generation) {
        // Something was removed since: make sure no component of the path has become a symlink.
        const again = await resolveInRoot(this.root, path.relative(this.root, abs), { followFinal: false });
        if (again !== abs) continue;
      }
      const st = lstatOrNull(abs);
      if (st === null || !st.isDirectory()) continue;
      fs.chmodSync(abs, d.mode);
      fs.utimesSync(abs, time(d.mtime), time(d.mtime));
    }
  }

  private async parentDir(dirRel: string): Promise<string> {
    if (dirRel === '') return this.root;
    let abs = this.dirCache.get(dirRel);
    if (abs === undefined) {
      abs = await mkdirAllInRoot(this.root, dirRel, 0o755);
      this.dirCache.set(dirRel, abs);
    }
    return abs;
  }

  private markWritten(abs: string): void {
    this.written.add(abs);
    for (let d = path.dirname(abs); d.length > this.root.length && !this.ancestors.has(d); d = path.dirname(d)) {
      this.ancestors.add(d);
    }
  }

  /** Remove whatever is at `abs` (never following it: rm's recursion uses lstat). */
  private remove(abs: string, st: fs.Stats): void {
    if (st.isDirectory()) fs.rmSync(abs, { recursive: true, force: true });
    else fs.unlinkSync(abs);
    if (st.isDirectory() || st.isSymbolicLink()) {
      this.generation++;
      this.dirCache.clear();
    }
  }

  /** Run `make`; if something already stands at `abs`, remove it and run `make` again. */
  private create<T>(abs: string, make: () => T): T {
    try {
      return make();
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
      this.remove(abs, fs.lstatSync(abs));
      return make();
    }
  }

  /**
   * Per-entry work is synchronous: measured here, a thread-pool round trip costs ~30 µs,
   * so 20k files × 6 async calls took 5.8 s against GNU tar's 1.7 s. Only large bodies
   * are written asynchronously (they are where waiting on the disk can pay off).
   */
  private async file(abs: string, h: TarHeader, body: AsyncIterable<Buffer>): Promise<void> {
    const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
    if (h.size <= SMALL_FILE) {
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c);
      const fd = this.create(abs, () => fs.openSync(abs, flags, 0o600));
      try {
        let done = chunks.length === 0 ? 0 : fs.writevSync(fd, chunks);
        if (done < h.size) {
          // Short write (rare on regular files): finish the rest.
          const rest = Buffer.concat(chunks, h.size);
          while (done < h.size) done += fs.writeSync(fd, rest, done, h.size - done);
        }
        this.fileMeta(fd, h);
      } finally {
        fs.closeSync(fd);
      }
    } else {
      const fh = await open(abs, flags, 0o600).catch(async (err: unknown) => {
        if (!isErrno(err, 'EEXIST')) throw err;
        this.remove(abs, fs.lstatSync(abs));
        return open(abs, flags, 0o600);
      });
      try {
        let batch: Buffer[] = [];
        let batched = 0;
        for await (const chunk of body) {
          batch.push(chunk);
          batched += chunk.length;
          if (batched >= WRITE_BATCH) {
            await writeAll(fh, batch, batched);
            batch = [];
            batched = 0;
          }
        }
        if (batched > 0) await writeAll(fh, batch, batched);
        this.fileMeta(fh.fd, h);
      } finally {
        await fh.close();
      }
    }
    this.stats.bytes += h.size;
  }

  /** Owner, then mode (chown clears setuid), then xattrs (chown clears security.capability), then times. */
  private fileMeta(fd: number, h: TarHeader): void {
    if (this.chown) fs.fchownSync(fd, h.uid, h.gid);
    fs.fchmodSync(fd, h.mode);
    if (h.xattrs !== undefined) this.xattrs(fd, h);
    fs.futimesSync(fd, time(h.mtime), time(h.mtime));
  }

  private dir(abs: string, h: TarHeader): void {
    try {
      // 0700 until finish(): the final mode might not let us write the children.
      fs.mkdirSync(abs, 0o700);
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
      const st = fs.lstatSync(abs);
      if (!st.isDirectory()) {
        this.remove(abs, st);
        fs.mkdirSync(abs, 0o700);
      }
    }
    this.dirMeta(abs, h);
  }

  private dirMeta(abs: string, h: TarHeader): void {
    if (this.chown) fs.lchownSync(abs, h.uid, h.gid);
    if (h.xattrs !== undefined) {
      const fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
      try {
        this.xattrs(fd, h);
      } finally {
        fs.closeSync(fd);
      }
    }
    this.dirs.delete(abs); // re-insert so a later duplicate entry wins
    this.dirs.set(abs, { mode: h.mode, mtime: h.mtime, generation: this.generation });
  }

  private xattrs(fd: number, h: TarHeader): void {
    for (const [name, value] of h.xattrs!) {
      try {
        nativeFs().setAttrSync(fd, name, value);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EACCES' || code === 'EINVAL') {
          this.warn(`xattr '${name}' of '${h.name}' was not applied (${code})`);
        } else {
          throw err;
        }
      }
    }
  }

  /** Returns false when nothing was created (link to itself). */
  private async hardlink(abs: string, h: TarHeader): Promise<boolean> {
    const targetRel = cleanName(h.linkname ?? '', h.name);
    if (targetRel === '') throw unsafePath(`hardlink '${h.name}' points to the root directory`);
    // The target's own final component is not followed: link(2) links a symlink itself, too.
    const target = await resolveInRoot(this.root, targetRel, { followFinal: false });
    const st = lstatOrNull(target);
    if (st === null) throw unsafePath(`hardlink '${h.name}' points to '${h.linkname}', which does not exist inside the root`);
    if (st.isDirectory()) throw unsafePath(`hardlink '${h.name}' points to the directory '${h.linkname}'`);
    if (target === abs) return false;
    this.create(abs, () => fs.linkSync(target, abs));
    return true;
  }

  /** Devices and FIFOs; Node has no mknod, so coreutils does it. Returns false when skipped. */
  private async special(abs: string, h: TarHeader): Promise<boolean> {
    const isDevice = h.type !== 'fifo';
    if (isDevice && !this.isRoot) {
      this.warn(`device '${h.name}' skipped: creating devices needs root`);
      return false;
    }
    const [cmd, args] =
      h.type === 'fifo'
        ? ['mkfifo', ['-m', '0600', '--', abs]]
        : ['mknod', ['-m', '0600', '--', abs, h.type === 'char' ? 'c' : 'b', String(h.devmajor ?? 0), String(h.devminor ?? 0)]];
    const make = async (): Promise<void> => {
      try {
        await run(cmd, args);
      } catch (err) {
        const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
        if (/exists/i.test(stderr)) throw Object.assign(new Error(stderr), { code: 'EEXIST' });
        throw Object.assign(new Error(stderr || (err as Error).message), { code: 'ESPAWN' });
      }
    };
    try {
      await make().catch(async (err: unknown) => {
        if (!isErrno(err, 'EEXIST')) throw err;
        this.remove(abs, fs.lstatSync(abs));
        await make();
      });
    } catch (err) {
      if (!isDevice || !isErrno(err, 'ESPAWN')) throw err;
      // e.g. root in a user namespace: the kernel refuses mknod of real devices.
      this.warn(`device '${h.name}' skipped: ${(err as Error).message}`);
      return false;
    }
    if (this.chown) fs.lchownSync(abs, h.uid, h.gid);
    fs.chmodSync(abs, h.mode); // we just created it, so it is not a symlink
    if (h.xattrs !== undefined) this.warn(`xattrs of ${h.type} '${h.name}' were not applied`);
    fs.utimesSync(abs, time(h.mtime), time(h.mtime));
    return true;
  }

  private async whiteout(dirRel: string, base: string, name: string): Promise<void> {
    if (base === OPAQUE) {
      const dir = dirRel === '' ? this.root : await resolveInRoot(this.root, dirRel);
      if (lstatOrNull(dir)?.isDirectory() === true) this.removeLower(dir);
      return;
    }
    if (base.startsWith(`${WH}${WH}`)) {
      // AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): never part of the image's content.
      this.warn(`ignoring AUFS metadata entry '${name}'`);
      return;
    }
    const victim = base.slice(WH.length);
    if (victim === '' || victim === '.' || victim === '..') throw unsafePath(`whiteout '${name}' names no file`);
    const parent = dirRel === '' ? this.root : (this.dirCache.get(dirRel) ?? (await resolveInRoot(this.root, dirRel)));
    const abs = path.join(parent, victim);
    const st = lstatOrNull(abs);
    if (st === null || this.written.has(abs)) return;
    if (st.isDirectory() && this.ancestors.has(abs)) this.removeLower(abs);
    else this.remove(abs, st);
  }

  /** Remove every child of `dir` that this layer did not write (an opaque directory hides all lower content). */
  private removeLower(dir: string): void {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, ent.name);
      if (this.written.has(abs) || this.ancestors.has(abs)) {
        if (ent.isDirectory()) this.removeLower(abs);
        continue;
      }
      this.remove(abs, fs.lstatSync(abs));
    }
  }
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return null;
    throw err;
  }
}

/** Seconds as a Date: Node turns a negative number of seconds into "now", but passes a Date through. */
const time = (seconds: number): Date => new Date(seconds * 1000);

/** Clean an entry name lexically: drop a leading '/', '.' and empty parts; refuse `..` above the root. */
function cleanName(name: string, entry: string): string {
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length === 0) throw unsafePath(`layer entry '${entry}' points outside the root ('${name}')`);
      out.pop();
    } else {
      out.push(c);
    }
  }
  return out.join('/');
}

async function writeAll(fh: FileHandle, chunks: Buffer[], total: number): Promise<void> {
  let { bytesWritten } = chunks.length === 1 ? await fh.write(chunks[0]!) : await fh.writev(chunks);
  if (bytesWritten === total) return;
  // Short write (rare on regular files): finish the rest one buffer at a time.
  const rest = Buffer.concat(chunks, total).subarray(bytesWritten);
  for (let off = 0; off < rest.length; off += bytesWritten) {
    ({ bytesWritten } = await fh.write(rest, off));
  }
}
