import type { Command } from 'commander';
import { TbahError } from '../../core/errors.js';
import { checkUserFile, writeUserFile } from '../../core/util/fsx.js';
import { getStore, noExtraArgs } from '../context.js';
import { progressView } from '../progress.js';
import { type RegistryFlags, addRegistryFlags, registryOptions } from '../registry-flags.js';
import { formatOption } from './shared.js';
import { tuneForStreaming } from '../memory.js';

export function register(program: Command): void {
  const cmd = program.command('push')
    .description('write an image to a registry ([docker://]HOST/REPO[:TAG], the default), oci:DIR[:ref], oci-archive:FILE[:ref], docker-archive:FILE[:name:tag], dir:DIR or containers-storage:NAME')
    .addHelpText('after', '\nExamples:\n  tbah push registry.example.com/team/app:1\n  tbah push app:1 docker://registry.example.com/team/app:1\n  tbah push --digestfile app.digest app:1 oci:/tmp/layout:app\n  tbah push app:1 docker-archive:/tmp/app.tar:app:1   # docker load < /tmp/app.tar')
    .argument('<image>')
    .argument('[destination]', 'default: the image name as a registry reference')
    .argument('[rest...]')
    .option('-f, --format <format>', 'manifest format: oci or docker (v2s2); default: as stored', formatOption)
    .option('--compression-format <format>', 'layer compression at the destination: gzip or zstd (default: gzip for layers stored uncompressed, compressed ones as they are)', compressionOption)
    .option('-D, --disable-compression', 'send layers stored uncompressed uncompressed')
    .option('--digestfile <file>', 'write the manifest digest to this file')
    .option('-q, --quiet', 'no progress on stderr');
  addRegistryFlags(cmd);
  cmd.action(async (image: string, dest: string | undefined, rest: string[], o: RegistryFlags & { format?: 'oci' | 'docker'; compressionFormat?: 'gzip' | 'zstd'; disableCompression?: boolean; digestfile?: string; quiet?: boolean }, c: Command) => {
    tuneForStreaming();
    const { pushImage } = await import('../../core/ops/push.js');
    noExtraArgs(rest);
    if (o.disableCompression && o.compressionFormat) {
      throw new TbahError('usage', '--disable-compression and --compression-format cannot be used together', { hint: 'choose one' });
    }
    if (o.digestfile) await checkUserFile(o.digestfile, 'writing --digestfile'); // before anything is sent
    const view = progressView(o.quiet === true);
    try {
      const r = await pushImage(await getStore(c), {
        image,
        ...(dest !== undefined ? { dest } : {}),
        ...(await registryOptions(o)),
        ...(o.format ? { format: o.format } : {}),
        ...(o.compressionFormat ? { compression: o.compressionFormat } : {}),
        ...(o.disableCompression ? { disableCompression: true } : {}),
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
