import type { Command } from 'commander';
import { checkUserFile, writeUserFile } from '../../core/util/fsx.js';
import type { PullPolicy } from '../../core/ops/import.js';
import { collect, getStore, noExtraArgs } from '../context.js';
import { collectList, formatOption } from './shared.js';
import { note, out, warn } from '../output.js';
import { progressView } from '../progress.js';
import { tuneForStreaming } from '../memory.js';
import {
  type PlatformFlags, type RegistryFlags, addPlatformFlags, addPullFlag, addRegistryFlags, platformOption, registryOptions,
} from '../registry-flags.js';

export function register(program: Command): void {
  const cmd = program.command('from')
    .description('create a working container from an image or scratch (pulling it when needed); prints its name')
    .addHelpText('after', '\nExamples:\n  ctr=$(tbah from docker.io/library/busybox:1.36)\n  ctr=$(tbah from --name builder scratch)\n  tbah from --pull=always --tls-verify=false 127.0.0.1:5000/tools/busybox\n  tbah from oci-archive:/tmp/base.tar')
    .argument('<image>', 'scratch, a local image, a registry image ([docker://]HOST/REPO[:TAG]), or oci:DIR[:ref], oci-archive:FILE[:ref], docker-archive:FILE[:name:tag]')
    .argument('[rest...]')
    .option('--name <name>', 'name of the working container')
    .option('--suffix <suffix>', 'use <prefix>-SUFFIX instead of <prefix>-working-container')
    .option('--cidfile <file>', 'write the container ID to this file')
    .option('-f, --format <format>', 'default format of later commits: oci or docker', formatOption)
    .option('-q, --quiet', 'print nothing but the name (no pull progress)')
    .option('-v, --volume <src:dst[:ro]>', 'bind-mount a host path in every later `run` (repeatable)', collect)
    .option('--add-host <host:ip>', 'an /etc/hosts entry for every later `run` (repeatable)', collectList)
    .option('--ulimit <name=soft[:hard]>', 'a resource limit for every later `run` (repeatable)', collectList);
  addPullFlag(cmd, 'missing');
  addRegistryFlags(cmd);
  addPlatformFlags(cmd);
  cmd.action(async (image: string, rest: string[], o: RegistryFlags & PlatformFlags & {
    name?: string; suffix?: string; cidfile?: string; format?: 'oci' | 'docker'; pull?: PullPolicy; quiet?: boolean;
    volume?: string[]; addHost?: string[]; ulimit?: string[];
  }, c: Command) => {
    tuneForStreaming();
    const { createContainer } = await import('../../core/ops/from.js');
    const { ownLimit, parseAddHost, parseUlimit, parseVolume } = await import('../../core/ops/run-args.js');
    noExtraArgs(rest);
    // Checked now (a bad one makes no container), kept for every later run.
    const runDefaults = {
      ...(o.volume ? { volumes: o.volume.map((v) => { const b = parseVolume(v); return { source: b.source, target: b.target, readonly: b.readonly === true }; }) } : {}),
      ...(o.addHost ? { addHosts: o.addHost.map(parseAddHost) } : {}),
      ...(o.ulimit ? { ulimits: o.ulimit.map((u) => parseUlimit(u, (n) => ownLimit(n))) } : {}),
    };
    const store = await getStore(c);
    const platform = platformOption(o);
    if (o.cidfile) await checkUserFile(o.cidfile, 'writing --cidfile'); // before the container exists
    const view = progressView(o.quiet === true);
    try {
      const ctr = await createContainer(store, {
        image,
        onWarning: warn,
        ...(o.quiet ? {} : { onNote: note }),
        ...(await registryOptions(o)),
        ...(o.pull ? { pull: o.pull } : {}),
        ...(platform ? { platform } : {}),
        ...(view.onProgress ? { onProgress: view.onProgress } : {}),
        ...(o.name !== undefined ? { name: o.name } : {}),
        ...(o.suffix !== undefined ? { suffix: o.suffix } : {}),
        ...(o.format ? { format: o.format } : process.env.BUILDAH_FORMAT === 'docker' ? { format: 'docker' as const } : {}),
        ...(Object.keys(runDefaults).length > 0 ? { runDefaults } : {}),
        ...(c.optsWithGlobals().storageDriver !== undefined ? { storageDriver: c.optsWithGlobals().storageDriver as string } : {}),
      });
      view.finish();
      if (o.cidfile) {
        try {
          await writeUserFile(o.cidfile, ctr.id, 0o644, 'writing --cidfile');
        } catch (err) {
          // Nobody would learn the container's ID: the store is left as it was.
          const { removeContainer } = await import('../../core/ops/manage.js');
          await removeContainer(store, ctr.id).catch(() => undefined);
          throw err;
        }
      }
      out(ctr.name);
    } catch (err) {
      view.finish();
      throw err;
    }
  });
}
