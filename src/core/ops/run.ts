/**
 * `tbah run`: a command in the working container through the OCI runtime.
 * Holds the container's lock for the whole run, so a commit cannot read a
 * half-changed rootfs. Never commits anything itself.
 */
import * as path from 'node:path';
import { TbahError } from '../errors.js';
import { runInContainer } from '../runtime/run.js';
import type { RunMount } from '../runtime/spec.js';
import type { Store } from '../store/store.js';

export interface RunContainerOptions {
  container: string;
  args: string[];
  /** `--user`; default: the image config's User, else root. */
  user?: string;
  /** `--workingdir`; default: the image config's WorkingDir, else `/`. */
  workingDir?: string;
  /** Extra `K=V` pairs, after the image's Env. */
  env?: string[];
  mounts?: RunMount[];
  network?: 'host' | 'none';
  hostname?: string;
  capAdd?: string[];
  capDrop?: string[];
  runtime?: string;
  terminal?: boolean;
}

/** Returns the command's exit status. */
export async function runContainer(store: Store, opts: RunContainerOptions): Promise<number> {
  if (opts.args.length === 0) {
    throw new TbahError('usage', 'command must be specified', { hint: 'tbah run CONTAINER -- COMMAND [ARG...]' });
  }
  return store.containers.withContainer(opts.container, async (state) => {
    const cfg = state.image.config.config ?? {};
    const user = opts.user ?? (cfg.User || undefined);
    return runInContainer(store.containers.rootfs(state.id), {
      args: opts.args,
      imageEnv: cfg.Env ?? [],
      env: opts.env ?? [],
      workingDir: opts.workingDir ?? (cfg.WorkingDir || '/'),
      ...(user !== undefined ? { user } : {}),
      network: opts.network === 'none' ? 'private' : 'host',
      mounts: opts.mounts ?? [],
      ...(opts.hostname !== undefined ? { hostname: opts.hostname } : {}),
      ...(opts.capAdd ? { capAdd: opts.capAdd } : {}),
      ...(opts.capDrop ? { capDrop: opts.capDrop } : {}),
      ...(opts.runtime !== undefined ? { runtime: opts.runtime } : {}),
      ...(opts.terminal ? { terminal: true } : {}),
    });
  });
}

/** `-v SRC:DST[:ro|rw]` → a bind mount (SRC is a host path, resolved against `cwd`). */
export function parseVolume(spec: string, cwd = process.cwd()): RunMount {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) {
    throw new TbahError('invalid-argument', `-v ${spec}: expected SRC:DST[:ro]`, { hint: 'e.g. -v "$PWD/src:/src:ro"' });
  }
  const [src, dst, mode] = parts as [string, string, string | undefined];
  if (!dst.startsWith('/')) throw new TbahError('invalid-argument', `-v ${spec}: the destination must be an absolute path`);
  const ro = mode === undefined ? false : mode.split(',').includes('ro');
  if (mode !== undefined && !mode.split(',').every((m) => m === 'ro' || m === 'rw')) {
    throw new TbahError('invalid-argument', `-v ${spec}: unknown option ${mode}`, { hint: 'use ro or rw' });
  }
  return { type: 'bind', source: path.resolve(cwd, src), target: dst, readonly: ro };
}

/** `--mount type=bind|tmpfs,...` with BuildKit/Buildah option names; bind defaults to read-only. */
export function parseMount(spec: string, cwd = process.cwd()): RunMount {
  const kv = new Map<string, string>();
  const flags = new Set<string>();
  for (const part of spec.split(',')) {
    const i = part.indexOf('=');
    if (i < 0) flags.add(part);
    else kv.set(part.slice(0, i), part.slice(i + 1));
  }
  const type = kv.get('type');
  const target = kv.get('target') ?? kv.get('dst') ?? kv.get('destination');
  if (!target || !target.startsWith('/')) {
    throw new TbahError('invalid-argument', `--mount ${spec}: needs target=ABSOLUTE_PATH`, { hint: 'e.g. --mount type=tmpfs,target=/scratch' });
  }
  if (type === 'tmpfs') {
    const mode = kv.get('mode') ?? kv.get('tmpfs-mode');
    const size = kv.get('tmpfs-size') ?? kv.get('size');
    return { type: 'tmpfs', target, options: [...(mode ? [`mode=${mode}`] : []), ...(size ? [`size=${size}`] : [])] };
  }
  if (type === 'bind') {
    const source = kv.get('source') ?? kv.get('src');
    if (!source) throw new TbahError('invalid-argument', `--mount ${spec}: a bind mount needs source=HOST_PATH`);
    const rw = flags.has('rw') || kv.get('readonly') === 'false' || kv.get('rw') === 'true';
    if (rw) {
      // BuildKit semantics (design §3) need a throw-away overlay over the source: not built yet.
      throw new TbahError('unsupported', `--mount ${spec}: writable bind mounts are not supported yet`, { hint: 'use -v SRC:DST to write through to the host' });
    }
    return { type: 'bind', source: path.resolve(cwd, source), target, readonly: true };
  }
  throw new TbahError('unsupported', `--mount ${spec}: type ${type ?? '(none)'} is not supported yet`, { hint: 'supported: type=bind, type=tmpfs' });
}
