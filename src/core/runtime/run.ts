/**
 * Run one command in a rootfs directory, isolated by an OCI runtime (runc or
 * crun, `oci`) or by namespaces + chroot (`chroot`, no runtime needed). Both
 * get the same OCI spec. A temporary bundle outside the rootfs holds the spec
 * and the files provided for the run; the rootfs is left as we found it apart
 * from what the command itself changed (mount points created only for the run
 * are removed, so they never reach a commit).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isatty } from 'node:tty';
import { TbahError, isErrno } from '../errors.js';
import { mkdirAllInRoot, resolveInRoot } from '../layer/secure-path.js';
import { writeJsonAtomic } from '../util/fsx.js';
import { prepareChroot } from './chroot.js';
import { type DirTimes, missingComponents, parentTimes, removeMountPoints } from './mount-points.js';
import { markOwned, sweepOrphans } from './orphans.js';
import { prepareMounts } from './mounts.js';
import type { MountRequest, PreparedMounts, SecretSource } from './mounts.js';
import { findExecutable, runtimeStateDir, selectRuntime } from './select.js';
import type { Isolation, RuntimeChoice } from './select.js';
import { buildSpec, mergeEnv, DEFAULT_PATH } from './spec.js';
import type { RunMount, SpecOptions } from './spec.js';
import { resolveRunUser } from './user.js';

/** The spec's own options, plus what a run resolves before building the spec (user, cwd, mounts, runtime). */
export interface RunOptions
  extends Pick<SpecOptions, 'args' | 'imageEnv' | 'env' | 'terminal' | 'hostname' | 'network' | 'capAdd' | 'capDrop'> {
  /** Working directory inside the container; created if missing. */
  workingDir?: string;
  /** `--user`: name, uid, uid:gid or name:group, resolved in the rootfs. */
  user?: string;
  /** bind (`-v` and `--mount`), tmpfs, cache and secret mounts, in order. */
  mounts?: MountRequest[];
  /** `--secret` sources; those no secret mount names are mounted at /run/secrets/<id>. */
  secrets?: SecretSource[];
  /** Default `oci`. */
  isolation?: Isolation;
  /** OCI runtime name or path; default: $TBAH_RUNTIME, $BUILDAH_RUNTIME, else crun if it works here, else runc. */
  runtime?: string;
  /** The store's cache directory, for cache mounts. */
  cacheDir?: string;
  /** Where the runtime probe's verdict is kept (per boot). */
  verdictDir?: string;
  /** Called with one-line warnings (a runtime fallback). */
  onWarning?: (msg: string) => void;
  /** Called with one-line notices (waiting for a busy cache). */
  onNotice?: (msg: string) => void;
  /**
   * A file that lists the mount points made in the rootfs while the run is on, so
   * that `recoverInterruptedRun` can remove them if tbah is killed (SIGKILL).
   */
  journal?: string;
  /** Part of the runtime's container name, e.g. the working container's short id. */
  name?: string;
  /** Passed to spawn; defaults to inheriting ours. */
  stdio?: StdioOptions;
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

/** Mount points the runtime creates in the rootfs if they are missing. */
const STANDARD_TARGETS = ['/proc', '/dev', '/sys'];

/** After this many signals the command is killed whatever it does with them (a stuck handler). */
const FORCE_AFTER = 3;

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

async function readOr(file: string, fallback: string): Promise<Buffer> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
    return Buffer.from(fallback);
  }
}

function signum(sig: NodeJS.Signals): number {
  return os.constants.signals[sig] ?? 0;
}

/**
 * Signals for the run. The command is pid 1 of its PID namespace, and the
 * kernel drops any signal pid 1 has no handler for, so a forwarded SIGINT
 * would not stop `sleep 100`. tbah therefore looks at the command's own
 * dispositions (/proc/PID/status): a signal it catches is passed on, one it
 * ignores is not, and one it leaves at the default (terminate) is carried out
 * with SIGKILL, as the kernel would for any other process; the run then exits
 * 128+N for the original signal. The runtime runs in its own session, so a
 * terminal's Ctrl-C reaches only tbah and the command gets each signal once.
 */
class SignalRelay {
  private child: ChildProcess | undefined;
  private pidFile: string | undefined;
  private pending: NodeJS.Signals[] = [];
  private count = 0;
  private polling = false;
  private exited = false;
  /** A signal that arrived before the command was started: the run is abandoned. */
  interrupted: NodeJS.Signals | undefined;
  /** Aborted by that signal, to end waits before the start (a busy cache). */
  readonly abort = new AbortController();
  /** The signal we carried out with SIGKILL: the run's status is 128+N for it. */
  killedFor: NodeJS.Signals | undefined;

  private readonly onSignal = (sig: NodeJS.Signals): void => {
    if (this.child === undefined) {
      this.interrupted ??= sig;
      this.abort.abort();
      return;
    }
    this.count++;
    this.pending.push(sig);
    void this.flush();
  };

  private readonly onWinch = (): void => { this.child?.kill('SIGWINCH'); };

  constructor(private readonly tty: boolean) {
    for (const s of FORWARDED_SIGNALS) process.on(s, this.onSignal);
    if (tty) process.on('SIGWINCH', this.onWinch);
  }

  attach(child: ChildProcess, pidFile: string): void {
    this.child = child;
    this.pidFile = pidFile;
    child.once('close', () => { this.exited = true; });
  }

  private async pid(): Promise<number | undefined> {
    try {
      const n = Number((await fsp.readFile(this.pidFile as string, 'utf8')).trim());
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  }

  private async flush(): Promise<void> {
    if (this.polling || this.exited) return;
    const pid = await this.pid();
    if (pid === undefined) {
      // Not started yet: the signals wait until its pid is known (or the run ends).
      this.polling = true;
      setTimeout(() => { this.polling = false; void this.flush(); }, 20);
      return;
    }
    for (const sig of this.pending.splice(0)) await this.deliver(pid, sig);
  }

  private async deliver(pid: number, sig: NodeJS.Signals): Promise<void> {
    let caught = false;
    let ignored = false;
    try {
      const status = await fsp.readFile(`/proc/${pid}/status`, 'utf8');
      const mask = (name: string): bigint => BigInt(`0x${/^\S+:\s*([0-9a-f]+)/m.exec(status.split('\n').find((l) => l.startsWith(`${name}:`)) ?? '')?.[1] ?? '0'}`);
      const bit = 1n << BigInt(signum(sig) - 1);
      caught = (mask('SigCgt') & bit) !== 0n;
      ignored = (mask('SigIgn') & bit) !== 0n;
    } catch {
      return; // already gone
    }
    try {
      if (this.count >= FORCE_AFTER || (!caught && !ignored)) {
        this.killedFor ??= sig;
        process.kill(pid, 'SIGKILL');
      } else if (caught) {
        process.kill(pid, sig);
      }
    } catch (err) {
      if (!isErrno(err, 'ESRCH')) throw err;
    }
  }

  dispose(): void {
    for (const s of FORWARDED_SIGNALS) process.off(s, this.onSignal);
    if (this.tty) process.off('SIGWINCH', this.onWinch);
  }
}

/** Quote for `sh -c` (the command `script -c` runs). */
function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Spawn `argv` in its own session and resolve with its status (128+N for a signal). */
function supervise(argv: string[], stdio: StdioOptions, relay: SignalRelay, pidFile: string, env: NodeJS.ProcessEnv, what: string, feedStdin: boolean): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: feedStdin ? ['pipe', 'inherit', 'inherit'] : stdio, detached: true, env });
    relay.attach(child, pidFile);
    if (feedStdin && child.stdin) {
      // Our input goes on to the command, but its end does not: `script` would turn
      // EOF into a stray byte on runc's raw console (runc's own console never passes EOF on either).
      const sink = child.stdin;
      sink.on('error', () => { /* the command is gone */ });
      process.stdin.pipe(sink, { end: false });
      child.once('close', () => { process.stdin.unpipe(sink); process.stdin.pause(); });
    }
    child.once('error', (err) => {
      reject(new TbahError('unsupported', `run: cannot start ${what}: ${err.message}`, {
        hint: 'install runc (apt-get install runc), set --runtime or TBAH_RUNTIME, or use --isolation chroot', cause: err,
      }));
    });
    child.once('close', (code, signal) => {
      if (code !== null) resolve(code);
      else resolve(128 + (signal !== null ? signum(signal) : 0));
    });
  });
}

/** A file provided for the run by bind mount; kept in the rootfs only if the command changed it. */
interface EtcFile { target: string; copy: string; content: Buffer }

/** Write the files the command changed into the rootfs; they are then its own change, not a mount point. */
async function keepChangedFiles(root: string, files: EtcFile[], created: Set<string>): Promise<void> {
  for (const f of files) {
    let now: Buffer;
    try {
      now = await fsp.readFile(f.copy);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) continue;
      throw err;
    }
    if (now.equals(f.content)) continue;
    const dest = await resolveInRoot(root, f.target);
    await mkdirAllInRoot(root, path.posix.dirname(f.target));
    await fsp.writeFile(dest, now, { mode: 0o644 }); // in place: an existing file keeps its mode and owner
    for (let p = f.target; p !== '/'; p = path.posix.dirname(p)) created.delete(p);
  }
}

/** Run `opts.args` in `rootfs`; resolves to the command's exit status (128+N for a signal). */
export async function runInContainer(rootfs: string, opts: RunOptions): Promise<number> {
  if (opts.args.length === 0) throw new TbahError('invalid-argument', 'run: no command given', { hint: 'put the command after --' });
  const root = path.resolve(rootfs);
  const isolation = opts.isolation ?? 'oci';
  const stdio = opts.stdio ?? 'inherit';
  const terminal = opts.terminal ?? false;
  const relay = new SignalRelay(terminal);
  try {
    const user = await resolveRunUser(root, opts.user);
    const cwd = path.posix.resolve('/', opts.workingDir ?? '/');
    // HOME from passwd unless the image or --env sets it.
    const finalEnv = mergeEnv([`HOME=${user.home ?? '/'}`], opts.imageEnv, opts.env);
    const envPath = finalEnv.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;

    let rt: RuntimeChoice | undefined;
    if (isolation === 'oci') {
      rt = await selectRuntime({
        ...(opts.runtime !== undefined ? { runtime: opts.runtime } : {}),
        ...(opts.verdictDir !== undefined ? { cacheDir: opts.verdictDir } : {}),
        ...(opts.onWarning !== undefined ? { onWarning: opts.onWarning } : {}),
      });
    }
    // A pty for the command. runc makes one itself (`terminal` in the spec) but needs a
    // terminal of ours as its console: when we have none, util-linux `script` gives it one.
    // Under chroot, `script`'s pty is the command's terminal directly.
    const ttyHere = stdio === 'inherit' && [0, 1, 2].some((fd) => isatty(fd));
    const viaScript = terminal && (isolation === 'chroot' || !ttyHere);
    const script = viaScript ? await findExecutable('script') : undefined;
    if (viaScript && script === undefined) throw new TbahError('not-found', 'run -t needs script (util-linux bsdutils), which is not installed');

    await mkdirAllInRoot(root, cwd);
    await checkCommand(root, opts.args[0] as string, envPath, cwd);

    await sweepOrphans(rt);
    const bundle = await fsp.mkdtemp(path.join(os.tmpdir(), 'tbah-run-'));
    await markOwned(bundle);
    // The id names our pid, so a later run can tell a container whose tbah was killed (orphans.ts).
    const id = `tbah-${opts.name ? `${opts.name}-` : ''}${process.pid}-${randomBytes(4).toString('hex')}`;
    let prepared: PreparedMounts | undefined;
    let started = false;
    const created = new Set<string>();
    let times: Record<string, DirTimes> = {};
    const etc: EtcFile[] = [];
    try {
      try {
        prepared = await prepareMounts(opts.mounts ?? [], {
          scratch: bundle,
          signal: relay.abort.signal,
          ...(opts.cacheDir !== undefined ? { cacheRoot: opts.cacheDir } : {}),
          ...(opts.secrets !== undefined ? { secrets: opts.secrets } : {}),
          ...(opts.onNotice !== undefined ? { onNotice: opts.onNotice } : {}),
        });
      } catch (err) {
        if (relay.interrupted !== undefined) return 128 + signum(relay.interrupted);
        throw err;
      }
      // Host DNS and hosts, and the container's hostname, from copies: only what the command changes is kept.
      const hostname = opts.hostname ?? 'tbah';
      for (const [target, content] of [
        ['/etc/resolv.conf', await readOr('/etc/resolv.conf', '')],
        ['/etc/hosts', await readOr('/etc/hosts', '127.0.0.1\tlocalhost\n::1\tlocalhost\n')],
        ['/etc/hostname', Buffer.from(`${hostname}\n`)],
      ] as const) {
        const copy = path.join(bundle, path.basename(target));
        await fsp.writeFile(copy, content, { mode: 0o644 });
        etc.push({ target, copy, content });
      }
      const mounts: RunMount[] = [
        ...etc.map((f): RunMount => ({ type: 'bind', source: f.copy, target: f.target })),
        ...prepared.mounts,
      ];
      // Snapshot which mount points are missing before anything is created.
      for (const t of [...STANDARD_TARGETS, ...mounts.map((m) => m.target)]) for (const p of await missingComponents(root, t)) created.add(p);
      // The working dir is created for good (as Buildah does), so it and its parents stay.
      for (let d = cwd; d !== '/'; d = path.posix.dirname(d)) created.delete(d);
      times = await parentTimes(root, created);
      if (opts.journal !== undefined) await writeJsonAtomic(opts.journal, { version: 1, created: [...created], times }, 0o600);

      const spec = buildSpec({
        args: opts.args, rootfs: root, env: finalEnv, cwd,
        uid: user.uid, gid: user.gid, additionalGids: user.additionalGids,
        mounts, hostname, terminal: terminal && isolation === 'oci',
        ...(opts.network !== undefined ? { network: opts.network } : {}),
        ...(opts.capAdd !== undefined ? { capAdd: opts.capAdd } : {}),
        ...(opts.capDrop !== undefined ? { capDrop: opts.capDrop } : {}),
      });
      if (terminal && isolation === 'chroot') spec.process.env = mergeEnv(spec.process.env, spec.process.env.some((e) => e.startsWith('TERM=')) ? [] : ['TERM=xterm']);
      const pidFile = path.join(bundle, 'pid');
      let argv: string[];
      if (rt !== undefined) {
        await fsp.writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec), { mode: 0o600 });
        await fsp.mkdir(runtimeStateDir(rt), { recursive: true, mode: 0o700 });
        argv = [rt.path, '--root', runtimeStateDir(rt), 'run', '--bundle', bundle, '--pid-file', pidFile, id];
      } else {
        argv = (await prepareChroot(spec, bundle, pidFile)).argv;
      }
      if (script !== undefined) argv = [script, '-qefc', argv.map(shq).join(' '), '/dev/null'];

      if (relay.interrupted !== undefined) return 128 + signum(relay.interrupted);
      started = true;
      const env = script !== undefined ? { ...process.env, SHELL: '/bin/sh' } : process.env;
      const feedStdin = script !== undefined && rt !== undefined && stdio === 'inherit';
      const code = await supervise(argv, stdio, relay, pidFile, env, rt !== undefined ? `OCI runtime "${rt.name}"` : 'the chroot isolation', feedStdin);
      return relay.killedFor !== undefined ? 128 + signum(relay.killedFor) : code;
    } finally {
      if (started && rt !== undefined) spawnSync(rt.path, ['--root', runtimeStateDir(rt), 'delete', '--force', id], { stdio: 'ignore' });
      if (started) await keepChangedFiles(root, etc, created);
      await prepared?.release();
      await fsp.rm(bundle, { recursive: true, force: true });
      await removeMountPoints(root, created, times);
      if (opts.journal !== undefined) await fsp.rm(opts.journal, { force: true });
    }
  } finally {
    relay.dispose();
  }
}
