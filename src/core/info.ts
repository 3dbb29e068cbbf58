/** `tbah version` / `tbah info` data. */
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

export async function storeInfo(store: Store): Promise<Record<string, unknown>> {
  const images = await store.images.list();
  const containers = await store.containers.list();
  return {
    host: {
      arch: hostPlatform().architecture, os: hostPlatform().os, kernel: release(), hostname: hostname(), cpus: cpus().length,
      rootless: !isRoot(), node: process.version,
    },
    store: {
      GraphRoot: store.root,
      GraphDriverName: 'dir',
      ImageStore: { number: images.length },
      ContainerStore: { number: containers.length },
    },
    version: VERSION,
  };
}
