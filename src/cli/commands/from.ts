import type { Command } from 'commander';
import { writeFileAtomic } from '../../core/util/fsx.js';
import { getStore, noExtraArgs } from '../context.js';
import { formatOption } from './shared.js';
import { out, warn } from '../output.js';

export function register(program: Command): void {
  program.command('from')
    .description('create a working container from an image or scratch; prints its name')
    .argument('<image>', 'scratch, a local image, or oci:DIR[:ref], oci-archive:FILE[:ref], docker-archive:FILE[:name:tag]')
    .argument('[rest...]')
    .option('--name <name>', 'name of the working container')
    .option('--suffix <suffix>', 'use <prefix>-SUFFIX instead of <prefix>-working-container')
    .option('--cidfile <file>', 'write the container ID to this file')
    .option('-f, --format <format>', 'default format of later commits: oci or docker', formatOption)
    .option('-q, --quiet', 'print nothing but the name')
    .action(async (image: string, rest: string[], o: { name?: string; suffix?: string; cidfile?: string; format?: 'oci' | 'docker' }, cmd: Command) => {
      const { createContainer } = await import('../../core/ops/from.js');
      noExtraArgs(rest);
      const store = await getStore(cmd);
      const c = await createContainer(store, {
        image,
        onWarning: warn,
        ...(o.name !== undefined ? { name: o.name } : {}),
        ...(o.suffix !== undefined ? { suffix: o.suffix } : {}),
        ...(o.format ? { format: o.format } : process.env.BUILDAH_FORMAT === 'docker' ? { format: 'docker' as const } : {}),
      });
      if (o.cidfile) await writeFileAtomic(o.cidfile, c.id);
      out(c.name);
    });
}
