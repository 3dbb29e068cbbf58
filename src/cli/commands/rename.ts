import type { Command } from 'commander';
import { getStore, noExtraArgs } from '../context.js';
import { debug } from '../output.js';

export function register(program: Command): void {
  program.command('rename')
    .description('give a working container a new name; prints nothing')
    .argument('<container>', 'container name or ID')
    .argument('<newname>', 'the new name (not in use by another container)')
    .argument('[rest...]')
    .addHelpText('after', '\nExamples:\n  tbah rename busybox-working-container builder\n  tbah rename 3f2a9c builder')
    .action(async (container: string, newName: string, rest: string[], _o: unknown, cmd: Command) => {
      const { renameContainer } = await import('../../core/ops/rename.js');
      noExtraArgs(rest);
      const r = await renameContainer(await getStore(cmd), container, newName);
      debug(`renamed container ${r.container.id.slice(0, 12)} from ${r.oldName} to ${r.container.name}`);
    });
}
