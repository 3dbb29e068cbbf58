/** `tbah config`: change the pending image config of a working container. */
import { type ConfigChanges, applyConfigChanges } from '../config-edit.js';
import type { ContainerState } from '../store/containers.js';
import type { Store } from '../store/store.js';

export async function configureContainer(
  store: Store, container: string, changes: ConfigChanges, callerEnv: Record<string, string | undefined> = process.env,
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
    const next: ContainerState = { ...state, image };
    await store.containers.save(next);
    return { container: next, warnings };
  });
}
