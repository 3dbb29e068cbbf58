import type { Command } from 'commander';
import { TbahError } from '../../core/errors.js';
import { getStore } from '../context.js';
import { out, reportFailure } from '../output.js';

export function register(program: Command): void {
  program.command('rmi')
    .description('remove images (a name untags; the image goes with its last name); prints the untagged names and removed IDs')
    .addHelpText('after', '\nExamples:\n  tbah rmi app:1\n  tbah rmi --force busybox:1   # also removes the containers using it\n  tbah rmi --prune   # images without a name\n  tbah rmi --all')
    .argument('[images...]')
    .option('-a, --all', 'remove all images')
    .option('-p, --prune', 'remove dangling images (no name, no child image)')
    .option('-f, --force', 'also remove containers using the images')
    .action(async (names: string[], o: { all?: boolean; prune?: boolean; force?: boolean }, cmd: Command) => {
      const { removeImages } = await import('../../core/ops/manage.js');
      // Buildah's checks, in Buildah's order.
      if (names.length === 0 && !o.all && !o.prune) throw new TbahError('usage', 'image name or ID must be specified', { hint: 'or use --all or --prune' });
      if (names.length > 0 && o.all) throw new TbahError('usage', 'when using the --all switch, you may not pass any images names or IDs');
      if (o.all && o.prune) throw new TbahError('usage', 'when using the --all switch, you may not use --prune switch');
      if (names.length > 0 && o.prune) throw new TbahError('usage', 'when using the --prune switch, you may not pass any images names or IDs');
      const r = await removeImages(await getStore(cmd), names, { ...(o.all ? { all: true } : {}), ...(o.prune ? { prune: true } : {}), ...(o.force ? { force: true } : {}) });
      for (const n of r.untagged) out(`untagged: ${n}`);
      for (const id of r.removed) out(id.slice(7));
      // Every failure one line; the last one is the command's error (exit 125).
      for (const e of r.errors.slice(0, -1)) reportFailure(e);
      if (r.errors.length > 0) throw r.errors[r.errors.length - 1]!;
    });
}
