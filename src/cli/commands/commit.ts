import type { Command } from 'commander';
import { TbahError } from '../../core/errors.js';
import { checkUserFile, writeUserFile } from '../../core/util/fsx.js';
import { MAX_TIME_SECONDS, collect, getStore, noExtraArgs, parseIntArg } from '../context.js';
import { collectList, formatOption } from './shared.js';
import { out, warn } from '../output.js';
import { type RegistryFlags, addRegistryFlags, registryOptions } from '../registry-flags.js';
import { tuneForStreaming } from '../memory.js';

interface CommitFlags extends RegistryFlags {
  format?: 'oci' | 'docker'; squash?: boolean; rm?: boolean; timestamp?: number; iidfile?: string; omitHistory?: boolean;
  sourceDateEpoch?: number; rewriteTimestamp?: boolean; disableCompression?: boolean; compressionFormat?: string;
  unsetenv?: string[]; addFile?: string[]; annotation?: string[]; unsetannotation?: string[];
  createdAnnotation?: boolean; identityLabel?: boolean;
}

export function register(program: Command): void {
  const cmd = program.command('commit')
    .description('write the container\'s changes as one new layer and an image; prints the image ID')
    .addHelpText('after', '\nExamples:\n  id=$(tbah commit "$ctr" myapp:1)\n  tbah commit --squash --rm "$ctr" registry.example.com/team/app:1\n  tbah commit --iidfile app.iid --timestamp 0 "$ctr" app:1\n  tbah commit "$ctr" oci:/tmp/layout:app')
    .argument('<container>')
    .argument('[image]', 'name (a name without registry goes under localhost/), or docker://…, oci:, oci-archive:, docker-archive: to write there instead')
    .argument('[rest...]')
    .option('-f, --format <format>', 'oci or docker (default: the container\'s, or $BUILDAH_FORMAT)', formatOption)
    .option('--squash', 'fold all layers into one')
    .option('--rm', 'remove the container after committing')
    .option('--timestamp <seconds>', 'created time, and the time of every file in the new layer', parseIntArg('--timestamp', [-MAX_TIME_SECONDS, MAX_TIME_SECONDS]))
    .option('--iidfile <file>', 'write the image ID (sha256:…) to this file and print nothing')
    .option('--source-date-epoch <seconds>', 'created time, and the ceiling for file times in the new layers (default $SOURCE_DATE_EPOCH)', parseIntArg('--source-date-epoch'))
    .option('--rewrite-timestamp', 'clamp file times in the new layers to the source date epoch (tbah always does when one is given)')
    .option('--omit-history', 'write no history')
    .option('-D, --disable-compression', 'a transport destination (docker://, oci:…) gets the layers uncompressed (the store keeps them so anyway)')
    .option('--no-disable-compression', 'compress for a transport destination (the default)')
    .option('--compression-format <format>', 'store the new layers compressed, gzip or zstd (default: plain tars, compressed once at the first push)')
    .option('--unsetenv <name>', 'leave this variable out of the image\'s environment (repeatable)', collectList)
    .option('--add-file <src[:dest]>', 'add a host file to the image (0644, 0:0; its own layer, or folded in with --squash)', collect)
    .option('--annotation <key[=value]>', 'manifest annotation of this image (repeatable)', collect)
    .option('--unsetannotation <key>', 'leave this annotation out (also the generated base and created ones)', collectList)
    .option('--created-annotation', 'write the org.opencontainers.image.created annotation (default)')
    .option('--no-created-annotation', 'leave the created annotation out')
    .option('--identity-label', 'add the io.tbah.version label (default, unless --timestamp or a source date epoch)')
    .option('--no-identity-label', 'leave the io.tbah.version label out')
    .option('-q, --quiet', 'print only the image ID');
  addRegistryFlags(cmd);
  cmd.action(async (container: string, image: string | undefined, rest: string[], o: CommitFlags, c: Command) => {
    tuneForStreaming();
    const { commitContainer } = await import('../../core/ops/commit.js');
    noExtraArgs(rest);
    const sde = o.sourceDateEpoch !== undefined ? String(o.sourceDateEpoch) : process.env.SOURCE_DATE_EPOCH;
    if (sde !== undefined && sde !== '' && (!/^\d+$/.test(sde) || Number(sde) > MAX_TIME_SECONDS)) {
      throw new TbahError('invalid-argument', `SOURCE_DATE_EPOCH=${sde}: not a number of seconds`, { hint: 'unset it, or set it to seconds since the epoch' });
    }
    if (o.sourceDateEpoch !== undefined && o.timestamp !== undefined) {
      throw new TbahError('usage', '--timestamp and --source-date-epoch cannot be used together', { hint: 'give one of them' });
    }
    if (o.disableCompression === true && o.compressionFormat !== undefined) {
      throw new TbahError('usage', '--disable-compression and --compression-format cannot be used together', { hint: 'leave out -D to compress with --compression-format' });
    }
    if (o.compressionFormat !== undefined && o.compressionFormat !== 'gzip' && o.compressionFormat !== 'zstd') {
      throw new TbahError('invalid-argument', `--compression-format ${o.compressionFormat}: not supported`, { hint: 'use gzip or zstd' });
    }
    if (o.rewriteTimestamp && !sde) warn('--rewrite-timestamp has no effect without --source-date-epoch or SOURCE_DATE_EPOCH');
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
      ...(o.disableCompression === true ? { disableCompression: true } : o.compressionFormat !== undefined ? { compression: o.compressionFormat as 'gzip' | 'zstd' } : {}),
      ...(o.unsetenv ? { unsetEnv: o.unsetenv } : {}),
      ...(o.addFile ? { addFiles: o.addFile } : {}),
      ...(o.annotation ? { annotations: o.annotation } : {}),
      ...(o.unsetannotation ? { unsetAnnotations: o.unsetannotation } : {}),
      ...(o.createdAnnotation !== undefined ? { createdAnnotation: o.createdAnnotation } : {}),
      ...(o.identityLabel !== undefined ? { identityLabel: o.identityLabel } : {}),
      registry,
    });
    if (o.iidfile) await writeUserFile(o.iidfile, r.id, 0o644, 'writing --iidfile');
    else out(r.id.slice(7));
  });
}
