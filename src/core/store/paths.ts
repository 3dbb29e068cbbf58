/** Where a store lives (design §2): --root, TBAH_ROOT, /var/lib/tbah, or the XDG data dir. */
import { homedir } from 'node:os';
import * as path from 'node:path';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TBAH_ROOT) return path.resolve(env.TBAH_ROOT);
  if (isRoot()) return '/var/lib/tbah';
  const data = env.XDG_DATA_HOME || path.join(homedir(), '.local', 'share');
  return path.join(data, 'tbah');
}

/** Layout of one store root. */
export class StorePaths {
  constructor(readonly root: string) {}
  get layoutFile(): string { return path.join(this.root, 'oci-layout'); }
  get indexFile(): string { return path.join(this.root, 'index.json'); }
  get blobsDir(): string { return path.join(this.root, 'blobs'); }
  get layerMetaDir(): string { return path.join(this.root, 'layer-meta'); }
  get containersDir(): string { return path.join(this.root, 'containers'); }
  get locksDir(): string { return path.join(this.root, 'locks'); }
  get tmpDir(): string { return path.join(this.root, 'tmp'); }
  /** `run --mount type=cache` directories, one per cache id (plus private instances), with their lock files. */
  get cacheDir(): string { return path.join(this.root, 'cache'); }
  container(id: string): string { return path.join(this.containersDir, id); }
}
