/**
 * The `docker://` transport: an image in a registry, read as a SourceImage
 * (manifest negotiation, platform choice from an index, verified blob
 * streams) and the per-call registry options every command shares.
 */
import { access } from 'node:fs/promises';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { TbahError } from '../errors.js';
import {
  type Descriptor, type Digest, type ImageConfig, type ImageManifest, type Platform, MediaType,
  checkImageConfig, checkIndex, checkManifest, hostPlatform, isIndexMediaType,
} from '../oci.js';
import { type DockerReference, formatDockerReference } from '../refs.js';
import { RegistryClient, type RegistryClientOptions } from '../registry/client.js';
import { type Credentials, defaultSources, findCredentials } from '../registry/credentials.js';
import { type SourceImage, choosePlatform } from './source.js';

/** What `--tls-verify`, `--cert-dir`, `--creds` and `--authfile` set, for one command. */
export interface RegistryOptions {
  /** false: plain http and unverified TLS are allowed. Default true. */
  tlsVerify?: boolean;
  /** Directory with `*.crt` CAs and `*.cert`/`*.key` client pairs. */
  certDir?: string;
  /** `--creds`: used instead of any auth file. */
  credentials?: Credentials;
  /** `--authfile`: the only auth file consulted (must exist). */
  authFile?: string;
  /** Blobs transferred at once; default 3 (containers/image's default is 6 per image, 3 keeps 2 cores for hashing). */
  jobs?: number;
  /** Transfer progress for a renderer; the core never prints. */
  onProgress?: (ev: TransferEvent) => void;
}

export type TransferEvent =
  | { kind: 'blob-start'; digest: Digest; size: number; role: 'layer' | 'config' }
  | { kind: 'blob-bytes'; digest: Digest; bytes: number }
  | { kind: 'blob-done'; digest: Digest; how: 'copied' | 'exists' | 'mounted' }
  | { kind: 'manifest'; digest: Digest };

export const DEFAULT_JOBS = 3;

/** Config blobs are JSON documents; anything this large is hostile or broken. */
const CONFIG_MAX = 32 * 1024 * 1024;

/** `--creds user[:password]` (Buildah's syntax; a missing password is an error here, never a prompt). */
export function parseCreds(s: string): Credentials {
  const i = s.indexOf(':');
  if (s === '' || i === 0) throw new TbahError('invalid-argument', '--creds: empty username', { hint: 'write --creds USERNAME:PASSWORD' });
  if (i < 0) throw new TbahError('invalid-argument', '--creds: no password given', { hint: 'write --creds USERNAME:PASSWORD, or log in with `tbah login`' });
  return { kind: 'basic', username: s.slice(0, i), password: s.slice(i + 1) };
}

/** A named auth file must exist (Buildah's CheckAuthFile): checked by every command given one, whatever it then does. */
export async function checkAuthFile(file: string | undefined): Promise<void> {
  if (file === undefined) return;
  try {
    await access(file);
  } catch {
    throw new TbahError('not-found', `--authfile ${file}: credential file is not accessible`, { hint: 'give an existing auth.json, or log in with `tbah login --authfile FILE`' });
  }
}

/** A client for a reference's registry with the credentials that apply to its repository. */
export async function clientFor(ref: DockerReference, opts: RegistryOptions): Promise<RegistryClient> {
  let credentials = opts.credentials;
  if (credentials === undefined) {
    await checkAuthFile(opts.authFile);
    credentials = await findCredentials(ref.domain, ref.path, defaultSources(opts.authFile));
  }
  const o: RegistryClientOptions & { certDir?: string } = {
    registry: ref.domain,
    tlsVerify: opts.tlsVerify ?? true,
    ...(credentials ? { credentials } : {}),
    ...(opts.certDir !== undefined ? { certDir: opts.certDir } : {}),
  };
  return new RegistryClient(o);
}

/** The tag or digest to ask the registry for (a digest wins over a tag). */
export function referenceOf(ref: DockerReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** Tag a reference without tag or digest as `latest`, as Docker does. */
export function withDefaultTag(ref: DockerReference): DockerReference {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref;
}

export interface RemoteManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
  manifest: ImageManifest;
  /** The index it was chosen from, when the reference named one. */
  indexDigest?: Digest;
}

/** Fetch the image manifest for a reference, choosing from an index by platform. */
export async function fetchImageManifest(client: RegistryClient, ref: DockerReference, platform?: Partial<Platform>): Promise<RemoteManifest> {
  const name = formatDockerReference(withDefaultTag(ref));
  let m = await client.getManifest(ref.path, referenceOf(ref));
  let indexDigest: Digest | undefined;
  if (isIndexMediaType(m.mediaType)) {
    const index = checkIndex(parseJson(m.bytes, `index of ${name}`), `index of ${name}`);
    const want = { ...hostPlatform(), ...platform };
    if (platform?.architecture !== undefined && platform.variant === undefined) delete want.variant;
    const desc = choosePlatform(index, want, name);
    indexDigest = m.digest;
    m = await client.getManifest(ref.path, desc.digest);
    if (m.digest !== desc.digest) throw new TbahError('corrupt', `manifest of ${name} does not match the digest its index lists`);
  }
  if (m.mediaType === 'application/vnd.docker.distribution.manifest.v1+json' || m.mediaType === 'application/vnd.docker.distribution.manifest.v1+prettyjws') {
    throw new TbahError('unsupported', `${name} has a Docker schema 1 manifest, which tbah does not read`, { hint: 'push the image again with a current tool (schema 2 or OCI)' });
  }
  if (m.mediaType !== MediaType.ociManifest && m.mediaType !== MediaType.dockerManifest) {
    throw new TbahError('unsupported', `${name} is a ${m.mediaType}, not a container image`, { hint: 'tbah pulls OCI and Docker schema 2 images' });
  }
  const manifest = checkManifest(parseJson(m.bytes, `manifest of ${name}`), `manifest of ${name}`);
  return { bytes: m.bytes, mediaType: m.mediaType, digest: m.digest, manifest, ...(indexDigest ? { indexDigest } : {}) };
}

/** Read a small blob (a config) fully, verified. */
export async function readSmallBlob(client: RegistryClient, repository: string, desc: Descriptor, what: string): Promise<Buffer> {
  if (desc.size > CONFIG_MAX) throw new TbahError('unsupported', `${what} is ${desc.size} bytes, more than the ${CONFIG_MAX} allowed`);
  const chunks: Buffer[] = [];
  for await (const c of await client.getBlob(repository, desc)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export interface RegistryImage extends SourceImage {
  manifestDigest: Digest;
  /** `registry/repository`, recorded so a later push to the same registry can mount instead of upload. */
  repository: string;
}

/** Open a registry image for import: manifest and config now, layers as verified streams on demand. */
export async function openRegistryImage(ref: DockerReference, opts: RegistryOptions & { platform?: Partial<Platform> }): Promise<RegistryImage> {
  const client = await clientFor(ref, opts);
  // A tag beside a digest is only a comment (the digest decides); store the image by digest, as Buildah does.
  const named = ref.digest !== undefined ? { domain: ref.domain, path: ref.path, digest: ref.digest } : withDefaultTag(ref);
  const m = await fetchImageManifest(client, ref, opts.platform);
  const configBytes = await readSmallBlob(client, ref.path, m.manifest.config, `config of ${formatDockerReference(named)}`);
  const config: ImageConfig = checkImageConfig(parseJson(configBytes, 'image config'), `config of ${formatDockerReference(named)}`);
  return {
    manifestBytes: m.bytes,
    manifestMediaType: m.mediaType,
    manifest: m.manifest,
    configBytes,
    config,
    manifestDigest: m.digest,
    repository: `${ref.domain}/${ref.path}`,
    name: formatDockerReference(named),
    // importImage stores layers through a verifying writer: hashing here too would be a second pass.
    openLayer: (desc: Descriptor): Promise<Readable> => client.getBlob(ref.path, desc, { verify: false }),
    close: async () => {},
  };
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new TbahError('corrupt', `${what} is not valid JSON`);
  }
}

/** Passes bytes through, reporting progress every 256 KiB and at the end. */
export function countingStream(d: Pick<Descriptor, 'digest' | 'size'>, progress: (ev: TransferEvent) => void): Transform {
  let bytes = 0;
  let last = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      bytes += chunk.length;
      if (bytes - last >= 256 * 1024 || bytes === d.size) {
        last = bytes;
        progress({ kind: 'blob-bytes', digest: d.digest, bytes });
      }
      cb(null, chunk);
    },
  });
}
