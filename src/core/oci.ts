/**
 * OCI image-spec and Docker schema2 types, media types and digest helpers.
 * Documents read from outside (archives, layouts, registries) go through the
 * guards at the bottom so a malformed document fails with a precise path.
 */
import { createHash } from 'node:crypto';
import { TbahError } from './errors.js';

/** `sha256:<64 lowercase hex>` (sha512 accepted on read). */
export type Digest = string & { readonly __brand: 'Digest' };

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
} as const;

export type ImageFormat = 'oci' | 'docker';

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The `config` object of an image config. Docker-only fields are dropped when writing OCI. */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  // Docker-only
  Healthcheck?: HealthConfig;
  OnBuild?: string[] | null;
  Shell?: string[];
  Hostname?: string;
  Domainname?: string;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
  config?: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: HistoryEntry[];
  // Docker-only top-level fields
  comment?: string;
  docker_version?: string;
}

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(s: unknown): s is Digest {
  return typeof s === 'string' && DIGEST_RE.test(s);
}

export function parseDigest(s: string, what = 'digest'): Digest {
  if (!isDigest(s)) {
    throw new TbahError('invalid-argument', `${what} ${JSON.stringify(s)} is not a valid digest`, {
      hint: 'a digest looks like sha256: followed by 64 lowercase hex digits',
    });
  }
  return s;
}

export function sha256Digest(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
}

/** The 64-hex part of a digest, as Buildah prints image IDs. */
export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

export function isIndexMediaType(mt: string | undefined): boolean {
  return mt === MediaType.ociIndex || mt === MediaType.dockerManifestList;
}

export function isManifestMediaType(mt: string | undefined): boolean {
  return mt === MediaType.ociManifest || mt === MediaType.dockerManifest;
}

export type LayerCompression = 'gzip' | 'zstd' | 'none';

export function layerCompression(mediaType: string): LayerCompression {
  if (mediaType.endsWith('+gzip') || mediaType.endsWith('.tar.gzip')) return 'gzip';
  if (mediaType.endsWith('+zstd') || mediaType.endsWith('.tar.zstd')) return 'zstd';
  if (mediaType.endsWith('.tar')) return 'none';
  throw new TbahError('unsupported', `layer media type ${mediaType} is not supported`, {
    hint: 'tbah reads tar, tar+gzip and tar+zstd layers',
  });
}

export function layerMediaType(format: ImageFormat, compression: LayerCompression): string {
  if (format === 'docker') {
    if (compression === 'gzip') return MediaType.dockerLayerGzip;
    if (compression === 'none') return MediaType.dockerLayer;
    return MediaType.ociLayerZstd; // Docker has no zstd type of its own; registries accept the OCI one.
  }
  if (compression === 'gzip') return MediaType.ociLayerGzip;
  if (compression === 'zstd') return MediaType.ociLayerZstd;
  return MediaType.ociLayer;
}

export function manifestMediaType(format: ImageFormat): string {
  return format === 'docker' ? MediaType.dockerManifest : MediaType.ociManifest;
}

export function configMediaType(format: ImageFormat): string {
  return format === 'docker' ? MediaType.dockerConfig : MediaType.ociConfig;
}

// ---- guards for documents read from outside ----

function fail(where: string, what: string): never {
  throw new TbahError('corrupt', `${where}: ${what}`, { hint: 'the image source is malformed or truncated' });
}

function obj(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, 'not a JSON object');
  return v as Record<string, unknown>;
}

export function checkDescriptor(v: unknown, where: string): Descriptor {
  const o = obj(v, where);
  if (typeof o.mediaType !== 'string') fail(`${where}.mediaType`, 'missing');
  if (!isDigest(o.digest)) fail(`${where}.digest`, 'not a sha256 digest');
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) fail(`${where}.size`, 'not a size');
  return o as unknown as Descriptor;
}

/**
 * Most layers an image may have. Docker stops at 125, overlay mounts near 500;
 * tbah's dir driver has no hard limit, but a manifest of 20,000 layers is an
 * attack (hours of unpacking), not an image.
 */
export const MAX_LAYERS = 1000;

export function checkManifest(v: unknown, where = 'manifest'): ImageManifest {
  const o = obj(v, where);
  if (o.schemaVersion !== 2) fail(`${where}.schemaVersion`, 'must be 2');
  checkDescriptor(o.config, `${where}.config`);
  if (!Array.isArray(o.layers)) fail(`${where}.layers`, 'not an array');
  if (o.layers.length > MAX_LAYERS) fail(`${where}.layers`, `${o.layers.length} layers, more than the ${MAX_LAYERS} tbah accepts`);
  o.layers.forEach((l, i) => checkDescriptor(l, `${where}.layers[${i}]`));
  return o as unknown as ImageManifest;
}

export function checkIndex(v: unknown, where = 'index'): ImageIndex {
  const o = obj(v, where);
  if (o.schemaVersion !== 2) fail(`${where}.schemaVersion`, 'must be 2');
  if (!Array.isArray(o.manifests)) fail(`${where}.manifests`, 'not an array');
  o.manifests.forEach((m, i) => checkDescriptor(m, `${where}.manifests[${i}]`));
  return o as unknown as ImageIndex;
}

export function checkImageConfig(v: unknown, where = 'config'): ImageConfig {
  const o = obj(v, where);
  const rootfs = obj(o.rootfs, `${where}.rootfs`);
  if (!Array.isArray(rootfs.diff_ids)) fail(`${where}.rootfs.diff_ids`, 'not an array');
  rootfs.diff_ids.forEach((d, i) => {
    if (!isDigest(d)) fail(`${where}.rootfs.diff_ids[${i}]`, 'not a digest');
  });
  if (typeof o.architecture !== 'string') fail(`${where}.architecture`, 'missing');
  if (typeof o.os !== 'string') fail(`${where}.os`, 'missing');
  return o as unknown as ImageConfig;
}

/** Host platform in OCI terms. */
export function hostPlatform(): Platform {
  const arch = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[process.arch] ?? process.arch;
  const p: Platform = { architecture: arch, os: 'linux' };
  if (arch === 'arm64') p.variant = 'v8';
  return p;
}
