/**
 * The image catalogue: the store's own `index.json`, an OCI image layout index
 * where each name is one descriptor annotated with
 * `org.opencontainers.image.ref.name` (a full name such as
 * `localhost/busybox:1`) and an unnamed image is a descriptor without it.
 * Readers need no lock (the file is replaced atomically); writers hold the
 * store lock for read-modify-write.
 */
import { promises as fsp } from 'node:fs';
import { TbahError, isErrno } from '../errors.js';
import {
  type Descriptor, type Digest, type ImageConfig, type ImageIndex, type ImageManifest,
  MediaType, checkImageConfig, checkManifest, digestHex,
} from '../oci.js';
import { isImageIdPrefix, localCandidates } from '../refs.js';
import { writeJsonAtomic } from '../util/fsx.js';
import type { BlobStore } from './blobs.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';

export interface ImageRecord {
  /** Full names, e.g. `localhost/busybox:1`; empty for a dangling image. */
  names: string[];
  manifestDescriptor: Descriptor;
  manifest: ImageManifest;
  /** The image ID is the digest of its config, as in Buildah and Docker. */
  id: Digest;
  config: ImageConfig;
}

export class ImageCatalog {
  constructor(private readonly indexFile: string, private readonly blobs: BlobStore) {}

  async readIndex(): Promise<ImageIndex> {
    try {
      const idx = JSON.parse(await fsp.readFile(this.indexFile, 'utf8')) as ImageIndex;
      if (!Array.isArray(idx.manifests)) throw new Error('manifests is not an array');
      return idx;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return emptyIndex();
      throw new TbahError('corrupt', `store index ${this.indexFile} is unreadable: ${(err as Error).message}`, {
        hint: 'restore it from a backup, or remove it to start an empty catalogue (blobs stay)',
      });
    }
  }

  /** Caller must hold the store lock. */
  async writeIndex(idx: ImageIndex): Promise<void> {
    await writeJsonAtomic(this.indexFile, idx);
  }

  async load(desc: Descriptor, names: string[]): Promise<ImageRecord> {
    const manifest = checkManifest(await this.blobs.readJson(desc.digest), `manifest ${desc.digest}`);
    const config = checkImageConfig(await this.blobs.readJson(manifest.config.digest), `config ${manifest.config.digest}`);
    return { names, manifestDescriptor: desc, manifest, id: manifest.config.digest, config };
  }

  /** Every image, one record per manifest, names in index order. */
  async list(): Promise<ImageRecord[]> {
    const idx = await this.readIndex();
    const byDigest = new Map<string, { desc: Descriptor; names: string[] }>();
    for (const d of idx.manifests) {
      let e = byDigest.get(d.digest);
      if (!e) {
        e = { desc: d, names: [] };
        byDigest.set(d.digest, e);
      }
      const n = d.annotations?.[REF_NAME];
      if (n !== undefined && !e.names.includes(n)) e.names.push(n);
    }
    const out: ImageRecord[] = [];
    for (const { desc, names } of byDigest.values()) out.push(await this.load(stripRefName(desc), names));
    return out;
  }

  /** Find an image by name (Buildah's local lookup order), full ID, ID prefix or manifest digest. */
  async find(spec: string): Promise<ImageRecord | undefined> {
    const idx = await this.readIndex();
    const candidates = safeCandidates(spec);
    for (const c of candidates) {
      const hit = idx.manifests.find((d) => d.annotations?.[REF_NAME] === c);
      if (hit) return this.loadWithNames(idx, hit.digest);
    }
    const hex = spec.startsWith('sha256:') ? spec.slice(7) : spec;
    if (isImageIdPrefix(spec)) {
      const all = await this.list();
      const byId = all.filter((r) => digestHex(r.id).startsWith(hex));
      const ids = new Set(byId.map((r) => r.id));
      if (ids.size > 1) {
        throw new TbahError('invalid-argument', `image ID prefix ${spec} is ambiguous`, { hint: 'give more digits of the ID' });
      }
      if (byId.length > 0) return byId[0];
      const byManifest = all.find((r) => digestHex(r.manifestDescriptor.digest) === hex);
      if (byManifest) return byManifest;
    }
    return undefined;
  }

  async get(spec: string): Promise<ImageRecord> {
    const r = await this.find(spec);
    if (!r) {
      throw new TbahError('not-found', `${spec}: image not known`, { hint: 'see `tbah images` for the images in this store' });
    }
    return r;
  }

  /** The image with this manifest digest, with all its names. */
  async byManifest(digest: Digest): Promise<ImageRecord | undefined> {
    const idx = await this.readIndex();
    return idx.manifests.some((d) => d.digest === digest) ? this.loadWithNames(idx, digest) : undefined;
  }

  private async loadWithNames(idx: ImageIndex, digest: Digest): Promise<ImageRecord> {
    const entries = idx.manifests.filter((d) => d.digest === digest);
    const names = entries.map((d) => d.annotations?.[REF_NAME]).filter((n): n is string => n !== undefined);
    return this.load(stripRefName(entries[0]!), [...new Set(names)]);
  }

  /**
   * Add `desc` under `names` (moving each name off any other image, which stays
   * as a dangling image if it loses its last name). Caller holds the store lock.
   */
  async addNames(desc: Descriptor, names: string[]): Promise<void> {
    const idx = await this.readIndex();
    let manifests = idx.manifests.filter((d) => !names.includes(d.annotations?.[REF_NAME] ?? '\0'));
    // Images that just lost their last name stay listed, unnamed.
    for (const old of idx.manifests) {
      if (old.digest !== desc.digest && !manifests.some((d) => d.digest === old.digest)) {
        manifests.push(stripRefName(old));
      }
    }
    const base = stripRefName(desc);
    if (names.length === 0) {
      if (!manifests.some((d) => d.digest === desc.digest)) manifests.push(base);
    } else {
      manifests = manifests.filter((d) => !(d.digest === desc.digest && d.annotations?.[REF_NAME] === undefined));
      for (const n of names) manifests.push({ ...base, annotations: { ...(base.annotations ?? {}), [REF_NAME]: n } });
    }
    await this.writeIndex({ ...idx, manifests: dedupeUnnamed(manifests) });
  }

  /** Remove one name; the image stays as dangling when it was its last. Caller holds the lock. */
  async removeName(name: string): Promise<boolean> {
    const idx = await this.readIndex();
    const hit = idx.manifests.find((d) => d.annotations?.[REF_NAME] === name);
    if (!hit) return false;
    let manifests = idx.manifests.filter((d) => d !== hit);
    if (!manifests.some((d) => d.digest === hit.digest)) manifests.push(stripRefName(hit));
    manifests = dedupeUnnamed(manifests);
    await this.writeIndex({ ...idx, manifests });
    return true;
  }

  /** Drop every entry of a manifest. Caller holds the lock. */
  async removeImage(manifestDigest: Digest): Promise<void> {
    const idx = await this.readIndex();
    await this.writeIndex({ ...idx, manifests: idx.manifests.filter((d) => d.digest !== manifestDigest) });
  }
}

export function emptyIndex(): ImageIndex {
  return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
}

function stripRefName(d: Descriptor): Descriptor {
  const { annotations, ...rest } = d;
  if (!annotations) return { ...rest };
  const { [REF_NAME]: _drop, ...other } = annotations;
  return Object.keys(other).length > 0 ? { ...rest, annotations: other } : { ...rest };
}

function dedupeUnnamed(ms: Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return ms.filter((d) => {
    if (d.annotations?.[REF_NAME] !== undefined) return true;
    if (seen.has(d.digest)) return false;
    seen.add(d.digest);
    return true;
  });
}

function safeCandidates(spec: string): string[] {
  try {
    return localCandidates(spec);
  } catch {
    return [];
  }
}
