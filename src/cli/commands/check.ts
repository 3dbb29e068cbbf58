import type { Command } from 'commander';
import { getStore, noExtraArgs } from '../context.js';
import { note, out } from '../output.js';

export function register(program: Command): void {
  program.command('check')
    .description('verify the store: every blob re-hashed, images and containers whole, nothing left of interrupted commands; one line per problem')
    .argument('[rest...]')
    .option('--repair', 'remove what interrupted commands left (never content: damage is reported with what to do)')
    .addHelpText('after', '\nExamples:\n  tbah check\n  tbah check --repair')
    .action(async (rest: string[], o: { repair?: boolean }, cmd: Command) => {
      const { checkStore } = await import('../../core/ops/check.js');
      noExtraArgs(rest);
      const r = await checkStore(await getStore(cmd), {
        repair: o.repair === true,
        onWait: () => note('waiting for other tbah commands on this store to finish…'),
        onProblem: (p, repaired) => out(repaired ? `repaired: ${p.where}: removed (${p.message})` : `${p.kind}: ${p.where}: ${p.message}${p.hint ? ` (${p.hint})` : ''}`),
      });
      const c = r.counts;
      const left = r.problems.length;
      const leftovers = r.problems.filter((p) => p.kind === 'leftover').length;
      out(`checked ${c.blobs} blobs, ${c.images} images, ${c.containers} containers, ${c.unpacked} unpacked layers: ${left === 0 ? 'no problems' : `${left} problem${left === 1 ? '' : 's'}`}${r.repaired > 0 ? `, ${r.repaired} repaired` : ''}`);
      if (leftovers > 0) note('hint: `tbah check --repair` removes what interrupted commands left');
      if (left > 0) process.exitCode = 1;
    });
}
