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
    const next: ContainerState = { ...state, image };
    await store.containers.save(next);
    return { container: next, warnings };
  });
}
