import type { Command } from 'commander';
import { getStore, noExtraArgs } from '../context.js';
import { note, out } from '../output.js';

export function register(program: Command): void {
  program.command('prune')
    .description('remove what nothing uses: unreferenced blobs, unpacked layers, run cache mounts no run holds, leftovers of interrupted commands')
    .argument('[rest...]')
    .option('--dry-run', 'only list what would be removed')
    .addHelpText('after', '\nExamples:\n  tbah prune --dry-run\n  tbah prune')
    .action(async (rest: string[], o: { dryRun?: boolean }, cmd: Command) => {
      const { pruneStore } = await import('../../core/ops/prune.js');
      noExtraArgs(rest);
      const items = await pruneStore(await getStore(cmd), {
        dryRun: o.dryRun === true,
        onWait: () => note('waiting for other tbah commands on this store to finish…'),
        onItem: (i) => out(`${o.dryRun ? 'would remove' : 'removed'} ${i.kind} ${i.where} (${human(i.bytes)})`),
      });
      const total = items.reduce((n, i) => n + i.bytes, 0);
      out(`${o.dryRun ? 'would free' : 'freed'} ${human(total)} (${items.length} item${items.length === 1 ? '' : 's'})`);
    });
}

function human(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
