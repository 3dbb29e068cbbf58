import type { Command } from 'commander';
import type { InspectType } from '../../core/ops/inspect.js';
import { TbahError } from '../../core/errors.js';
import { getStore, noExtraArgs } from '../context.js';
import { out } from '../output.js';
import { renderTemplate } from '../template.js';
import { type PlatformFlags, type RegistryFlags, addPlatformFlags, addRegistryFlags, platformOption, registryOptions } from '../registry-flags.js';

export function register(program: Command): void {
  const cmd = program.command('inspect')
    .description('print a container or image (local, or docker://… in a registry) as JSON')
    .addHelpText('after', '\nExamples:\n  tbah inspect "$ctr"\n  tbah inspect --type image busybox:1\n  tbah inspect --format \'{{.OCIv1.Config.Env}}\' busybox:1\n  tbah inspect --format \'{{range .OCIv1.Config.Env}}{{println .}}{{end}}\' "$ctr"')
    .argument('<name>', 'container or image name or ID, or docker://HOST/REPO[:TAG] to inspect without pulling')
    .argument('[rest...]')
    .option('-t, --type <type>', 'container or image (default: containers first, then images)')
    .option('-f, --format <template>', 'Go template, e.g. {{.FromImageID}} or {{json .OCIv1.config}}');
  addRegistryFlags(cmd);
  addPlatformFlags(cmd);
  cmd.action(async (name: string, rest: string[], o: RegistryFlags & PlatformFlags & { type?: string; format?: string }, c: Command) => {
      const { inspectObject } = await import('../../core/ops/inspect.js');
      noExtraArgs(rest);
      if (o.type !== undefined && o.type !== 'container' && o.type !== 'image') {
        throw new TbahError('invalid-argument', `--type ${o.type}: must be container or image`);
      }
      const platform = platformOption(o);
      const obj = await inspectObject(await getStore(c), name, o.type as InspectType | undefined, { ...(await registryOptions(o)), ...(platform ? { platform } : {}) });
      out(o.format ? renderTemplate(o.format, obj) : JSON.stringify(obj, null, 4));
    });
}
