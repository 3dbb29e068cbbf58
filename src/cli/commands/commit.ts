import type { Command } from 'commander';
import { TbahError } from '../../core/errors.js';
import { checkUserFile, writeUserFile } from '../../core/util/fsx.js';
import { MAX_TIME_SECONDS, getStore, noExtraArgs, parseIntArg } from '../context.js';
import { formatOption } from './shared.js';
import { out } from '../output.js';
import { type RegistryFlags, addRegistryFlags, registryOptions } from '../registry-flags.js';

export function register(program: Command): void {
  const cmd = program.command('commit')
    .description('write the container\'s changes as one new layer and an image; prints the image ID')
    .argument('<container>')
    .argument('[image]', 'name (a name without registry goes under localhost/), or docker://…, oci:, oci-archive:, docker-archive: to write there instead')
    .argument('[rest...]')
    .option('-f, --format <format>', 'oci or docker (default: the container\'s, or $BUILDAH_FORMAT)', formatOption)
    .option('--squash', 'fold all layers into one')
    .option('--rm', 'remove the container after committing')
    .option('--timestamp <seconds>', 'created time, and the time of every file in the new layer', parseIntArg('--timestamp', [-MAX_TIME_SECONDS, MAX_TIME_SECONDS]))
    .option('--iidfile <file>', 'write the image ID (sha256:…) to this file and print nothing')
    .option('--omit-history', 'write no history')
    .option('-q, --quiet', 'print only the image ID');
  addRegistryFlags(cmd);
  cmd.action(async (container: string, image: string | undefined, rest: string[], o: RegistryFlags & { format?: 'oci' | 'docker'; squash?: boolean; rm?: boolean; timestamp?: number; iidfile?: string; omitHistory?: boolean }, c: Command) => {
    const { commitContainer } = await import('../../core/ops/commit.js');
    noExtraArgs(rest);
    const sde = process.env.SOURCE_DATE_EPOCH;
    if (sde !== undefined && sde !== '' && (!/^\d+$/.test(sde) || Number(sde) > MAX_TIME_SECONDS)) {
      throw new TbahError('invalid-argument', `SOURCE_DATE_EPOCH=${sde}: not a number of seconds`, { hint: 'unset it, or set it to seconds since the epoch' });
    }
    const store = await getStore(c);
    const format = o.format ?? (process.env.BUILDAH_FORMAT === 'docker' ? 'docker' as const : undefined);
    const registry = await registryOptions(o); // a bad --creds fails before the commit
    if (o.iidfile) await checkUserFile(o.iidfile, 'writing --iidfile'); // so does an unwritable --iidfile
    const r = await commitContainer(store, {
      container,
      ...(image !== undefined ? { image } : {}),
      ...(format ? { format } : {}),
      ...(o.squash ? { squash: true } : {}),
      ...(o.rm ? { rm: true } : {}),
      ...(o.timestamp !== undefined ? { timestamp: o.timestamp } : {}),
      ...(sde ? { sourceDateEpoch: Number(sde) } : {}),
      ...(o.omitHistory ? { omitHistory: true } : {}),
      registry,
    });
    if (o.iidfile) await writeUserFile(o.iidfile, r.id, 0o644, 'writing --iidfile');
    else out(r.id.slice(7));
  });
}
