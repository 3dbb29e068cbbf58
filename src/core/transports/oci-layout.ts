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
import { fsyncDir, pathExists, tempName, writeFileAtomic, writeJsonAtomic } from '../util/fsx.js';
import { type SourceImage, choosePlatform } from './source.js';
import { chain } from '../util/streams.js';

export const LAYOUT_FILE_CONTENT = '{"imageLayoutVersion":"1.0.0"}';

async function readVerified(dir: string, d: Descriptor, what: string): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await fsp.readFile(blobPath(path.join(dir, 'blobs'), d.digest));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new TbahError('corrupt', `${what} ${d.digest} is missing from ${dir}`, { hint: 'the OCI layout is incomplete' });
    throw err;
  }
  if (sha256Digest(data) !== d.digest || data.length !== d.size) {
    throw new TbahError('corrupt', `${what} ${d.digest} in ${dir} does not match its digest or size`, { hint: 'the OCI layout is corrupt' });
  }
  return data;
}

/** Open an image in an OCI layout. `ref` selects by org.opencontainers.image.ref.name. */
export async function openOciLayout(dir: string, ref: string | undefined, label: string): Promise<SourceImage> {
  let indexBytes: string;
  try {
    indexBytes = await fsp.readFile(path.join(dir, 'index.json'), 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) {
      throw new TbahError('not-found', `${label}: no OCI image layout at ${dir} (index.json is missing)`, { hint: 'check the path; an OCI layout directory holds oci-layout, index.json and blobs/' });
    }
    throw err;
  }
  const index = checkIndex(JSON.parse(indexBytes), `${dir}/index.json`);
  let desc: Descriptor | undefined;
  if (ref !== undefined) {
    desc = index.manifests.find((m) => m.annotations?.[REF_NAME] === ref);
    if (!desc) {
      const refs = index.manifests.map((m) => m.annotations?.[REF_NAME]).filter(Boolean);
      throw new TbahError('not-found', `${label}: no image named "${ref}" in ${dir}`, { hint: refs.length ? `it has: ${refs.join(', ')}` : 'the layout has no named images; leave out the :ref' });
    }
  } else if (index.manifests.length === 1) {
    desc = index.manifests[0]!;
  } else {
    throw new TbahError('invalid-reference', `${label}: ${dir} holds ${index.manifests.length} images; say which one`, { hint: `use oci:${dir}:REF` });
  }
  if (isIndexMediaType(desc.mediaType)) {
    const inner = checkIndex(JSON.parse((await readVerified(dir, desc, 'index')).toString('utf8')), `index ${desc.digest}`);
    desc = choosePlatform(inner, undefined, `${label}`);
  }
  const manifestBytes = await readVerified(dir, desc, 'manifest');
  const manifest = checkManifest(JSON.parse(manifestBytes.toString('utf8')), `manifest ${desc.digest}`);
  const configBytes = await readVerified(dir, manifest.config, 'config');
  const config = checkImageConfig(JSON.parse(configBytes.toString('utf8')), `config ${manifest.config.digest}`);
  return {
    manifestBytes,
    manifestMediaType: manifest.mediaType ?? desc.mediaType,
    manifest,
    configBytes,
    config,
    async openLayer(d: Descriptor): Promise<Readable> {
      const file = blobPath(path.join(dir, 'blobs'), d.digest);
      if (!(await pathExists(file))) throw new TbahError('corrupt', `layer ${d.digest} is missing from ${dir}`, { hint: 'the OCI layout is incomplete' });
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
  await fsp.mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const d of manifest.blobs) await placeBlob(blobs.blobFile(d), blobPath(path.join(dir, 'blobs'), d));
  const layoutFile = path.join(dir, 'oci-layout');
  if (!(await pathExists(layoutFile))) await writeFileAtomic(layoutFile, LAYOUT_FILE_CONTENT);
  const indexFile = path.join(dir, 'index.json');
  let index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
  if (await pathExists(indexFile)) index = checkIndex(JSON.parse(await fsp.readFile(indexFile, 'utf8')), indexFile);
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
