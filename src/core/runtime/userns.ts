/**
 * tbah's user namespace, for what an unprivileged user cannot do otherwise
 * (`run`, `unshare`): the caller is root inside, and with subordinate ids
 * (/etc/subuid, /etc/subgid, written by the setuid `newuidmap`/`newgidmap`)
 * ids 1..N map to the caller's ranges, so `chown` and `adduser` work inside.
 * Without ranges (or without the uidmap tools) only the caller's own uid is
 * mapped, to root: files cannot be given other owners there.
 *
 * The namespace is made by util-linux `unshare` (Node has no unshare(2)). With
 * subordinate ids the child waits on a pipe until `newuidmap`/`newgidmap` have
 * written its maps, then execs the command (the maps can only be written from
 * outside, after the namespace exists).
 */
import { execFile, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { constants as osConstants, userInfo } from 'node:os';
import { TbahError } from '../errors.js';

/** Set in the environment of what runs in tbah's user namespace: `subordinate` or `single`. */
export const USERNS_ENV = 'TBAH_USERNS';

export interface IdRange {
  /** First id inside the namespace. */
  inside: number;
  /** The id it is on the host. */
  outside: number;
  count: number;
}

export interface IdMapping {
  uids: IdRange[];
  gids: IdRange[];
}

export interface NamespacePlan {
  /** `subordinate`: the caller's /etc/subuid ranges are mapped too; `single`: only the caller (as root). */
  kind: 'subordinate' | 'single';
  mapping: IdMapping;
  /** For `single`: why there are no other ids, as one line for a warning. */
  limitation?: string;
}

/** Ranges of `/etc/subuid`-style text that belong to the user (by name or by uid), in file order. */
export function parseSubordinate(text: string, name: string | undefined, id: number): { start: number; count: number }[] {
  const out: { start: number; count: number }[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(':');
    if (f.length !== 3 || line.trim().startsWith('#')) continue;
    if (f[0] !== name && f[0] !== String(id)) continue;
    const start = Number(f[1]);
    const count = Number(f[2]);
    if (Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count > 0) out.push({ start, count });
  }
  return out;
}

/** The namespace map: the caller as 0, then the ranges one after another from 1. */
export function mappingFor(caller: number, ranges: { start: number; count: number }[]): IdRange[] {
  const out: IdRange[] = [{ inside: 0, outside: caller, count: 1 }];
  let next = 1;
  for (const r of ranges) {
    out.push({ inside: next, outside: r.start, count: r.count });
    next += r.count;
  }
  return out;
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function whichSync(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/bin', '/usr/sbin', '/sbin'])) {
    if (dir !== '' && existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}

function userName(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined; // a uid without a passwd entry: ranges by number only
  }
}

/** How tbah's user namespace will look for this user on this host. */
export function planNamespace(files: { subuid?: string; subgid?: string } = {}): NamespacePlan {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const name = userName();
  const group = (() => {
    const m = new RegExp(`^([^:]+):[^:]*:${gid}:`, 'm').exec(readOr('/etc/group'));
    return m?.[1];
  })();
  const subuid = parseSubordinate(files.subuid ?? readOr('/etc/subuid'), name, uid);
  // newgidmap checks /etc/subgid against the user's name (or uid), as Buildah does; the primary group's name also counts.
  let subgid = parseSubordinate(files.subgid ?? readOr('/etc/subgid'), name, uid);
  if (subgid.length === 0 && group !== undefined) subgid = parseSubordinate(files.subgid ?? readOr('/etc/subgid'), group, gid);
  const single: IdMapping = { uids: mappingFor(uid, []), gids: mappingFor(gid, []) };
  const who = name ?? String(uid);
  if (subuid.length === 0 || subgid.length === 0) {
    const missing = subuid.length === 0 ? '/etc/subuid' : '/etc/subgid';
    return {
      kind: 'single', mapping: single,
      limitation: `no subordinate ids for ${who} in ${missing}: only your own uid is mapped (to root) in tbah's user namespace, so nothing there can be given another owner (chown, adduser fail); an administrator can add a range with \`usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${who}\``,
    };
  }
  if (whichSync('newuidmap') === undefined || whichSync('newgidmap') === undefined) {
    return {
      kind: 'single', mapping: single,
      limitation: `newuidmap/newgidmap are not installed (Debian package uidmap): only your own uid is mapped (to root) in tbah's user namespace, so nothing there can be given another owner (chown, adduser fail)`,
    };
  }
  return { kind: 'subordinate', mapping: { uids: mappingFor(uid, subuid), gids: mappingFor(gid, subgid) } };
}

/** Parse /proc/PID/uid_map-style text (inside outside count per line). */
export function parseIdMap(text: string): IdRange[] {
  const out: IdRange[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length === 3 && f.every((n) => Number.isInteger(n))) out.push({ inside: f[0]!, outside: f[1]!, count: f[2]! });
  }
  return out;
}

/** This process's own maps (inside view): which ids exist here. */
export function currentMapping(): IdMapping {
  return { uids: parseIdMap(readOr('/proc/self/uid_map')), gids: parseIdMap(readOr('/proc/self/gid_map')) };
}

export function isMapped(ranges: IdRange[], id: number): boolean {
  return ranges.some((r) => id >= r.inside && id < r.inside + r.count);
}

/** The id inside the namespace that a host id stands for (undefined: not mapped). */
export function insideId(ranges: IdRange[], outside: number): number | undefined {
  for (const r of ranges) if (outside >= r.outside && outside < r.outside + r.count) return r.inside + (outside - r.outside);
  return undefined;
}

/** Why this host refuses unprivileged user namespaces, when a sysctl says so. */
export function userNamespacesDisabled(): string | undefined {
  const checks: [string, (v: string) => boolean][] = [
    ['/proc/sys/user/max_user_namespaces', (v) => v === '0'],
    ['/proc/sys/kernel/unprivileged_userns_clone', (v) => v === '0'],
    ['/proc/sys/kernel/apparmor_restrict_unprivileged_userns', (v) => v === '1'],
  ];
  for (const [file, off] of checks) {
    const v = readOr(file).trim();
    if (v !== '' && off(v)) return `${file.slice('/proc/sys/'.length).replace(/\//g, '.')} = ${v}`;
  }
  return undefined;
}

function lines(ranges: IdRange[]): string[] {
  return ranges.flatMap((r) => [String(r.inside), String(r.outside), String(r.count)]);
}

function runTool(tool: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(tool, args, { encoding: 'utf8' }, (err, _out, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 127) : 0;
      resolve({ code, stderr: String(stderr).trim() || (err ? (err as Error).message : '') });
    });
  });
}

export interface SpawnInNamespaceOptions {
  plan: NamespacePlan;
  env?: NodeJS.ProcessEnv;
  stdio?: 'inherit' | 'pipe';
  /** Own session and process group (the caller relays signals itself). */
  detached?: boolean;
}

/**
 * Start `argv` as root of a new user namespace (with its own mount
 * namespace, mounts private). Resolves once the command runs, with its
 * process; rejects with a clear error when the namespace cannot be made.
 */
export async function spawnInUserNamespace(argv: string[], opts: SpawnInNamespaceOptions): Promise<ChildProcess> {
  const disabled = userNamespacesDisabled();
  if (disabled !== undefined) {
    throw new TbahError('unsupported', `user namespaces are disabled on this host (${disabled})`, {
      hint: 'an administrator can enable them (sysctl), or run tbah as root; every command but run and unshare works without them',
    });
  }
  const unshare = whichSync('unshare');
  if (unshare === undefined) throw new TbahError('not-found', 'unshare (util-linux) is not installed', { hint: 'install util-linux' });
  const env = { ...(opts.env ?? process.env), [USERNS_ENV]: opts.plan.kind };
  const io = opts.stdio ?? 'inherit';
  const detached = opts.detached ?? false;
  // One id: unshare writes the maps itself. Either way the child announces it is in the
  // namespace (fd 4) and waits (fd 3) until the maps are written, so a namespace that cannot
  // be made is tbah's error, never mistaken for the command's exit status.
  const ns = ['--user', '--mount', '--propagation', 'private', ...(opts.plan.kind === 'single' ? ['--map-root-user'] : [])];
  const waiter = 'echo ready >&4; read -r go <&3 || exit 125; [ "$go" = go ] || exit 125; exec "$@" 3<&- 4>&-';
  const stdio: StdioOptions = [io, io, io, 'pipe', 'pipe'];
  const child = spawn(unshare, [...ns, '--', '/bin/sh', '-c', waiter, 'tbah-userns', ...argv], { env, stdio, detached });
  await started(child);
  const toChild = child.stdio[3] as NodeJS.WritableStream;
  const fromChild = child.stdio[4] as NodeJS.ReadableStream;
  const ready = await new Promise<boolean>((resolve) => {
    let got = '';
    fromChild.on('data', (d: Buffer) => { got += d.toString(); if (got.includes('ready')) resolve(true); });
    fromChild.on('error', () => resolve(false));
    child.once('exit', () => resolve(false));
  });
  if (!ready) {
    throw new TbahError('unsupported', 'could not create a user namespace (unshare failed; see its message above)', {
      hint: 'user namespaces may be disabled or limited on this host (sysctl user.max_user_namespaces); run and unshare need them, other commands do not',
    });
  }
  const pid = String(child.pid);
  const writers = opts.plan.kind === 'single' ? [] : [['newuidmap', opts.plan.mapping.uids], ['newgidmap', opts.plan.mapping.gids]] as const;
  for (const [tool, ranges] of writers) {
    const r = await runTool(whichSync(tool)!, [pid, ...lines(ranges)]);
    if (r.code !== 0) {
      child.kill('SIGKILL');
      throw new TbahError('unsupported', `${tool} refused the subordinate ids: ${r.stderr.split('\n')[0] ?? `exit status ${r.code}`}`, {
        hint: `check the ranges of your user in /etc/${tool === 'newuidmap' ? 'subuid' : 'subgid'} and that ${tool} is setuid root (Debian package uidmap)`,
      });
    }
  }
  toChild.write('go\n');
  toChild.end();
  return child;
}

function started(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (err) => reject(new TbahError('unsupported', `cannot start unshare: ${err.message}`, { hint: 'install util-linux', cause: err })));
  });
}

/** Resolve with a child's exit status (128+N for a signal). */
export function exitStatus(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) { resolve(child.exitCode); return; }
    child.once('close', (code, signal) => {
      if (code !== null) resolve(code);
      else resolve(128 + (signal !== null ? (osConstants.signals[signal] ?? 0) : 0));
    });
  });
}
