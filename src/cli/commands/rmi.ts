import type { Command } from 'commander';
import { TbahError } from '../../core/errors.js';
import { getStore } from '../context.js';
import { out } from '../output.js';

export function register(program: Command): void {
  program.command('rmi')
    .description('remove images (a name untags; the image goes with its last name)')
    .addHelpText('after', '\nExamples:\n  tbah rmi app:1\n  tbah rmi --force busybox:1   # also removes the containers using it\n  tbah rmi --prune   # images without a name\n  tbah rmi --all')
    .argument('[images...]')
    .option('-a, --all', 'remove all images')
    .option('-f, --force', 'also remove containers using the images')
    .action(async (names: string[], o: { all?: boolean; force?: boolean }, cmd: Command) => {
      const { removeImages } = await import('../../core/ops/manage.js');
      if (o.all && names.length > 0) throw new TbahError('usage', 'when using the --all switch, you may not pass any image names or IDs');
      if (!o.all && names.length === 0) throw new TbahError('usage', 'rmi needs an image name or ID, or --all');
      const r = await removeImages(await getStore(cmd), names, { ...(o.all ? { all: true } : {}), ...(o.force ? { force: true } : {}) });
      for (const n of r.untagged) out(`untagged: ${n}`);
      for (const id of r.removed) out(id.slice(7));
    });
}
