/** The command table: one file per command, each thin over src/core. */
import type { Command } from 'commander';
import { addBooleanNegations } from '../argv.js';
import { checkFlagOrder } from '../context.js';
import { configureHelp } from '../help.js';
import { debug, setLogLevel } from '../output.js';
import * as check from './check.js';
import * as commit from './commit.js';
import * as completion from './completion.js';
import * as config from './config.js';
import * as containers from './containers.js';
import * as copy from './copy.js';
import * as from from './from.js';
import * as images from './images.js';
import * as inspect from './inspect.js';
import * as login from './login.js';
import * as mount from './mount.js';
import * as prune from './prune.js';
import * as pull from './pull.js';
import * as push from './push.js';
import * as rename from './rename.js';
import * as rm from './rm.js';
import * as rmi from './rmi.js';
import * as run from './run.js';
import * as tag from './tag.js';
import * as unshare from './unshare.js';
import * as version from './version.js';

export function registerCommands(program: Command): void {
  for (const m of [from, containers, images, inspect, mount, copy, config, run, commit, pull, push, tag, rename, rm, rmi, login, unshare, check, prune, version, completion]) m.register(program);
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
