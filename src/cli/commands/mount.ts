import type { Command } from 'commander';
import { TbahError } from '../../core/errors.js';
import { getStore } from '../context.js';
import { out } from '../output.js';

export function register(program: Command): void {
  program.command('mount')
    .description('print the root filesystem path of containers (what is written there is in the next commit)')
    .argument('[containers...]')
    .option('--json', 'print JSON')
    .action(async (names: string[], o: { json?: boolean }, cmd: Command) => {
      const { listContainers, mountContainer, mountPointOf } = await import('../../core/ops/manage.js');
      const store = await getStore(cmd);
      const rows: { container: string; mountPoint: string }[] = [];
      let failure: unknown;
      if (names.length === 0) {
        for (const c of await listContainers(store)) if (c.mounted) rows.push({ container: c.name, mountPoint: mountPointOf(store, c) });
      } else {
        for (const n of names) {
          try {
            const r = await mountContainer(store, n);
            rows.push({ container: r.container.name, mountPoint: r.mountPoint });
          } catch (err) {
            failure ??= err; // as Buildah: the good ones are still mounted and printed
          }
        }
      }
      if (o.json) out(JSON.stringify(rows, null, 4));
      else if (names.length === 1 && rows.length === 1) out(rows[0]!.mountPoint);
      else for (const r of rows) out(`${r.container} ${r.mountPoint}`);
      if (failure !== undefined) throw failure;
    });

  program.command('umount').alias('unmount')
    .description('stop showing containers\' root file systems (overlay: unmount; dir: only marks them, the directory stays)')
    .argument('[containers...]')
    .option('-a, --all', 'all mounted containers')
    .action(async (names: string[], o: { all?: boolean }, cmd: Command) => {
      const { listContainers, umountContainer } = await import('../../core/ops/manage.js');
      const store = await getStore(cmd);
      if (o.all && names.length > 0) {
        throw new TbahError('usage', 'when using the --all switch, you may not pass any container names or IDs');
      }
      if (!o.all && names.length === 0) {
        throw new TbahError('usage', 'at least one container name or ID must be specified', { hint: 'or use --all' });
      }
      const targets = o.all ? (await listContainers(store)).filter((c) => c.mounted).map((c) => c.id) : names;
      for (const n of targets) out((await umountContainer(store, n)).id);
    });
}
