/** `tbah config`: change the pending image config of a working container. */
import { type ConfigChanges, applyConfigChanges, configHistory } from '../config-edit.js';
import { rfc3339 } from '../image.js';
import type { ContainerState } from '../store/containers.js';
import type { Store } from '../store/store.js';

export interface ConfigureOptions {
  /** `--add-history`: record an empty-layer history entry per instruction, as Buildah. */
  addHistory?: boolean;
}

export async function configureContainer(
  store: Store, container: string, changes: ConfigChanges, callerEnv: Record<string, string | undefined> = process.env,
  opts: ConfigureOptions = {},
): Promise<{ container: ContainerState; warnings: string[] }> {
  return store.containers.withContainer(container, async (state) => {
    // Validate everything before writing: a bad flag leaves the container as it was.
    const { image, warnings } = applyConfigChanges(state.image, changes, callerEnv);
    if (state.format === 'oci') {
      // As Buildah warns: these exist only in Docker-format images, so an OCI commit drops them.
      const dockerOnly: [keyof ConfigChanges, string][] = [['shell', 'SHELL'], ['healthcheck', 'HEALTHCHECK'], ['onbuild', 'ONBUILD'],
        ['comment', 'comment'], ['hostname', 'hostname'], ['domainname', 'domainname'],
        ['healthcheckInterval', 'HEALTHCHECK'], ['healthcheckRetries', 'HEALTHCHECK'], ['healthcheckStartPeriod', 'HEALTHCHECK'],
        ['healthcheckStartInterval', 'HEALTHCHECK'], ['healthcheckTimeout', 'HEALTHCHECK']];
      for (const [key, what] of dockerOnly) {
        if (changes[key] !== undefined && !warnings.some((w) => w.startsWith(`${what} `))) warnings.push(`${what} is kept only in Docker-format images; this container commits OCI unless you use \`commit --format docker\``);
      }
    }
    if (opts.addHistory) {
      const created = rfc3339(Date.now());
      const added = configHistory(changes).map((created_by) => ({ created, created_by, empty_layer: true }));
      if (added.length > 0) image.pendingHistory = [...(image.pendingHistory ?? []), ...added];
    }
    const next: ContainerState = { ...state, image };
    await store.containers.save(next);
    return { container: next, warnings };
  });
}
