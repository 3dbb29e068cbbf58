/**
 * `tbah copy` / `tbah add`: put host files (or files of another container or
 * image) into a working container. Every destination path is resolved inside
 * the container's rootfs as if chrooted, so a symlink in the image can never
 * make tbah write on the host. Returns the hex digest of what was added
 * (names, modes, owners and contents as a tar with zeroed times, so the digest
 * depends on content, not on checkout times).
 */
import { createHash, type Hash } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import fs, { createReadStream, createWriteStream, promises as fsp, type Stats } from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { TbahError, diskError, errnoError, isErrno } from '../errors.js';
import { applyLayer } from '../layer/apply.js';
import { mkdirAllInRoot, resolveInRoot } from '../layer/secure-path.js';
import { encodeHeader } from '../layer/tar.js';
import type { TarEntryType, TarHeader } from '../layer/tar-types.js';
import { expandGlob, hasMagic } from '../match/glob.js';
import { type IgnoreMatcher, readIgnoreFile, readIgnoreFileAt } from '../match/ignore.js';
import { isRoot } from '../store/paths.js';
import type { Store } from '../store/store.js';
import { removeTree } from '../util/fsx.js';
import { UndoLog } from '../layer/undo.js';
import { byteCompare } from '../driver/snapshot.js';
import { containerDriver } from '../driver/index.js';
import { unpackLayers } from '../driver/dir.js';
import type { ContainerState } from '../store/containers.js';
import { type ResolveOptions, resolveImage } from './import.js';
import { type Owner, resolveOwner } from './users.js';
import { chain } from '../util/streams.js';

export interface CopyOptions {
  container: string;
  sources: string[];
  /** Destination in the container; relative paths are relative to the image's WorkingDir. */
  dest: string;
  /** USER[:GROUP], names resolved in the container. Default 0:0. */
  chown?: string;
  /** Octal mode for every copied file and directory. */
  chmod?: string;
  /** Copy from this container (name/ID) or image instead of the host. */
  from?: string;
  /** How `from` reaches a registry when it names an image that must be pulled. */
  fromOptions?: ResolveOptions;
  /** Host sources are relative to this directory and may not leave it; its ignore file applies. */
  contextDir?: string;
  ignoreFile?: string;
  /** `add` semantics: extract local archives, download URLs. */
  add?: boolean;
  /** Working directory for relative host sources (default process.cwd()). */
  cwd?: string;
}

interface Source {
  /** Host path of the source (already inside its allowed root). */
  hostPath: string;
  /** The name it has when copied into a directory. */
  baseName: string;
  /** Root the source is relative to, for ignore matching; undefined when no ignore applies. */
  ignoreRel?: string;
  kind: 'path' | 'archive' | 'download';
  mtime?: number;
}

const HTTP = /^https?:\/\//;

export async function copyIntoContainer(store: Store, opts: CopyOptions): Promise<string> {
  if (opts.sources.length === 0) throw new TbahError('usage', 'copy needs at least one source and a destination');
  const chmod = opts.chmod === undefined ? undefined : parseChmod(opts.chmod);
  const cleanups: (() => Promise<void>)[] = [];
  try {
    // A source container is locked too (in ID order), so a commit cannot move its files meanwhile.
    const fromContainer = opts.from !== undefined ? await store.containers.find(opts.from) : undefined;
    const specs = fromContainer ? [opts.container, fromContainer.id] : [opts.container];
    const whileLocked: (() => Promise<void>)[] = [];
    return await store.withBlobs(() => store.containers.withContainers(specs, async ([state, source]) => withRootfsOf(store, state!, whileLocked, async (rootfs) => {
      const owner: Owner = opts.chown !== undefined ? await resolveOwner(rootfs, opts.chown) : { uid: 0, gid: 0 };
      if (!isRoot() && (owner.uid !== 0 || owner.gid !== 0)) {
        // Without root the files are the caller's, which a commit records as 0:0; other owners need root for now.
        throw new TbahError('unsupported', `--chown ${opts.chown}: setting other owners needs root in this version of tbah`, {
          hint: 'run as root, or leave out --chown (files are committed as owned by 0:0)',
        });
      }

      // Where sources come from.
      let srcRoot: string | undefined;
      let ignore: IgnoreMatcher | undefined;
      if (opts.from !== undefined) {
        if (source) {
          srcRoot = source.id === state!.id ? rootfs : await showRootfs(store, source, whileLocked);
        } else {
          const img = await resolveImage(store, opts.from, opts.fromOptions);
          const tmp = await store.tempDir('copy-from');
          cleanups.push(() => removeTree(tmp));
          await unpackLayers(store, img.manifest.layers.map((d, i) => ({ descriptor: d, diffId: img.config.rootfs.diff_ids[i]! })), tmp);
          srcRoot = tmp;
        }
      } else if (opts.contextDir !== undefined) {
        srcRoot = path.resolve(opts.cwd ?? process.cwd(), opts.contextDir);
        const st = await fsp.stat(srcRoot).catch(() => undefined);
        if (!st?.isDirectory()) throw new TbahError('not-found', `--contextdir ${opts.contextDir} is not a directory`);
        ignore = opts.ignoreFile !== undefined ? await readIgnoreFileAt(path.resolve(opts.cwd ?? process.cwd(), opts.ignoreFile)) : await readIgnoreFile(srcRoot);
      } else if (opts.ignoreFile !== undefined) {
        throw new TbahError('usage', '--ignorefile needs --contextdir', { hint: 'give the build context with --contextdir DIR' });
      }

      const sources: Source[] = [];
      for (const s of opts.sources) {
        if (HTTP.test(s)) {
          if (!opts.add || opts.from !== undefined) throw new TbahError('invalid-argument', `source ${s}: URLs are only supported by \`tbah add\``);
          const tmp = await store.tempDir('add-url');
          cleanups.push(() => removeTree(tmp));
          sources.push(await download(s, tmp));
          continue;
        }
        const matches = await expandSource(s, srcRoot, opts.cwd ?? process.cwd());
        for (const m of matches) {
          const isArchive = opts.add && opts.from === undefined && (await sniffArchive(m.hostPath)) !== undefined;
          sources.push({ ...m, kind: isArchive ? 'archive' : 'path' });
        }
      }

      // Destination, resolved inside the container.
      const workdir = state.image.config.config?.WorkingDir || '/';
      const destAbs = path.posix.resolve(workdir, opts.dest);
      const destIsDirHint = opts.dest.endsWith('/') || opts.dest === '.' || sources.length > 1;
      const destHost = await resolveInRoot(rootfs, destAbs);
      const destStat = await fsp.stat(destHost).catch(() => undefined);
      const hasher = createHash('sha256');
      const doChown = isRoot();
      // Everything below changes the rootfs: a failure half-way puts it back as it was.
      const asideDir = await store.tempDir('copy-undo');
      cleanups.push(() => removeTree(asideDir));
      const undo = new UndoLog(rootfs, asideDir);
      const ctx: Ctx = { rootfs, owner, chmod, hasher, doChown, ignore, created: new Set(), undo };
      try {
        await copySources(ctx, sources, opts.dest, destAbs, destIsDirHint, destStat);
      } catch (err) {
        undo.rollback();
        throw diskError(err, 'writing', rootfs);
      }
      undo.commit();
      return hasher.digest('hex');
    })));
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
  }
}

async function copySources(ctx: Ctx, sources: Source[], dest: string, destAbs: string, destIsDirHint: boolean, destStat: Stats | undefined): Promise<void> {
  const single = sources.length === 1 ? sources[0]! : undefined;
  const singleStat = single && single.kind === 'path' ? await fsp.stat(single.hostPath) : undefined;
  if (single && !destIsDirHint && !(destStat?.isDirectory()) && (single.kind === 'download' || singleStat?.isFile())) {
    // One file onto a file path.
    await ensureParents(ctx, path.posix.dirname(destAbs));
    await copyOne(ctx, single.hostPath, await fsp.stat(single.hostPath), destAbs, single.mtime);
  } else {
    if (destStat && !destStat.isDirectory()) {
      throw new TbahError('conflict', `destination ${dest} already exists in the container but is not a directory`, { hint: 'copy a single file onto it, or pick a directory' });
    }
    await ensureParents(ctx, destAbs);
    for (const src of sources) {
      if (src.kind === 'archive') {
        await extractArchive(ctx, src.hostPath, destAbs);
        continue;
      }
      const st = await fsp.stat(src.hostPath);
      if (st.isDirectory()) await copyTree(ctx, src.hostPath, destAbs, src.ignoreRel);
      else await copyOne(ctx, src.hostPath, st, path.posix.join(destAbs, src.baseName), src.mtime);
    }
  }
}

/** `fn` on the container's root file system; `undo` (e.g. unmounting a source container) runs after it, still under the locks. */
async function withRootfsOf<T>(store: Store, c: ContainerState, undo: (() => Promise<void>)[], fn: (root: string) => Promise<T>): Promise<T> {
  try {
    return await (await containerDriver(store, c)).withRootfs(c, fn);
  } finally {
    for (const u of undo.splice(0)) await u().catch(() => undefined);
  }
}

/** A source container's root file system for reading, shown until `undo` runs when it was not already. */
async function showRootfs(store: Store, c: ContainerState, cleanups: (() => Promise<void>)[]): Promise<string> {
  const driver = await containerDriver(store, c);
  if (!driver.isMounted(c)) cleanups.unshift(() => driver.unmount(c));
  return driver.mount(c);
}

interface Ctx {
  rootfs: string;
  owner: Owner;
  chmod: number | undefined;
  hasher: Hash;
  doChown: boolean;
  ignore: IgnoreMatcher | undefined;
  /** Directories this copy created, so their owner follows --chown. */
  created: Set<string>;
  /** What this copy changed in the rootfs, to put back on failure. */
  undo: UndoLog;
}

export function parseChmod(s: string): number {
  if (!/^[0-7]{3,4}$/.test(s)) throw new TbahError('invalid-argument', `--chmod ${s}: not an octal mode`, { hint: 'use an octal mode such as 755 or 0644' });
  return parseInt(s, 8);
}

/** Expand one source argument to existing host paths, honouring the allowed root. */
async function expandSource(spec: string, root: string | undefined, cwd: string): Promise<Omit<Source, 'kind'>[]> {
  let base: string;
  let rel: string;
  if (root !== undefined) {
    base = root;
    rel = path.posix.normalize('/' + spec).slice(1); // sources stay inside the context or the other root
  } else {
    const abs = path.resolve(cwd, spec);
    base = '/';
    rel = abs.slice(1);
  }
  const trailing = rel.replace(/\/+$/, '');
  const rels = hasMagic(trailing) ? await expandGlob(base, trailing) : [trailing];
  const out: Omit<Source, 'kind'>[] = [];
  for (const r of rels) {
    // Inside a context or another root, resolve as if chrooted; on the host, the path as given.
    const hostPath = root !== undefined ? await resolveInRoot(base, r) : path.join(base, r);
    try {
      await fsp.stat(hostPath);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) continue;
      throw err;
    }
    out.push({ hostPath, baseName: path.posix.basename(r) || path.basename(hostPath), ...(root !== undefined ? { ignoreRel: r === '' ? '.' : r } : {}) });
  }
  if (out.length === 0) {
    throw new TbahError('not-found', `source ${spec}: no such file or directory${hasMagic(trailing) ? ' (the pattern matched nothing)' : ''}`, {
      hint: root !== undefined ? `sources are relative to ${root}` : 'check the path',
    });
  }
  return out;
}

/** Create missing directories of `dir` (container path) inside the rootfs. */
async function ensureParents(ctx: Ctx, dir: string): Promise<void> {
  const parts = dir.split('/').filter(Boolean);
  let cur = '/';
  for (const p of parts) {
    cur = path.posix.join(cur, p);
    const host = await resolveInRoot(ctx.rootfs, cur);
    const st = await fsp.lstat(host).catch(() => undefined);
    if (st) {
      if (!st.isDirectory()) throw new TbahError('conflict', `${cur} exists in the container and is not a directory`);
      continue;
    }
    ctx.undo.willChange(host);
    await mkdirAllInRoot(ctx.rootfs, cur, 0o755);
    ctx.undo.created(host);
    if (ctx.doChown) chownOrExplain(() => fs.lchownSync(host, ctx.owner.uid, ctx.owner.gid), ctx.owner, cur);
    ctx.created.add(cur);
  }
}

function chownOrExplain(chown: () => void, owner: Owner, shown: string): void {
  try {
    chown();
  } catch (err) {
    if (isErrno(err, 'EINVAL') || isErrno(err, 'EPERM')) {
      throw new TbahError('invalid-argument', `cannot give ${shown} the owner ${owner.uid}:${owner.gid}: that id is not mapped for this user`, {
        hint: 'use ids inside your user namespace range, or run as root',
      });
    }
    throw err;
  }
}

function typeOf(st: Stats): TarEntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  return undefined;
}

function hashEntry(ctx: Ctx, h: TarHeader): void {
  ctx.hasher.update(encodeHeader({ ...h, mtime: 0 }));
}

/** Copy one entry to container path `dest`, resolving its parent inside the rootfs. */
async function copyOne(ctx: Ctx, src: string, st: Stats, dest: string, mtimeOverride?: number): Promise<void> {
  const parent = await resolveInRoot(ctx.rootfs, path.posix.dirname(dest));
  copyEntry(ctx, src, st, path.join(parent, path.posix.basename(dest)), dest, mtimeOverride);
}

/**
 * Copy one entry to `target`, a host path whose parent is a real directory
 * inside the rootfs (resolved securely by the caller). Synchronous on purpose:
 * a per-file chain of awaited calls made copy 2x slower than Buildah
 * (bench/README.md); the file-descriptor calls also avoid path lookups.
 */
function copyEntry(ctx: Ctx, src: string, st: Stats, target: string, dest: string, mtimeOverride?: number): void {
  const type = typeOf(st);
  if (!type) return; // sockets and devices are not copied
  const mode = ctx.chmod ?? (st.mode & 0o7777);
  ctx.undo.willChange(target); // before anything in its directory changes
  const existing = fs.lstatSync(target, { throwIfNoEntry: false });
  if (existing && (type !== 'dir' || !existing.isDirectory())) {
    ctx.undo.replace(target, existing); // moved aside, never written through (it may be a symlink)
  } else if (existing) {
    ctx.undo.touch(target); // an existing directory gets new owner, mode, times
  }
  const header: TarHeader = { name: dest.slice(1), type, mode, uid: ctx.owner.uid, gid: ctx.owner.gid, size: type === 'file' ? st.size : 0, mtime: 0 };
  const mtime = mtimeOverride ?? st.mtimeMs / 1000;
  if (type === 'file') {
    hashEntry(ctx, header);
    const fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    ctx.undo.created(target);
    try {
      const n = copyContent(ctx, src, fd);
      if (n % 512) ctx.hasher.update(Buffer.alloc(512 - (n % 512)));
      if (ctx.doChown) chownOrExplain(() => fs.fchownSync(fd, ctx.owner.uid, ctx.owner.gid), ctx.owner, dest);
      fs.fchmodSync(fd, mode);
      fs.futimesSync(fd, mtime, mtime);
    } finally {
      fs.closeSync(fd);
    }
    return;
  }
  if (type === 'dir') {
    hashEntry(ctx, header);
    if (!existing) {
      fs.mkdirSync(target, 0o700);
      ctx.undo.created(target);
    }
  } else if (type === 'symlink') {
    const link = fs.readlinkSync(src);
    hashEntry(ctx, { ...header, linkname: link });
    fs.symlinkSync(link, target);
    ctx.undo.created(target);
  } else {
    hashEntry(ctx, header);
    execFileSync('mkfifo', ['-m', '600', target], { stdio: 'ignore' });
    ctx.undo.created(target);
  }
  if (ctx.doChown) chownOrExplain(() => fs.lchownSync(target, ctx.owner.uid, ctx.owner.gid), ctx.owner, dest);
  if (type !== 'symlink') fs.chmodSync(target, mode);
  if (type === 'symlink') fs.lutimesSync(target, mtime, mtime);
  else if (type === 'fifo') fs.utimesSync(target, mtime, mtime);
}

const CHUNK = 1 << 20;

/** Copy a file's bytes into `fd` while hashing them; returns the byte count. */
function copyContent(ctx: Ctx, src: string, out: number): number {
  const fd = fs.openSync(src, fs.constants.O_RDONLY);
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    let total = 0;
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, CHUNK, null);
      } catch (err) {
        throw errnoError(err, 'reading', src); // the source, not the container, is what failed
      }
      if (n === 0) return total;
      const chunk = buf.subarray(0, n);
      ctx.hasher.update(chunk);
      for (let off = 0; off < n;) off += fs.writeSync(out, chunk, off, n - off);
      total += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Copy the contents of a host directory into container dir `dest` (Docker COPY semantics). */
async function copyTree(ctx: Ctx, srcDir: string, dest: string, ignoreRel: string | undefined): Promise<void> {
  const destHost = await resolveInRoot(ctx.rootfs, dest);
  const dirTimes: [string, number][] = [];
  // Children are created in directories this walk resolved or created itself
  // (lstat says a real directory), so joining names needs no new resolution.
  const walk = (hostDir: string, targetDir: string, destDir: string, rel: string | undefined): void => {
    for (const name of fs.readdirSync(hostDir).sort(byteCompare)) {
      const childRel = rel === undefined ? undefined : rel === '.' ? name : `${rel}/${name}`;
      const hostPath = path.join(hostDir, name);
      const st = fs.lstatSync(hostPath);
      // An excluded directory may still hold re-included paths.
      if (ctx.ignore && childRel !== undefined && ctx.ignore.matches(childRel) && !(st.isDirectory() && ctx.ignore.mayReinclude(childRel))) continue;
      const target = path.join(targetDir, name);
      const destPath = path.posix.join(destDir, name);
      copyEntry(ctx, hostPath, st, target, destPath);
      if (st.isDirectory()) {
        dirTimes.push([target, st.mtimeMs / 1000]);
        walk(hostPath, target, destPath, childRel);
      }
    }
  };
  walk(srcDir, destHost, dest, ignoreRel);
  // Directory times last: writing children changes them.
  for (const [d, t] of dirTimes.reverse()) fs.utimesSync(d, t, t);
}

type ArchiveKind = 'tar' | 'gzip' | 'bzip2' | 'xz';

export async function sniffArchive(file: string): Promise<ArchiveKind | undefined> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return undefined;
    const b = Buffer.alloc(512);
    const { bytesRead } = await fh.read(b, 0, 512, 0);
    if (bytesRead >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
    if (bytesRead >= 3 && b.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
    if (bytesRead >= 6 && b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
    if (bytesRead >= 262 && b.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
    return undefined;
  } finally {
    await fh.close();
  }
}

function decompressArchive(file: string, kind: ArchiveKind): Readable {
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  if (kind === 'tar') return raw;
  if (kind === 'gzip') {
    return chain(raw, createGunzip());
  }
  const child = spawn(kind === 'bzip2' ? 'bzip2' : 'xz', ['-dc'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const out = new PassThrough();
  child.on('error', (e) => out.destroy(new TbahError('unsupported', `cannot run ${kind === 'bzip2' ? 'bzip2' : 'xz'} to read ${file}: ${e.message}`, { hint: `install ${kind === 'bzip2' ? 'bzip2' : 'xz-utils'}` })));
  child.on('close', (code) => { if (code !== 0) out.destroy(new Error(`${kind} exited ${code}`)); });
  chain(raw, child.stdin);
  chain(child.stdout, out);
  return out;
}

/** `add` of a local archive: extracted into `dest` with the same safe applier layers use. */
async function extractArchive(ctx: Ctx, file: string, dest: string): Promise<void> {
  const kind = (await sniffArchive(file))!;
  const dir = await resolveInRoot(ctx.rootfs, dest);
  ctx.hasher.update(`archive:${path.basename(file)}:`);
  const hashing = decompressArchive(file, kind);
  hashing.on('data', (c: Buffer) => ctx.hasher.update(c));
  // Extraction is confined to `dir`; a hostile archive cannot climb out into the rest of the rootfs or the host.
  try {
    await applyLayer(dir, hashing, { ownership: ctx.doChown ? 'chown' : 'ignore', undo: ctx.undo });
  } catch (err) {
    if (err instanceof TbahError) throw err;
    throw new TbahError('corrupt', `add ${file}: the ${kind} archive cannot be read: ${(err as Error).message}`, {
      hint: 'the archive is truncated or not what its first bytes say; check it with tar -tf',
    });
  }
}

/** `add` of a URL: downloaded to a temp file; mtime from Last-Modified as Buildah does. */
async function download(url: string, tmpDir: string): Promise<Source> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (err) {
    throw new TbahError('network', `cannot download ${url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`, { hint: 'check the URL and the network' });
  }
  if (!res.ok || !res.body) throw new TbahError('network', `cannot download ${url}: HTTP ${res.status}`, { hint: 'check the URL' });
  const name = decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? '') || 'download';
  const file = path.join(tmpDir, 'body');
  await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>), createWriteStream(file));
  await fsp.chmod(file, 0o600); // as Docker's ADD of a URL
  const lm = res.headers.get('last-modified');
  const mtime = lm ? Date.parse(lm) / 1000 : undefined;
  return { hostPath: file, baseName: name, kind: 'download', ...(mtime !== undefined && !Number.isNaN(mtime) ? { mtime } : {}) };
}
