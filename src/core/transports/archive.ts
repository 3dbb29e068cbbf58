/**
 * `oci-archive:FILE[:ref]` and `docker-archive:FILE[:name:tag|:@N]`.
 * Reading extracts the archive into a private temp dir with the same safe
 * applier layers use (hostile archives cannot write outside it); writing
 * streams blobs into a temp tar that is renamed into place when complete.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { TbahError, errnoError, isErrno } from '../errors.js';
import { applyLayer } from '../layer/apply.js';
import { resolveInRoot } from '../layer/secure-path.js';
import { TarFileWriter } from '../layer/tar-file.js';
import {
  type Descriptor, type Digest, type ImageConfig, type ImageManifest, MAX_LAYERS, MediaType, checkImageConfig, digestHex,
  sha256Digest,
} from '../oci.js';
import { type DockerReference, familiarName, formatDockerReference, parseDockerReference } from '../refs.js';
import { HashCounter, VerifyingStream } from '../util/hashing.js';
import { REF_NAME } from '../store/images.js';
import { removeTree } from '../util/fsx.js';
import { LAYOUT_FILE_CONTENT, openOciLayout, parseSourceJson } from './oci-layout.js';
import type { SourceImage } from './source.js';
import { chain } from '../util/streams.js';

async function extractTo(file: string, dir: string, label: string): Promise<void> {
  try {
    await fsp.access(file);
  } catch {
    throw new TbahError('not-found', `${label}: archive ${file} does not exist`, { hint: 'check the path' });
  }
  await applyLayer(dir, createReadStream(file, { highWaterMark: 1 << 20 }), { ownership: 'ignore' });
}

export async function openOciArchive(file: string, ref: string | undefined, tmp: string, label: string): Promise<SourceImage> {
  try {
    await extractTo(file, tmp, label);
    const src = await openOciLayout(tmp, ref, label, file);
    return { ...src, close: () => removeTree(tmp) };
  } catch (err) {
    await removeTree(tmp);
    throw err;
  }
}

interface DockerArchiveManifestEntry { Config: string; RepoTags?: string[] | null; Layers: string[] }

/** A path inside an extracted archive, refusing names that leave it. */
function inside(dir: string, rel: unknown, label: string): string {
  if (typeof rel !== 'string' || rel === '') throw new TbahError('corrupt', `${label}: manifest.json names a file as ${JSON.stringify(rel)}`, { hint: 'the archive is malformed' });
  const p = path.resolve(dir, rel);
  if (!p.startsWith(dir + path.sep)) throw new TbahError('unsafe-path', `${label}: archive path ${JSON.stringify(rel)} leaves the archive`);
  return p;
}

/** A member file of an extracted docker-archive, which must exist and be a regular file. */
async function member(dir: string, rel: unknown, label: string, file: string): Promise<{ path: string; size: number }> {
  inside(dir, rel, label);
  try {
    // `docker save` links repeated layers to the first copy: follow links, re-rooted in the archive.
    const p = await resolveInRoot(dir, rel as string);
    const st = await fsp.lstat(p);
    if (st.isFile()) return { path: p, size: st.size };
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw errnoError(err, 'reading', file);
  }
  throw new TbahError('corrupt', `${label}: ${file} has no file ${JSON.stringify(rel)}, which its manifest.json names`, { hint: 'the archive is incomplete or malformed' });
}

export async function openDockerArchive(
  file: string, sel: { ref?: DockerReference; index?: number }, tmp: string, label: string,
): Promise<SourceImage> {
  try {
    await extractTo(file, tmp, label);
    let entries: DockerArchiveManifestEntry[];
    try {
      entries = JSON.parse(await fsp.readFile(path.join(tmp, 'manifest.json'), 'utf8')) as DockerArchiveManifestEntry[];
    } catch (err) {
      throw new TbahError('corrupt', `${label}: ${file} is not a docker-archive (manifest.json ${isErrno(err, 'ENOENT') ? 'is missing' : 'is unreadable'})`, { hint: 'write one with `tbah push IMAGE docker-archive:FILE` or `docker save`' });
    }
    if (!Array.isArray(entries) || entries.length === 0) throw new TbahError('corrupt', `${label}: ${file} holds no images`);
    if (entries.some((e) => typeof e !== 'object' || e === null || (e.RepoTags != null && !Array.isArray(e.RepoTags)))) {
      throw new TbahError('corrupt', `${label}: manifest.json of ${file} is malformed`, { hint: 'write one with `tbah push IMAGE docker-archive:FILE` or `docker save`' });
    }
    let entry: DockerArchiveManifestEntry | undefined;
    if (sel.ref) {
      const want = formatDockerReference(sel.ref);
      entry = entries.find((e) => (e.RepoTags ?? []).some((t) => safeNormal(t) === want));
      if (!entry) throw new TbahError('not-found', `${label}: no image tagged ${familiarName(sel.ref)} in ${file}`, { hint: `it has: ${entries.flatMap((e) => e.RepoTags ?? []).join(', ') || 'untagged images only'}` });
    } else if (sel.index !== undefined) {
      entry = entries[sel.index];
      if (!entry) throw new TbahError('not-found', `${label}: ${file} has no image @${sel.index} (it holds ${entries.length})`);
    } else if (entries.length === 1) {
      entry = entries[0]!;
    } else {
      throw new TbahError('invalid-reference', `${label}: ${file} holds ${entries.length} images; say which one`, { hint: `use docker-archive:${file}:NAME:TAG or docker-archive:${file}:@N` });
    }
    if (!Array.isArray(entry.Layers)) throw new TbahError('corrupt', `${label}: manifest.json of ${file} has no Layers list`, { hint: 'the archive is malformed' });
    if (entry.Layers.length > MAX_LAYERS) throw new TbahError('corrupt', `${label}: ${file} has ${entry.Layers.length} layers, more than the ${MAX_LAYERS} tbah accepts`, { hint: 'the archive is hostile or broken' });
    const cfg = await member(tmp, entry.Config, label, file);
    if (cfg.size > 32 << 20) throw new TbahError('corrupt', `${label}: the config in ${file} is ${cfg.size} bytes`, { hint: 'the archive is hostile or broken' });
    const configBytes = await fsp.readFile(cfg.path);
    const config: ImageConfig = checkImageConfig(parseSourceJson(configBytes, `${label} config`), `${label} config`);
    if (config.rootfs.diff_ids.length !== entry.Layers.length) {
      throw new TbahError('corrupt', `${label}: config lists ${config.rootfs.diff_ids.length} layers but the archive has ${entry.Layers.length}`);
    }
    const layerFiles = new Map<Digest, string>();
    const layers: Descriptor[] = [];
    for (const rel of entry.Layers) {
      const { path: lf, size } = await member(tmp, rel, label, file);
      const head = Buffer.alloc(2);
      const fh = await fsp.open(lf, 'r');
      await fh.read(head, 0, 2, 0);
      await fh.close();
      const counter = new HashCounter();
      for await (const _ of chain(createReadStream(lf, { highWaterMark: 1 << 20 }), counter)) { /* hash only */ }
      const gz = head[0] === 0x1f && head[1] === 0x8b;
      layerFiles.set(counter.digest, lf);
      layers.push({ mediaType: gz ? MediaType.ociLayerGzip : MediaType.ociLayer, digest: counter.digest, size });
    }
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: sha256Digest(configBytes), size: configBytes.length },
      layers,
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const tags = entry.RepoTags ?? [];
    const name = sel.ref ? formatDockerReference(sel.ref) : tags.length > 0 ? safeNormal(tags[0]!) : undefined;
    return {
      manifestBytes, manifestMediaType: MediaType.ociManifest, manifest, configBytes, config,
      ...(name ? { name } : {}),
      async openLayer(d: Descriptor): Promise<Readable> {
        const lf = layerFiles.get(d.digest);
        if (!lf) throw new TbahError('internal', `layer ${d.digest} is not in ${file}`);
        return chain(createReadStream(lf, { highWaterMark: 1 << 20 }), new VerifyingStream(d.digest, d.size, 'layer'));
      },
      close: () => removeTree(tmp),
    };
  } catch (err) {
    await removeTree(tmp);
    throw err;
  }
}

function safeNormal(tag: string): string | undefined {
  try {
    return formatDockerReference(parseDockerReference(tag));
  } catch {
    return undefined;
  }
}

/** What the archive writers need from the store. */
export interface ArchiveImage {
  manifestDescriptor: Descriptor;
  manifestBytes: Buffer;
  manifest: ImageManifest;
  configBytes: Buffer;
  openBlob(d: Descriptor): Promise<Readable>;
  /** The uncompressed layer tar and its size (decompressing if stored compressed). */
  openUncompressedLayer(i: number): Promise<{ size: number; stream: Readable }>;
}

export async function writeOciArchive(file: string, img: ArchiveImage, ref: string | undefined): Promise<void> {
  const w = await TarFileWriter.create(file);
  try {
    const idx = {
      schemaVersion: 2, mediaType: MediaType.ociIndex,
      manifests: [{ ...img.manifestDescriptor, ...(ref !== undefined ? { annotations: { [REF_NAME]: ref } } : {}) }],
    };
    await w.file('oci-layout', Buffer.from(LAYOUT_FILE_CONTENT));
    await w.file('index.json', Buffer.from(JSON.stringify(idx)));
    await w.dir('blobs');
    await w.dir('blobs/sha256');
    const seen = new Set<string>();
    const put = async (d: Descriptor, bytes?: Buffer): Promise<void> => {
      if (seen.has(d.digest)) return;
      seen.add(d.digest);
      const name = `blobs/sha256/${digestHex(d.digest)}`;
      if (bytes) await w.file(name, bytes);
      else await w.stream(name, d.size, await img.openBlob(d));
    };
    await put(img.manifestDescriptor, img.manifestBytes);
    await put(img.manifest.config, img.configBytes);
    for (const l of img.manifest.layers) await put(l);
    await w.finish();
  } catch (err) {
    await w.abort();
    throw err;
  }
}

/** `docker save` format: manifest.json, `<config hex>.json`, `<diffID hex>/layer.tar` (uncompressed). */
export async function writeDockerArchive(file: string, img: ArchiveImage, config: ImageConfig, ref: DockerReference | undefined): Promise<void> {
  const w = await TarFileWriter.create(file);
  try {
    const cfgName = `${digestHex(img.manifest.config.digest)}.json`;
    const layerNames: string[] = [];
    for (let i = 0; i < img.manifest.layers.length; i++) {
      const diffId = config.rootfs.diff_ids[i]!;
      const dir = digestHex(diffId);
      const name = `${dir}/layer.tar`;
      if (!layerNames.includes(name)) {
        const { size, stream } = await img.openUncompressedLayer(i);
        await w.dir(dir);
        await w.stream(name, size, chain(stream, new VerifyingStream(diffId, size, 'layer')));
      }
      layerNames.push(name);
    }
    await w.file(cfgName, img.configBytes);
    const manifest = [{ Config: cfgName, RepoTags: ref ? [familiarName(ref)] : [], Layers: layerNames }];
    await w.file('manifest.json', Buffer.from(JSON.stringify(manifest)));
    if (ref && ref.tag) {
      const repo = familiarName({ ...ref, tag: undefined, digest: undefined } as DockerReference);
      const top = layerNames.length > 0 ? path.posix.dirname(layerNames[layerNames.length - 1]!) : digestHex(img.manifest.config.digest);
      await w.file('repositories', Buffer.from(JSON.stringify({ [repo]: { [ref.tag]: top } })));
    }
    await w.finish();
  } catch (err) {
    await w.abort();
    throw err;
  }
}
