/**
 * `tbah unshare`: a command (default: the user's shell) as root of tbah's user
 * namespace, with its own mount namespace, as `buildah unshare`; and how
 * `tbah run` gets there without root (the CLI runs itself again inside it).
 *
 * Inside, tbah commands work as outside (same store, same containers) and
 * also those that need the namespace: `mount` of an overlay container, `run`
 * without entering it again. Mounts made there vanish with the namespace.
 */
import { spawn } from 'node:child_process';
import { TbahError } from '../errors.js';
import { exitStatus, planNamespace, spawnInUserNamespace } from '../runtime/userns.js';
import { userHome } from '../store/paths.js';

export interface UnshareOptions {
  /** The command and its arguments. */
  argv: string[];
  env?: NodeJS.ProcessEnv;
  /** The one-line warning when only the caller's uid can be mapped. */
  onWarning?: (msg: string) => void;
  /**
   * The command runs in its own session, and every signal tbah gets goes on to
   * it (`run`: its own relay handles the terminal). Otherwise (an interactive
   * shell) it shares tbah's terminal: keyboard signals reach it directly, and
   * tbah passes on only SIGTERM and SIGHUP.
   */
  detached?: boolean;
}

/** `run` must enter tbah's user namespace first: not root here (root of a namespace already is). */
export function needsUserNamespace(): boolean {
  return (process.getuid?.() ?? 0) !== 0;
}

const KEYBOARD: NodeJS.Signals[] = ['SIGINT', 'SIGQUIT'];
const FORWARD: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP'];

/** Run `argv` as root of tbah's user namespace (directly when this process already is root); resolves with its status. */
export async function unshareCommand(opts: UnshareOptions): Promise<number> {
  if (opts.argv.length === 0) throw new TbahError('usage', 'unshare needs a command', { hint: 'tbah unshare [-- COMMAND [ARG...]] (default: $SHELL)' });
  const env: NodeJS.ProcessEnv = { ...(opts.env ?? process.env) };
  const detached = opts.detached ?? false;
  const forwarded = detached ? [...FORWARD, ...KEYBOARD] : FORWARD;
  let child;
  if (!needsUserNamespace()) {
    // Root, or already root of a user namespace (nested `tbah unshare`): nothing to enter.
    child = spawn(opts.argv[0]!, opts.argv.slice(1), { env, stdio: 'inherit', detached });
    await new Promise<void>((resolve, reject) => {
      child!.once('spawn', () => resolve());
      child!.once('error', (err: Error) => reject(new TbahError('not-found', `unshare: cannot run ${opts.argv[0]}: ${err.message}`, { hint: 'check the command name and PATH' })));
    });
  } else {
    const plan = planNamespace();
    if (plan.limitation !== undefined) opts.onWarning?.(plan.limitation);
    // A HOME that is not the caller's (setpriv, sudo -u) would point tbah at root's store inside.
    env.HOME = userHome(env);
    child = await spawnInUserNamespace(opts.argv, { plan, env, stdio: 'inherit', detached });
  }
  const relay = (sig: NodeJS.Signals): void => { try { child!.kill(sig); } catch { /* gone */ } };
  const ignore = (): void => undefined;
  for (const s of forwarded) process.on(s, relay);
  if (!detached) for (const s of KEYBOARD) process.on(s, ignore);
  try {
    return await exitStatus(child);
  } finally {
    for (const s of forwarded) process.off(s, relay);
    if (!detached) for (const s of KEYBOARD) process.off(s, ignore);
  }
}

/** This process's command line again (node, its flags, the script, the arguments), for running it inside the namespace. */
export function selfArgv(argv: readonly string[] = process.argv): string[] {
  return [process.execPath, ...process.execArgv, ...argv.slice(1)];
}
