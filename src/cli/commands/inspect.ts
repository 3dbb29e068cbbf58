import type { Command } from 'commander';
import type { InspectType } from '../../core/ops/inspect.js';
import { TbahError } from '../../core/errors.js';
import { getStore, noExtraArgs } from '../context.js';
import { out } from '../output.js';
import { renderTemplate } from '../template.js';

export function register(program: Command): void {
  program.command('inspect')
    .description('print a container or image as JSON')
    .argument('<name>', 'container or image name or ID')
    .argument('[rest...]')
    .option('-t, --type <type>', 'container or image (default: containers first, then images)')
    .option('-f, --format <template>', 'Go template, e.g. {{.FromImageID}} or {{json .OCIv1.config}}')
    .action(async (name: string, rest: string[], o: { type?: string; format?: string }, cmd: Command) => {
      const { inspectObject } = await import('../../core/ops/inspect.js');
      noExtraArgs(rest);
      if (o.type !== undefined && o.type !== 'container' && o.type !== 'image') {
        throw new TbahError('invalid-argument', `--type ${o.type}: must be container or image`);
      }
      const obj = await inspectObject(await getStore(cmd), name, o.type as InspectType | undefined);
      out(o.format ? renderTemplate(o.format, obj) : JSON.stringify(obj, null, 4));
    });
}
