/**
 * `containers-storage:[driver@root+runroot:options]NAME`: an image in the
 * containers/storage store that Buildah and Podman use, moved through
 * skopeo (the canonical writer of that format: its layer store, image
 * catalogue and lock protocol are containers/storage's own, versioned with
 * it, and not something to reimplement). tbah hands skopeo a `dir:` image to
 * write, and reads one back as an OCI layout; `--insecure-policy` because
 * tbah verifies digests, not signatures, everywhere.
 *
 * The store must exist: tbah never creates one, so a typo or a machine
 * without Buildah/Podman gets a clear refusal instead of a new, unused store.
 */
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { TbahError, isErrno } from '../errors.js';
import { type StorageSpec, formatDockerReference, localCandidates, parseLocalName } from '../refs.js';
import { removeTree } from '../util/fsx.js';
import { openOciLayout } from './oci-layout.js';
import type { SourceImage } from './source.js';

export interface StorageLocation {
  graphRoot: string;
  /** Where the location came from, for messages. */
  why: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** `graphroot` (or, for non-root users, `rootless_storage_path`) from a storage.conf's [storage] table. */
export function graphRootFromConf(text: string, rootless: boolean): string | undefined {
  let table = '';
  let graphroot: string | undefined;
  let rootlessPath: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const t = /^\[([^\]]+)\]$/.exec(line);
    if (t) {
      table = t[1]!.trim();
      continue;
    }
    const kv = /^([A-Za-z_]+)\s*=\s*(?:"([^"]*)"|'([^']*)')$/.exec(line);
    if (!kv || table !== 'storage') continue;
    const value = kv[2] ?? kv[3] ?? '';
    if (kv[1] === 'graphroot') graphroot = value;
    if (kv[1] === 'rootless_storage_path') rootlessPath = value;
  }
  const v = rootless ? rootlessPath : graphroot;
  return v === undefined || v === '' ? undefined : v;
}

/**
 * Where the store is, as containers/storage finds it: the root of an
 * explicit `[…]` specification; else `graphroot` from the storage.conf in
 * effect (`CONTAINERS_STORAGE_CONF`, else `/etc/containers/storage.conf`,
 * `/usr/share/containers/storage.conf`; for non-root users first
 * `${XDG_CONFIG_HOME:-~/.config}/containers/storage.conf`); else
 * `/var/lib/containers/storage` (root) or
 * `${XDG_DATA_HOME:-~/.local/share}/containers/storage`.
 */
export async function locateStorage(spec: StorageSpec | undefined, env: Env = process.env, uid: number = process.getuid?.() ?? 0): Promise<StorageLocation> {
  if (spec?.root !== undefined) return { graphRoot: spec.root, why: 'named in the reference' };
  const rootless = uid !== 0;
  const home = env['HOME'] || homedir();
  const confs: string[] = [];
  if (env['CONTAINERS_STORAGE_CONF']) confs.push(env['CONTAINERS_STORAGE_CONF']);
  else {
    if (rootless) confs.push(join(env['XDG_CONFIG_HOME'] || join(home, '.config'), 'containers', 'storage.conf'));
    confs.push('/etc/containers/storage.conf', '/usr/share/containers/storage.conf');
  }
  for (const c of confs) {
    const text = await readFile(c, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const g = graphRootFromConf(text, rootless);
    if (g !== undefined) return { graphRoot: g, why: `graphroot in ${c}` };
    break; // the first file found is the one in effect
  }
  const graphRoot = rootless ? join(env['XDG_DATA_HOME'] || join(home, '.local', 'share'), 'containers', 'storage') : '/var/lib/containers/storage';
  return { graphRoot, why: 'the default location' };
}

/** Refuse unless the store exists on this machine. */
export async function requireStorage(spec: StorageSpec | undefined, label: string): Promise<StorageLocation> {
  const loc = await locateStorage(spec);
  let ok = false;
  try {
    ok = (await stat(loc.graphRoot)).isDirectory();
  } catch (e) {
    if (!isErrno(e, 'ENOENT') && !isErrno(e, 'ENOTDIR') && !isErrno(e, 'EACCES')) throw e;
  }
  if (!ok) {
    throw new TbahError('not-found', `${label}: there is no containers-storage store at ${loc.graphRoot} (${loc.why}): Buildah or Podman has not stored anything on this machine`, {
      hint: 'tbah keeps its own store (a name without transport); name another containers/storage store as containers-storage:[DRIVER@ROOT+RUNROOT]NAME',
    });
  }
  return loc;
}

/** The reference skopeo is given. */
function skopeoRef(spec: StorageSpec | undefined, name: string): string {
  return `containers-storage:${spec !== undefined ? `[${spec.spec}]` : ''}${name}`;
}

/** Run skopeo; its last error line becomes the message (its `level=fatal msg=` wrapper removed). */
async function skopeo(args: string[], label: string): Promise<void> {
  const stderr = await new Promise<{ code: number | null; err: string }>((resolve, reject) => {
    const child = spawn('skopeo', ['--insecure-policy', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => {
      err = (err + b.toString()).slice(-8192);
    });
    child.on('error', (e) => {
      reject(
        isErrno(e, 'ENOENT')
          ? new TbahError('unsupported', `${label}: containers-storage: needs skopeo, which is not on PATH`, { hint: 'install skopeo (it writes and reads the containers/storage format for tbah)' })
          : e,
      );
    });
    child.on('close', (code) => resolve({ code, err }));
  });
  if (stderr.code === 0) return;
  const last = stderr.err.trim().split('\n').pop() ?? '';
  const msg = /msg="((?:[^"\\]|\\.)*)"/.exec(last)?.[1]?.replace(/\\"/g, '"') ?? last;
  const unknown = /does not resolve to an image ID|identifier is not an image|image not known/.test(msg);
  throw new TbahError(unknown ? 'not-found' : 'io', `${label}: ${unknown ? 'image not known in the containers-storage store' : `skopeo failed: ${msg}`}`, {
    hint: unknown ? 'see `buildah images` or `podman images` for the names there' : 'run the same skopeo copy by hand to see more',
  });
}

/** The names to try for NAME, in Buildah's order (`x` → localhost/x:latest, docker.io/library/x:latest); an ID as is. */
function storageCandidates(name: string): string[] {
  const id = name.replace(/^sha256:/, '');
  if (/^[a-f0-9]{64}$/.test(id)) return [id];
  return localCandidates(name);
}

/**
 * Open an image of a containers/storage store for import: skopeo copies it
 * into an OCI layout in `tmp` (layers gzip-compressed, config untouched, so
 * the image ID is the store's); `close()` removes it.
 */
export async function openStorageImage(spec: StorageSpec | undefined, name: string, tmp: string, label: string): Promise<SourceImage> {
  await requireStorage(spec, label);
  try {
    const tried: string[] = [];
    for (const candidate of storageCandidates(name)) {
      try {
        await skopeo(['copy', '-q', skopeoRef(spec, candidate), `oci:${tmp}:image`], label);
      } catch (e) {
        if (e instanceof TbahError && e.code === 'not-found') {
          tried.push(candidate);
          await removeTree(tmp);
          continue;
        }
        throw e;
      }
      const src = await openOciLayout(tmp, 'image', label);
      const named = /^[a-f0-9]{64}$/.test(candidate) ? {} : { name: candidate };
      return { ...src, ...named, close: () => removeTree(tmp) };
    }
    throw new TbahError('not-found', `${label}: image not known in the containers-storage store (tried ${tried.join(', ')})`, {
      hint: 'see `buildah images` or `podman images` for the names there',
    });
  } catch (e) {
    await removeTree(tmp);
    throw e;
  }
}

/** The full name an image gets in the store when pushed as NAME (`x` → localhost/x:latest, as Buildah names commits). */
export function storageDestName(name: string, label: string): string {
  if (/^(sha256:)?[a-f0-9]{64}$/.test(name)) {
    throw new TbahError('invalid-reference', `${label}: an image ID cannot name a pushed image`, { hint: 'give a name, e.g. containers-storage:localhost/app:1' });
  }
  return formatDockerReference(parseLocalName(name));
}

/** Write the `dir:` image at `dirImage` into the store as `name` (already a full name). */
export async function copyDirIntoStorage(dirImage: string, spec: StorageSpec | undefined, name: string, label: string): Promise<void> {
  await requireStorage(spec, label);
  await skopeo(['copy', '-q', `dir:${dirImage}`, skopeoRef(spec, name)], label);
}
