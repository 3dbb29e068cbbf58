/**
 * Writing an image to a registry: when the tag already names this very
 * manifest there is nothing to send (go-containerregistry's check); else
 * every blob is HEADed (skipped when present), mounted from another
 * repository of the same registry when the store knows one holds it, else
 * uploaded as a stream (into a refused mount's session when the registry
 * opened one); blobs in parallel (bounded), the manifest last so the tag
 * never names a partial image. One token covers the whole push.
 */
import type { Readable } from 'node:stream';
import { type Descriptor, type Digest, type ImageManifest, sha256Digest } from '../oci.js';
import type { DockerReference } from '../refs.js';
import type { MountResult, RegistryClient } from '../registry/client.js';
import type { Store } from '../store/store.js';
import { mapLimit } from '../util/limit.js';
import { DEFAULT_JOBS, type RegistryOptions, type TransferEvent, clientFor } from './registry.js';

export interface PushableImage {
  manifest: ImageManifest;
  manifestBytes: Buffer;
  manifestMediaType: string;
  openBlob(d: Descriptor): Promise<Readable>;
}

type Role = 'layer' | 'config';

export async function pushToRegistry(store: Store, img: PushableImage, dest: DockerReference, opts: RegistryOptions): Promise<Digest> {
  const client = await clientFor(dest, opts);
  const repo = `${dest.domain}/${dest.path}`;
  const progress = opts.onProgress;
  const blobs: Array<{ d: Descriptor; role: Role }> = [
    ...img.manifest.layers.map((d) => ({ d, role: 'layer' as const })),
    { d: img.manifest.config, role: 'config' as const },
  ];
  const tag = dest.digest ?? dest.tag ?? 'latest';
  const digest = sha256Digest(img.manifestBytes);

  // Where each layer could be mounted from: asked for in the push's one token.
  const sources = new Map<Digest, string[]>();
  for (const { d, role } of blobs) {
    if (role !== 'layer') continue;
    const here = mountSources((await store.getLayerMeta(d.digest))?.sources ?? [], dest);
    sources.set(d.digest, here);
    client.addMountSources(dest.path, here);
  }

  if ((await client.manifestDigest(dest.path, tag, 'push')) === digest) {
    // The registry checked every blob when this manifest was put: nothing to send.
    for (const { d, role } of blobs) {
      progress?.({ kind: 'blob-start', digest: d.digest, size: d.size, role });
      progress?.({ kind: 'blob-done', digest: d.digest, how: 'exists' });
    }
    progress?.({ kind: 'manifest', digest });
    return digest;
  }

  await mapLimit(blobs, opts.jobs ?? DEFAULT_JOBS, async ({ d, role }) => {
    progress?.({ kind: 'blob-start', digest: d.digest, size: d.size, role });
    const how = await pushBlob(store, client, dest, d, sources.get(d.digest) ?? [], progress);
    if (role === 'layer') {
      const meta = await store.getLayerMeta(d.digest);
      if (meta) await store.putLayerMeta(d.digest, { diffId: meta.diffId, sources: [repo] });
    }
    progress?.({ kind: 'blob-done', digest: d.digest, how });
  });
  await client.putManifest(dest.path, tag, img.manifestBytes, img.manifestMediaType);
  progress?.({ kind: 'manifest', digest });
  return digest;
}

/** Repositories of `dest`'s registry (other than `dest`'s own) that hold a blob, as repository paths. */
function mountSources(known: string[], dest: DockerReference): string[] {
  const prefix = `${dest.domain}/`;
  return known.filter((s) => s.startsWith(prefix) && s !== `${prefix}${dest.path}`).map((s) => s.slice(prefix.length));
}

async function pushBlob(
  store: Store, client: RegistryClient, dest: DockerReference, d: Descriptor, sources: string[], progress: ((ev: TransferEvent) => void) | undefined,
): Promise<'copied' | 'exists' | 'mounted'> {
  if (await client.hasBlobForPush(dest.path, d.digest)) return 'exists';
  let location: string | undefined;
  for (const src of sources) {
    const r = await client.tryMount(dest.path, src, d.digest).catch((): MountResult => ({ mounted: false }));
    if (r.mounted) return 'mounted';
    // A refused mount opened an upload session: the upload goes there (the last one; earlier ones expire).
    if (r.location !== undefined) location = r.location;
  }
  // Sent from the store's file in constant memory; a retried upload starts again from byte 0. The registry verifies the digest.
  const onBytes = progressReporter(d, progress);
  await client.uploadBlob(dest.path, d, () => ({ file: store.blobs.path(d.digest), size: d.size, ...(onBytes ? { onBytes } : {}) }), {
    known: true,
    ...(location !== undefined ? { location } : {}),
  });
  return 'copied';
}

/** Progress events for bytes sent: every 256 KiB and at the end, as countingStream reports them. */
function progressReporter(d: Descriptor, progress: ((ev: TransferEvent) => void) | undefined): ((sent: number) => void) | undefined {
  if (progress === undefined) return undefined;
  let last = 0;
  return (sent) => {
    if (sent - last >= 256 * 1024 || sent === d.size) {
      last = sent;
      progress({ kind: 'blob-bytes', digest: d.digest, bytes: sent });
    }
  };
}
