/**
 * What a run's mounts need on the host before the runtime sees them: throw-away
 * overlays for writable `--mount type=bind`, cache directories in the store
 * (with their sharing locks), and private copies of secrets. `release` undoes
 * all of it; nothing here ever writes into the container's rootfs.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { TbahError, isErrno } from '../errors.js';
import { mkdirAllInRoot } from '../layer/secure-path.js';
import { Lock } from '../store/lock.js';
import { markOwned } from './orphans.js';
import type { RunMount } from './spec.js';

export interface BindRequest {
  type: 'bind';
  /** Host path. */
  source: string;
  target: string;
  readonly?: boolean;
  /** Writable, but the writes go to a throw-away overlay and the host source is left alone (BuildKit's `rw`). */
  discardWrites?: boolean;
  options?: string[];
}
export interface TmpfsRequest { type: 'tmpfs'; target: string; readonly?: boolean; options?: string[] }
export type CacheSharing = 'shared' | 'private' | 'locked';
export interface CacheRequest {
  type: 'cache';
  target: string;
  /** Defaults to the target, as in BuildKit. */
  id?: string;
  sharing?: CacheSharing;
  /** Mode, uid and gid of the cache directory when it is first made (0755, 0, 0). */
  mode?: number;
  uid?: number;
  gid?: number;
  readonly?: boolean;
  /** `src=SUBDIR`: mount this subdirectory of the cache (made when missing, resolved inside the cache). */
  source?: string;
}
export interface SecretRequest {
  type: 'secret';
  id: string;
  /** Default `/run/secrets/<id>`; a relative target is under /run/secrets. */
  target?: string;
  /** Default 0400, owned by 0:0. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Without it a missing secret means no mount (Buildah's rule). */
  required?: boolean;
  /** `env=NAME`: the secret is given as this environment variable (and mounted only if `target` is given too). */
  env?: string;
}
export type MountRequest = BindRequest | TmpfsRequest | CacheRequest | SecretRequest;

/** `--secret id=X,src=FILE` or `id=X,env=VAR`: where the bytes come from, never the bytes. */
export interface SecretSource { id: string; file?: string; env?: string }

export interface PreparedMounts {
  mounts: RunMount[];
  /** `NAME=VALUE` for secrets given as environment variables (`type=secret,env=NAME`): for the command only, never on disk. */
  env: string[];
  /** Unlock caches and delete secret copies and overlay scratch. Safe to call twice. */
  release(): Promise<void>;
}

export interface PrepareContext {
  /** A private (0700) directory that lives as long as the run: overlay upper/work dirs go there. */
  scratch: string;
  /** The store's cache directory (required for cache mounts). */
  cacheRoot?: string;
  secrets?: SecretSource[];
  env?: NodeJS.ProcessEnv;
  /** Ends a wait for a busy cache (the run was interrupted). */
  signal?: AbortSignal;
  /** Told once when a cache is busy and the run waits for it. */
  onNotice?: (msg: string) => void;
}

const TMPFS_MAGIC = 0x01021994;
const OVERLAYFS_MAGIC = 0x794c7630;
/** How often a run waiting for a busy cache tries again (a blocking lock wait could not be interrupted). */
const CACHE_RETRY_MS = 100;

async function fsType(p: string): Promise<number | undefined> {
  try {
    return (await fsp.statfs(p)).type;
  } catch {
    return undefined;
  }
}

/** Secrets are copied to RAM when there is a tmpfs at /dev/shm, else to the run's private directory. */
async function secretDir(scratch: string): Promise<string> {
  if (await fsType('/dev/shm') === TMPFS_MAGIC) {
    try {
      const d = await fsp.mkdtemp('/dev/shm/tbah-secrets-'); // mkdtemp makes it 0700
      await markOwned(d);
      return d;
    } catch {
      // read-only or full /dev/shm: fall back to the private run directory
    }
  }
  const d = path.join(scratch, 'secrets');
  await fsp.mkdir(d, { mode: 0o700 });
  return d;
}

/** Overlay upper dirs cannot live on overlayfs (a container's /tmp, for one); /dev/shm then. */
async function overlayScratch(scratch: string): Promise<string> {
  if (await fsType(scratch) !== OVERLAYFS_MAGIC) return scratch;
  const d = await fsp.mkdtemp('/dev/shm/tbah-overlay-');
  await markOwned(d);
  return d;
}

export function cacheKey(id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 32);
}

/** Create a cache directory with its mode and owner in one rename, so no user sees it half-made. */
async function ensureCacheDir(dir: string, mode: number, uid: number, gid: number): Promise<void> {
  try {
    if ((await fsp.stat(dir)).isDirectory()) return;
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  const tmp = path.join(path.dirname(dir), `.new-${path.basename(dir)}-${randomBytes(4).toString('hex')}`);
  await fsp.mkdir(tmp);
  await fsp.chmod(tmp, mode);
  await fsp.chown(tmp, uid, gid);
  try {
    await fsp.rename(tmp, dir);
  } catch (err) {
    await fsp.rmdir(tmp);
    if (!isErrno(err, 'EEXIST') && !isErrno(err, 'ENOTEMPTY')) throw err; // made by a concurrent run
  }
}

/**
 * The cache directory a request gets, with the lock that stands for its use:
 * shared users hold a shared lock, `locked` an exclusive one (so it waits for
 * everyone else), `private` the first instance nobody holds (creating a new
 * one when all are busy). A busy cache is waited for, with a notice, until it
 * is free or the run is interrupted.
 */
async function acquireCache(cacheRoot: string, key: string, req: CacheRequest, ctx: PrepareContext): Promise<{ dir: string; lock: Lock }> {
  await fsp.mkdir(cacheRoot, { recursive: true, mode: 0o700 });
  const sharing = req.sharing ?? 'shared';
  if (sharing === 'private') {
    for (let n = 0; ; n++) {
      const name = n === 0 ? key : `${key}-${n}`;
      const lock = await Lock.tryAcquire(path.join(cacheRoot, `${name}.lock`), 'exclusive');
      if (lock) return { dir: path.join(cacheRoot, name), lock };
    }
  }
  const file = path.join(cacheRoot, `${key}.lock`);
  const mode = sharing === 'locked' ? 'exclusive' : 'shared';
  let lock = await Lock.tryAcquire(file, mode);
  if (!lock) {
    ctx.onNotice?.(`waiting for the cache ${req.id ?? req.target}: ${sharing === 'locked' ? 'another run is using it' : 'another run holds it with sharing=locked'}`);
    while (!(lock = await Lock.tryAcquire(file, mode))) {
      if (ctx.signal?.aborted) throw new TbahError('internal', 'interrupted while waiting for a cache');
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, CACHE_RETRY_MS);
        function done(): void { clearTimeout(t); ctx.signal?.removeEventListener('abort', done); resolve(); }
        ctx.signal?.addEventListener('abort', done, { once: true });
      });
    }
  }
  return { dir: path.join(cacheRoot, key), lock };
}

/**
 * Give a run's copy the source's owner. In tbah's user namespace a host file of
 * another user has no id there (it shows as the overflow id): the copy stays ours.
 */
async function chownLikeSource(p: string, uid: number, gid: number): Promise<void> {
  try {
    await fsp.chown(p, uid, gid);
  } catch (err) {
    if (!isErrno(err, 'EINVAL') && !isErrno(err, 'EPERM')) throw err;
  }
}

function overlayPathOk(p: string): boolean {
  return !/[,:\\\n]/.test(p);
}

/** A secret's bytes as text, for an environment variable. */
async function secretValue(src: SecretSource, id: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (src.file !== undefined) {
    try {
      return await fsp.readFile(src.file, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new TbahError('not-found', `--secret id=${id}: ${src.file} does not exist`);
      throw err;
    }
  }
  const value = env[src.env ?? id];
  if (value === undefined) throw new TbahError('invalid-argument', `--secret id=${id}: environment variable ${src.env ?? id} is not set`);
  return value;
}

export async function prepareMounts(requests: readonly MountRequest[], ctx: PrepareContext): Promise<PreparedMounts> {
  const locks: Lock[] = [];
  const removals: string[] = [];
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    for (const l of locks.splice(0)) await l.release();
    for (const d of removals.splice(0)) await fsp.rm(d, { recursive: true, force: true });
  };
  try {
    const mounts: RunMount[] = [];
    const env: string[] = [];
    const secrets = new Map<string, SecretSource>();
    for (const s of ctx.secrets ?? []) {
      if (secrets.has(s.id)) throw new TbahError('invalid-argument', `--secret id=${s.id} is given twice`, { hint: 'give each secret one id' });
      secrets.set(s.id, s);
    }
    const referenced = new Set(requests.filter((r): r is SecretRequest => r.type === 'secret').map((r) => r.id));
    const all: MountRequest[] = [
      ...requests,
      // A --secret no --mount type=secret refers to is mounted at /run/secrets/<id>.
      ...[...secrets.keys()].filter((id) => !referenced.has(id)).map((id): SecretRequest => ({ type: 'secret', id })),
    ];

    // Cache locks are taken in key order, once per key, so two runs never wait on each other in a cycle.
    const caches = new Map<string, { dir?: string; req: CacheRequest }>();
    for (const r of all) {
      if (r.type !== 'cache') continue;
      if (ctx.cacheRoot === undefined) throw new TbahError('internal', 'cache mounts need the store\'s cache directory');
      const key = cacheKey(r.id ?? r.target);
      const prev = caches.get(key);
      const rank = { shared: 0, private: 1, locked: 2 } as const;
      if (!prev || rank[r.sharing ?? 'shared'] > rank[prev.req.sharing ?? 'shared']) caches.set(key, { req: r });
    }
    for (const key of [...caches.keys()].sort()) {
      const c = caches.get(key)!;
      const { dir, lock } = await acquireCache(ctx.cacheRoot!, key, c.req, ctx);
      locks.push(lock);
      await ensureCacheDir(dir, c.req.mode ?? 0o755, c.req.uid ?? 0, c.req.gid ?? 0);
      c.dir = dir;
    }

    let secretsAt: string | undefined;
    let overlayAt: string | undefined;
    let n = 0;
    for (const r of all) {
      n++;
      if (r.type === 'tmpfs') {
        mounts.push({ type: 'tmpfs', target: r.target, ...(r.readonly ? { readonly: true } : {}), ...(r.options ? { options: r.options } : {}) });
        continue;
      }
      if (r.type === 'bind') {
        let st;
        try {
          st = await fsp.stat(r.source);
        } catch (err) {
          if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) {
            throw new TbahError('not-found', `bind mount source ${r.source} does not exist`, { hint: 'create it first, or check the path (relative paths are from the current directory)' });
          }
          throw err;
        }
        if (!r.discardWrites || r.readonly) {
          mounts.push({ type: 'bind', source: r.source, target: r.target, readonly: r.readonly ?? false, ...(r.options ? { options: r.options } : {}) });
          continue;
        }
        if (overlayAt === undefined) {
          overlayAt = await overlayScratch(ctx.scratch);
          if (overlayAt !== ctx.scratch) removals.push(overlayAt);
        }
        if (!st.isDirectory()) {
          // A file cannot be an overlay's lower layer: the run writes to its own copy instead.
          const copy = path.join(overlayAt, `file-${n}`);
          await fsp.copyFile(r.source, copy);
          await fsp.chmod(copy, st.mode & 0o7777);
          await chownLikeSource(copy, st.uid, st.gid);
          mounts.push({ type: 'bind', source: copy, target: r.target, readonly: false });
          continue;
        }
        let lower = r.source;
        if (!overlayPathOk(lower)) {
          // overlayfs options cannot quote ',' or ':': the lower directory is reached through a plain-named symlink.
          lower = path.join(overlayAt, `lower-${n}`);
          await fsp.symlink(r.source, lower);
        }
        const upper = path.join(overlayAt, `upper-${n}`);
        const work = path.join(overlayAt, `work-${n}`);
        await fsp.mkdir(upper);
        await fsp.mkdir(work);
        // The overlay root takes the source's mode and owner from the lower dir; upper's own matter for new entries only.
        await fsp.chmod(upper, st.mode & 0o7777);
        await chownLikeSource(upper, st.uid, st.gid);
        mounts.push({ type: 'overlay', target: r.target, options: [`lowerdir=${lower}`, `upperdir=${upper}`, `workdir=${work}`] });
        continue;
      }
      if (r.type === 'cache') {
        const c = caches.get(cacheKey(r.id ?? r.target))!;
        // src=SUBDIR stays inside the cache whatever symlinks it holds.
        const source = r.source !== undefined ? await mkdirAllInRoot(c.dir!, r.source) : c.dir!;
        mounts.push({ type: 'bind', source, target: r.target, readonly: r.readonly ?? false });
        continue;
      }
      // secret
      const src = secrets.get(r.id);
      if (src === undefined) {
        if (r.required) throw new TbahError('not-found', `secret required but no secret with id "${r.id}" found`, { hint: `give it with --secret id=${r.id},src=FILE` });
        continue;
      }
      if (r.env !== undefined) {
        env.push(`${r.env}=${await secretValue(src, r.id, ctx.env ?? process.env)}`);
        if (r.target === undefined) continue; // env only: nothing is mounted
      }
      if (secretsAt === undefined) {
        secretsAt = await secretDir(ctx.scratch);
        removals.push(secretsAt);
      }
      const copy = path.join(secretsAt, `secret-${n}`);
      if (src.file !== undefined) {
        try {
          await fsp.copyFile(src.file, copy);
        } catch (err) {
          if (isErrno(err, 'ENOENT')) throw new TbahError('not-found', `--secret id=${r.id}: ${src.file} does not exist`);
          throw err;
        }
      } else {
        const value = (ctx.env ?? process.env)[src.env ?? r.id];
        if (value === undefined) throw new TbahError('invalid-argument', `--secret id=${r.id}: environment variable ${src.env ?? r.id} is not set`);
        await fsp.writeFile(copy, value, { mode: 0o400 });
      }
      await fsp.chown(copy, r.uid ?? 0, r.gid ?? 0);
      await fsp.chmod(copy, r.mode ?? 0o400);
      const target = r.target === undefined ? `/run/secrets/${r.id}` : path.posix.resolve('/run/secrets', r.target);
      mounts.push({ type: 'bind', source: copy, target, readonly: true });
    }
    return { mounts, env, release };
  } catch (err) {
    await release();
    throw err;
  }
}
