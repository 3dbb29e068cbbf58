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
import type { LinkedCopy } from '../config-edit.js';
import { TbahError, diskError, errnoError, isErrno } from '../errors.js';
import { rfc3339 } from '../image.js';
import { applyLayer } from '../layer/apply.js';
import { mkdirAllInRoot, resolveInRoot } from '../layer/secure-path.js';
import { encodeHeader } from '../layer/tar.js';
import type { TarEntryType, TarHeader } from '../layer/tar-types.js';
import { expandGlob, hasMagic } from '../match/glob.js';
import { IgnoreMatcher, parseIgnoreFile, readIgnoreFile, readIgnoreFileAt } from '../match/ignore.js';
import { parseDigest } from '../oci.js';
import type { Store } from '../store/store.js';
import { removeTree } from '../util/fsx.js';
import { UndoLog } from '../layer/undo.js';
import { byteCompare } from '../driver/snapshot.js';
import { containerDriver } from '../driver/index.js';
import { unpackLayers } from '../driver/dir.js';
import { MetadataRecord, diskMode } from '../driver/record.js';
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
  /** `--no-follow-symlinks`: a source that is a symlink is copied as the link, not as what it points to. */
  noFollowSymlinks?: boolean;
  /** `--timestamp`: seconds since the epoch, the mtime of everything copied. */
  timestamp?: number;
  /** `--exclude` patterns (.containerignore syntax), relative to the context (or `--from` root, or `/`), after its ignore file. */
  excludes?: string[];
  /** `--allow-wildcard` (default true); false refuses sources containing `*`, `?` or `[`. */
  allowWildcard?: boolean;
  /** `--allow-empty-wildcard`: a pattern that matches nothing is no error. */
  allowEmptyWildcard?: boolean;
  /** `--link`: the copy becomes a layer of its own at the next commit (not written into the rootfs). */
  link?: boolean;
  /** `--checksum DIGEST` of downloaded content (URLs only). */
  checksum?: string;
  /** `--add-history`: record `/bin/sh -c #(nop) COPY file:HEX` for the next commit. */
  addHistory?: boolean;
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

/** The characters that make a source a pattern for `--allow-wildcard` (Buildah's containsWildcards). */
const WILDCARD = /[*?[]/;

export async function copyIntoContainer(store: Store, opts: CopyOptions): Promise<string> {
  if (opts.sources.length === 0) throw new TbahError('usage', 'copy needs at least one source and a destination');
  const chmod = opts.chmod === undefined ? undefined : parseChmod(opts.chmod);
  const checksum = opts.checksum === undefined ? undefined : parseDigest(opts.checksum, '--checksum');
  if (checksum !== undefined && opts.sources.some((s) => !HTTP.test(s))) {
    throw new TbahError('invalid-argument', '--checksum is not supported for local sources', { hint: 'use --checksum only with http:// or https:// sources' });
  }
  const excludes = opts.excludes !== undefined && opts.excludes.length > 0 ? parseIgnoreFile(opts.excludes.join('\n'), '--exclude') : [];
  const cleanups: (() => Promise<void>)[] = [];
  try {
    // A source container is locked too (in ID order), so a commit cannot move its files meanwhile.
    const fromContainer = opts.from !== undefined ? await store.containers.find(opts.from) : undefined;
    const specs = fromContainer ? [opts.container, fromContainer.id] : [opts.container];
    const whileLocked: (() => Promise<void>)[] = [];
    return await store.withBlobs(() => store.containers.withContainers(specs, async ([state, source]) => withRecordOf(store, state!, (record) => withRootfsOf(store, state!, whileLocked, async (rootfs) => {
      const owner: Owner = opts.chown !== undefined ? await resolveOwner(rootfs, opts.chown) : { uid: 0, gid: 0 };
      // Without root (dir driver) owners and modes go to the container's record; the files stay the caller's.
      let srcRecord: MetadataRecord | undefined;

      // Where sources come from.
      let srcRoot: string | undefined;
      let ignore: IgnoreMatcher | undefined;
      if (opts.from !== undefined) {
        if (source) {
          srcRoot = source.id === state!.id ? rootfs : await showRootfs(store, source, whileLocked);
          if (source.id === state!.id) srcRecord = record;
          else await withRecordOf(store, source, async (r) => { srcRecord = r; });
        } else {
          const img = await resolveImage(store, opts.from, opts.fromOptions);
          const tmp = await store.tempDir('copy-from');
          cleanups.push(() => removeTree(tmp));
          if (record) srcRecord = new MetadataRecord(tmp);
          await unpackLayers(store, img.manifest.layers.map((d, i) => ({ descriptor: d, diffId: img.config.rootfs.diff_ids[i]! })), tmp, undefined, srcRecord);
          srcRecord?.flush();
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
      // --exclude patterns come after the ignore file's, as in Buildah.
      if (excludes.length > 0) ignore = new IgnoreMatcher([...(ignore?.patterns ?? []), ...excludes]);

      const sources: Source[] = [];
      const expand: ExpandOptions = {
        ...(ignore ? { ignore } : {}), noFollow: opts.noFollowSymlinks === true,
        allowWildcard: opts.allowWildcard !== false, allowEmptyWildcard: opts.allowEmptyWildcard === true,
        contextAbsolute: opts.contextDir !== undefined && opts.from === undefined,
      };
      for (const s of opts.sources) {
        if (HTTP.test(s)) {
          if (opts.from !== undefined) throw new TbahError('invalid-argument', `source ${s}: a URL cannot be copied --from a container or image`);
          const tmp = await store.tempDir('add-url');
          cleanups.push(() => removeTree(tmp));
          sources.push(await download(s, tmp, checksum));
          continue;
        }
        const matches = await expandSource(s, srcRoot, opts.cwd ?? process.cwd(), expand);
        for (const m of matches) {
          const isArchive = opts.add && opts.from === undefined && (await sniffArchive(m.hostPath)) !== undefined;
          sources.push({ ...m, kind: isArchive ? 'archive' : 'path' });
        }
      }

      // --allow-empty-wildcard and nothing matched: nothing to do, as Buildah (the destination is not even made).
      if (sources.length === 0) return createHash('sha256').digest('hex');

      // Destination, resolved inside the container.
      const workdir = state.image.config.config?.WorkingDir || '/';
      const destAbs = path.posix.resolve(workdir, opts.dest);
      const destIsDirHint = opts.dest.endsWith('/') || opts.dest === '.' || sources.length > 1;
      const destHost = await resolveInRoot(rootfs, destAbs);
      const destStat = await fsp.stat(destHost).catch(() => undefined);
      const hasher = createHash('sha256');
      const doChown = record === undefined && process.geteuid?.() === 0;
      // --link writes into a staging directory of its own; what the rootfs holds still decides file or directory.
      let linkDir: string | undefined;
      if (opts.link) {
        linkDir = `link-${Date.now()}-${process.pid}-${(state.image.linked ?? []).length}`;
        const staging = path.join(store.containers.dir(state.id), linkDir);
        await fsp.mkdir(staging, { mode: 0o755 });
        cleanups.push(async () => { if (linkDir !== undefined) await removeTree(staging); });
      }
      // Everything below changes the tree: a failure half-way puts it back as it was.
      const treeRoot = linkDir !== undefined ? path.join(store.containers.dir(state.id), linkDir) : rootfs;
      const asideDir = await store.tempDir('copy-undo');
      cleanups.push(() => removeTree(asideDir));
      const undo = new UndoLog(treeRoot, asideDir);
      const ctx: Ctx = {
        rootfs: treeRoot,
        owner, chmod, hasher, doChown, ignore, created: new Set(), undo,
        // Copies from a container or image keep their owners unless --chown (Buildah since 2024).
        keepOwners: opts.from !== undefined && opts.chown === undefined,
        noFollow: opts.noFollowSymlinks === true, links: new Map(), latest: 0,
        ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}),
        ...(record ? { record } : {}), ...(srcRecord ? { srcRecord } : {}),
      };
      const statSource = (p: string): Promise<Stats> => (ctx.noFollow ? fsp.lstat(p) : fsp.stat(p));

      try {
        await copySources(ctx, sources, opts.dest, destAbs, destIsDirHint, destStat, statSource);
      } catch (err) {
        undo.rollback();
        throw diskError(err, 'writing', rootfs);
      }
      undo.commit();
      const hex = hasher.digest('hex');
      if (linkDir !== undefined || opts.addHistory) {
        const verb = opts.add ? 'ADD' : 'COPY';
        const summary = `${await contentType(sources, statSource)}${hex}`;
        const image = { ...state.image };
        if (linkDir !== undefined) {
          // Directories the copy made take the newest time of what it copied, as Buildah's --link does.
          const time = ctx.timestamp ?? ctx.latest;
          for (const d of ctx.created) await fsp.utimes(await resolveInRoot(ctx.rootfs, d), time, time);
          const created = rfc3339((ctx.timestamp ?? ctx.latest) * 1000);
          const linked: LinkedCopy = { dir: linkDir, history: { created, created_by: `/bin/sh -c #(nop) ${verb} --link ${summary} in ${destAbs} ` } };
          if (state.image.historyComment) linked.history.comment = state.image.historyComment;
          image.linked = [...(image.linked ?? []), linked];
        }
        if (opts.addHistory) {
          image.pendingHistory = [...(image.pendingHistory ?? []), { created: rfc3339(Date.now()), created_by: `/bin/sh -c #(nop) ${verb} ${summary}`, empty_layer: true }];
        }
        await store.containers.save({ ...state, image });
        linkDir = undefined; // kept: it is the container's now
      }
      return hex;
    }))));
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
  }
}

/** `fn` with the container's metadata record (rootless dir driver; undefined otherwise), saved when `fn` succeeds. */
async function withRecordOf<T>(store: Store, c: ContainerState, fn: (record: MetadataRecord | undefined) => Promise<T>): Promise<T> {
  const driver = await containerDriver(store, c);
  return driver.withRecord ? driver.withRecord(c, fn) : fn(undefined);
}

async function copySources(
  ctx: Ctx, sources: Source[], dest: string, destAbs: string, destIsDirHint: boolean, destStat: Stats | undefined,
  statSource: (p: string) => Promise<Stats>,
): Promise<void> {
  const single = sources.length === 1 ? sources[0]! : undefined;
  const singleStat = single && single.kind === 'path' ? await statSource(single.hostPath) : undefined;
  if (single && !destIsDirHint && !(destStat?.isDirectory()) && (single.kind === 'download' || singleStat?.isFile() || singleStat?.isSymbolicLink())) {
    // One file onto a file path.
    await ensureParents(ctx, path.posix.dirname(destAbs));
    await copyOne(ctx, single.hostPath, await statSource(single.hostPath), destAbs, single.mtime);
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
      const st = await statSource(src.hostPath);
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
  /** Rootless: where owners and modes go (the disk keeps the caller's own, usable). */
  record?: MetadataRecord;
  /** Rootless source (another container, or an image unpacked for --from): its real modes. */
  srcRecord?: MetadataRecord;
  /** Owners come from the source (`--from` without `--chown`). */
  keepOwners: boolean;
  /** `--no-follow-symlinks` (affects the named sources; symlinks inside directories are always copied as links). */
  noFollow: boolean;
  /** `--timestamp`: every copied entry's mtime. */
  timestamp?: number;
  /** Files with several links seen in this copy (dev:ino → first target), so hard links stay hard links. */
  links: Map<string, { target: string; dest: string }>;
  /** The newest mtime copied (seconds), for the directories a --link copy makes. */
  latest: number;
  /** What this copy changed in the rootfs, to put back on failure. */
  undo: UndoLog;
}

export function parseChmod(s: string): number {
  if (!/^[0-7]{3,4}$/.test(s)) throw new TbahError('invalid-argument', `--chmod ${s}: not an octal mode`, { hint: 'use an octal mode such as 755 or 0644' });
  return parseInt(s, 8);
}

interface ExpandOptions {
  ignore?: IgnoreMatcher;
  noFollow: boolean;
  allowWildcard: boolean;
  allowEmptyWildcard: boolean;
  /** With --contextdir: an absolute source inside the context is taken relative to it. */
  contextAbsolute: boolean;
}

/** Expand one source argument to existing host paths, honouring the allowed root, the excludes and the wildcard flags. */
async function expandSource(spec: string, root: string | undefined, cwd: string, o: ExpandOptions): Promise<Omit<Source, 'kind'>[]> {
  if (!o.allowWildcard && WILDCARD.test(spec)) {
    throw new TbahError('invalid-argument', `source ${spec}: wildcards are not allowed (--allow-wildcard=false)`, { hint: 'name the files, or allow wildcards' });
  }
  let base: string;
  let rel: string;
  if (root !== undefined) {
    base = root;
    let s = spec;
    // --contextdir DIR with /DIR/a/b: the same file as a/b.
    if (o.contextAbsolute && path.isAbsolute(s) && (s === root || s.startsWith(root.endsWith('/') ? root : `${root}/`))) s = s.slice(root.length);
    rel = path.posix.normalize('/' + s).slice(1); // sources stay inside the context or the other root
  } else {
    const abs = path.resolve(cwd, spec);
    base = '/';
    rel = abs.slice(1);
  }
  const trailing = rel.replace(/\/+$/, '');
  const magic = hasMagic(trailing);
  const rels = magic ? await expandGlob(base, trailing) : [trailing];
  const out: Omit<Source, 'kind'>[] = [];
  let filtered = 0;
  for (const r of rels) {
    // Inside a context or another root, resolve as if chrooted; on the host, the path as given.
    const hostPath = root !== undefined ? await resolveInRoot(base, r, { followFinal: !o.noFollow }) : path.join(base, r);
    let st: Stats;
    try {
      st = o.noFollow ? await fsp.lstat(hostPath) : await fsp.stat(hostPath);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) continue;
      throw err;
    }
    // Excludes are relative to the context (or the --from root, or / for host paths), as in Buildah.
    const ignoreRel = r === '' ? '.' : r;
    if (o.ignore && o.ignore.matches(ignoreRel) && !(st.isDirectory() && o.ignore.mayReinclude(ignoreRel))) {
      filtered++;
      continue;
    }
    out.push({ hostPath, baseName: path.posix.basename(r) || path.basename(hostPath), ...(root !== undefined || o.ignore ? { ignoreRel } : {}) });
  }
  if (out.length === 0) {
    if (magic && o.allowEmptyWildcard && filtered === 0) return [];
    throw new TbahError('not-found', filtered > 0
      ? `source ${spec}: no items matching it copied (${filtered} filtered out by the ignore file or --exclude)`
      : `source ${spec}: no such file or directory${magic ? ' (the pattern matched nothing)' : ''}`, {
      hint: filtered > 0 ? 'check the ignore file and --exclude patterns' : root !== undefined ? `sources are relative to ${root}` : magic ? 'check the pattern, or pass --allow-empty-wildcard' : 'check the path',
    });
  }
  return out;
}

/** Buildah's content type in history: `file:`, `dir:`, `multi:` (several sources), nothing for a URL. */
async function contentType(sources: Source[], statSource: (p: string) => Promise<Stats>): Promise<string> {
  if (sources.length === 0) return '';
  if (sources.length > 1) return 'multi:';
  const s = sources[0]!;
  if (s.kind === 'download') return '';
  return (await statSource(s.hostPath)).isDirectory() ? 'dir:' : 'file:';
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
    ctx.record?.note(host, { type: 'dir', uid: ctx.owner.uid, gid: ctx.owner.gid, mode: 0o755 });
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

/** The real mode of a source file (a rootless source's record knows it better than its disk). */
function sourceMeta(ctx: Ctx, src: string, st: Stats): { mode: number; device: boolean; uid: number; gid: number } {
  const perm = st.mode & 0o7777;
  const r = ctx.srcRecord;
  // A rootless source without a record entry holds the caller's own files: root's in the image.
  const plain = { mode: perm, device: false, uid: r ? 0 : st.uid, gid: r ? 0 : st.gid };
  if (r === undefined) return plain;
  const rel = path.relative(r.root, src);
  const e = rel.startsWith('..') ? undefined : r.get(rel.split(path.sep).join('/'));
  if (e === undefined || e.ino !== st.ino) return plain;
  return { mode: perm === diskMode(e.mode, e.type) ? e.mode : perm, device: e.dev !== undefined && st.isFile() && st.size === 0, uid: e.uid, gid: e.gid };
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
  const real = sourceMeta(ctx, src, st);
  if (real.device) return; // a device kept as an empty file by a rootless source: devices are not copied
  const mode = ctx.chmod ?? real.mode;
  // On disk the caller keeps what it needs to work on the file (the record has the real mode).
  const onDisk = ctx.record ? diskMode(mode, type === 'dir' ? 'd' : 'f') : mode;
  ctx.undo.willChange(target); // before anything in its directory changes
  const existing = fs.lstatSync(target, { throwIfNoEntry: false });
  if (existing && (type !== 'dir' || !existing.isDirectory())) {
    ctx.record?.forget(target);
    ctx.undo.replace(target, existing); // moved aside, never written through (it may be a symlink)
  } else if (existing) {
    ctx.undo.touch(target); // an existing directory gets new owner, mode, times
  }
  const owner = ctx.keepOwners ? { uid: real.uid, gid: real.gid } : ctx.owner;
  const header: TarHeader = { name: dest.slice(1), type, mode, uid: owner.uid, gid: owner.gid, size: type === 'file' ? st.size : 0, mtime: 0 };
  const mtime = ctx.timestamp ?? mtimeOverride ?? st.mtimeMs / 1000;
  ctx.latest = Math.max(ctx.latest, Math.floor(mtime));
  if (type === 'file' && st.nlink > 1) {
    // A second name of a file this copy already wrote: a hard link again, as in the source.
    const key = `${st.dev}:${st.ino}`;
    const first = ctx.links.get(key);
    if (first !== undefined) {
      hashEntry(ctx, { ...header, type: 'hardlink', size: 0, linkname: first.dest.slice(1) });
      fs.linkSync(first.target, target);
      ctx.record?.note(target, { type: 'file', uid: owner.uid, gid: owner.gid, mode });
      return;
    }
    ctx.links.set(key, { target, dest });
  }
  if (type === 'file') {
    hashEntry(ctx, header);
    const fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    ctx.undo.created(target);
    try {
      const n = copyContent(ctx, src, fd);
      if (n % 512) ctx.hasher.update(Buffer.alloc(512 - (n % 512)));
      if (ctx.doChown) chownOrExplain(() => fs.fchownSync(fd, owner.uid, owner.gid), owner, dest);
      fs.fchmodSync(fd, onDisk);
      fs.futimesSync(fd, mtime, mtime);
    } finally {
      fs.closeSync(fd);
    }
    ctx.record?.note(target, { type, uid: owner.uid, gid: owner.gid, mode });
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
  if (ctx.doChown) chownOrExplain(() => fs.lchownSync(target, owner.uid, owner.gid), owner, dest);
  if (type !== 'symlink') fs.chmodSync(target, onDisk);
  ctx.record?.note(target, { type, uid: owner.uid, gid: owner.gid, mode: type === 'symlink' ? 0o777 : mode });
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
        dirTimes.push([target, ctx.timestamp ?? st.mtimeMs / 1000]);
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
    await applyLayer(dir, hashing, ctx.record ? { ownership: 'record', record: ctx.record, undo: ctx.undo } : { ownership: ctx.doChown ? 'chown' : 'ignore', undo: ctx.undo });
  } catch (err) {
    if (err instanceof TbahError) throw err;
    throw new TbahError('corrupt', `add ${file}: the ${kind} archive cannot be read: ${(err as Error).message}`, {
      hint: 'the archive is truncated or not what its first bytes say; check it with tar -tf',
    });
  }
}

/**
 * A URL source (`copy` and `add` alike, never extracted): downloaded to a temp
 * file, checked against `--checksum`; mtime from Last-Modified, else the epoch, as Buildah.
 */
async function download(url: string, tmpDir: string, checksum?: string): Promise<Source> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (err) {
    throw new TbahError('network', `cannot download ${url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`, { hint: 'check the URL and the network' });
  }
  if (!res.ok || !res.body) throw new TbahError('network', `cannot download ${url}: HTTP ${res.status}`, { hint: 'check the URL' });
  const name = decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? '') || 'download';
  const file = path.join(tmpDir, 'body');
  const hash = createHash(checksum?.slice(0, checksum.indexOf(':')) ?? 'sha256');
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (c: Buffer) => hash.update(c));
  await pipeline(body, createWriteStream(file));
  if (checksum !== undefined) {
    const got = `${checksum.slice(0, checksum.indexOf(':'))}:${hash.digest('hex')}`;
    if (got !== checksum) {
      throw new TbahError('corrupt', `unexpected response digest for ${url}: ${got}, want ${checksum}`, { hint: 'the download is not what --checksum says; check the URL and the digest' });
    }
  }
  await fsp.chmod(file, 0o600); // as Docker's ADD of a URL
  const lm = res.headers.get('last-modified');
  const parsed = lm ? Date.parse(lm) / 1000 : Number.NaN;
  return { hostPath: file, baseName: name, kind: 'download', mtime: Number.isNaN(parsed) ? 0 : parsed };
}
