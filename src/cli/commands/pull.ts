import type { Command } from 'commander';
import { getStore, noExtraArgs } from '../context.js';
import { note, out } from '../output.js';
import { progressView } from '../progress.js';
import {
  type PlatformFlags, type RegistryFlags, addPlatformFlags, addPullFlag, addRegistryFlags, platformOption, pullPolicy, registryOptions,
} from '../registry-flags.js';
import type { PullPolicy } from '../../core/ops/import.js';

export function register(program: Command): void {
  const cmd = program.command('pull')
    .description('copy an image from a registry (or oci:, oci-archive:, docker-archive:, dir:, containers-storage:) into the store; prints its ID')
    .argument('<image>', '[docker://]HOST[:PORT]/REPO[:TAG|@DIGEST], or a local transport reference')
    .argument('[rest...]')
    .option('-a, --all-tags', 'pull every tag of the repository (registries only); prints the ID of the first')
    .option('--policy <policy>', 'same as --pull: always (default), missing, never or newer', pullPolicy)
    .option('-q, --quiet', 'no progress on stderr');
  addPullFlag(cmd, 'always');
  addRegistryFlags(cmd);
  addPlatformFlags(cmd);
  cmd.action(async (image: string, rest: string[], o: RegistryFlags & PlatformFlags & { allTags?: boolean; policy?: PullPolicy; pull?: PullPolicy; quiet?: boolean }, c: Command) => {
    const { pullAllTags, pullImage } = await import('../../core/ops/import.js');
    noExtraArgs(rest);
    const policy = o.pull ?? o.policy;
    const platform = platformOption(o);
    const view = progressView(o.quiet === true);
    try {
      const opts = {
        ...(await registryOptions(o)),
        ...(policy ? { pull: policy } : {}),
        ...(platform ? { platform } : {}),
        ...(view.onProgress ? { onProgress: view.onProgress } : {}),
        ...(o.quiet ? {} : { onNote: note }),
      };
      const store = await getStore(c);
      // With --all-tags Buildah prints one ID too (the first image's).
      const img = o.allTags ? (await pullAllTags(store, image, opts))[0]! : await pullImage(store, image, opts);
      view.finish();
      out(img.id.slice('sha256:'.length));
    } catch (err) {
      view.finish();
      throw err;
    }
  });
}
