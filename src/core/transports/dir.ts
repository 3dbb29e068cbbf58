/**
 * The `dir:PATH` transport: containers/image's directory format, as skopeo
 * and Buildah write it. One image per directory: `version` holds
 * "Directory Transport Version: 1.1\n", `manifest.json` the manifest bytes
 * (OCI or Docker schema 2, kept as they are so the digest is kept), and every
 * blob (layers and config) is a file named by its hex digest without the
 * algorithm. A manifest list in `manifest.json` has its image manifests
 * beside it as `HEX.manifest.json`.
 */
import { constants, createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { TbahError, isErrno } from '../errors.js';
import {
  type Descriptor, type Digest, MediaType, checkImageConfig, checkIndex, checkManifest, digestHex, isIndexMediaType, sha256Digest,
} from '../oci.js';
import { fsyncDir, pathExists, tempName, writeFileAtomic } from '../util/fsx.js';
import { type SourceImage, choosePlatform } from './source.js';

export const DIR_VERSION = 'Directory Transport Version: 1.1\n';
const VERSION_FILE = 'version';
const MANIFEST_FILE = 'manifest.json';

const SCHEMA1 = new Set(['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws']);

/** A blob's file in the directory: its hex digest (sha256 only, as format 1.1 names them). */
export function dirBlobPath(dir: string, d: Digest): string {
  if (!d.startsWith('sha256:')) throw new TbahError('unsupported', `dir: holds sha256 blobs only, not ${d}`);
  return path.join(dir, digestHex(d));
}

async function readVerified(dir: string, file: string, d: Pick<Descriptor, 'digest' | 'size'>, what: string): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await fsp.readFile(path.join(dir, file));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new TbahError('corrupt', `${what} ${d.digest} is missing from ${dir}`, { hint: 'the dir: image is incomplete' });
    throw err;
  }
  if (sha256Digest(data) !== d.digest || data.length !== d.size) {
    throw new TbahError('corrupt', `${what} ${d.digest} in ${dir} does not match its digest or size`, { hint: 'the dir: image is corrupt' });
  }
  return data;
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new TbahError('corrupt', `${what} is not valid JSON`);
  }
}

/** The media type a manifest document declares (OCI manifests may leave it out). */
function declaredType(doc: unknown): string {
  const o = doc as { mediaType?: unknown; manifests?: unknown; schemaVersion?: unknown };
  if (typeof o.mediaType === 'string') return o.mediaType;
  if (o.schemaVersion === 1) return 'application/vnd.docker.distribution.manifest.v1+json';
  return Array.isArray(o.manifests) ? MediaType.ociIndex : MediaType.ociManifest;
}

/** Open the image in a `dir:` directory for import; layers are read on demand (the importer verifies them). */
export async function openDirImage(dir: string, label: string): Promise<SourceImage> {
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(path.join(dir, MANIFEST_FILE));
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) {
      throw new TbahError('not-found', `${label}: no dir: image at ${dir} (manifest.json is missing)`, {
        hint: 'check the path; a dir: image holds version, manifest.json and one file per blob (skopeo copy … dir:PATH writes one)',
      });
    }
    throw err;
  }
  let doc = parseJson(bytes, `${dir}/${MANIFEST_FILE}`);
  let mediaType = declaredType(doc);
  if (isIndexMediaType(mediaType)) {
    const desc = choosePlatform(checkIndex(doc, `${dir}/${MANIFEST_FILE}`), undefined, label);
    bytes = await readVerified(dir, `${digestHex(desc.digest)}.manifest.json`, desc, 'manifest');
    doc = parseJson(bytes, `manifest ${desc.digest}`);
    mediaType = declaredType(doc);
  }
  if (SCHEMA1.has(mediaType)) {
    throw new TbahError('unsupported', `${label} has a Docker schema 1 manifest, which tbah does not read`, { hint: 'copy it again with --format v2s2 or oci' });
  }
  if (mediaType !== MediaType.ociManifest && mediaType !== MediaType.dockerManifest) {
    throw new TbahError('unsupported', `${label}: manifest.json is a ${mediaType}, not a container image`);
  }
  const manifest = checkManifest(doc, `${dir}/${MANIFEST_FILE}`);
  const configBytes = await readVerified(dir, digestHex(manifest.config.digest), manifest.config, 'config');
  const config = checkImageConfig(parseJson(configBytes, 'image config'), `config ${manifest.config.digest}`);
  return {
    manifestBytes: bytes,
    manifestMediaType: mediaType,
    manifest,
    configBytes,
    config,
    async openLayer(d: Descriptor): Promise<Readable> {
      const file = dirBlobPath(dir, d.digest);
      if (!(await pathExists(file))) throw new TbahError('corrupt', `layer ${d.digest} is missing from ${dir}`, { hint: 'the dir: image is incomplete' });
      return createReadStream(file, { highWaterMark: 1 << 20 });
    },
    async close() {},
  };
}

/** What writing a `dir:` image needs: the manifest, and a file in the store for each blob. */
export interface DirImage {
  manifestBytes: Buffer;
  /** Layers, then config: every blob the manifest names. */
  blobs: Digest[];
  /** A host path holding the blob. */
  blobFile(d: Digest): string;
}

/**
 * Write an image into `dir` as containers/image does: a directory that is
 * not empty must already be a `dir:` image (its `version` file says so),
 * whose contents are replaced, so that a wrong path never destroys other
 * files. Blobs are copied (never hard-linked: the output must not share an
 * inode with the store), each durably under a temp name; `manifest.json` is
 * written last, so an interrupted write never looks like an image.
 */
export async function writeDirImage(dir: string, img: DirImage): Promise<void> {
  await prepareDir(dir);
  await writeFileAtomic(path.join(dir, VERSION_FILE), DIR_VERSION);
  for (const d of new Set(img.blobs)) await placeBlob(img.blobFile(d), dirBlobPath(dir, d));
  await writeFileAtomic(path.join(dir, MANIFEST_FILE), img.manifestBytes);
}

async function prepareDir(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) {
      if (isErrno(err, 'ENOTDIR')) throw new TbahError('invalid-argument', `dir:${dir}: ${dir} is not a directory`, { hint: 'give a directory path (created if missing)' });
      throw err;
    }
    await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
    return;
  }
  if (names.length === 0) return;
  const version = await fsp.readFile(path.join(dir, VERSION_FILE), 'utf8').catch(() => undefined);
  if (version !== DIR_VERSION) {
    throw new TbahError('conflict', `dir:${dir}: ${dir} is not empty and is not a dir: image; not overwriting what is there`, {
      hint: 'give a new or empty directory (an existing dir: image is replaced)',
    });
  }
  // One image per directory: the old one goes, its manifest first so a half-removed image never reads as whole.
  await fsp.rm(path.join(dir, MANIFEST_FILE), { force: true });
  for (const n of names) if (n !== MANIFEST_FILE) await fsp.rm(path.join(dir, n), { recursive: true, force: true });
  await fsyncDir(dir);
}

/** Copy durably (reflink where the file system can) under a temp name, then rename into place. */
async function placeBlob(src: string, dest: string): Promise<void> {
  const tmp = tempName(dest);
  try {
    await fsp.copyFile(src, tmp, constants.COPYFILE_FICLONE);
    const fh = await fsp.open(tmp, constants.O_RDONLY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, dest);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(path.dirname(dest));
}
