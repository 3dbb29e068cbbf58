/** The `oci:DIR[:ref]` transport: read an image from, or write one into, an OCI image layout. */
import { createReadStream, promises as fsp, constants } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { TbahError, errnoError, isErrno } from '../errors.js';
import {
  type Descriptor, type Digest, type ImageIndex, MediaType, checkImageConfig, checkIndex, checkManifest,
  isIndexMediaType, sha256Digest,
} from '../oci.js';
import { blobPath } from '../store/blobs.js';
import { VerifyingStream } from '../util/hashing.js';
import { REF_NAME } from '../store/images.js';
import { fsyncDir, mkdirAll, pathExists, tempName, writeFileAtomic, writeJsonAtomic } from '../util/fsx.js';
import { type SourceImage, choosePlatform } from './source.js';
import { chain } from '../util/streams.js';

export const LAYOUT_FILE_CONTENT = '{"imageLayoutVersion":"1.0.0"}';

/** Manifests, indexes and configs are read whole: bound them (as the registry client does). */
const MAX_JSON_BLOB = 32 << 20;

/** JSON of an image source, or a one-line 'corrupt' error naming it. */
export function parseSourceJson(bytes: Buffer | string, what: string): unknown {
  try {
    return JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch {
    throw new TbahError('corrupt', `${what} is not valid JSON`, { hint: 'the image source is malformed or truncated' });
  }
}

async function readVerified(dir: string, shown: string, d: Descriptor, what: string): Promise<Buffer> {
  const file = blobPath(path.join(dir, 'blobs'), d.digest);
  let data: Buffer;
  try {
    const st = await fsp.stat(file);
    if (!st.isFile() || st.size !== d.size || d.size > MAX_JSON_BLOB) {
      throw new TbahError('corrupt', `${what} ${d.digest} in ${shown} is ${st.isFile() ? `${st.size} bytes, its descriptor says ${d.size}` : 'not a file'}${d.size > MAX_JSON_BLOB ? ` (at most ${MAX_JSON_BLOB} bytes)` : ''}`, { hint: 'the OCI layout is corrupt' });
    }
    data = await fsp.readFile(file);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new TbahError('corrupt', `${what} ${d.digest} is missing from ${shown}`, { hint: 'the OCI layout is incomplete' });
    throw errnoError(err, 'reading', file);
  }
  if (sha256Digest(data) !== d.digest || data.length !== d.size) {
    throw new TbahError('corrupt', `${what} ${d.digest} in ${shown} does not match its digest or size`, { hint: 'the OCI layout is corrupt' });
  }
  return data;
}

/**
 * Open an image in an OCI layout. `ref` selects by org.opencontainers.image.ref.name.
 * `shown` names the layout in messages (an oci-archive's file, not its temp directory).
 */
export async function openOciLayout(dir: string, ref: string | undefined, label: string, shown = dir): Promise<SourceImage> {
  let indexBytes: string;
  try {
    indexBytes = await fsp.readFile(path.join(dir, 'index.json'), 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) {
      throw new TbahError('not-found', `${label}: no OCI image layout at ${shown} (index.json is missing)`, { hint: 'check the path; an OCI layout directory holds oci-layout, index.json and blobs/' });
    }
    throw errnoError(err, 'reading', path.join(dir, 'index.json'));
  }
  const index = checkIndex(parseSourceJson(indexBytes, `${shown}/index.json`), `${shown}/index.json`);
  let desc: Descriptor | undefined;
  let refName: string | undefined;
  if (ref !== undefined) {
    desc = index.manifests.find((m) => m.annotations?.[REF_NAME] === ref);
    if (!desc) {
      const refs = index.manifests.map((m) => m.annotations?.[REF_NAME]).filter(Boolean);
      throw new TbahError('not-found', `${label}: no image named "${ref}" in ${shown}`, { hint: refs.length ? `it has: ${refs.join(', ')}` : 'the layout has no named images; leave out the :ref' });
    }
  } else if (index.manifests.length === 1) {
    desc = index.manifests[0]!;
    refName = desc.annotations?.[REF_NAME];
  } else {
    throw new TbahError('invalid-reference', `${label}: ${shown} holds ${index.manifests.length} images; say which one`, { hint: `use oci:${shown}:REF` });
  }
  if (isIndexMediaType(desc.mediaType)) {
    const inner = checkIndex(parseSourceJson(await readVerified(dir, shown, desc, 'index'), `index ${desc.digest}`), `index ${desc.digest}`);
    desc = choosePlatform(inner, undefined, `${label}`);
  }
  const manifestBytes = await readVerified(dir, shown, desc, 'manifest');
  const manifest = checkManifest(parseSourceJson(manifestBytes, `manifest ${desc.digest}`), `manifest ${desc.digest}`);
  const configBytes = await readVerified(dir, shown, manifest.config, 'config');
  const config = checkImageConfig(parseSourceJson(configBytes, `config ${manifest.config.digest}`), `config ${manifest.config.digest}`);
  return {
    ...(refName !== undefined ? { refName } : {}),
    manifestBytes,
    manifestMediaType: manifest.mediaType ?? desc.mediaType,
    manifest,
    configBytes,
    config,
    async openLayer(d: Descriptor): Promise<Readable> {
      const file = blobPath(path.join(dir, 'blobs'), d.digest);
      if (!(await pathExists(file))) throw new TbahError('corrupt', `layer ${d.digest} is missing from ${shown}`, { hint: 'the OCI layout is incomplete' });
      return chain(createReadStream(file, { highWaterMark: 1 << 20 }), new VerifyingStream(d.digest, d.size, 'layer'));
    },
    async close() {},
  };
}

export interface BlobProvider {
  /** A host path holding the blob (hardlinked or copied into the target). */
  blobFile(d: Digest): string;
}

/** Write (or add to) an OCI layout: blobs first, index.json last. */
export async function writeOciLayout(
  dir: string, blobs: BlobProvider, manifest: { descriptor: Descriptor; blobs: Digest[] }, ref: string | undefined,
): Promise<void> {
  try {
    await writeLayout(dir, blobs, manifest, ref);
  } catch (err) {
    throw errnoError(err, 'writing the OCI layout', dir);
  }
}

async function writeLayout(
  dir: string, blobs: BlobProvider, manifest: { descriptor: Descriptor; blobs: Digest[] }, ref: string | undefined,
): Promise<void> {
  await mkdirAll(path.join(dir, 'blobs', 'sha256'));
  for (const d of manifest.blobs) await placeBlob(blobs.blobFile(d), blobPath(path.join(dir, 'blobs'), d));
  const layoutFile = path.join(dir, 'oci-layout');
  if (!(await pathExists(layoutFile))) await writeFileAtomic(layoutFile, LAYOUT_FILE_CONTENT);
  const indexFile = path.join(dir, 'index.json');
  let index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
  if (await pathExists(indexFile)) index = checkIndex(parseSourceJson(await fsp.readFile(indexFile, 'utf8'), indexFile), indexFile);
  const entry: Descriptor = { mediaType: manifest.descriptor.mediaType, digest: manifest.descriptor.digest, size: manifest.descriptor.size };
  if (ref !== undefined) entry.annotations = { [REF_NAME]: ref };
  const others = index.manifests.filter((m) => ref === undefined
    ? !(m.digest === entry.digest && m.annotations?.[REF_NAME] === undefined)
    : m.annotations?.[REF_NAME] !== ref);
  await writeJsonAtomic(indexFile, { ...index, manifests: [...others, entry] });
}

/**
 * Copy durably (reflink where the file system can). Not a hardlink: the output
 * must never share an inode with the store, or editing it would corrupt the store.
 */
async function placeBlob(src: string, dest: string): Promise<void> {
  if (await pathExists(dest)) return;
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
    await fsp.rm(tmp, { force: true }); // a full disk leaves no half blob behind
    throw err;
  }
  await fsyncDir(path.dirname(dest));
}
