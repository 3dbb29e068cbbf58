/**
 * Which rootfs driver a container uses: chosen when it is made (`--storage-driver`,
 * `TBAH_STORAGE_DRIVER`, else overlay as root where this store's file system
 * takes it, else dir) and recorded in its state for good.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { TbahError } from '../errors.js';
import type { ContainerState } from '../store/containers.js';
import type { Store } from '../store/store.js';
import { writeFileAtomic } from '../util/fsx.js';
import { mountOverlay, unmount } from './mounts.js';
import { DRIVER_NAMES, type DriverName, type RootfsDriver } from './types.js';

export type { DriverName, RootfsDriver } from './types.js';

/** Loaded on demand: a command that only lists or configures pays for neither driver. */
export async function driverFor(store: Store, name: DriverName): Promise<RootfsDriver> {
  if (name === 'overlay') return new (await import('./overlay.js')).OverlayDriver(store);
  return new (await import('./dir.js')).DirDriver(store);
}

export function containerDriver(store: Store, c: ContainerState): Promise<RootfsDriver> {
  return driverFor(store, c.driver ?? 'dir');
}

/** Where a container's root file system is shown (what `tbah mount` prints), without loading its driver. */
export function mountPointOf(store: Store, c: ContainerState): string {
  return path.join(store.containers.dir(c.id), c.driver === 'overlay' ? 'merged' : 'rootfs');
}

export function parseDriverName(value: string, from: string): DriverName {
  const v = value === 'overlay2' ? 'overlay' : value === 'vfs' ? 'dir' : value;
  if (!(DRIVER_NAMES as readonly string[]).includes(v)) {
    throw new TbahError('invalid-argument', `${from} ${value}: unknown storage driver`, { hint: 'use dir or overlay' });
  }
  return v as DriverName;
}

/** The driver for a new container: the caller's choice, else the environment's, else the best this store allows. */
export async function chooseDriver(store: Store, requested?: string): Promise<DriverName> {
  if (requested !== undefined && requested !== '') return parseDriverName(requested, '--storage-driver');
  const env = process.env.TBAH_STORAGE_DRIVER;
  if (env !== undefined && env !== '') return parseDriverName(env, 'TBAH_STORAGE_DRIVER');
  if (process.geteuid?.() !== 0) return 'dir';
  return (await overlayWorks(store)) ? 'overlay' : 'dir';
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/**
 * Whether overlayfs mounts with this store's file system as upper (not on
 * overlayfs itself, NFS…). Probed once per boot per store, verdict kept.
 */
export async function overlayWorks(store: Store): Promise<boolean> {
  const verdictFile = path.join(store.paths.layersDir, '.overlay-probe');
  const boot = bootId();
  try {
    const [b, v] = readFileSync(verdictFile, 'utf8').split(' ');
    if (b === boot) return v?.trim() === 'ok';
  } catch { /* not probed yet */ }
  const dir = path.join(store.paths.layersDir, 'tmp', `probe-${randomBytes(4).toString('hex')}`);
  let ok = false;
  try {
    for (const d of ['lower', 'upper', 'work', 'merged']) await fsp.mkdir(path.join(dir, d), { recursive: true });
    await mountOverlay({ lower: ['lower'], upper: path.join(dir, 'upper'), work: path.join(dir, 'work'), cwd: dir, target: path.join(dir, 'merged') });
    ok = true;
    await unmount(path.join(dir, 'merged'), { lazy: true });
  } catch {
    ok = false;
  } finally {
    await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
  await fsp.mkdir(path.dirname(verdictFile), { recursive: true });
  await writeFileAtomic(verdictFile, `${boot} ${ok ? 'ok' : 'no'}\n`);
  return ok;
}
