import type { Command } from 'commander';
import { getStore } from '../context.js';

export function register(program: Command): void {
  program.command('tag')
    .description('add names to an image (a name without registry goes under localhost/)')
    .addHelpText('after', '\nExamples:\n  tbah tag app:1 app:latest\n  tbah tag app:1 registry.example.com/team/app:1 registry.example.com/team/app:latest')
    .argument('<image>')
    .argument('<names...>')
    .action(async (image: string, names: string[], _o: unknown, cmd: Command) => {
      const { tagImage } = await import('../../core/ops/manage.js');
      await tagImage(await getStore(cmd), image, names);
    });
}
