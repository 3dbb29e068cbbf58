import type { Command } from 'commander';
import { TbahError } from '../../core/errors.js';
import { getStore } from '../context.js';
import { out, reportFailure } from '../output.js';

export function register(program: Command): void {
  program.command('rm').alias('delete')
    .description('remove working containers; prints each removed ID')
    .addHelpText('after', '\nExamples:\n  tbah rm "$ctr"\n  tbah rm builder-1 builder-2\n  tbah rm --all')
    .argument('[containers...]')
    .option('-a, --all', 'remove all containers')
    .action(async (names: string[], o: { all?: boolean }, cmd: Command) => {
      const { listContainers, removeContainer } = await import('../../core/ops/manage.js');
      if (o.all && names.length > 0) throw new TbahError('usage', 'when using the --all switch, you may not pass any container names or IDs');
      if (!o.all && names.length === 0) throw new TbahError('usage', 'container ID must be specified', { hint: 'give container names or IDs, or use --all' });
      const store = await getStore(cmd);
      const targets = o.all ? (await listContainers(store)).map((c) => c.id) : names;
      // As Buildah: go on past a failure, report each on its own line, exit 125 at the end.
      let failure: unknown;
      for (const n of targets) {
        try {
          out((await removeContainer(store, n)).id);
        } catch (err) {
          if (failure !== undefined) reportFailure(failure);
          failure = err;
        }
      }
      if (failure !== undefined) throw failure;
    });
}
