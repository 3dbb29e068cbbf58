/**
 * Small images for registry tests, built in memory: random "layer" bytes (a
 * registry never looks inside layers), a config and an OCI manifest naming
 * them. `pushTestImage` uploads one with a RegistryClient.
 *
 *   const img = testImage({ layerSizes: [300_000] });
 *   await pushTestImage(client, 'team/app', '1', img);
 *   img.manifestDigest, img.layers[0].digest, ...
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Digest } from '../../src/core/oci.js';
import type { RegistryClient } from '../../src/core/registry/client.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export const sha = (b: Buffer | string): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;

export interface TestBlob {
  bytes: Buffer;
  digest: Digest;
  size: number;
}

export interface TestImage {
  config: TestBlob;
  layers: TestBlob[];
  manifest: Buffer;
  manifestDigest: Digest;
}

export function blob(bytes: Buffer): TestBlob {
  return { bytes, digest: sha(bytes), size: bytes.length };
}

export function testImage(opts: { layerSizes?: number[] } = {}): TestImage {
  const layers = (opts.layerSizes ?? [64 * 1024]).map((n) => blob(randomBytes(n)));
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: {},
        rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      }),
    ),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
    }),
  );
  return { config, layers, manifest, manifestDigest: sha(manifest) };
}

/** Upload the blobs (config last) then the manifest under `tag`. */
export async function pushTestImage(client: RegistryClient, repository: string, tag: string, img: TestImage): Promise<void> {
  for (const b of [...img.layers, img.config]) {
    await client.uploadBlob(repository, { digest: b.digest, size: b.size }, () => Readable.from([b.bytes]));
  }
  await client.putManifest(repository, tag, img.manifest, OCI_MANIFEST);
}
