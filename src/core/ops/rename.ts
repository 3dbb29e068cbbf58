/** `tbah rename CONTAINER NEWNAME`: a working container gets a new name, as `buildah rename`. */
import * as path from 'node:path';
import { TbahError } from '../errors.js';
import type { ContainerState } from '../store/containers.js';
import { withLock } from '../store/lock.js';
import type { Store } from '../store/store.js';

export interface RenameResult {
  container: ContainerState;
  oldName: string;
}

export async function renameContainer(store: Store, spec: string, newName: string): Promise<RenameResult> {
  if (newName === '' || /\s/.test(newName)) {
    throw new TbahError('invalid-argument', `invalid container name ${JSON.stringify(newName)}`, { hint: 'a container name is one word' });
  }
  // The lock `from` holds while it picks a free name, so no `from` can take NEWNAME meanwhile.
  return withLock(path.join(store.paths.locksDir, 'containers.lock'), 'exclusive', () =>
    store.containers.withContainer(spec, async (c) => {
      if (c.name === newName) {
        throw new TbahError('conflict', 'renaming a container with the same name as its current name', { hint: `${spec} is already called ${newName}` });
      }
      // As Buildah: NEWNAME is taken when it finds a container (by name, or as its ID or ID prefix).
      let other: ContainerState | undefined;
      try {
        other = await store.containers.find(newName);
      } catch {
        other = undefined; // an ambiguous ID prefix names no container
      }
      if (other !== undefined) {
        throw new TbahError('conflict', `the container name ${JSON.stringify(newName)} is already in use by container ${JSON.stringify(other.id)}`, {
          hint: 'choose another name, or remove that container with `tbah rm`',
        });
      }
      const renamed: ContainerState = { ...c, name: newName };
      await store.containers.save(renamed);
      return { container: renamed, oldName: c.name };
    }));
}
