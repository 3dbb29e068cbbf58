/**
 * `tbah run`: a command in the working container, isolated by an OCI runtime
 * or by namespaces + chroot. Holds the container's lock for the whole run, so
 * a commit cannot read a half-changed rootfs. Never commits anything itself.
 */
import { containerDriver } from '../driver/index.js';
import { TbahError } from '../errors.js';
import { rfc3339 } from '../image.js';
import { recoverInterruptedRun } from '../runtime/mount-points.js';
import { runInContainer } from '../runtime/run.js';
import type { MountRequest, SecretSource } from '../runtime/mounts.js';
import type { Isolation } from '../runtime/select.js';
import type { Store } from '../store/store.js';

import { proxyEnv, resolveRunEnv } from './run-args.js';

export { parseExitCodes, parseMount, parseSecret, parseVolume } from './run-args.js';

export interface RunContainerOptions {
  container: string;
  args: string[];
  /** `--user`; default: the image config's User, else root. */
  user?: string;
  /** `--workingdir`; default: the image config's WorkingDir, else `/`. */
  workingDir?: string;
  /** `--env` entries after the image's Env: `K=V`, or `K` / `K*` / `*` for the caller's (Buildah). */
  env?: string[];
  /** The caller's environment, for `--env K` and the proxy variables (default process.env). */
  callerEnv?: Record<string, string | undefined>;
  /** `--valid-exit-codes`: statuses counted as success (the run then exits 0); a 0 not listed is an error. */
  validExitCodes?: number[];
  /** `--add-history`: record `/bin/sh -c CMD…` for the next commit when the run succeeds. */
  addHistory?: boolean;
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

/** Returns the command's exit status (0 for one listed in `validExitCodes`). */
export async function runContainer(store: Store, opts: RunContainerOptions): Promise<number> {
  if (opts.args.length === 0) {
    throw new TbahError('usage', 'command must be specified', { hint: 'tbah run CONTAINER -- COMMAND [ARG...]' });
  }
  const callerEnv = opts.callerEnv ?? process.env;
  return store.containers.withContainer(opts.container, async (state) => {
    const cfg = state.image.config.config ?? {};
    const user = opts.user ?? (cfg.User || undefined);
    const journal = store.containers.runJournal(state.id);
    const driver = await containerDriver(store, state);
    const defaults = state.runDefaults ?? {};
    // Rootless dir driver: the record's owners and modes are on the files while the command runs.
    const withTree = driver.withRunRootfs ? driver.withRunRootfs.bind(driver) : driver.withRootfs.bind(driver);
    const raw = await withTree(state, async (rootfs) => {
      await recoverInterruptedRun(rootfs, journal);
      return runInContainer(rootfs, {
        args: opts.args,
        // The caller's proxy variables come first, so the image and --env can override them (Buildah).
        imageEnv: [...proxyEnv(callerEnv), ...(cfg.Env ?? [])],
        env: resolveRunEnv(opts.env ?? [], callerEnv),
        workingDir: opts.workingDir ?? (cfg.WorkingDir || '/'),
        ...(user !== undefined ? { user } : {}),
        network: opts.network === 'none' ? 'private' : 'host',
        // `from -v` volumes first: they apply to every run.
        mounts: [...(defaults.volumes ?? []).map((v) => ({ type: 'bind' as const, ...v })), ...(opts.mounts ?? [])],
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
        containerName: state.name,
        ...(defaults.addHosts ? { addHosts: defaults.addHosts } : {}),
        ...(defaults.ulimits ? { rlimits: defaults.ulimits } : {}),
        journal,
      });
    });
    const code = exitStatus(raw, opts.validExitCodes);
    if (code === 0 && opts.addHistory) {
      // Buildah: the image's shell (Docker format) or /bin/sh -c, then the command.
      const shell = (cfg.Shell ?? []).length > 0 ? cfg.Shell!.join(' ') : '/bin/sh -c';
      const entry = { created: rfc3339(Date.now()), created_by: `${shell} ${opts.args.join(' ')}`, empty_layer: true };
      await store.containers.save({ ...state, image: { ...state.image, pendingHistory: [...(state.image.pendingHistory ?? []), entry] } });
    }
    return code;
  });
}

/** `--valid-exit-codes` as Buildah: a listed status is success; an unlisted one passes through; an unlisted 0 is an error. */
export function exitStatus(code: number, valid: readonly number[] | undefined): number {
  if (valid === undefined || valid.length === 0) return code;
  if (valid.includes(code)) return 0;
  if (code === 0) {
    throw new TbahError('invalid-argument', 'exit status 0 is not in the valid exit codes list', { hint: `the command succeeded, but --valid-exit-codes ${valid.join(',')} does not list 0` });
  }
  return code;
}
