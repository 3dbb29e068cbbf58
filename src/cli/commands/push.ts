import type { Command } from 'commander';
import { TbahError } from '../../core/errors.js';
import { checkUserFile, writeUserFile } from '../../core/util/fsx.js';
import { getStore, noExtraArgs } from '../context.js';
import { progressView } from '../progress.js';
import { type RegistryFlags, addRegistryFlags, registryOptions } from '../registry-flags.js';
import { formatOption } from './shared.js';

export function register(program: Command): void {
  const cmd = program.command('push')
    .description('write an image to a registry ([docker://]HOST/REPO[:TAG], the default), oci:DIR[:ref], oci-archive:FILE[:ref], docker-archive:FILE[:name:tag], dir:DIR or containers-storage:NAME')
    .argument('<image>')
    .argument('[destination]', 'default: the image name as a registry reference')
    .argument('[rest...]')
    .option('-f, --format <format>', 'manifest format: oci or docker (v2s2); default: as stored', formatOption)
    .option('--compression-format <format>', 'layer compression at the destination: gzip or zstd (default: as stored)', compressionOption)
    .option('--digestfile <file>', 'write the manifest digest to this file')
    .option('-q, --quiet', 'no progress on stderr');
  addRegistryFlags(cmd);
  cmd.action(async (image: string, dest: string | undefined, rest: string[], o: RegistryFlags & { format?: 'oci' | 'docker'; compressionFormat?: 'gzip' | 'zstd'; digestfile?: string; quiet?: boolean }, c: Command) => {
    const { pushImage } = await import('../../core/ops/push.js');
    noExtraArgs(rest);
    if (o.digestfile) await checkUserFile(o.digestfile, 'writing --digestfile'); // before anything is sent
    const view = progressView(o.quiet === true);
    try {
      const r = await pushImage(await getStore(c), {
        image,
        ...(dest !== undefined ? { dest } : {}),
        ...(await registryOptions(o)),
        ...(o.format ? { format: o.format } : {}),
        ...(o.compressionFormat ? { compression: o.compressionFormat } : {}),
        ...(view.onProgress ? { onProgress: view.onProgress } : {}),
      });
      view.finish();
      if (o.digestfile) await writeUserFile(o.digestfile, r.manifestDigest, 0o644, 'writing --digestfile');
    } catch (err) {
      view.finish();
      throw err;
    }
  });
}

function compressionOption(v: string): 'gzip' | 'zstd' {
  if (v === 'gzip' || v === 'zstd') return v;
  throw new TbahError('invalid-argument', `--compression-format ${v}: unknown compression`, { hint: 'use gzip or zstd' });
}
