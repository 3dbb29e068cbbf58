/**
 * `tbah prune [--dry-run]`: give back the disk of what nothing uses — blobs no
 * image or container references (compressed copies of kept layers are kept),
 * unpacked layers of the overlay driver no image or container stacks, `run`
 * cache mounts no run holds, and what interrupted operations left. Images and
 * containers themselves are never removed (`tbah rmi`, `tbah rm` do that).
 * Runs holding the blobs lock exclusively: it waits for running commands.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Digest } from '../oci.js';
import { Lock } from '../store/lock.js';
import type { Store } from '../store/store.js';
import { readdirOrEmpty } from '../util/fsx.js';

export interface PruneItem {
  kind: 'blob' | 'unpacked layer' | 'cache' | 'leftover';
  /** Relative to the store root. */
  where: string;
  bytes: number;
}

export interface PruneOptions {
  dryRun?: boolean;
  onItem?: (item: PruneItem) => void;
  onWait?: () => void;
}

export async function pruneStore(store: Store, opts: PruneOptions = {}): Promise<PruneItem[]> {
  const items = await store.withBlobsExclusive(() => prune(store, opts), { wait: true, ...(opts.onWait ? { onWait: opts.onWait } : {}) });
  return items!;
}

async function prune(store: Store, opts: PruneOptions): Promise<PruneItem[]> {
  const out: PruneItem[] = [];
  const rel = (p: string): string => path.relative(store.root, p);
  const { mountPoints, mountsUnder, unmount } = await import('../driver/mounts.js');
  const mounts = mountPoints();
  const take = async (kind: PruneItem['kind'], abs: string, remove: () => Promise<void>): Promise<void> => {
    const item: PruneItem = { kind, where: rel(abs), bytes: await diskUsage(abs) };
    if (!opts.dryRun) {
      // Never remove through a mount (a killed probe or run may have left one).
      for (const m of mountsUnder(abs, mounts)) await unmount(m, { lazy: true });
      await remove();
    }
    out.push(item);
    opts.onItem?.(item);
  };
  const refs = await store.references();

  for await (const d of store.blobs.list()) {
    if (refs.blobs.has(d)) continue;
    await take('blob', store.blobs.path(d), async () => {
      await fsp.rm(store.blobs.path(d), { force: true });
      await fsp.rm(path.join(store.paths.layerMetaDir, `${d.replace(':', '-')}.json`), { force: true });
    });
  }

  const layersDir = store.paths.layersDir;
  for (const n of await readdirOrEmpty(path.join(layersDir, 'sha256'))) {
    if (refs.unpacked.has(`sha256:${n}` as Digest) || !/^[a-f0-9]{64}$/.test(n)) continue;
    const dir = path.join(layersDir, 'sha256', n);
    await take('unpacked layer', dir, async () => {
      await fsp.rm(path.join(layersDir, 'l', n.slice(0, 16)), { force: true });
      await fsp.rm(dir, { recursive: true, force: true });
    });
  }

  // Cache mounts: a run holds its cache's lock (shared or exclusive) while it runs.
  const cacheDir = store.paths.cacheDir;
  for (const n of await readdirOrEmpty(cacheDir)) {
    if (n.endsWith('.lock') || n.startsWith('.new-')) continue;
    const lockFile = path.join(cacheDir, `${n}.lock`);
    const lock = await Lock.tryAcquire(lockFile, 'exclusive');
    if (!lock) continue; // in use by a run
    try {
      await take('cache', path.join(cacheDir, n), async () => {
        await fsp.rm(path.join(cacheDir, n), { recursive: true, force: true });
        await fsp.rm(lockFile, { force: true });
      });
    } finally {
      await lock.release();
    }
  }

  // Leftovers of interrupted operations (what garbage collection sweeps too).
  for (const dir of [store.paths.tmpDir, path.join(layersDir, 'tmp')]) {
    for (const n of await readdirOrEmpty(dir)) await take('leftover', path.join(dir, n), () => fsp.rm(path.join(dir, n), { recursive: true, force: true }));
  }
  for (const n of await readdirOrEmpty(store.paths.containersDir)) {
    if (n.startsWith('.new-') || (n.startsWith('.tmp-') && n.endsWith('.del'))) {
      const p = path.join(store.paths.containersDir, n);
      await take('leftover', p, () => fsp.rm(p, { recursive: true, force: true }));
    }
  }
  return out;
}

/** Bytes a file or tree uses (apparent sizes; hard links counted once). */
async function diskUsage(p: string): Promise<number> {
  const seen = new Set<string>();
  const walk = async (q: string): Promise<number> => {
    let st;
    try {
      st = await fsp.lstat(q);
    } catch {
      return 0;
    }
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return 0;
    seen.add(key);
    if (!st.isDirectory()) return st.size;
    let n = 0;
    for (const c of await readdirOrEmpty(q)) n += await walk(path.join(q, c));
    return n;
  };
  return walk(p);
}
