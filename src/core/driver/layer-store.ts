/**
 * Unpacked layers, shared read-only by every overlay container that stacks
 * them: `layers/sha256/<hex>` holds one layer alone, in overlayfs's on-disk
 * form (whiteouts are 0/0 character devices, opaque directories carry the
 * opaque xattr), keyed by diffID; `layers/l/<16 hex>` is a short link to it,
 * so ~200 lower directories fit in one page of mount options.
 *
 * The store of unpacked layers is a cache of the layer blobs: a missing one is
 * unpacked again on use. A layer appears under its name only when whole
 * (unpacked into `layers/tmp/`, checked against its diffID, renamed); a lock
 * per layer makes two `from`s of one image unpack it once. What is kept is
 * decided at garbage collection from what images and containers reference
 * (counted then, never stored: no count to drift after a crash).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs, { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TbahError, isErrno } from '../errors.js';
import { type OverlayTarget, applyLayer } from '../layer/apply.js';
import { decompress } from '../layer/decompress.js';
import type { Digest } from '../oci.js';
import { withLock } from '../store/lock.js';
import type { LayerRef } from '../store/containers.js';
import type { Store } from '../store/store.js';
import { HashCounter } from '../util/hashing.js';
import { nativeFs } from '../util/native.js';
import { chain } from '../util/streams.js';
import { makeWhiteoutDevice } from './mounts.js';

export const OPAQUE_XATTR = 'trusted.overlay.opaque';

const hexOf = (d: Digest): string => d.slice(d.indexOf(':') + 1);

export class LayerStore {
  constructor(readonly dir: string, private readonly locksDir: string) {}

  /** The directory holding the layer's own content. */
  contentDir(diffId: Digest): string {
    return path.join(this.dir, 'sha256', hexOf(diffId));
  }

  /** Its short name relative to `dir`, for mount options. */
  linkName(diffId: Digest): string {
    return `l/${hexOf(diffId).slice(0, 16)}`;
  }

  /** An always-empty directory: the lower of a container from scratch (overlayfs needs one). */
  async emptyDir(): Promise<string> {
    const p = path.join(this.dir, 'empty');
    await fsp.mkdir(p, { recursive: true, mode: 0o755 });
    return 'empty';
  }

  has(diffId: Digest): boolean {
    return fs.existsSync(this.contentDir(diffId)) && fs.existsSync(path.join(this.dir, this.linkName(diffId)));
  }

  /**
   * Make sure every layer is unpacked, bottom to top (a layer's implied
   * directories and hardlinks look at the ones below it). Holds the store's
   * shared blobs lock only when something is missing.
   */
  async ensure(store: Store, layers: LayerRef[], onWarning?: (msg: string) => void): Promise<void> {
    if (layers.every((l) => this.has(l.diffId))) return;
    await store.withBlobs(async () => {
      for (let i = 0; i < layers.length; i++) {
        const l = layers[i]!;
        if (!this.has(l.diffId)) await this.unpack(store, l, layers.slice(0, i).map((b) => b.diffId), onWarning);
      }
    });
  }

  private lockFile(diffId: Digest): string {
    return path.join(this.locksDir, `layer-${hexOf(diffId).slice(0, 16)}.lock`);
  }

  private async unpack(store: Store, l: LayerRef, below: Digest[], onWarning?: (msg: string) => void): Promise<void> {
    await withLock(this.lockFile(l.diffId), 'exclusive', async () => {
      if (this.has(l.diffId)) return; // another process unpacked it meanwhile
      const tmp = await this.tempDir(hexOf(l.diffId));
      try {
        const blob = await store.blobs.open(l.descriptor.digest, l.descriptor.size);
        const counter = new HashCounter();
        const tar = chain(decompress(blob, l.descriptor.mediaType), counter);
        const target: OverlayTarget = {
          makeWhiteout: (abs) => this.linkWhiteout(abs),
          opaqueXattr: OPAQUE_XATTR,
          lower: lowerLookup(below.map((d) => this.contentDir(d)).reverse()),
        };
        await this.prepareWhiteoutTemplate();
        await applyLayer(tmp, tar, { ownership: process.geteuid?.() === 0 ? 'chown' : 'ignore', overlay: target, ...(onWarning ? { onWarning } : {}) });
        for await (const _ of tar) { /* drain trailing padding so the diffID covers the whole tar */ }
        if (counter.digest !== l.diffId) {
          throw new TbahError('corrupt', `layer ${l.descriptor.digest} does not match its diff ID ${l.diffId}`, {
            hint: 'the image is corrupt; remove it with `tbah rmi` and get it again',
          });
        }
        await this.install(l.diffId, tmp);
        await store.putLayerMeta(l.descriptor.digest, { diffId: l.diffId, uncompressedSize: counter.size });
      } catch (err) {
        await fsp.rm(tmp, { recursive: true, force: true });
        throw err;
      }
    });
  }

  /**
   * Take a directory already in overlay form (a container's upper after a
   * commit) as the unpacked `diffId`. `prepare` runs on it first, under the
   * layer's lock, to make it match the layer blob exactly. Returns false when
   * the layer was already there (the directory is then removed).
   */
  async adopt(diffId: Digest, dir: string, prepare: (dir: string) => void): Promise<boolean> {
    return withLock(this.lockFile(diffId), 'exclusive', async () => {
      const tmp = path.join(await this.tempDir(hexOf(diffId)), 'd');
      await fsp.rename(dir, tmp);
      if (this.has(diffId)) {
        await fsp.rm(path.dirname(tmp), { recursive: true, force: true });
        return false;
      }
      prepare(tmp);
      await this.install(diffId, tmp);
      await fsp.rm(path.dirname(tmp), { recursive: true, force: true });
      return true;
    });
  }

  private async install(diffId: Digest, tmp: string): Promise<void> {
    const content = this.contentDir(diffId);
    await fsp.mkdir(path.dirname(content), { recursive: true });
    await fsp.rename(tmp, content);
    const link = path.join(this.dir, this.linkName(diffId));
    await fsp.mkdir(path.dirname(link), { recursive: true });
    const tmpLink = `${link}.${randomBytes(4).toString('hex')}`;
    await fsp.symlink(path.relative(path.dirname(link), content), tmpLink);
    await fsp.rename(tmpLink, link);
  }

  private async tempDir(prefix: string): Promise<string> {
    await fsp.mkdir(path.join(this.dir, 'tmp'), { recursive: true });
    return fsp.mkdtemp(path.join(this.dir, 'tmp', `${prefix.slice(0, 16)}-`));
  }

  /** One whiteout device per store, hard-linked wherever a layer needs one (mknod is a process spawn). */
  private get whiteoutTemplate(): string {
    return path.join(this.dir, '.whiteout');
  }

  private async prepareWhiteoutTemplate(): Promise<void> {
    if (isWhiteoutAt(this.whiteoutTemplate)) return;
    const tmp = `${this.whiteoutTemplate}.${randomBytes(4).toString('hex')}`;
    await makeWhiteoutDevice(tmp);
    await fsp.rename(tmp, this.whiteoutTemplate);
  }

  private linkWhiteout(abs: string): void {
    try {
      fs.linkSync(this.whiteoutTemplate, abs);
    } catch (err) {
      if (!isErrno(err, 'EMLINK')) throw err;
      // The template has as many links as the file system allows: start a new one
      // (the old one's links stay valid; rare enough for a synchronous spawn).
      const fresh = `${this.whiteoutTemplate}.${randomBytes(4).toString('hex')}`;
      execFileSync(existsSync('/usr/bin/mknod') ? '/usr/bin/mknod' : 'mknod', ['-m', '0000', '--', fresh, 'c', '0', '0'], { stdio: 'ignore' });
      fs.renameSync(fresh, this.whiteoutTemplate);
      fs.linkSync(this.whiteoutTemplate, abs);
    }
  }

  /** Unpacked layers on disk, by diffID. */
  list(): Digest[] {
    let names: string[];
    try {
      names = fs.readdirSync(path.join(this.dir, 'sha256'));
    } catch {
      return [];
    }
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}` as Digest);
  }

  /**
   * Remove unpacked layers nobody references, and leftovers of unpacks that
   * were interrupted. Only with the store's blobs lock held exclusively.
   */
  async collect(keep: Set<string>): Promise<number> {
    let removed = 0;
    await fsp.rm(path.join(this.dir, 'tmp'), { recursive: true, force: true });
    for (const d of this.list()) {
      if (keep.has(d)) continue;
      await fsp.rm(path.join(this.dir, this.linkName(d)), { force: true });
      const aside = path.join(this.dir, 'tmp', `del-${hexOf(d).slice(0, 16)}`);
      await fsp.mkdir(path.dirname(aside), { recursive: true });
      await fsp.rename(this.contentDir(d), aside);
      await fsp.rm(aside, { recursive: true, force: true });
      removed++;
    }
    // Short links whose layer is gone (a collection killed half-way).
    for (const n of await fsp.readdir(path.join(this.dir, 'l')).catch(() => [] as string[])) {
      const link = path.join(this.dir, 'l', n);
      if (!fs.existsSync(link)) await fsp.rm(link, { force: true });
    }
    return removed;
  }
}

/** True when `p` is an overlay whiteout (a 0/0 character device). */
export function isWhiteoutAt(p: string): boolean {
  try {
    const st = fs.lstatSync(p);
    return isWhiteoutStat(st);
  } catch {
    return false;
  }
}

export function isWhiteoutStat(st: { isCharacterDevice(): boolean; rdev: number }): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

export function isOpaqueDir(p: string, xattr = OPAQUE_XATTR): boolean {
  let fd: number;
  try {
    fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    const v = nativeFs().getAttrSync(fd, xattr);
    return v !== null && v.toString() === 'y';
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A path as a stack of layer directories (topmost first) shows it: the first
 * layer that has it wins; a whiteout, a non-directory ancestor or an opaque
 * ancestor in a higher layer hides everything below.
 */
export function lowerLookup(dirs: string[], opaqueXattr = OPAQUE_XATTR): (rel: string) => { path: string; st: fs.Stats } | null {
  return (rel) => {
    const parts = rel.split('/').filter((p) => p !== '');
    for (const d of dirs) {
      let hidesBelow = false;
      let cur = d;
      let reachable = true;
      for (let i = 0; i < parts.length - 1; i++) {
        cur = path.join(cur, parts[i]!);
        let st: fs.Stats;
        try {
          st = fs.lstatSync(cur);
        } catch {
          reachable = false;
          break;
        }
        if (!st.isDirectory()) return null;
        if (isOpaqueDir(cur, opaqueXattr)) hidesBelow = true;
      }
      if (reachable) {
        const p = path.join(d, ...parts);
        try {
          const st = fs.lstatSync(p);
          return isWhiteoutStat(st) ? null : { path: p, st };
        } catch { /* not in this layer */ }
      }
      if (hidesBelow) return null;
    }
    return null;
  };
}
