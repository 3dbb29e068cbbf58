import type { Command } from 'commander';
import { getStore } from '../context.js';

export function register(program: Command): void {
  program.command('tag')
    .description('add names to an image (a name without registry goes under localhost/)')
    .argument('<image>')
    .argument('<names...>')
    .action(async (image: string, names: string[], _o: unknown, cmd: Command) => {
      const { tagImage } = await import('../../core/ops/manage.js');
      await tagImage(await getStore(cmd), image, names);
    });
}
