/**
 * `tbah run`'s mount and secret flags, with Buildah/BuildKit option names:
 * `-v SRC:DST[:ro]`, `--mount type=bind|tmpfs|cache|secret,…`, `--secret id=…,src=…|env=…`;
 * `from`'s `--ulimit` and `--add-host`; `run --env` and `--valid-exit-codes`.
 * Pure parsing: host paths are resolved against `cwd`, nothing is read (but
 * `ownLimit`, which reads this process's limits for `--ulimit NAME=-1`).
 */
import { readFileSync } from 'node:fs';
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
 * - `cache,target=DST[,id=…][,src=SUBDIR][,sharing=shared|private|locked][,mode=0755][,uid=0][,gid=0][,ro]`
 * - `secret,id=ID[,target=…][,env=NAME][,mode=0400][,uid=0][,gid=0][,required]` (with `env=` and no
 *   target the secret is only that environment variable, never a file)
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
    if (f.get('from') !== undefined) {
      throw new TbahError('unsupported', `--mount ${spec}: cache mounts with from= are not supported`, { hint: 'a cache mount is a directory in the store, named by id' });
    }
    const sub = f.get('source', 'src');
    if (sub === '') throw f.error('source= needs a subdirectory of the cache');
    f.done('target/dst, id, source/src, sharing, mode, uid, gid, ro');
    return {
      type: 'cache', target: dst, ...(sub !== undefined ? { source: sub } : {}),
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
    const env = f.get('env');
    if (env !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) throw f.error(`env=${env}: not a variable name`);
    f.done('id, target/dst, env, mode, uid, gid, required');
    return {
      type: 'secret', id, ...(t !== undefined ? { target: t } : {}), ...(env !== undefined ? { env } : {}),
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

/** `--ulimit NAME=SOFT[:HARD]` as Docker's go-units reads it, for the OCI spec's `process.rlimits`. */
export interface Ulimit {
  /** e.g. `nofile` (the spec's type is `RLIMIT_NOFILE`). */
  name: string;
  soft: number;
  hard: number;
}

export const ULIMIT_NAMES = [
  'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack',
] as const;

/**
 * `-1` (Buildah: "the current limit") is resolved by `currentLimit`, which
 * reads this process's limits; the caller passes it (parsing stays pure).
 */
export function parseUlimit(spec: string, currentLimit: (name: string) => { soft: number; hard: number } | undefined = () => undefined): Ulimit {
  const hint = 'use NAME=SOFT[:HARD], e.g. --ulimit nofile=1024:4096; NAME is one of ' + ULIMIT_NAMES.join(', ');
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(spec);
  if (!m) throw new TbahError('invalid-argument', `--ulimit ${spec}: ulimit option requires name=SOFT:HARD`, { hint });
  const name = m[1]!;
  if (!(ULIMIT_NAMES as readonly string[]).includes(name)) throw new TbahError('invalid-argument', `--ulimit ${spec}: invalid ulimit type ${name}`, { hint });
  let soft = Number(m[2]);
  let hard = m[3] !== undefined ? Number(m[3]) : soft;
  if ((soft < -1 || hard < -1) || !Number.isSafeInteger(soft) || !Number.isSafeInteger(hard)) throw new TbahError('invalid-argument', `--ulimit ${spec}: limits are numbers ≥ 0 (or -1)`, { hint });
  if (soft === -1 || hard === -1) {
    const cur = currentLimit(name);
    if (cur === undefined) throw new TbahError('invalid-argument', `--ulimit ${spec}: -1 means tbah's own limit, and ${name} has none that fits (unlimited)`, { hint: 'give the limit as a number' });
    if (soft === -1) soft = cur.soft;
    if (hard === -1) hard = cur.hard;
  }
  if (soft > hard) throw new TbahError('invalid-argument', `--ulimit ${spec}: ulimit soft limit must be less than or equal to hard limit`, { hint });
  return { name, soft, hard };
}

/** `--add-host HOST:IP` (Buildah's form; an IPv6 address keeps its colons), one /etc/hosts line for every run. */
export interface AddHost { host: string; ip: string }

export function parseAddHost(spec: string): AddHost {
  const i = spec.indexOf(':');
  const host = i < 0 ? '' : spec.slice(0, i);
  let ip = i < 0 ? '' : spec.slice(i + 1);
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  const hint = 'use HOST:IP, e.g. --add-host db.local:10.0.0.5';
  if (host === '' || !/^[A-Za-z0-9_.-]+$/.test(host)) throw new TbahError('invalid-argument', `--add-host ${spec}: invalid host name`, { hint });
  if (!isIPv4(ip) && !isIPv6(ip)) throw new TbahError('invalid-argument', `--add-host ${spec}: invalid IP address ${JSON.stringify(ip)}`, { hint });
  return { host, ip };
}

function isIPv4(s: string): boolean {
  const p = s.split('.');
  return p.length === 4 && p.every((x) => /^\d{1,3}$/.test(x) && Number(x) <= 255);
}

function isIPv6(s: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(s) || !s.includes(':')) return false;
  const dbl = s.split('::');
  if (dbl.length > 2) return false;
  const groups = s.replace('::', ':x:').split(':').filter((g) => g !== '');
  const last = groups[groups.length - 1] ?? '';
  const hasV4 = last.includes('.');
  if (hasV4 && !isIPv4(last)) return false;
  const n = groups.filter((g) => g !== 'x').length + (hasV4 ? 1 : 0);
  const ok = groups.every((g) => g === 'x' || g.includes('.') || /^[0-9A-Fa-f]{1,4}$/.test(g));
  return ok && (dbl.length === 2 ? n < 8 : n === 8);
}

/**
 * `run --env` as Buildah (LookupEnvVarReferences): `K=V` as given; `K` takes
 * the caller's value (nothing when unset); `K*` every caller variable starting
 * with K; `*` all of them.
 */
export function resolveRunEnv(specs: readonly string[], callerEnv: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  const environ = Object.entries(callerEnv).filter((e): e is [string, string] => e[1] !== undefined).map(([k, v]) => `${k}=${v}`);
  for (const spec of specs) {
    if (spec.includes('=')) out.push(spec);
    else if (spec === '*') out.push(...environ);
    else {
      const prefix = spec.endsWith('*') ? spec.slice(0, -1) : `${spec}=`;
      out.push(...environ.filter((e) => e.startsWith(prefix)));
    }
  }
  return out;
}

/** The caller's proxy variables, which every run gets unless the image or `--env` sets them (Buildah's `--http-proxy` default). */
export const PROXY_VARS = ['http_proxy', 'https_proxy', 'ftp_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY'] as const;

export function proxyEnv(callerEnv: Record<string, string | undefined>): string[] {
  return PROXY_VARS.filter((k) => callerEnv[k] !== undefined).map((k) => `${k}=${callerEnv[k]}`);
}

/** `--valid-exit-codes 0,1,…` (already split on commas): whole numbers 0–255. */
export function parseExitCodes(values: readonly string[]): number[] {
  return values.map((v) => {
    if (!/^\d+$/.test(v.trim()) || Number(v) > 255) {
      throw new TbahError('invalid-argument', `--valid-exit-codes ${values.join(',')}: ${JSON.stringify(v)} is not an exit code`, { hint: 'give exit codes from 0 to 255, e.g. --valid-exit-codes 0,1' });
    }
    return Number(v);
  });
}

/** /proc/self/limits row names of the ulimit types. */
const LIMIT_ROWS: Record<string, string> = {
  core: 'Max core file size', cpu: 'Max cpu time', data: 'Max data size', fsize: 'Max file size', locks: 'Max file locks',
  memlock: 'Max locked memory', msgqueue: 'Max msgqueue size', nice: 'Max nice priority', nofile: 'Max open files',
  nproc: 'Max processes', rss: 'Max resident set', rtprio: 'Max realtime priority', rttime: 'Max realtime timeout',
  sigpending: 'Max pending signals', stack: 'Max stack size',
};

/** This process's own limit of a ulimit type (for `--ulimit NAME=-1`); undefined when unlimited or unknown. */
export function ownLimit(name: string, limitsText?: string): { soft: number; hard: number } | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const row = LIMIT_ROWS[name];
  const line = row === undefined ? undefined : text.split('\n').find((l) => l.startsWith(row));
  const m = line === undefined ? null : /^.{26}(\S+)\s+(\S+)/.exec(line);
  if (!m || !/^\d+$/.test(m[1]!) || !/^\d+$/.test(m[2]!)) return undefined;
  return { soft: Number(m[1]), hard: Number(m[2]) };
}
