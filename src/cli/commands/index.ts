/** The command table: one file per command, each thin over src/core. */
import type { Command } from 'commander';
import { addBooleanNegations } from '../argv.js';
import { checkFlagOrder } from '../context.js';
import { configureHelp } from '../help.js';
import { debug, setLogLevel } from '../output.js';

interface CommandFile { register(program: Command): void }

/** Every command file, in the order `tbah --help` lists them. */
const FILES = {
  from: () => import('./from.js'),
  containers: () => import('./containers.js'),
  images: () => import('./images.js'),
  inspect: () => import('./inspect.js'),
  mount: () => import('./mount.js'),
  copy: () => import('./copy.js'),
  config: () => import('./config.js'),
  run: () => import('./run.js'),
  commit: () => import('./commit.js'),
  pull: () => import('./pull.js'),
  push: () => import('./push.js'),
  tag: () => import('./tag.js'),
  rm: () => import('./rm.js'),
  rmi: () => import('./rmi.js'),
  login: () => import('./login.js'),
  rename: () => import('./rename.js'),
  unshare: () => import('./unshare.js'),
  check: () => import('./check.js'),
  prune: () => import('./prune.js'),
  version: () => import('./version.js'),
  completion: () => import('./completion.js'),
} satisfies Record<string, () => Promise<CommandFile>>;

/**
 * Each command name and alias → the file that registers it. Building
 * commander's options for every command is most of a short call's own work,
 * so a call registers only its own command's file (a test checks this table
 * against what the files register).
 */
export const COMMAND_FILES: Readonly<Record<string, keyof typeof FILES>> = {
  from: 'from',
  containers: 'containers', ps: 'containers', ls: 'containers', list: 'containers',
  images: 'images',
  inspect: 'inspect',
  mount: 'mount', umount: 'mount', unmount: 'mount',
  copy: 'copy', add: 'copy',
  config: 'config',
  run: 'run',
  commit: 'commit',
  pull: 'pull',
  push: 'push',
  tag: 'tag',
  rm: 'rm', delete: 'rm',
  rmi: 'rmi',
  login: 'login', logout: 'login',
  rename: 'rename',
  unshare: 'unshare',
  check: 'check',
  prune: 'prune',
  version: 'version', info: 'version',
  completion: 'completion',
};

/** Global options that take a value (also accepted before the command word). */
const VALUED = ['--root', '--storage-driver', '--log-level'];

/**
 * The command word of `tbah [--root DIR] COMMAND …`, or undefined when
 * something else comes first (no command, --help, --version, an unknown
 * option): then every command is registered, for the help or the error.
 */
export function commandWord(argv: readonly string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (VALUED.includes(a)) i++;
    else if (!VALUED.some((o) => a.startsWith(`${o}=`))) return a.startsWith('-') ? undefined : a;
  }
  return undefined;
}

/** Register the command `argv` calls (every command when that is not a known one). */
export async function registerCommands(program: Command, argv: readonly string[] = []): Promise<void> {
  const word = commandWord(argv);
  // `completion` describes every command, so it needs them all, as help does.
  const own = word !== undefined && word !== 'completion' && Object.hasOwn(COMMAND_FILES, word) ? COMMAND_FILES[word] : undefined;
  const files = own !== undefined ? [own] : (Object.keys(FILES) as (keyof typeof FILES)[]);
  for (const m of await Promise.all(files.map((f) => FILES[f]()))) m.register(program);
  for (const c of program.commands) {
    // Flags end at the first positional argument, as in Buildah (SetInterspersed(false)).
    c.passThroughOptions()
      .option('--root <dir>', 'store root (also accepted before the command)')
      .option('--storage-driver <driver>', 'rootfs driver of new containers: overlay or dir (also accepted before the command)')
      .option('--log-level <level>', 'error, warn, info or debug (also accepted before the command)', setLogLevel);
    addBooleanNegations(c);
  }
  configureHelp(program);
  // `run` and `unshare` are the exceptions: everything after the container name (or after `unshare`) is the command.
  program.hook('preAction', (_program, action) => {
    // Option names only: a value may be a secret (--password, --creds).
    debug(() => `tbah ${action.name()}: options ${Object.keys(action.opts()).filter((k) => action.getOptionValueSource(k) === 'cli').join(' ') || '(none)'}, ${action.args.length} argument(s)`);
    if (action.name() !== 'run' && action.name() !== 'unshare') checkFlagOrder(action.args);
  });
}
