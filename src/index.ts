/**
 * tbah as a library: the same operations as the CLI, typed.
 *
 *   import { Store, createContainer, copyIntoContainer, commitContainer } from 'tbah';
 *   const store = await Store.open({ root: '/tmp/store' });
 *   const ctr = await createContainer(store, { image: 'scratch' });
 */
export { Store, type StoreOptions, type LayerMeta } from './core/store/store.js';
export type { ContainerState, LayerRef } from './core/store/containers.js';
export type { ImageRecord } from './core/store/images.js';
export { TbahError, type ErrorCode } from './core/errors.js';
export * from './core/oci.js';
export * from './core/refs.js';
export { createContainer, type FromOptions } from './core/ops/from.js';
export { copyIntoContainer, type CopyOptions } from './core/ops/copy.js';
export { configureContainer } from './core/ops/config.js';
export type { ConfigChanges, EditableImage } from './core/config-edit.js';
export { commitContainer, type CommitOptions, type CommitResult } from './core/ops/commit.js';
export { pushImage, type PushOptions, type PushResult } from './core/ops/push.js';
export { runContainer, parseExitCodes, parseMount, parseSecret, parseVolume, type RunContainerOptions } from './core/ops/run.js';
export { parseAddHost, parseUlimit, ownLimit } from './core/ops/run-args.js';
export type { RunDefaults } from './core/store/containers.js';
export { normalizePlatform } from './core/platform.js';
export type { MountRequest, SecretSource } from './core/runtime/mounts.js';
export {
  resolveImage, importImage, pullImage, pullFromRegistry, type PullPolicy, type ResolveOptions, type ImportOptions,
} from './core/ops/import.js';
export { type RegistryOptions, type TransferEvent, parseCreds } from './core/transports/registry.js';
export { RegistryClient, type RegistryClientOptions } from './core/registry/client.js';
export type { Credentials } from './core/registry/credentials.js';
export type { SourceImage } from './core/transports/source.js';
export { inspectObject, type InspectType } from './core/ops/inspect.js';
export {
  listImages, listContainers, tagImage, mountContainer, umountContainer, removeContainer, removeImages,
  type ImageSummary, type RemoveImagesResult,
} from './core/ops/manage.js';
export { versionInfo, storeInfo, VERSION } from './core/info.js';
export { renameContainer, type RenameResult } from './core/ops/rename.js';
