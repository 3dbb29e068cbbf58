/**
 * `tbah check [--repair]`: verify a store after a crash, a full disk or a
 * hand edit. Every blob is re-hashed against its name; everything index.json
 * names must be present and consistent (manifests, configs, layer sizes,
 * diffIDs); container states must parse and name existing blobs and their
 * driver's directories; nothing may be left of interrupted operations (temp
 * files, half-made or half-removed containers, stale snapshots or upper
 * generations, run journals) and no mount may outlive its container.
 *
 * It runs holding the blobs lock exclusively (it waits for running commands),
 * so what it sees as a leftover is one. `--repair` removes what interrupted
 * operations left and nothing else: damaged or missing content it reports,
 * with what to do, and never deletes.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../errors.js';
import { type Digest, checkImageConfig, checkManifest, isDigest, layerCompression } from '../oci.js';
import { REF_NAME } from '../store/images.js';
import type { ContainerState } from '../store/containers.js';
import { Lock } from '../store/lock.js';
import type { Store } from '../store/store.js';
import { readdirOrEmpty } from '../util/fsx.js';

export interface StoreProblem {
  /** `damaged` (content is wrong or missing: not repairable), `leftover` (of an interrupted operation: --repair removes it). */
  kind: 'damaged' | 'leftover';
  /** What it is about, relative to the store root where it is a path. */
  where: string;
  message: string;
  /** For `damaged`: what the user can do. */
  hint?: string;
  /** For `leftover`: how --repair removes it. */
  repair?: () => Promise<void>;
}

export interface CheckOptions {
  repair?: boolean;
  /** Each problem as it is found (and whether it was repaired). */
  onProblem?: (p: StoreProblem, repaired: boolean) => void;
  /** Told when other tbah commands must finish first. */
  onWait?: () => void;
}

export interface CheckReport {
  problems: StoreProblem[];
  repaired: number;
  counts: { blobs: number; images: number; containers: number; unpacked: number };
}

const HEX64 = /^[a-f0-9]{64}$/;

export async function checkStore(store: Store, opts: CheckOptions = {}): Promise<CheckReport> {
  const report = await store.withBlobsExclusive(async () => {
    // The index too: `tag` and `rmi` write it under the store lock alone.
    return store.withIndexLock(() => runChecks(store, opts));
  }, { wait: true, ...(opts.onWait ? { onWait: opts.onWait } : {}) });
  return report!;
}

async function runChecks(store: Store, opts: CheckOptions): Promise<CheckReport> {
  const root = store.root;
  const rel = (p: string): string => path.relative(root, p) || '.';
  const report: CheckReport = { problems: [], repaired: 0, counts: { blobs: 0, images: 0, containers: 0, unpacked: 0 } };
  const problem = async (p: StoreProblem): Promise<void> => {
    let repaired = false;
    if (opts.repair && p.kind === 'leftover' && p.repair) {
      await p.repair();
      repaired = true;
      report.repaired++;
    } else {
      report.problems.push(p);
    }
    opts.onProblem?.(p, repaired);
  };
  const leftover = (abs: string, message: string): Promise<void> => problem({
    kind: 'leftover', where: rel(abs), message, repair: () => fsp.rm(abs, { recursive: true, force: true }),
  });
  const damaged = (where: string, message: string, hint: string): Promise<void> => problem({ kind: 'damaged', where, message, hint });

  // 0. Mounts inside the store that no container accounts for (first: nothing below may be removed through one).
  const { mountPoints, unmount } = await import('../driver/mounts.js');
  for (const m of mountPoints()) {
    if (m !== root && !m.startsWith(`${root}/`)) continue;
    const r = path.relative(root, m).split(path.sep);
    const ok = r.length === 3 && r[0] === 'containers' && HEX64.test(r[1]!) && existsSync(path.join(root, 'containers', r[1]!, 'state.json')) && r[2] === 'merged';
    if (!ok) await problem({ kind: 'leftover', where: rel(m), message: 'a mount no container owns', repair: () => unmount(m, { lazy: true }) });
  }

  // 1. The layout itself.
  try {
    const layout = JSON.parse(await fsp.readFile(store.paths.layoutFile, 'utf8')) as { imageLayoutVersion?: unknown };
    if (typeof layout.imageLayoutVersion !== 'string') await damaged('oci-layout', 'has no imageLayoutVersion', 'write {"imageLayoutVersion":"1.0.0"} into it');
  } catch (err) {
    await damaged('oci-layout', `is unreadable (${(err as Error).message})`, 'write {"imageLayoutVersion":"1.0.0"} into it');
  }

  // 2. Every blob against its name.
  const blobDir = path.join(store.paths.blobsDir, 'sha256');
  const present = new Set<string>();
  const bad = new Set<string>();
  for (const name of await readdirOrEmpty(blobDir)) {
    const file = path.join(blobDir, name);
    if (!HEX64.test(name)) {
      await leftover(file, 'is not a blob (its name is no sha256 digest)');
      continue;
    }
    report.counts.blobs++;
    present.add(`sha256:${name}`);
    const got = await hashFile(file);
    if (got !== name) bad.add(`sha256:${name}`);
  }
  // What is referenced, read tolerantly (a damaged store must not stop the check).
  const referenced = new Set<string>();

  // 3. Everything index.json names.
  const idx = await store.images.readIndex();
  const seen = new Set<string>();
  for (const desc of idx.manifests) {
    const name = desc.annotations?.[REF_NAME] ?? desc.digest;
    if (seen.has(desc.digest)) continue;
    seen.add(desc.digest);
    report.counts.images++;
    const missing = (what: string, d: string): Promise<void> => damaged(`image ${name}`, `its ${what} ${d} is missing`, `remove it with \`tbah rmi ${name}\` and pull or build it again`);
    referenced.add(desc.digest);
    if (!isDigest(desc.digest) || !present.has(desc.digest)) {
      await missing('manifest', desc.digest);
      continue;
    }
    if (bad.has(desc.digest)) continue; // reported with the blobs
    let manifest;
    let config;
    try {
      manifest = checkManifest(JSON.parse(await fsp.readFile(store.blobs.path(desc.digest), 'utf8')), `manifest ${desc.digest}`);
    } catch (err) {
      await damaged(`image ${name}`, `its manifest is not valid: ${(err as Error).message}`, `remove it with \`tbah rmi ${name}\``);
      continue;
    }
    referenced.add(manifest.config.digest);
    for (const l of manifest.layers) referenced.add(l.digest);
    if (!present.has(manifest.config.digest)) {
      await missing('config', manifest.config.digest);
      continue;
    }
    if (bad.has(manifest.config.digest)) continue;
    try {
      config = checkImageConfig(JSON.parse(await fsp.readFile(store.blobs.path(manifest.config.digest), 'utf8')), `config ${manifest.config.digest}`);
    } catch (err) {
      await damaged(`image ${name}`, `its config is not valid: ${(err as Error).message}`, `remove it with \`tbah rmi ${name}\``);
      continue;
    }
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      await damaged(`image ${name}`, `has ${manifest.layers.length} layers but ${config.rootfs.diff_ids.length} diff IDs`, `remove it with \`tbah rmi ${name}\``);
    }
    for (const [i, l] of manifest.layers.entries()) {
      if (!present.has(l.digest)) {
        await missing(`layer ${i + 1}`, l.digest);
        continue;
      }
      const size = (await fsp.stat(store.blobs.path(l.digest))).size;
      if (size !== l.size) await damaged(`image ${name}`, `layer ${l.digest} is ${size} bytes, its manifest says ${l.size}`, `remove it with \`tbah rmi ${name}\` and pull or build it again`);
      let compression;
      try {
        compression = layerCompression(l.mediaType);
      } catch {
        continue;
      }
      if (compression === 'none' && config.rootfs.diff_ids[i] !== undefined && config.rootfs.diff_ids[i] !== l.digest) {
        await damaged(`image ${name}`, `uncompressed layer ${l.digest} does not match its diff ID ${config.rootfs.diff_ids[i]}`, `remove it with \`tbah rmi ${name}\``);
      }
    }
  }

  // 4. Layer meta: a record whose blob is gone is what a collection killed half-way leaves.
  for (const n of await readdirOrEmpty(store.paths.layerMetaDir)) {
    const file = path.join(store.paths.layerMetaDir, n);
    if (n.startsWith('.tmp-')) {
      await leftover(file, 'temp file of an interrupted write');
      continue;
    }
    const m = /^sha256-([a-f0-9]{64})\.json$/.exec(n);
    if (!m) {
      await leftover(file, 'is not a layer record');
    } else if (!present.has(`sha256:${m[1]}`)) {
      await leftover(file, 'records a layer blob that is gone');
    }
  }

  // 5. Containers, each under its own lock.
  const containerIds = new Set<string>();
  for (const n of await readdirOrEmpty(store.paths.containersDir)) {
    const dir = path.join(store.paths.containersDir, n);
    if (n.startsWith('.new-')) {
      await leftover(dir, 'a container a killed `from` was making');
      continue;
    }
    if (n.startsWith('.tmp-') && n.endsWith('.del')) {
      await leftover(dir, 'a container a killed `rm` was removing');
      continue;
    }
    if (!HEX64.test(n)) {
      await leftover(dir, 'is not a container directory');
      continue;
    }
    containerIds.add(n);
    report.counts.containers++;
    const lock = await Lock.tryAcquire(store.containers.lockFile(n), 'exclusive');
    if (!lock) {
      // A command is using it right now (config, mount…): nothing of it is a leftover, and what it uses is used.
      const busy = await fsp.readFile(path.join(dir, 'state.json'), 'utf8').then((t) => JSON.parse(t) as ContainerState, () => undefined);
      for (const l of busy?.layers ?? []) referenced.add(l.descriptor.digest);
      continue;
    }
    try {
      await checkContainer(store, n, dir, present, referenced, { leftover, damaged, problem, rel });
    } finally {
      await lock.release();
    }
  }

  // Damaged blobs: used ones are damage, unused ones garbage. Compressed copies of a layer count as used with it.
  for (const d of [...referenced]) {
    const meta = await store.getLayerMeta(d as Digest).catch(() => undefined);
    for (const v of Object.values(meta?.variants ?? {})) if (v) referenced.add(v.digest);
  }
  for (const d of bad) {
    const where = rel(store.blobs.path(d as Digest));
    if (referenced.has(d)) {
      await damaged(where, 'does not match its digest (the disk or a hand edit changed it)', 'remove the images and containers using it (`tbah rmi`, `tbah rm`) and pull or build them again');
    } else {
      await problem({ kind: 'leftover', where, message: 'does not match its digest, and nothing uses it', repair: () => fsp.rm(store.blobs.path(d as Digest), { force: true }) });
    }
  }

  // 6. Temp files of interrupted operations.
  for (const n of await readdirOrEmpty(store.paths.tmpDir)) await leftover(path.join(store.paths.tmpDir, n), 'temp file of an interrupted operation');
  for (const n of await readdirOrEmpty(root)) {
    if (n.startsWith('.tmp-')) await leftover(path.join(root, n), 'temp file of an interrupted write');
  }

  // 7. Unpacked layers (overlay driver): each with its short link; no half-made ones.
  const layersDir = store.paths.layersDir;
  for (const n of await readdirOrEmpty(path.join(layersDir, 'tmp'))) await leftover(path.join(layersDir, 'tmp', n), 'a layer an interrupted command was unpacking or removing');
  const unpacked = new Set<string>();
  for (const n of await readdirOrEmpty(path.join(layersDir, 'sha256'))) {
    const dir = path.join(layersDir, 'sha256', n);
    if (!HEX64.test(n)) {
      await leftover(dir, 'is not an unpacked layer');
      continue;
    }
    report.counts.unpacked++;
    unpacked.add(n);
    const link = path.join(layersDir, 'l', n.slice(0, 16));
    const target = await fsp.readlink(link).catch(() => undefined);
    if (target === undefined || path.resolve(path.dirname(link), target) !== dir) {
      await problem({
        kind: 'leftover', where: rel(link), message: 'the short link to an unpacked layer is missing or wrong',
        repair: async () => {
          await fsp.rm(link, { force: true });
          await fsp.mkdir(path.dirname(link), { recursive: true });
          await fsp.symlink(path.relative(path.dirname(link), dir), link);
        },
      });
    }
  }
  for (const n of await readdirOrEmpty(path.join(layersDir, 'l'))) {
    const link = path.join(layersDir, 'l', n);
    const target = await fsp.readlink(link).catch(() => undefined);
    if (target === undefined || !unpacked.has(path.basename(target))) await leftover(link, 'a short link to no unpacked layer');
  }

  // 9. Lock files of containers that are gone.
  for (const n of await readdirOrEmpty(store.paths.locksDir)) {
    const m = /^container-([a-f0-9]{64})\.lock$/.exec(n);
    if (m && !containerIds.has(m[1]!)) await leftover(path.join(store.paths.locksDir, n), 'the lock file of a removed container');
  }
  return report;
}

interface Reporters {
  leftover: (abs: string, message: string) => Promise<void>;
  damaged: (where: string, message: string, hint: string) => Promise<void>;
  problem: (p: StoreProblem) => Promise<void>;
  rel: (abs: string) => string;
}

async function checkContainer(store: Store, id: string, dir: string, present: Set<string>, referenced: Set<string>, r: Reporters): Promise<void> {
  let state: ContainerState;
  try {
    state = JSON.parse(await fsp.readFile(path.join(dir, 'state.json'), 'utf8')) as ContainerState;
    if (state.id !== id || typeof state.name !== 'string' || !Array.isArray(state.layers)) throw new Error('not a container state');
  } catch (err) {
    await r.damaged(`container ${id.slice(0, 12)}`, `its state ${r.rel(path.join(dir, 'state.json'))} is unreadable (${(err as Error).message})`, `remove it: \`rm -rf ${dir}\``);
    return;
  }
  const who = `container ${state.name}`;
  for (const l of state.layers) referenced.add(l.descriptor.digest);
  for (const l of state.layers) {
    if (!present.has(l.descriptor.digest)) await r.damaged(who, `its layer ${l.descriptor.digest} is missing`, `remove it with \`tbah rm ${state.name}\``);
  }
  const journal = store.containers.runJournal(id);
  const names = await readdirOrEmpty(dir);
  for (const n of names) {
    if (n.startsWith('.tmp-')) await r.leftover(path.join(dir, n), 'temp file of an interrupted write');
  }
  if (names.includes(path.basename(journal))) {
    await r.problem({
      kind: 'leftover', where: r.rel(journal), message: 'a killed `run` left its mount points in the container',
      repair: async () => {
        const { containerDriver } = await import('../driver/index.js');
        const { recoverInterruptedRun } = await import('../runtime/mount-points.js');
        const driver = await containerDriver(store, state);
        await driver.withRootfs(state, (root) => recoverInterruptedRun(root, journal));
      },
    });
  }
  if ((state.driver ?? 'dir') === 'overlay') {
    const gen = state.overlay?.gen ?? 0;
    for (const d of [`upper-${gen}`, `work-${gen}`, 'merged']) {
      if (!names.includes(d)) await r.damaged(who, `its directory ${d} is missing`, `remove it with \`tbah rm ${state.name}\``);
    }
    for (const n of names) {
      const m = /^(upper|work)-(\d+)$/.exec(n);
      if (m && Number(m[2]) !== gen) await r.leftover(path.join(dir, n), 'a generation a commit killed after its commit point left');
    }
  } else {
    if (!names.includes('rootfs')) await r.damaged(who, 'its rootfs directory is missing', `remove it with \`tbah rm ${state.name}\``);
    if (state.snapshot && !names.includes(state.snapshot)) await r.damaged(who, `its snapshot ${state.snapshot} is missing (the next commit would hold every file)`, 'commit with --squash, or remove the container');
    for (const n of names) {
      if (/^snapshot-.*\.json$/.test(n) && n !== state.snapshot) await r.leftover(path.join(dir, n), 'a snapshot a killed commit left');
    }
  }
}

function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file, { highWaterMark: 1 << 20 })
      .on('data', (c) => h.update(c))
      .on('error', (err) => (isErrno(err, 'ENOENT') ? resolve('') : reject(err)))
      .on('end', () => resolve(h.digest('hex')));
  });
}
