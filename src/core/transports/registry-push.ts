/**
 * Writing an image to a registry: every blob HEADed first (skipped when
 * present), mounted from another repository of the same registry when the
 * store knows one holds it, else uploaded as a stream; blobs in parallel
 * (bounded), the manifest last so the tag never names a partial image.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Descriptor, Digest, ImageManifest } from '../oci.js';
import { type DockerReference, formatDockerReference } from '../refs.js';
import type { RegistryClient } from '../registry/client.js';
import type { Store } from '../store/store.js';
import { mapLimit } from '../util/limit.js';
import { chain } from '../util/streams.js';
import { DEFAULT_JOBS, type RegistryOptions, type TransferEvent, clientFor, countingStream } from './registry.js';

export interface PushableImage {
  manifest: ImageManifest;
  manifestBytes: Buffer;
  manifestMediaType: string;
  openBlob(d: Descriptor): Promise<Readable>;
}

export async function pushToRegistry(store: Store, img: PushableImage, dest: DockerReference, opts: RegistryOptions): Promise<Digest> {
  const client = await clientFor(dest, opts);
  const repo = `${dest.domain}/${dest.path}`;
  const progress = opts.onProgress;
  const blobs: Array<{ d: Descriptor; role: 'layer' | 'config' }> = [
    ...img.manifest.layers.map((d) => ({ d, role: 'layer' as const })),
    { d: img.manifest.config, role: 'config' as const },
  ];
  await mapLimit(blobs, opts.jobs ?? DEFAULT_JOBS, async ({ d, role }) => {
    progress?.({ kind: 'blob-start', digest: d.digest, size: d.size, role });
    const how = await pushBlob(store, client, dest, d, progress);
    if (role === 'layer') {
      const meta = await store.getLayerMeta(d.digest);
      if (meta) await store.putLayerMeta(d.digest, { diffId: meta.diffId, sources: [repo] });
    }
    progress?.({ kind: 'blob-done', digest: d.digest, how });
  });
  const tag = dest.digest ?? dest.tag ?? 'latest';
  const digest = await client.putManifest(dest.path, tag, img.manifestBytes, img.manifestMediaType);
  progress?.({ kind: 'manifest', digest });
  return digest;
}

async function pushBlob(
  store: Store, client: RegistryClient, dest: DockerReference, d: Descriptor, progress: ((ev: TransferEvent) => void) | undefined,
): Promise<'copied' | 'exists' | 'mounted'> {
  if (await client.hasBlob(dest.path, d.digest)) return 'exists';
  const meta = await store.getLayerMeta(d.digest);
  const prefix = `${dest.domain}/`;
  for (const src of meta?.sources ?? []) {
    if (!src.startsWith(prefix) || src === `${prefix}${dest.path}`) continue;
    if (await client.mountBlob(dest.path, src.slice(prefix.length), d.digest).catch(() => false)) return 'mounted';
  }
  await client.uploadBlob(dest.path, d, () => {
    // Opened per attempt: a retried upload starts again from byte 0. The registry verifies the digest.
    const s = createReadStream(store.blobs.path(d.digest), { highWaterMark: 1 << 20 });
    return progress ? chain(s, countingStream(d, progress)) : s;
  });
  return 'copied';
}
