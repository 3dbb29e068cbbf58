/**
 * `tbah run`'s mount and secret flags, with Buildah/BuildKit option names:
 * `-v SRC:DST[:ro]`, `--mount type=bind|tmpfs|cache|secret,…`, `--secret id=…,src=…|env=…`.
 * Pure parsing: host paths are resolved against `cwd`, nothing is read.
 */
import * as path from 'node:path';
import { TbahError } from '../errors.js';
import type { BindRequest, CacheSharing, MountRequest, SecretSource } from '../runtime/mounts.js';

/** `-v SRC:DST[:ro|rw]` → a bind mount whose writes reach the host (SRC resolved against `cwd`). */
export function parseVolume(spec: string, cwd = process.cwd()): BindRequest {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) {
    throw new TbahError('invalid-argument', `-v ${spec}: expected SRC:DST[:ro]`, { hint: 'e.g. -v "$PWD/src:/src:ro"' });
  }
  const [src, dst, mode] = parts as [string, string, string | undefined];
  if (!dst.startsWith('/')) throw new TbahError('invalid-argument', `-v ${spec}: the destination must be an absolute path`);
  const ro = mode === undefined ? false : mode.split(',').includes('ro');
  if (mode !== undefined && !mode.split(',').every((m) => m === 'ro' || m === 'rw')) {
    throw new TbahError('invalid-argument', `-v ${spec}: unknown option ${mode}`, { hint: 'use ro or rw' });
  }
  return { type: 'bind', source: path.resolve(cwd, src), target: dst, readonly: ro };
}

/** KEY=VALUE,FLAG,… with the keys each type accepts; unknown keys are errors, not silently ignored. */
class Fields {
  private readonly kv = new Map<string, string>();
  private readonly used = new Set<string>();
  constructor(private readonly flag: string, private readonly spec: string) {
    for (const part of spec.split(',')) {
      if (part === '') continue;
      const i = part.indexOf('=');
      const [k, v] = i < 0 ? [part, ''] : [part.slice(0, i), part.slice(i + 1)];
      if (this.kv.has(k.toLowerCase())) throw this.error(`${k} is given twice`);
      this.kv.set(k.toLowerCase(), i < 0 ? '\0flag' : v);
    }
  }

  error(what: string, hint?: string): TbahError {
    return new TbahError('invalid-argument', `${this.flag} ${this.spec}: ${what}`, hint === undefined ? {} : { hint });
  }

  get(...names: string[]): string | undefined {
    for (const n of names) {
      this.used.add(n);
      const v = this.kv.get(n);
      if (v !== undefined) {
        if (v === '\0flag') throw this.error(`${n} needs a value (${n}=…)`);
        return v;
      }
    }
    return undefined;
  }

  /** `ro`, `ro=true`, `readonly`, `readonly=false`, … */
  bool(...names: string[]): boolean | undefined {
    for (const n of names) {
      this.used.add(n);
      const v = this.kv.get(n);
      if (v === undefined) continue;
      if (v === '\0flag' || v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
      throw this.error(`${n}=${v}: expected true or false`);
    }
    return undefined;
  }

  id(name: string): number | undefined {
    const v = this.get(name);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw this.error(`${name}=${v}: expected a number`);
    return Number(v);
  }

  mode(...names: string[]): number | undefined {
    const v = this.get(...names);
    if (v === undefined) return undefined;
    if (!/^0?[0-7]{3,4}$/.test(v)) throw this.error(`mode ${v}: expected octal, e.g. 0755`);
    return parseInt(v, 8);
  }

  /** After the type's own keys were read: anything left is unknown here. */
  done(known: string): void {
    for (const k of this.kv.keys()) {
      if (!this.used.has(k)) throw this.error(`unknown option ${k}`, `options for this type: ${known}`);
    }
  }
}

function target(f: Fields, required: boolean): string | undefined {
  const t = f.get('target', 'dst', 'destination');
  if (t === undefined) {
    if (required) throw f.error('needs target=ABSOLUTE_PATH', 'e.g. --mount type=tmpfs,target=/scratch');
    return undefined;
  }
  if (!t.startsWith('/')) throw f.error(`target ${t} must be an absolute path`);
  return t;
}

/**
 * `--mount type=…`:
 * - `bind,source=SRC,target=DST[,ro|rw]`: read-only unless `rw`; with `rw` the
 *   command may write but the writes land in a throw-away overlay (BuildKit and
 *   Buildah HEAD semantics), so the host source is never changed.
 * - `tmpfs,target=DST[,tmpfs-size=…][,tmpfs-mode=1777][,ro]`
 * - `cache,target=DST[,id=…][,sharing=shared|private|locked][,mode=0755][,uid=0][,gid=0][,ro]`
 * - `secret,id=ID[,target=…][,mode=0400][,uid=0][,gid=0][,required]`
 */
export function parseMount(spec: string, cwd = process.cwd()): MountRequest {
  const f = new Fields('--mount', spec);
  const type = f.get('type');
  if (type === 'bind') {
    const dst = target(f, true) as string;
    const source = f.get('source', 'src');
    if (!source) throw f.error('a bind mount needs source=HOST_PATH');
    const rwFlag = f.bool('rw');
    const roFlag = f.bool('readonly', 'ro');
    if (rwFlag === true && roFlag === true) throw f.error('give either ro or rw, not both');
    const rw = rwFlag ?? roFlag === false;
    if (f.get('from') !== undefined) throw new TbahError('unsupported', `--mount ${spec}: from= is not supported`, { hint: 'copy the files out of the image first, or use a host path' });
    f.done('source/src, target/dst, ro, rw');
    return { type: 'bind', source: path.resolve(cwd, source), target: dst, ...(rw ? { discardWrites: true } : { readonly: true }) };
  }
  if (type === 'tmpfs') {
    const dst = target(f, true) as string;
    const mode = f.get('tmpfs-mode', 'mode');
    const size = f.get('tmpfs-size', 'size');
    const ro = f.bool('ro', 'readonly') ?? false;
    if (mode !== undefined && !/^0?[0-7]{3,4}$/.test(mode)) throw f.error(`mode ${mode}: expected octal, e.g. 1777`);
    if (size !== undefined && !/^\d+[kmgKMG%]?$/.test(size)) throw f.error(`size ${size}: expected bytes, e.g. 64m`);
    f.done('target/dst, tmpfs-size, tmpfs-mode, ro');
    return { type: 'tmpfs', target: dst, ...(ro ? { readonly: true } : {}), options: [...(mode ? [`mode=${mode}`] : []), ...(size ? [`size=${size}`] : [])] };
  }
  if (type === 'cache') {
    const dst = target(f, true) as string;
    const id = f.get('id');
    const sharing = f.get('sharing');
    if (sharing !== undefined && !['shared', 'private', 'locked'].includes(sharing)) throw f.error(`sharing=${sharing}: expected shared, private or locked`);
    const mode = f.mode('mode');
    const uid = f.id('uid');
    const gid = f.id('gid');
    const ro = f.bool('ro', 'readonly') ?? false;
    if (f.get('from') !== undefined || f.get('source', 'src') !== undefined) {
      throw new TbahError('unsupported', `--mount ${spec}: cache mounts with from= or source= are not supported`, { hint: 'a cache mount is a directory in the store, named by id' });
    }
    f.done('target/dst, id, sharing, mode, uid, gid, ro');
    return {
      type: 'cache', target: dst,
      ...(id ? { id } : {}), ...(sharing ? { sharing: sharing as CacheSharing } : {}),
      ...(mode !== undefined ? { mode } : {}), ...(uid !== undefined ? { uid } : {}), ...(gid !== undefined ? { gid } : {}),
      ...(ro ? { readonly: true } : {}),
    };
  }
  if (type === 'secret') {
    const t = f.get('target', 'dst', 'destination');
    // BuildKit: the id defaults to the target's base name.
    const id = f.get('id') ?? (t !== undefined ? path.posix.basename(t) : undefined);
    if (!id) throw f.error('a secret mount needs id=ID (the id of a --secret)');
    const mode = f.mode('mode');
    const uid = f.id('uid');
    const gid = f.id('gid');
    const required = f.bool('required') ?? false;
    f.done('id, target/dst, mode, uid, gid, required');
    return {
      type: 'secret', id, ...(t !== undefined ? { target: t } : {}),
      ...(mode !== undefined ? { mode } : {}), ...(uid !== undefined ? { uid } : {}), ...(gid !== undefined ? { gid } : {}),
      ...(required ? { required } : {}),
    };
  }
  throw new TbahError('invalid-argument', `--mount ${spec}: type ${type ?? '(none)'} is not supported`, { hint: 'use type=bind, tmpfs, cache or secret' });
}

/**
 * `--secret id=ID,src=FILE` (also `source=`, `type=file`) or `id=ID,env=VAR`
 * (also `src=VAR,type=env`). Only where the secret comes from is kept; its
 * bytes are read when the run starts and never stored.
 */
export function parseSecret(spec: string, cwd = process.cwd()): SecretSource {
  const f = new Fields('--secret', spec);
  const id = f.get('id');
  if (!id) throw f.error('needs id=ID', 'e.g. --secret id=token,src=./token.txt');
  const type = f.get('type');
  const src = f.get('src', 'source');
  const env = f.get('env');
  f.done('id, src/source, env, type');
  if (type !== undefined && type !== 'file' && type !== 'env') throw f.error(`type=${type}: expected file or env`);
  if (env !== undefined) {
    if (src !== undefined) throw f.error('give either src= or env=, not both');
    return { id, env };
  }
  if (src === undefined) throw f.error('needs src=FILE or env=VAR', 'e.g. --secret id=token,src=./token.txt');
  if (type === 'env') return { id, env: src };
  return { id, file: path.resolve(cwd, src) };
}
