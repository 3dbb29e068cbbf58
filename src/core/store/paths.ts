/**
 * Where a store and tbah's run-time state live (design §2): --root,
 * TBAH_ROOT, /var/lib/tbah and /run/tbah for root; the XDG data and runtime
 * directories (with fallbacks when they are unset, as under `runuser` or
 * cron) for everyone else. Never a root-owned path for an unprivileged user.
 */
import { lstatSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import * as path from 'node:path';
import { TbahError, isErrno } from '../errors.js';

let fullMap: boolean | undefined;

/**
 * Whether this process's user namespace is the initial one (its uid map is
 * the whole range). Root inside a user namespace (tbah's own, or a rootless
 * container's) cannot give files arbitrary owners or make devices.
 */
export function inInitialUserNamespace(): boolean {
  if (fullMap === undefined) {
    try {
      fullMap = /^\s*0\s+0\s+4294967295\s*$/.test(readFileSync('/proc/self/uid_map', 'utf8'));
    } catch {
      fullMap = true; // no /proc: assume a plain host
    }
  }
  return fullMap;
}

/**
 * Root of the initial user namespace: may chown to any id, mknod, mount.
 * Root inside a user namespace counts as unprivileged (rootless mode).
 */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0 && inInitialUserNamespace();
}

/**
 * The caller's uid on the host: the id this process's uid maps to in the
 * initial namespace (inside tbah's user namespace, root there is the caller).
 */
export function hostUid(): number {
  const uid = process.getuid?.() ?? 0;
  if (inInitialUserNamespace()) return uid;
  try {
    for (const line of readFileSync('/proc/self/uid_map', 'utf8').split('\n')) {
      const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
      if (inside !== undefined && outside !== undefined && count !== undefined && uid >= inside && uid < inside + count) return outside + (uid - inside);
    }
  } catch { /* fall through */ }
  return uid;
}

/**
 * The caller's home: $HOME when it is theirs, else the passwd entry's (a
 * `setpriv` or `sudo -u` keeps root's HOME, which the caller cannot write).
 */
export function userHome(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.HOME;
  if (home && path.isAbsolute(home)) {
    try {
      if (statSync(home).uid === process.getuid?.()) return home;
    } catch { /* missing: try the passwd entry */ }
  }
  try {
    return userInfo().homedir;
  } catch {
    return homedir();
  }
}

export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TBAH_ROOT) return path.resolve(env.TBAH_ROOT);
  if (isRoot()) return '/var/lib/tbah';
  // XDG: a relative value is invalid and must be ignored.
  const xdg = env.XDG_DATA_HOME;
  const data = xdg && path.isAbsolute(xdg) ? xdg : path.join(userHome(env), '.local', 'share');
  return path.join(data, 'tbah');
}

/** Run-time state root of root (runtime state, the probe verdict). */
export const ROOT_RUNTIME_DIR = '/run/tbah';

/** A directory that must be the caller's alone: made 0700 if missing; someone else's, or one others may write, is refused. */
export function ensurePrivateDir(dir: string, what: string): string {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) {
      throw new TbahError('io', `cannot create ${what} ${dir}: ${(err as Error).message}`, { hint: 'set XDG_RUNTIME_DIR to a directory you own (mode 0700)', cause: err });
    }
  }
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o077) !== 0) {
    throw new TbahError('conflict', `${what} ${dir} is not a private directory of yours (owner ${st.uid}, mode ${(st.mode & 0o7777).toString(8)})`, {
      hint: 'remove it, or set XDG_RUNTIME_DIR to a directory you own (mode 0700)',
    });
  }
  return dir;
}

/**
 * The caller's run-time directory (XDG_RUNTIME_DIR's role: private, gone at
 * reboot): `$XDG_RUNTIME_DIR`; else `/run/user/UID` when a login session made
 * it; else `<tmpdir>/tbah-run-UID` (under `runuser`, `setpriv` or cron), which
 * `ensureUserRuntimeDir` makes and checks. Not for root.
 */
export function userRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && path.isAbsolute(xdg)) return xdg;
  const uid = hostUid();
  const session = `/run/user/${uid}`;
  try {
    const st = statSync(session);
    if (st.isDirectory() && st.uid === process.getuid?.()) return session;
  } catch { /* no login session */ }
  return path.join(tmpdir(), `tbah-run-${uid}`);
}

/** userRuntimeDir(), made and checked when it is tbah's own fallback in a shared /tmp. */
export function ensureUserRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = userRuntimeDir(env);
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && path.isAbsolute(xdg)) {
    try {
      statSync(xdg);
    } catch {
      throw new TbahError('not-found', `XDG_RUNTIME_DIR ${xdg} does not exist`, { hint: 'unset XDG_RUNTIME_DIR (tbah then uses a private directory under /tmp), or create it (mode 0700)' });
    }
    return dir;
  }
  return dir.startsWith('/run/user/') ? dir : ensurePrivateDir(dir, 'the run-time directory');
}

/**
 * Where tbah keeps state that lives until reboot (OCI runtime state):
 * `/run/tbah` for root, else `tbah/` in the caller's run-time directory.
 */
export function runtimeRoot(env: NodeJS.ProcessEnv = process.env): string {
  return isRoot() ? ROOT_RUNTIME_DIR : path.join(userRuntimeDir(env), 'tbah');
}

/** runtimeRoot(), made (0700) and checked. */
export function ensureRuntimeRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (isRoot()) {
    mkdirSync(ROOT_RUNTIME_DIR, { recursive: true, mode: 0o700 });
    return ROOT_RUNTIME_DIR;
  }
  return ensurePrivateDir(path.join(ensureUserRuntimeDir(env), 'tbah'), 'the run-time directory');
}

/** Layout of one store root. */
export class StorePaths {
  constructor(readonly root: string) {}
  get layoutFile(): string { return path.join(this.root, 'oci-layout'); }
  get indexFile(): string { return path.join(this.root, 'index.json'); }
  get blobsDir(): string { return path.join(this.root, 'blobs'); }
  get layerMetaDir(): string { return path.join(this.root, 'layer-meta'); }
  /** Unpacked layers of the overlay driver, shared by containers (driver/layer-store.ts). */
  get layersDir(): string { return path.join(this.root, 'layers'); }
  get containersDir(): string { return path.join(this.root, 'containers'); }
  get locksDir(): string { return path.join(this.root, 'locks'); }
  get tmpDir(): string { return path.join(this.root, 'tmp'); }
  /** `run --mount type=cache` directories, one per cache id (plus private instances), with their lock files. */
  get cacheDir(): string { return path.join(this.root, 'cache'); }
  container(id: string): string { return path.join(this.containersDir, id); }
}
