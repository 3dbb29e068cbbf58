import type { Command } from 'commander';
import { warn } from '../output.js';

export function register(program: Command): void {
  program.command('unshare')
    .description('run a command (default: your $SHELL) as root of tbah\'s user namespace, with its own mount namespace (as buildah unshare)')
    .argument('[command...]', 'the command and its arguments (after --)')
    .addHelpText('after', '\nExamples:\n  tbah unshare\n  tbah unshare -- sh -c \'mnt=$(tbah mount "$ctr"); ls -ln "$mnt"\'')
    .action(async (command: string[]) => {
      const { unshareCommand } = await import('../../core/ops/unshare.js');
      const args = command[0] === '--' ? command.slice(1) : command;
      const argv = args.length > 0 ? args : [process.env.SHELL || '/bin/sh'];
      process.exitCode = await unshareCommand({ argv, onWarning: warn });
    });
}
