/**
 * Independent image validator for integration tests: an oracle that checks what
 * tbah writes without using any of tbah's own code (only Node built-ins, GNU tar
 * for unpacking archives and the zstd CLI for zstd layers). Every failure throws
 * a plain Error whose message names the image, the object and what is wrong.
 */
import { spawn, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, readFile, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip } from 'node:zlib';

export interface ValidatedLayer {
  /** Digest of the blob as stored (for docker-archive: of the layer file, which is the uncompressed tar). */
  digest: string;
  /** sha256 of the uncompressed tar. */
  diffId: string;
  /** Size of the blob as stored. */
  size: number;
  mediaType: string;
  /** Entry names exactly as recorded in the tar (PAX path / GNU long name applied), in archive order. */
  entries: string[];
}

export interface ValidatedImage {
  /** Digest of the manifest blob; '' for docker-archive, which has no registry manifest. */
  manifestDigest: string;
  /** The image manifest; for docker-archive, the selected manifest.json entry. */
  manifest: any;
  config: any;
  configDigest: string;
  layers: ValidatedLayer[];
}

const execFileP = promisify(execFile);

const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
} as const;

/** Which config and layer media types each manifest type may reference. */
const FAMILY: Record<string, { config: string; layers: Set<string> }> = {
  [MT.ociManifest]: {
    config: MT.ociConfig,
    layers: new Set([
      'application/vnd.oci.image.layer.v1.tar',
      'application/vnd.oci.image.layer.v1.tar+gzip',
      'application/vnd.oci.image.layer.v1.tar+zstd',
    ]),
  },
  [MT.dockerManifest]: {
    config: MT.dockerConfig,
    layers: new Set([MT.dockerLayer, 'application/vnd.docker.image.rootfs.diff.tar.gzip']),
  },
};

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

// ---------------------------------------------------------------- public API

/** Validate an OCI image layout directory; `ref` selects the index entry by org.opencontainers.image.ref.name. */
export async function validateOciLayout(dir: string, ref?: string): Promise<ValidatedImage> {
  const where = `oci layout ${dir}`;
  const layout = await readJson(path.join(dir, 'oci-layout'), `${where}: oci-layout`);
  if (!isObject(layout) || layout.imageLayoutVersion !== '1.0.0') {
    throw new Error(`${where}: oci-layout is ${JSON.stringify(layout)}, expected {"imageLayoutVersion":"1.0.0"}`);
  }
  const index = await readJson(path.join(dir, 'index.json'), `${where}: index.json`);
  if (!isObject(index)) throw new Error(`${where}: index.json is not a JSON object`);
  if (index.schemaVersion !== 2) throw new Error(`${where}: index.json schemaVersion is ${JSON.stringify(index.schemaVersion)}, expected 2`);
  // image-spec makes this a SHOULD, and skopeo 1.9 omits it, so only a wrong value fails.
  if (index.mediaType !== undefined && index.mediaType !== MT.ociIndex) {
    throw new Error(`${where}: index.json mediaType is ${JSON.stringify(index.mediaType)}, expected ${MT.ociIndex}`);
  }
  if (!Array.isArray(index.manifests)) throw new Error(`${where}: index.json has no manifests array`);
  index.manifests.forEach((d: unknown, i: number) => checkDescriptor(d, `${where}: index.json manifests[${i}]`));

  const desc = selectManifest(index.manifests, ref, where);
  const label = `${where}: manifest ${desc.digest}`;
  if (desc.mediaType === MT.ociIndex || desc.mediaType === MT.dockerManifestList) {
    throw new Error(`${label} is a nested index (${desc.mediaType}); this validator checks single-image manifests only`);
  }
  const family = FAMILY[desc.mediaType];
  if (!family) throw new Error(`${label}: index descriptor mediaType ${JSON.stringify(desc.mediaType)} is not an image manifest type`);

  const manifest = await readJsonBlob(dir, desc, label);
  if (!isObject(manifest)) throw new Error(`${label} is not a JSON object`);
  if (manifest.schemaVersion !== 2) throw new Error(`${label}: schemaVersion is ${JSON.stringify(manifest.schemaVersion)}, expected 2`);
  // OCI makes the manifest's own mediaType optional; Docker schema2 requires it. Either way it must agree with the index.
  if (manifest.mediaType !== undefined || desc.mediaType === MT.dockerManifest) {
    if (manifest.mediaType !== desc.mediaType) {
      throw new Error(`${label}: mediaType ${JSON.stringify(manifest.mediaType)} differs from the index descriptor's ${desc.mediaType}`);
    }
  }
  checkDescriptor(manifest.config, `${label}: config descriptor`);
  if (manifest.config.mediaType !== family.config) {
    throw new Error(`${label}: config mediaType ${manifest.config.mediaType} does not belong with manifest type ${desc.mediaType} (expected ${family.config})`);
  }
  if (!Array.isArray(manifest.layers)) throw new Error(`${label}: layers is not an array`);
  manifest.layers.forEach((l: unknown, i: number) => {
    checkDescriptor(l, `${label}: layers[${i}]`);
    const mt = (l as Descriptor).mediaType;
    if (!family.layers.has(mt)) {
      throw new Error(`${label}: layers[${i}] mediaType ${mt} does not belong with manifest type ${desc.mediaType} (expected one of ${[...family.layers].join(', ')})`);
    }
  });

  const configLabel = `${where}: config ${manifest.config.digest}`;
  const config = await readJsonBlob(dir, manifest.config, configLabel);
  const diffIds = checkConfig(config, manifest.layers.length, configLabel);

  const layers: ValidatedLayer[] = [];
  for (const [i, l] of (manifest.layers as Descriptor[]).entries()) {
    const lLabel = `${where}: layer ${i} (${l.digest})`;
    const file = await verifyBlob(dir, l, lLabel);
    const { diffId, entries } = await readLayer(file, compressionOf(l.mediaType), lLabel);
    if (diffId !== diffIds[i]) {
      throw new Error(`${lLabel}: uncompressed tar hashes to ${diffId} but config rootfs.diff_ids[${i}] is ${diffIds[i]}`);
    }
    layers.push({ digest: l.digest, diffId, size: l.size, mediaType: l.mediaType, entries });
  }
  return { manifestDigest: desc.digest, manifest, config, configDigest: manifest.config.digest, layers };
}

/** Validate an oci-archive (a tar of an OCI layout): extract with `tar` to a temp dir, then validateOciLayout. */
export async function validateOciArchive(file: string, ref?: string): Promise<ValidatedImage> {
  return withExtracted(file, 'oci-archive', async (dir) => {
    try {
      return await validateOciLayout(dir, ref);
    } catch (err) {
      // Name the archive, not the throwaway directory it was unpacked into.
      throw new Error((err as Error).message.replace(`oci layout ${dir}`, `oci-archive ${file}`));
    }
  });
}

/** Validate a docker-archive (`docker save` format). `tag` selects the manifest.json entry by RepoTags. */
export async function validateDockerArchive(file: string, tag?: string): Promise<ValidatedImage> {
  return withExtracted(file, 'docker-archive', async (dir) => {
    const where = `docker-archive ${file}`;
    const list = await readJson(path.join(dir, 'manifest.json'), `${where}: manifest.json`);
    if (!Array.isArray(list) || list.length === 0) throw new Error(`${where}: manifest.json is not a non-empty JSON array`);
    list.forEach((e: unknown, i: number) => {
      const l = `${where}: manifest.json[${i}]`;
      if (!isObject(e)) throw new Error(`${l} is not an object`);
      if (typeof e.Config !== 'string') throw new Error(`${l}.Config is not a string`);
      if (!Array.isArray(e.Layers) || !e.Layers.every((p: unknown) => typeof p === 'string')) throw new Error(`${l}.Layers is not an array of paths`);
      if (e.RepoTags != null && (!Array.isArray(e.RepoTags) || !e.RepoTags.every((t: unknown) => typeof t === 'string'))) {
        throw new Error(`${l}.RepoTags is not an array of strings`);
      }
    });

    let entry: any;
    if (tag !== undefined) {
      entry = list.find((e: any) => (e.RepoTags ?? []).some((t: string) => sameTag(t, tag)));
      if (!entry) {
        const all = list.flatMap((e: any) => e.RepoTags ?? []);
        throw new Error(`${where}: no manifest.json entry has RepoTags containing ${JSON.stringify(tag)} (RepoTags: ${JSON.stringify(all)})`);
      }
    } else {
      if (list.length !== 1) throw new Error(`${where}: manifest.json holds ${list.length} images; pass a tag to choose one`);
      entry = list[0];
    }

    const cfgPath = await insidePath(dir, entry.Config, `${where}: Config`);
    const cfgHex = path.posix.basename(entry.Config).replace(/\.json$/, '');
    if (!/^[a-f0-9]{64}$/.test(cfgHex)) throw new Error(`${where}: Config file name ${entry.Config} does not carry the config's sha256`);
    const cfgHash = await hashFile(cfgPath, 'sha256', `${where}: Config ${entry.Config}`);
    const configDigest = `sha256:${cfgHex}`;
    if (cfgHash.digest !== configDigest) {
      throw new Error(`${where}: Config ${entry.Config} hashes to ${cfgHash.digest}, which does not match its name`);
    }
    const configLabel = `${where}: config ${entry.Config}`;
    const config = parseJson(await readFile(cfgPath), configLabel);
    const diffIds = checkConfig(config, entry.Layers.length, configLabel);

    const layers: ValidatedLayer[] = [];
    for (const [i, rel] of (entry.Layers as string[]).entries()) {
      const lLabel = `${where}: layer ${i} (${rel})`;
      const lPath = await insidePath(dir, rel, lLabel);
      // docker-archive layers are uncompressed tars, so the file's hash is the diff_id.
      if (await startsWithMagic(lPath)) {
        throw new Error(`${lLabel} is compressed (gzip/zstd magic); docker-archive layers must be uncompressed tars whose sha256 is the diff_id`);
      }
      const { diffId, entries } = await readLayer(lPath, 'none', lLabel);
      if (diffId !== diffIds[i]) throw new Error(`${lLabel} hashes to ${diffId} but config rootfs.diff_ids[${i}] is ${diffIds[i]}`);
      const size = (await stat(lPath)).size;
      layers.push({ digest: diffId, diffId, size, mediaType: MT.dockerLayer, entries });
    }

    await checkRepositories(dir, tag, where);
    return { manifestDigest: '', manifest: entry, config, configDigest, layers };
  });
}

// ---------------------------------------------------------------- checks

interface Descriptor { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }

function checkDescriptor(d: any, label: string): asserts d is Descriptor {
  if (!isObject(d)) throw new Error(`${label} is not an object`);
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw new Error(`${label} has no mediaType`);
  if (typeof d.digest !== 'string' || !DIGEST_RE.test(d.digest)) throw new Error(`${label} digest ${JSON.stringify(d.digest)} is not a valid sha256/sha512 digest`);
  if (!Number.isSafeInteger(d.size) || d.size < 0) throw new Error(`${label} size ${JSON.stringify(d.size)} is not a non-negative integer`);
}

function selectManifest(manifests: Descriptor[], ref: string | undefined, where: string): Descriptor {
  const REF = 'org.opencontainers.image.ref.name';
  if (ref === undefined) {
    if (manifests.length !== 1) throw new Error(`${where}: index.json holds ${manifests.length} manifests; expected exactly one (or pass a ref)`);
    return manifests[0]!;
  }
  const hits = manifests.filter((m) => m.annotations?.[REF] === ref);
  if (hits.length === 0) {
    const names = manifests.map((m) => m.annotations?.[REF]).filter((n) => n !== undefined);
    throw new Error(`${where}: no index.json entry has ${REF}=${JSON.stringify(ref)} (present: ${JSON.stringify(names)})`);
  }
  if (hits.length > 1) throw new Error(`${where}: ${hits.length} index.json entries have ${REF}=${JSON.stringify(ref)}`);
  return hits[0]!;
}

/** Structural config checks; returns rootfs.diff_ids. */
function checkConfig(config: any, layerCount: number, label: string): string[] {
  if (!isObject(config)) throw new Error(`${label} is not a JSON object`);
  for (const k of ['architecture', 'os'] as const) {
    if (typeof config[k] !== 'string' || config[k] === '') throw new Error(`${label}: ${k} is missing or empty`);
  }
  const rootfs = config.rootfs;
  if (!isObject(rootfs)) throw new Error(`${label}: rootfs is missing`);
  if (rootfs.type !== 'layers') throw new Error(`${label}: rootfs.type is ${JSON.stringify(rootfs.type)}, expected "layers"`);
  if (!Array.isArray(rootfs.diff_ids)) throw new Error(`${label}: rootfs.diff_ids is not an array`);
  if (rootfs.diff_ids.length !== layerCount) {
    throw new Error(`${label}: rootfs.diff_ids has ${rootfs.diff_ids.length} entries but the image has ${layerCount} layers`);
  }
  rootfs.diff_ids.forEach((d: unknown, i: number) => {
    if (typeof d !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(d)) throw new Error(`${label}: rootfs.diff_ids[${i}] ${JSON.stringify(d)} is not a sha256 digest`);
  });
  if (config.history !== undefined) {
    if (!Array.isArray(config.history)) throw new Error(`${label}: history is not an array`);
    const nonEmpty = config.history.filter((h: any) => !(isObject(h) && h.empty_layer === true)).length;
    if (nonEmpty !== layerCount) {
      throw new Error(`${label}: history has ${nonEmpty} entries without empty_layer but the image has ${layerCount} layers`);
    }
  }
  return rootfs.diff_ids;
}

/** docker.io/library/x:t, docker.io/x:t and x:t all name the same tag in `docker save` output. */
function sameTag(a: string, b: string): boolean {
  const norm = (t: string) => t.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
  return a === b || norm(a) === norm(b);
}

/** The optional legacy `repositories` file: {repo: {tag: id}}; if a tag was asked for, it must be listed. */
async function checkRepositories(dir: string, tag: string | undefined, where: string): Promise<void> {
  const file = path.join(dir, 'repositories');
  if (!(await exists(file))) return;
  const repos = await readJson(file, `${where}: repositories`);
  if (!isObject(repos)) throw new Error(`${where}: repositories is not a JSON object`);
  for (const [repo, tags] of Object.entries(repos)) {
    if (!isObject(tags) || !Object.values(tags).every((v) => typeof v === 'string')) {
      throw new Error(`${where}: repositories[${JSON.stringify(repo)}] is not an object of tag → id strings`);
    }
  }
  if (tag === undefined) return;
  const at = tag.lastIndexOf(':');
  if (at <= tag.lastIndexOf('/')) return; // no explicit tag part to look up
  const [repo, t] = [tag.slice(0, at), tag.slice(at + 1)];
  const hit = Object.entries(repos).some(([r, tags]) => sameTag(`${r}:x`, `${repo}:x`) && Object.hasOwn(tags as object, t));
  if (!hit) throw new Error(`${where}: repositories does not list ${repo} with tag ${t}`);
}

// ---------------------------------------------------------------- blobs and files

/** Check a descriptor's blob exists at blobs/<alg>/<hex> with the right size and digest; returns its path. */
async function verifyBlob(dir: string, d: Descriptor, label: string): Promise<string> {
  const [alg, hex] = d.digest.split(':') as [string, string];
  const file = path.join(dir, 'blobs', alg, hex);
  let st;
  try {
    st = await stat(file);
  } catch {
    throw new Error(`${label}: blob missing at blobs/${alg}/${hex}`);
  }
  if (!st.isFile()) throw new Error(`${label}: blobs/${alg}/${hex} is not a regular file`);
  if (st.size !== d.size) throw new Error(`${label}: blob is ${st.size} bytes but the descriptor says ${d.size}`);
  const h = await hashFile(file, alg, label);
  if (h.digest !== d.digest) throw new Error(`${label}: blob content hashes to ${h.digest}, not the descriptor digest`);
  return file;
}

async function readJsonBlob(dir: string, d: Descriptor, label: string): Promise<any> {
  const file = await verifyBlob(dir, d, label);
  return parseJson(await readFile(file), label);
}

async function hashFile(file: string, alg: string, label: string): Promise<{ digest: string; size: number }> {
  const h = createHash(alg);
  let size = 0;
  try {
    for await (const chunk of createReadStream(file)) {
      h.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch (err) {
    throw new Error(`${label}: cannot read ${file}: ${(err as Error).message}`);
  }
  return { digest: `${alg}:${h.digest('hex')}`, size };
}

async function readJson(file: string, label: string): Promise<any> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (err) {
    throw new Error(`${label}: missing or unreadable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseJson(buf, label);
}

function parseJson(buf: Buffer, label: string): any {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new Error(`${label}: not valid JSON (${(err as Error).message})`);
  }
}

/** Resolve an archive-relative path, refusing anything (including symlinks) that leads outside the archive. */
async function insidePath(dir: string, rel: string, label: string): Promise<string> {
  if (path.posix.isAbsolute(rel) || rel.split('/').includes('..')) throw new Error(`${label}: path ${JSON.stringify(rel)} leaves the archive`);
  const p = path.join(dir, rel);
  let real: string;
  try {
    real = await realpath(p);
  } catch {
    throw new Error(`${label}: ${rel} is missing from the archive`);
  }
  const root = await realpath(dir);
  if (!real.startsWith(root + path.sep)) throw new Error(`${label}: ${rel} resolves outside the archive`);
  return real;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function startsWithMagic(file: string): Promise<boolean> {
  const head = Buffer.alloc(4);
  const fh = await open(file, 'r');
  try {
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    if (bytesRead < 4) return false;
  } finally {
    await fh.close();
  }
  return (head[0] === 0x1f && head[1] === 0x8b) || head.readUInt32LE(0) === 0xfd2fb528;
}

async function withExtracted<T>(file: string, kind: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tbah-validate-'));
  try {
    try {
      await execFileP('tar', ['-xf', file, '-C', dir, '--no-same-owner']);
    } catch (err) {
      throw new Error(`${kind} ${file}: GNU tar cannot extract it: ${String((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`);
    }
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- layers

type Compression = 'gzip' | 'zstd' | 'none';

function compressionOf(mediaType: string): Compression {
  if (mediaType.endsWith('+gzip') || mediaType.endsWith('.gzip')) return 'gzip';
  if (mediaType.endsWith('+zstd') || mediaType.endsWith('.zstd')) return 'zstd';
  return 'none';
}

let zstdAvailable: Promise<boolean> | undefined;
function haveZstd(): Promise<boolean> {
  zstdAvailable ??= execFileP('zstd', ['--version']).then(() => true, () => false);
  return zstdAvailable;
}

/** Stream a layer through its decompressor once, hashing the tar and listing its entries. */
async function readLayer(file: string, compression: Compression, label: string): Promise<{ diffId: string; entries: string[] }> {
  const hash = createHash('sha256');
  const lister = new TarLister(label);
  // pipeline() reports a failing sink as an abort of the upstream stages, so keep the sink's own error.
  let tarError: unknown;
  const sink = async (src: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of src) {
      hash.update(chunk);
      try {
        lister.push(chunk);
      } catch (err) {
        tarError = err;
        throw err;
      }
    }
  };
  if (compression === 'none') {
    if (await startsWithMagic(file)) throw new Error(`${label}: media type says uncompressed tar but the blob starts with gzip/zstd magic`);
    await pipeline(createReadStream(file), sink).catch((err) => {
      throw tarError ?? err;
    });
  } else if (compression === 'gzip') {
    try {
      await pipeline(createReadStream(file), createGunzip(), sink);
    } catch (err) {
      if (tarError) throw tarError;
      throw new Error(`${label}: cannot gunzip the blob: ${(err as Error).message}`);
    }
  } else {
    if (!(await haveZstd())) throw new Error(`${label}: layer is zstd-compressed but the zstd CLI is not installed, so it cannot be checked`);
    await zstdDecompress(file, sink, label);
  }
  lister.end();
  return { diffId: `sha256:${hash.digest('hex')}`, entries: lister.entries };
}

async function zstdDecompress(file: string, sink: (src: AsyncIterable<Buffer>) => Promise<void>, label: string): Promise<void> {
  const child = spawn('zstd', ['-dc', '-q', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  try {
    await sink(child.stdout as Readable);
  } catch (err) {
    child.kill();
    await exited.catch(() => undefined);
    throw err;
  }
  const code = await exited;
  if (code !== 0) throw new Error(`${label}: zstd cannot decompress the blob (exit ${code}): ${stderr.trim()}`);
}

/**
 * Minimal tar header walk: verifies each header checksum, follows PAX (`x`) and
 * GNU long-name (`L`/`K`) records, and requires the two-zero-block end marker.
 * Only headers and small metadata records are buffered; file data is skipped.
 */
class TarLister {
  readonly entries: string[] = [];
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private skip = 0; // file data + padding still to discard
  private collect = 0; // size of a metadata record body being gathered (0 = reading headers)
  private collectPad = 0;
  private metaType = '';
  private pax: Record<string, string> = {};
  private longName: string | undefined;
  private zeroBlocks = 0;
  private done = false;
  private offset = 0; // bytes consumed, for messages
  private last = '(none)';

  constructor(private readonly label: string) {}

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length && !this.done) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - off);
        this.skip -= n;
        off += n;
        this.offset += n;
        continue;
      }
      const want = this.collect > 0 ? this.collect : 512;
      const n = Math.min(want - this.pendingLen, chunk.length - off);
      this.pending.push(chunk.subarray(off, off + n));
      this.pendingLen += n;
      off += n;
      this.offset += n;
      if (this.pendingLen < want) continue;
      const block = Buffer.concat(this.pending, this.pendingLen);
      this.pending = [];
      this.pendingLen = 0;
      if (this.collect > 0) {
        this.collect = 0;
        this.skip = this.collectPad;
        this.onMeta(block);
      } else {
        this.onHeader(block);
      }
    }
    // Bytes after the end marker are record padding; readers ignore them.
  }

  end(): void {
    if (this.done) return;
    if (this.skip > 0 || this.pendingLen > 0 || this.collect > 0) {
      throw new Error(`${this.label}: tar stream is truncated (ends inside the entry after ${JSON.stringify(this.last)})`);
    }
    throw new Error(`${this.label}: tar stream ends without the end-of-archive marker (two zero blocks) after ${this.entries.length} entries`);
  }

  private fail(what: string): never {
    throw new Error(`${this.label}: tar record ending at offset ${this.offset} (after entry ${JSON.stringify(this.last)}): ${what}`);
  }

  private onHeader(b: Buffer): void {
    if (b.every((x) => x === 0)) {
      if (++this.zeroBlocks === 2) this.done = true;
      return;
    }
    if (this.zeroBlocks > 0) this.fail('a lone zero block precedes more entries (readers stop at it, hiding the rest)');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i]!;
    const stored = this.num(b, 148, 8, 'checksum');
    if (stored !== sum) this.fail(`checksum ${stored} does not match computed ${sum}`);

    const type = String.fromCharCode(b[156]!);
    const ustar = b.toString('latin1', 257, 263) === 'ustar\0'; // POSIX; GNU ("ustar  \0") reuses the prefix field
    const headerSize = this.num(b, 124, 12, 'size');
    const size = this.pax.size !== undefined ? Number(this.pax.size) : headerSize;
    if (!Number.isSafeInteger(size) || size < 0) this.fail(`invalid size ${this.pax.size}`);

    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (size > 1 << 20) this.fail(`metadata record of ${size} bytes is implausibly large`);
      this.metaType = type;
      this.collectPad = pad(size) - size;
      if (size === 0) this.onMeta(Buffer.alloc(0));
      else this.collect = size;
      return;
    }

    let name = cstr(b, 0, 100);
    if (ustar) {
      const prefix = cstr(b, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (this.longName !== undefined) name = this.longName;
    if (this.pax.path !== undefined) name = this.pax.path;
    if (name === '') this.fail('entry has an empty name');
    this.entries.push(name);
    this.last = name;
    this.pax = {};
    this.longName = undefined;
    // As Go's archive/tar: these types carry no data whatever the size field says.
    this.skip = '123456'.includes(type) ? 0 : pad(size);
  }

  private onMeta(body: Buffer): void {
    if (this.metaType === 'L') this.longName = cstr(body, 0, body.length);
    else if (this.metaType === 'x') this.pax = { ...this.pax, ...parsePax(body, (m) => this.fail(m)) };
    else if (this.metaType === 'g') parsePax(body, (m) => this.fail(m)); // validated, not applied to names
    // 'K' (long link name) does not affect entry names.
  }

  private num(b: Buffer, off: number, len: number, field: string): number {
    if (b[off]! & 0x80) {
      // GNU base-256 for values that do not fit in octal.
      let v = b[off]! & 0x7f;
      for (let i = 1; i < len; i++) v = v * 256 + b[off + i]!;
      return v;
    }
    const s = b.toString('latin1', off, off + len).replace(/[\0 ]+$/, '').replace(/^ +/, '');
    if (s === '') return 0;
    if (!/^[0-7]+$/.test(s)) this.fail(`${field} field ${JSON.stringify(s)} is not octal`);
    return parseInt(s, 8);
  }
}

function parsePax(body: Buffer, fail: (m: string) => never): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    if (body[i] === 0) break;
    const sp = body.indexOf(0x20, i);
    if (sp < 0) fail('PAX record without a length');
    const len = Number(body.toString('latin1', i, sp));
    if (!Number.isSafeInteger(len) || len <= sp - i || i + len > body.length || body[i + len - 1] !== 0x0a) fail('malformed PAX record');
    const rec = body.subarray(sp + 1, i + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) fail('PAX record without "="');
    out[rec.toString('utf8', 0, eq)] = rec.toString('utf8', eq + 1);
    i += len;
  }
  return out;
}

function cstr(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

function pad(n: number): number {
  return Math.ceil(n / 512) * 512;
}
