/**
 * What every image source (OCI layout, archives, later registries) hands to
 * the store importer: the manifest and config bytes exactly as published (so
 * digests are kept) and a way to open each blob as a stream.
 */
import type { Readable } from 'node:stream';
import { TbahError } from '../errors.js';
import {
  type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, type Platform,
  hostPlatform,
} from '../oci.js';

export interface SourceImage {
  manifestBytes: Buffer;
  manifestMediaType: string;
  manifest: ImageManifest;
  configBytes: Buffer;
  config: ImageConfig;
  /** Opens a blob of this image (a layer) as a raw, still-compressed stream; the importer verifies it against the descriptor. */
  openLayer(desc: Descriptor): Promise<Readable>;
  /** A full store name to give the image, when the source names it. */
  name?: string;
  /** Frees temp files. */
  close(): Promise<void>;
}

/**
 * Pick the manifest for a platform from an index (default: this host).
 * Attestation entries (`unknown/unknown`, as BuildKit writes) never match.
 */
export function choosePlatform(index: ImageIndex, want: Platform = hostPlatform(), what = 'image index'): Descriptor {
  const candidates = index.manifests.filter((m) => m.platform?.os !== 'unknown');
  const match = candidates.find((m) => m.platform
    && m.platform.os === want.os && m.platform.architecture === want.architecture
    && (want.variant === undefined || m.platform.variant === undefined || m.platform.variant === want.variant));
  if (match) return match;
  if (candidates.length === 1 && !candidates[0]!.platform) return candidates[0]!;
  const have = candidates.map((m) => m.platform ? platformString(m.platform) : 'unknown').join(', ');
  throw new TbahError('not-found', `${what} has no image for ${platformString(want)} (it has: ${have || 'none'})`, {
    hint: 'choose one with --platform OS/ARCH[/VARIANT], or --os, --arch and --variant',
  });
}

export function platformString(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? '/' + p.variant : ''}`;
}
