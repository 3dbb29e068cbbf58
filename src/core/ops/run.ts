/**
 * `tbah run`: a command in the working container, isolated by an OCI runtime
 * or by namespaces + chroot. Holds the container's lock for the whole run, so
 * a commit cannot read a half-changed rootfs. Never commits anything itself.
 */
import { containerDriver } from '../driver/index.js';
import { TbahError } from '../errors.js';
import { recoverInterruptedRun } from '../runtime/mount-points.js';
import { runInContainer } from '../runtime/run.js';
import type { MountRequest, SecretSource } from '../runtime/mounts.js';
import type { Isolation } from '../runtime/select.js';
import type { Store } from '../store/store.js';

export { parseMount, parseSecret, parseVolume } from './run-args.js';

export interface RunContainerOptions {
  container: string;
  args: string[];
  /** `--user`; default: the image config's User, else root. */
  user?: string;
  /** `--workingdir`; default: the image config's WorkingDir, else `/`. */
  workingDir?: string;
  /** Extra `K=V` pairs, after the image's Env. */
  env?: string[];
  mounts?: MountRequest[];
  secrets?: SecretSource[];
  network?: 'host' | 'none';
  /** Default: the container's short id, as Buildah. */
  hostname?: string;
  capAdd?: string[];
  capDrop?: string[];
  /** Default `oci`. */
  isolation?: Isolation;
  /** OCI runtime; default $TBAH_RUNTIME, $BUILDAH_RUNTIME, else crun if it works here, else runc. */
  runtime?: string;
  terminal?: boolean;
  onWarning?: (msg: string) => void;
  /** One-line notices, e.g. waiting for a cache another run holds. */
  onNotice?: (msg: string) => void;
}

/** Returns the command's exit status. */
export async function runContainer(store: Store, opts: RunContainerOptions): Promise<number> {
  if (opts.args.length === 0) {
    throw new TbahError('usage', 'command must be specified', { hint: 'tbah run CONTAINER -- COMMAND [ARG...]' });
  }
  return store.containers.withContainer(opts.container, async (state) => {
    const cfg = state.image.config.config ?? {};
    const user = opts.user ?? (cfg.User || undefined);
    const journal = store.containers.runJournal(state.id);
    const driver = await containerDriver(store, state);
    return driver.withRootfs(state, async (rootfs) => {
    await recoverInterruptedRun(rootfs, journal);
    return runInContainer(rootfs, {
      args: opts.args,
      imageEnv: cfg.Env ?? [],
      env: opts.env ?? [],
      workingDir: opts.workingDir ?? (cfg.WorkingDir || '/'),
      ...(user !== undefined ? { user } : {}),
      network: opts.network === 'none' ? 'private' : 'host',
      mounts: opts.mounts ?? [],
      secrets: opts.secrets ?? [],
      hostname: opts.hostname ?? state.id.slice(0, 12),
      ...(opts.capAdd ? { capAdd: opts.capAdd } : {}),
      ...(opts.capDrop ? { capDrop: opts.capDrop } : {}),
      isolation: opts.isolation ?? 'oci',
      ...(opts.runtime !== undefined ? { runtime: opts.runtime } : {}),
      ...(opts.terminal ? { terminal: true } : {}),
      ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
      ...(opts.onNotice ? { onNotice: opts.onNotice } : {}),
      cacheDir: store.paths.cacheDir,
      verdictDir: store.paths.tmpDir,
      name: state.id.slice(0, 12),
      journal,
    });
    });
  });
}

