/**
 * Run one command in a rootfs directory through an OCI runtime (runc by default):
 * write a temporary bundle outside the rootfs, run it in the foreground with our stdio,
 * and always leave the rootfs as we found it apart from what the command itself changed
 * (mount points created only for the run are removed, so they never reach a commit).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TbahError, isErrno } from '../errors.js';
import { mkdirAllInRoot, resolveInRoot } from '../layer/secure-path.js';
import { buildSpec, mergeEnv, DEFAULT_PATH } from './spec.js';
import type { RunMount, SpecOptions } from './spec.js';
import { resolveRunUser } from './user.js';

/** The spec's own options, plus what a run resolves before building the spec (user, cwd). */
export interface RunOptions
  extends Pick<SpecOptions, 'args' | 'imageEnv' | 'env' | 'terminal' | 'hostname' | 'network' | 'mounts' | 'capAdd' | 'capDrop'> {
  /** Working directory inside the container; created if missing. */
  workingDir?: string;
  /** `--user`: name, uid, uid:gid or name:group, resolved in the rootfs. */
  user?: string;
  /** Runtime binary; defaults to $TBAH_RUNTIME, then `runc`. */
  runtime?: string;
  /** Passed to spawn; defaults to inheriting ours. */
  stdio?: StdioOptions;
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

/** Mount points the runtime creates in the rootfs if they are missing. */
const STANDARD_TARGETS = ['/proc', '/dev', '/sys', '/etc/resolv.conf', '/etc/hosts'];

/**
 * Find `cmd` inside the rootfs the way execvp would (PATH from the run's env), so a
 * missing or non-executable command gets 127/126 and a clear message instead of a
 * runtime error.
 */
export async function checkCommand(rootfs: string, cmd: string, envPath: string, cwd: string): Promise<void> {
  const candidates = cmd.includes('/')
    ? [path.posix.resolve(cwd, cmd)]
    : envPath.split(':').filter((d) => d !== '').map((d) => path.posix.join(path.posix.resolve(cwd, d), cmd));
  let notExecutable: string | undefined;
  for (const c of candidates) {
    let st;
    try {
      st = await fsp.stat(await resolveInRoot(rootfs, c));
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'ELOOP')) continue;
      throw err;
    }
    if (st.isFile() && (st.mode & 0o111) !== 0) return;
    notExecutable ??= c;
  }
  if (notExecutable !== undefined) {
    throw new TbahError('invalid-argument', `run: ${notExecutable} is not an executable file in the container`, {
      hint: 'check the file mode, or run it through a shell', exitCode: 126,
    });
  }
  throw new TbahError('not-found', `run: command "${cmd}" not found in the container`, {
    hint: cmd.includes('/') ? 'check the path inside the container' : `looked in PATH=${envPath}`, exitCode: 127,
  });
}

/**
 * The components of `target` (container path) that do not exist yet, outermost first.
 * These are what the runtime will create as mount points and what we remove afterwards.
 */
async function missingComponents(rootfs: string, target: string): Promise<string[]> {
  const parts = path.posix.normalize(`/${target}`).split('/').filter((p) => p !== '');
  const missing: string[] = [];
  for (let i = 1; i <= parts.length; i++) {
    const p = `/${parts.slice(0, i).join('/')}`;
    if (missing.length > 0) { missing.push(p); continue; }
    try {
      await fsp.lstat(await resolveInRoot(rootfs, p, { followFinal: false }));
    } catch (err) {
      if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw err;
      missing.push(p);
    }
  }
  return missing;
}

/** Remove run-only mount points, deepest first; only empty dirs and empty files go. */
async function removeMountPoints(rootfs: string, created: Set<string>): Promise<void> {
  const byDepth = [...created].sort((a, b) => b.split('/').length - a.split('/').length || b.localeCompare(a));
  for (const p of byDepth) {
    const host = path.join(rootfs, p);
    try {
      const st = await fsp.lstat(host);
      if (st.isDirectory()) await fsp.rmdir(host);
      else if (st.isFile() && st.size === 0) await fsp.unlink(host);
    } catch (err) {
      // Not empty means the command put content there: that is its change, keep it.
      if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTEMPTY') && !isErrno(err, 'EBUSY')) throw err;
    }
  }
}

async function copyOr(src: string, dst: string, fallback: string): Promise<void> {
  try {
    await fsp.copyFile(src, dst);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
    await fsp.writeFile(dst, fallback);
  }
}

/** Run `opts.args` in `rootfs`; resolves to the command's exit status (128+N for a signal). */
export async function runInContainer(rootfs: string, opts: RunOptions): Promise<number> {
  const root = path.resolve(rootfs);
  const runtime = opts.runtime ?? process.env['TBAH_RUNTIME'] ?? 'runc';
  const user = await resolveRunUser(root, opts.user);
  const cwd = path.posix.resolve('/', opts.workingDir ?? '/');
  // HOME from passwd unless the image or --env sets it.
  const finalEnv = mergeEnv([`HOME=${user.home ?? '/'}`], opts.imageEnv, opts.env);
  const envPath = finalEnv.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  if (opts.args.length === 0) throw new TbahError('invalid-argument', 'run: no command given', { hint: 'put the command after --' });

  // Snapshot which mount points are missing before anything is created.
  const targets = [...STANDARD_TARGETS, ...(opts.mounts ?? []).map((m) => m.target)];
  const created = new Set<string>();
  for (const t of targets) for (const p of await missingComponents(root, t)) created.add(p);
  // The working dir is created for good (as Buildah does), so it and its parents stay.
  for (let d = cwd; d !== '/'; d = path.posix.dirname(d)) created.delete(d);

  await mkdirAllInRoot(root, cwd);
  await checkCommand(root, opts.args[0] as string, envPath, cwd);

  const bundle = await fsp.mkdtemp(path.join(os.tmpdir(), 'tbah-run-'));
  const id = `tbah-${randomBytes(8).toString('hex')}`;
  let started = false;
  try {
    // Host DNS and hosts for the run, bind-mounted from copies so the command's edits never reach the rootfs.
    await copyOr('/etc/resolv.conf', path.join(bundle, 'resolv.conf'), '');
    await copyOr('/etc/hosts', path.join(bundle, 'hosts'), '127.0.0.1\tlocalhost\n::1\tlocalhost\n');
    const mounts: RunMount[] = [
      { type: 'bind', source: path.join(bundle, 'resolv.conf'), target: '/etc/resolv.conf' },
      { type: 'bind', source: path.join(bundle, 'hosts'), target: '/etc/hosts' },
      ...(opts.mounts ?? []),
    ];
    const spec = buildSpec({
      args: opts.args, rootfs: root, env: finalEnv, cwd,
      uid: user.uid, gid: user.gid, additionalGids: user.additionalGids,
      mounts,
      ...(opts.terminal !== undefined ? { terminal: opts.terminal } : {}),
      ...(opts.hostname !== undefined ? { hostname: opts.hostname } : {}),
      ...(opts.network !== undefined ? { network: opts.network } : {}),
      ...(opts.capAdd !== undefined ? { capAdd: opts.capAdd } : {}),
      ...(opts.capDrop !== undefined ? { capDrop: opts.capDrop } : {}),
    });
    await fsp.writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec), { mode: 0o600 });

    started = true;
    return await new Promise<number>((resolve, reject) => {
      const child = spawn(runtime, ['run', '--bundle', bundle, id], { stdio: opts.stdio ?? 'inherit' });
      const forward = (sig: NodeJS.Signals): void => { child.kill(sig); };
      for (const s of FORWARDED_SIGNALS) process.on(s, forward);
      const done = (): void => { for (const s of FORWARDED_SIGNALS) process.off(s, forward); };
      child.once('error', (err) => {
        done();
        reject(new TbahError('unsupported', `run: cannot start OCI runtime "${runtime}": ${err.message}`, {
          hint: 'install runc (apt-get install runc) or set TBAH_RUNTIME', cause: err,
        }));
      });
      child.once('close', (code, signal) => {
        done();
        if (code !== null) resolve(code);
        else resolve(128 + (signal !== null ? (os.constants.signals[signal] ?? 0) : 0));
      });
    });
  } finally {
    if (started) spawnSync(runtime, ['delete', '--force', id], { stdio: 'ignore' });
    await fsp.rm(bundle, { recursive: true, force: true });
    await removeMountPoints(root, created);
  }
}
