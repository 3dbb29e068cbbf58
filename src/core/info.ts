/** `tbah version` / `tbah info` data. */
import { promises as fsp } from 'node:fs';
import { cpus, hostname, release } from 'node:os';
import type { Store } from './store/store.js';
import { isRoot } from './store/paths.js';
import { hostPlatform } from './oci.js';

export const VERSION = '0.1.0';
export const IMAGE_SPEC_VERSION = '1.1.0';
export const RUNTIME_SPEC_VERSION = '1.2.0';

export interface VersionInfo {
  version: string;
  node: string;
  imageSpec: string;
  runtimeSpec: string;
  platform: string;
}

export function versionInfo(): VersionInfo {
  const p = hostPlatform();
  return { version: VERSION, node: process.version, imageSpec: IMAGE_SPEC_VERSION, runtimeSpec: RUNTIME_SPEC_VERSION, platform: `${p.os}/${p.architecture}` };
}

/** /proc/meminfo in bytes (as containers/storage's ReadMemInfo); undefined where unreadable. */
async function memInfo(): Promise<Record<string, number> | undefined> {
  try {
    const text = await fsp.readFile('/proc/meminfo', 'utf8');
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^(\w+):\s+(\d+)(?: kB)?$/gm)) out[m[1]!] = Number(m[2]) * (m[0].endsWith('kB') ? 1024 : 1);
    return out;
  } catch {
    return undefined;
  }
}

/** ID and VERSION_ID of /etc/os-release, "unknown" when absent (Buildah's getHostDistributionInfo). */
async function distribution(): Promise<{ distribution: string; version: string }> {
  const d = { distribution: 'unknown', version: 'unknown' };
  try {
    for (const line of (await fsp.readFile('/etc/os-release', 'utf8')).split('\n')) {
      if (line.startsWith('ID=')) d.distribution = line.slice(3);
      if (line.startsWith('VERSION_ID=')) d.version = line.slice(11).replace(/^"+|"+$/g, '');
    }
  } catch {
    // keep "unknown"
  }
  return d;
}

/** Buildah's uptime text: Go's Duration String with spaces after h and m, plus days when there are hours. */
async function uptime(): Promise<string> {
  try {
    const secs = Number((await fsp.readFile('/proc/uptime', 'utf8')).split(/\s+/)[0]);
    const cs = Math.round(secs * 100);
    const h = Math.floor(cs / 360000);
    const m = Math.floor((cs % 360000) / 6000);
    const sec = ((cs % 6000) / 100).toFixed(2).replace(/\.?0+$/, '');
    const text = h > 0 ? `${h}h ${m}m ${sec}s` : m > 0 ? `${m}m ${sec}s` : `${sec}s`;
    return h > 0 ? `${text} (Approximately ${(h / 24).toFixed(2)} days)` : text;
  } catch {
    return '';
  }
}

/**
 * `tbah info`: Buildah's keys where they mean something for tbah (no
 * OCIRuntime: tbah picks crun or runc at the first `run`, by probing), plus
 * tbah's own `host.node` and `version`.
 */
export async function storeInfo(store: Store): Promise<Record<string, unknown>> {
  const [images, containers, mem, dist, up] = await Promise.all([store.images.list(), store.containers.list(), memInfo(), distribution(), uptime()]);
  // Imported here: main.ts loads this module for VERSION, and start-up should not pay for the runtime code.
  const { RUNTIME_STATE_ROOT } = await import('./runtime/select.js');
  const p = hostPlatform();
  const cgroup2 = await fsp.access('/sys/fs/cgroup/cgroup.controllers').then(() => true, () => false);
  return {
    host: {
      CgroupVersion: cgroup2 ? 'v2' : 'v1',
      Distribution: dist,
      MemFree: mem?.MemFree ?? '', MemTotal: mem?.MemTotal ?? '', SwapFree: mem?.SwapFree ?? '', SwapTotal: mem?.SwapTotal ?? '',
      arch: p.architecture, cpus: cpus().length, hostname: hostname(), kernel: release(), os: p.os,
      rootless: !isRoot(), uptime: up, variant: p.variant ?? '', node: process.version,
    },
    store: {
      ContainerStore: { number: containers.length },
      // The driver new containers get (each container keeps the one it was made with).
      GraphDriverName: await (await import('./driver/index.js')).chooseDriver(store).catch(() => 'dir'),
      GraphOptions: [],
      GraphRoot: store.root,
      GraphStatus: {},
      ImageStore: { number: images.length },
      // Where `run` keeps the OCI runtime's state (and mount bookkeeping) while a command runs.
      RunRoot: RUNTIME_STATE_ROOT,
    },
    version: VERSION,
  };
}
