import type { Command } from 'commander';
import { TbahError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/util/fsx.js';
import { getStore, noExtraArgs } from '../context.js';
import { formatOption } from './shared.js';

export function register(program: Command): void {
  program.command('push')
    .description('write an image to oci:DIR[:ref], oci-archive:FILE[:ref] or docker-archive:FILE[:name:tag]')
    .argument('<image>')
    .argument('[destination]')
    .argument('[rest...]')
    .option('-f, --format <format>', 'manifest format: oci or docker (v2s2)', formatOption)
    .option('--digestfile <file>', 'write the manifest digest to this file')
    .option('-q, --quiet', 'print nothing')
    .action(async (image: string, dest: string | undefined, rest: string[], o: { format?: 'oci' | 'docker'; digestfile?: string }, cmd: Command) => {
      const { pushImage } = await import('../../core/ops/push.js');
      noExtraArgs(rest);
      if (dest === undefined) {
        throw new TbahError('usage', `push ${image}: a destination is needed`, { hint: 'e.g. tbah push IMAGE oci:/tmp/layout:tag' });
      }
      const r = await pushImage(await getStore(cmd), { image, dest, ...(o.format ? { format: o.format } : {}) });
      if (o.digestfile) await writeFileAtomic(o.digestfile, r.manifestDigest);
    });
}
