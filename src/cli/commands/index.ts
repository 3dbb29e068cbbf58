/** The command table: one file per command, each thin over src/core. */
import type { Command } from 'commander';
import { checkFlagOrder } from '../context.js';
import * as commit from './commit.js';
import * as config from './config.js';
import * as containers from './containers.js';
import * as copy from './copy.js';
import * as from from './from.js';
import * as images from './images.js';
import * as inspect from './inspect.js';
import * as login from './login.js';
import * as mount from './mount.js';
import * as pull from './pull.js';
import * as push from './push.js';
import * as rm from './rm.js';
import * as rmi from './rmi.js';
import * as run from './run.js';
import * as tag from './tag.js';
import * as version from './version.js';

export function registerCommands(program: Command): void {
  for (const m of [from, containers, images, inspect, mount, copy, config, run, commit, pull, push, tag, rm, rmi, login, version]) m.register(program);
  // Flags end at the first positional argument, as in Buildah (SetInterspersed(false)).
  for (const c of program.commands) {
    c.passThroughOptions()
      .option('--root <dir>', 'store root (also accepted before the command)')
      .option('--storage-driver <driver>', 'rootfs driver of new containers: overlay or dir (also accepted before the command)');
  }
  // `run` is the exception: everything after the container name is the command.
  program.hook('preAction', (_program, action) => {
    if (action.name() !== 'run') checkFlagOrder(action.args);
  });
}
