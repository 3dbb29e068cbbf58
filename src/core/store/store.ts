/**
 * The store: an OCI image layout (so skopeo/umoci can read it) plus working
 * containers. Locks:
 * - `store.lock` (exclusive) around every read-modify-write of index.json;
 * - `blobs.lock`: shared by every operation that writes or depends on blobs
 *   not yet referenced from index.json or a container; exclusive for garbage
 *   collection, which therefore never deletes a blob a live operation needs.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../errors.js';
import type { Digest } from '../oci.js';
import { pathExists, readJsonFile, readdirOrEmpty, writeFileAtomic, writeJsonAtomic } from '../util/fsx.js';
import { BlobStore } from './blobs.js';
import { ContainerStore } from './containers.js';
import { ImageCatalog } from './images.js';
import { Lock, withLock } from './lock.js';
import { StorePaths, defaultStoreRoot } from './paths.js';

export interface StoreOptions {
  /** Store root; defaults to TBAH_ROOT, /var/lib/tbah (root) or the XDG data dir. */
  root?: string;
}

export interface LayerMeta {
  diffId: Digest;
  /** Known once the layer was written or decompressed here. */
  uncompressedSize?: number;
  /** `registry/repository`s known to hold this blob: a push to the same registry mounts instead of uploading. */
  sources?: string[];
  /** The same layer under another compression (`--compression-format`), made once and reused. */
  variants?: Partial<Record<'gzip' | 'zstd', { digest: Digest; size: number }>>;
}

export class Store {
  readonly paths: StorePaths;
  readonly blobs: BlobStore;
  readonly images: ImageCatalog;
  readonly containers: ContainerStore;

  private constructor(root: string) {
    this.paths = new StorePaths(root);
    this.blobs = new BlobStore(this.paths.blobsDir, this.paths.tmpDir);
    this.images = new ImageCatalog(this.paths.indexFile, this.blobs);
    this.containers = new ContainerStore(this.paths);
  }

  get root(): string {
    return this.paths.root;
  }

  static async open(opts: StoreOptions = {}): Promise<Store> {
    const store = new Store(path.resolve(opts.root ?? defaultStoreRoot()));
    await store.init();
    return store;
  }

  private async init(): Promise<void> {
    const p = this.paths;
    if (await pathExists(p.layoutFile)) return;
    await fsp.mkdir(p.root, { recursive: true, mode: 0o700 });
    await withLock(path.join(p.locksDir, 'store.lock'), 'exclusive', async () => {
      if (await pathExists(p.layoutFile)) return;
      await fsp.mkdir(path.join(p.blobsDir, 'sha256'), { recursive: true });
      await fsp.mkdir(p.containersDir, { recursive: true });
      await fsp.mkdir(p.tmpDir, { recursive: true });
      if (!(await pathExists(p.indexFile))) {
        await writeJsonAtomic(p.indexFile, { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });
      }
      // Written last: its presence means the store is initialised.
      await writeFileAtomic(p.layoutFile, '{"imageLayoutVersion":"1.0.0"}');
    });
  }

  /** Exclusive lock for changing the image catalogue. */
  withIndexLock<T>(fn: () => Promise<T>): Promise<T> {
    return withLock(path.join(this.paths.locksDir, 'store.lock'), 'exclusive', fn);
  }

  /** Shared blob-use lock: blocks garbage collection while `fn` runs. */
  withBlobs<T>(fn: () => Promise<T>): Promise<T> {
    return withLock(path.join(this.paths.locksDir, 'blobs.lock'), 'shared', fn);
  }

  async putLayerMeta(digest: Digest, meta: LayerMeta): Promise<void> {
    await fsp.mkdir(this.paths.layerMetaDir, { recursive: true });
    const file = path.join(this.paths.layerMetaDir, `${digest.replace(':', '-')}.json`);
    const old = await this.getLayerMeta(digest);
    // Merge: facts only accumulate (a meta file is a cache, rebuilt when lost).
    const merged: LayerMeta = { ...old, ...meta, diffId: old?.diffId ?? meta.diffId };
    const uncompressedSize = old?.uncompressedSize ?? meta.uncompressedSize;
    if (uncompressedSize !== undefined) merged.uncompressedSize = uncompressedSize;
    const sources = [...new Set([...(old?.sources ?? []), ...(meta.sources ?? [])])];
    if (sources.length > 0) merged.sources = sources.slice(-8);
    const variants = { ...old?.variants, ...meta.variants };
    if (Object.keys(variants).length > 0) merged.variants = variants;
    if (JSON.stringify(merged) !== JSON.stringify(old)) await writeJsonAtomic(file, merged);
  }

  async getLayerMeta(digest: Digest): Promise<LayerMeta | undefined> {
    try {
      return await readJsonFile<LayerMeta>(path.join(this.paths.layerMetaDir, `${digest.replace(':', '-')}.json`));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  /** A private temp directory under the store (same file system as blobs). */
  async tempDir(prefix: string): Promise<string> {
    await fsp.mkdir(this.paths.tmpDir, { recursive: true });
    return fsp.mkdtemp(path.join(this.paths.tmpDir, `${prefix}-`));
  }

  /**
   * Remove what processes killed half-way left behind: temp files, containers
   * being built, trees being removed. Only called with the blobs lock held
   * exclusively, when no operation that makes such things can be running.
   */
  private async sweepTemp(): Promise<void> {
    const rmAll = async (dir: string, pick: (name: string) => boolean): Promise<void> => {
      for (const n of await readdirOrEmpty(dir)) if (pick(n)) await fsp.rm(path.join(dir, n), { recursive: true, force: true });
    };
    await rmAll(this.paths.tmpDir, () => true);
    await rmAll(this.paths.containersDir, (n) => n.startsWith('.new-') || (n.startsWith('.tmp-') && n.endsWith('.del')));
  }

  /**
   * Delete blobs no image and no container references. Skipped (returns -1)
   * when another process is using blobs right now; a later call collects them.
   */
  async collectGarbage(): Promise<number> {
    const lockFile = path.join(this.paths.locksDir, 'blobs.lock');
    const lock = await Lock.tryAcquire(lockFile, 'exclusive');
    if (!lock) return -1;
    try {
      const keep = new Set<string>();
      const keepUnpacked = new Set<string>();
      for (const img of await this.images.list()) {
        keep.add(img.manifestDescriptor.digest);
        keep.add(img.manifest.config.digest);
        for (const l of img.manifest.layers) keep.add(l.digest);
        for (const d of img.config.rootfs.diff_ids) keepUnpacked.add(d);
      }
      for (const c of await this.containers.list()) {
        for (const l of c.layers) {
          keep.add(l.descriptor.digest);
          keepUnpacked.add(l.diffId);
        }
      }
      await this.sweepTemp();
      // Unpacked layers (overlay driver) live while an image or a container references them.
      if (await pathExists(this.paths.layersDir)) {
        const { LayerStore } = await import('../driver/layer-store.js');
        await new LayerStore(this.paths.layersDir, this.paths.locksDir).collect(keepUnpacked);
      }
      let removed = 0;
      for await (const d of this.blobs.list()) {
        if (keep.has(d)) continue;
        await fsp.rm(this.blobs.path(d), { force: true });
        await fsp.rm(path.join(this.paths.layerMetaDir, `${d.replace(':', '-')}.json`), { force: true });
        removed++;
      }
      return removed;
    } finally {
      await lock.release();
    }
  }
}
