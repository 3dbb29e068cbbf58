/**
 * Which isolation and which OCI runtime a run uses. The default runtime is
 * crun when it really works here, else runc: crun 1.8 refuses to start any
 * container on hosts with hybrid cgroups ("cgroups in hybrid mode not
 * supported") while runc works, so crun is probed once (a real container
 * running `true`) and the verdict is cached per host and boot, in a run-time
 * directory shared by every store (`hostRunDir`), so a new store does not
 * probe and warn again.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TbahError, isErrno } from '../errors.js';
import { writeJsonAtomic } from '../util/fsx.js';
import { buildSpec } from './spec.js';
import type { RunMount } from './spec.js';

export type Isolation = 'oci' | 'chroot';

export interface RuntimeChoice {
  /** Absolute path of the runtime binary. */
  path: string;
  /** Its base name (`runc`, `crun`), which also names its state directory. */
  name: string;
}

/** Where tbah keeps OCI runtime state (`runc --root`), apart from other users of the runtime. */
export const RUNTIME_STATE_ROOT = '/run/tbah';

export function runtimeStateDir(rt: RuntimeChoice): string {
  return path.join(RUNTIME_STATE_ROOT, rt.name);
}

/** `--isolation`, else `TBAH_ISOLATION`, else `BUILDAH_ISOLATION`, else `oci`. */
export function resolveIsolation(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Isolation {
  const [value, from] = flag !== undefined ? [flag, '--isolation']
    : env['TBAH_ISOLATION'] ? [env['TBAH_ISOLATION'], 'TBAH_ISOLATION']
    : env['BUILDAH_ISOLATION'] ? [env['BUILDAH_ISOLATION'], 'BUILDAH_ISOLATION']
    : ['oci', ''];
  const v = value.trim().toLowerCase();
  if (v === 'oci' || v === 'default' || v === '') return 'oci';
  if (v === 'chroot') return 'chroot';
  throw new TbahError('invalid-argument', `${from} ${value}: unsupported isolation`, {
    hint: v === 'rootless' ? 'tbah runs containers as root: use oci or chroot' : 'use oci (an OCI runtime) or chroot',
  });
}

/** `name` as execvp would find it in PATH (or as given when it contains a slash). */
export async function findExecutable(name: string, envPath = process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin'): Promise<string | undefined> {
  const candidates = name.includes('/') ? [path.resolve(name)] : envPath.split(':').filter((d) => d !== '').map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      await fsp.access(c, constants.X_OK);
      if ((await fsp.stat(c)).isFile()) return c;
    } catch {
      // not here; try the next PATH entry
    }
  }
  return undefined;
}

export interface Verdict {
  ok: boolean;
  /** `hybrid-cgroups` for crun's known refusal; `failed` otherwise. */
  reason?: 'hybrid-cgroups' | 'failed';
  /** The runtime's own first error line, for messages. */
  message?: string;
}

interface CachedVerdict extends Verdict { bootId: string; path: string; identity: string }

async function bootId(): Promise<string> {
  try {
    return (await fsp.readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  } catch {
    return 'unknown';
  }
}

/** Changes when the binary is upgraded, so a new version is probed again. */
async function identity(bin: string): Promise<string> {
  const st = await fsp.stat(bin);
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
}

/**
 * Run `true` in a throw-away container with the host's /usr (read-only) as its
 * root. Only a runtime that gets that far can run `tbah run`'s containers.
 */
export async function probeRuntime(rt: RuntimeChoice): Promise<Verdict> {
  const bundle = await fsp.mkdtemp(path.join(os.tmpdir(), 'tbah-probe-'));
  const id = `tbah-probe-${randomBytes(6).toString('hex')}`;
  const stateDir = runtimeStateDir(rt);
  try {
    const rootfs = path.join(bundle, 'rootfs');
    await fsp.mkdir(rootfs);
    const mounts: RunMount[] = [];
    // Merged-/usr hosts have /bin → usr/bin symlinks; others have real directories.
    for (const d of ['usr', 'bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
      const st = await fsp.lstat(`/${d}`).catch(() => undefined);
      if (st?.isSymbolicLink()) await fsp.symlink(await fsp.readlink(`/${d}`), path.join(rootfs, d));
      else if (st?.isDirectory()) mounts.push({ type: 'bind', source: `/${d}`, target: `/${d}`, readonly: true });
    }
    const spec = buildSpec({ args: ['true'], rootfs, mounts, hostname: 'tbah-probe' });
    await fsp.writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec));
    await fsp.mkdir(stateDir, { recursive: true, mode: 0o700 });
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = spawn(rt.path, ['--root', stateDir, 'run', '--bundle', bundle, id], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => { if (err.length < 8192) err += d.toString(); });
      child.once('error', (e) => resolve({ code: -1, stderr: e.message }));
      child.once('close', (c) => resolve({ code: c ?? -1, stderr: err }));
    });
    if (code === 0) return { ok: true };
    const message = stderr.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? `exit status ${code}`;
    return { ok: false, reason: /hybrid mode not supported/i.test(stderr) ? 'hybrid-cgroups' : 'failed', message };
  } finally {
    await new Promise<void>((resolve) => {
      const c = spawn(rt.path, ['--root', stateDir, 'delete', '--force', id], { stdio: 'ignore' });
      c.once('error', () => resolve());
      c.once('close', () => resolve());
    });
    await fsp.rm(bundle, { recursive: true, force: true });
  }
}

/**
 * The per-host run-time directory for facts that hold until reboot (the probe
 * verdict): `$XDG_RUNTIME_DIR/tbah` when set, else `/run/tbah` as root, else
 * `<tmpdir>/tbah-run-<uid>` (as podman does). A directory we cannot use or do
 * not own is refused (undefined), so a shared /tmp cannot feed us a verdict.
 */
export async function hostRunDir(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const uid = process.getuid?.() ?? -1;
  const xdg = env['XDG_RUNTIME_DIR'];
  const dir = xdg !== undefined && path.isAbsolute(xdg) ? path.join(xdg, 'tbah')
    : uid === 0 ? RUNTIME_STATE_ROOT
    : path.join(os.tmpdir(), `tbah-run-${uid}`);
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const st = await fsp.lstat(dir);
    if (!st.isDirectory() || (uid !== -1 && st.uid !== uid) || (st.mode & 0o022) !== 0) return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

/**
 * The probe's verdict, from the per-host run-time directory (else `fallbackDir`)
 * when it was made this boot for this very binary; otherwise probe and keep it.
 */
export async function runtimeVerdict(rt: RuntimeChoice, fallbackDir: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Verdict & { fresh: boolean }> {
  const dir = (await hostRunDir(env)) ?? fallbackDir;
  const file = dir === undefined ? undefined
    : path.join(dir, `runtime-verdict-${createHash('sha256').update(rt.path).digest('hex').slice(0, 16)}.json`);
  const boot = await bootId();
  const ident = await identity(rt.path);
  if (file !== undefined) {
    try {
      const c = JSON.parse(await fsp.readFile(file, 'utf8')) as CachedVerdict;
      if (c.bootId === boot && c.path === rt.path && c.identity === ident) {
        const v: Verdict & { fresh: boolean } = { ok: c.ok, fresh: false };
        if (c.reason !== undefined) v.reason = c.reason;
        if (c.message !== undefined) v.message = c.message;
        return v;
      }
    } catch (err) {
      if (!isErrno(err, 'ENOENT') && !(err instanceof SyntaxError)) throw err;
    }
  }
  const v = await probeRuntime(rt);
  if (file !== undefined) {
    try {
      // Atomic (temp + rename): a concurrent run reads the old verdict or the new one, never half.
      await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await writeJsonAtomic(file, { ...v, bootId: boot, path: rt.path, identity: ident } satisfies CachedVerdict, 0o600);
    } catch {
      // A cache: if it cannot be written, the next run probes again.
    }
  }
  return { ...v, fresh: true };
}

function hybridError(rt: RuntimeChoice, v: Verdict): TbahError {
  return new TbahError('unsupported', `${rt.name} cannot run containers on this host: it does not support hybrid cgroups (v1 and v2 together): "${v.message ?? ''}"`, {
    hint: 'use --runtime runc, or --isolation chroot',
  });
}

export interface SelectOptions {
  /** `--runtime`: a name looked up in PATH or a path. */
  runtime?: string;
  env?: NodeJS.ProcessEnv;
  /** Where probe verdicts are cached when no per-host run-time directory is usable (`hostRunDir`). */
  cacheDir?: string;
  onWarning?: (msg: string) => void;
}

/**
 * `--runtime`, `TBAH_RUNTIME` or `BUILDAH_RUNTIME` when given (refused with a
 * clear error when its probe shows the hybrid-cgroup problem); otherwise crun
 * when it works here, else runc.
 */
export async function selectRuntime(o: SelectOptions = {}): Promise<RuntimeChoice> {
  const env = o.env ?? process.env;
  const explicit = o.runtime ?? (env['TBAH_RUNTIME'] || undefined) ?? (env['BUILDAH_RUNTIME'] || undefined);
  if (explicit !== undefined) {
    const found = await findExecutable(explicit, env['PATH']);
    if (found === undefined) {
      throw new TbahError('not-found', `OCI runtime "${explicit}" not found`, {
        hint: 'install runc (apt-get install runc), give --runtime a path, or use --isolation chroot',
      });
    }
    const rt = { path: found, name: path.basename(found) };
    const v = await runtimeVerdict(rt, o.cacheDir, env);
    if (v.reason === 'hybrid-cgroups') throw hybridError(rt, v);
    // Any other probe failure: run anyway, the runtime's own error will say more.
    return rt;
  }
  const crun = await findExecutable('crun', env['PATH']);
  const runc = await findExecutable('runc', env['PATH']);
  if (crun !== undefined) {
    const rt = { path: crun, name: 'crun' };
    const v = await runtimeVerdict(rt, o.cacheDir, env);
    if (v.ok) return rt;
    if (runc === undefined) throw v.reason === 'hybrid-cgroups' ? hybridError(rt, v) : new TbahError('unsupported', `crun cannot run containers on this host: ${v.message ?? 'unknown error'}`, { hint: 'install runc, or use --isolation chroot' });
    if (v.fresh) {
      const why = v.reason === 'hybrid-cgroups' ? 'cgroups in hybrid mode are not supported by crun' : (v.message ?? 'it failed a test run');
      o.onWarning?.(`crun does not work on this host (${why}); using runc`);
    }
  }
  if (runc !== undefined) return { path: runc, name: 'runc' };
  throw new TbahError('not-found', 'no OCI runtime found (looked for crun and runc in PATH)', {
    hint: 'install runc (apt-get install runc), or use --isolation chroot, which needs none',
  });
}
