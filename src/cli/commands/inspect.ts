import type { Command } from 'commander';
import type { InspectType } from '../../core/ops/inspect.js';
import { TbahError } from '../../core/errors.js';
import { getStore, noExtraArgs } from '../context.js';
import { out } from '../output.js';
import { type PlatformFlags, type RegistryFlags, addPlatformFlags, addRegistryFlags, platformOption, registryOptions } from '../registry-flags.js';

export function register(program: Command): void {
  const cmd = program.command('inspect')
    .description('print a container or image (local, or docker://… in a registry) as JSON')
    .addHelpText('after', '\nExamples:\n  tbah inspect "$ctr"\n  tbah inspect --type image busybox:1\n  tbah inspect --format \'{{.OCIv1.Config.Env}}\' busybox:1\n  tbah inspect --format \'{{range .OCIv1.Config.Env}}{{println .}}{{end}}\' "$ctr"')
    .argument('<name>', 'container or image name or ID, or docker://HOST/REPO[:TAG] to inspect without pulling')
    .argument('[rest...]')
    .option('-t, --type <type>', 'container or image (default: containers first, then images)')
    .option('-f, --format <template>', 'Go template over Buildah\'s inspect fields, e.g. {{.FromImageID}}, {{.OCIv1.Config.Env}}, {{json .OCIv1.Config}}');
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
      if (o.format === undefined) { out(JSON.stringify(obj, null, 4)); return; }
      // Over Buildah's BuilderInfo, so absent fields print Go's zero values.
      const { renderTemplate } = await import('../template.js');
      const { BUILDER_INFO } = await import('../go-schemas.js');
      out(renderTemplate(o.format, obj, BUILDER_INFO));
    });
}
