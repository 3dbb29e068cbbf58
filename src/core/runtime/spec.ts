/**
 * Build an OCI runtime-spec `config.json` object for one `tbah run`. Pure: no I/O,
 * so the whole spec can be checked in unit tests before a runtime ever sees it.
 */
import { invalidArgument } from '../errors.js';

/** Buildah's PATH when the image defines none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Buildah's default capability set (containers.conf `default_capabilities`). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_NET_BIND_SERVICE', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID',
];

/** runc's default masked and read-only paths (runc spec / libcontainer defaults). */
export const MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi',
  '/sys/firmware', '/sys/devices/virtual/powercap',
];
export const READONLY_PATHS: readonly string[] = [
  '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger',
];

/** Linux capability numbers (linux/capability.h), for validation and the chroot isolation. */
export const CAPABILITY_NUMBERS: Readonly<Record<string, number>> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_DAC_READ_SEARCH: 2, CAP_FOWNER: 3, CAP_FSETID: 4, CAP_KILL: 5,
  CAP_SETGID: 6, CAP_SETUID: 7, CAP_SETPCAP: 8, CAP_LINUX_IMMUTABLE: 9, CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11, CAP_NET_ADMIN: 12, CAP_NET_RAW: 13, CAP_IPC_LOCK: 14, CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16, CAP_SYS_RAWIO: 17, CAP_SYS_CHROOT: 18, CAP_SYS_PTRACE: 19, CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21, CAP_SYS_BOOT: 22, CAP_SYS_NICE: 23, CAP_SYS_RESOURCE: 24, CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26, CAP_MKNOD: 27, CAP_LEASE: 28, CAP_AUDIT_WRITE: 29, CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31, CAP_MAC_OVERRIDE: 32, CAP_MAC_ADMIN: 33, CAP_SYSLOG: 34, CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36, CAP_AUDIT_READ: 37, CAP_PERFMON: 38, CAP_BPF: 39, CAP_CHECKPOINT_RESTORE: 40,
};

export interface SpecMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** A mount as the runtime performs it (the run has already prepared sources: caches, secrets, overlays). */
export interface RunMount {
  type: 'bind' | 'tmpfs' | 'overlay';
  /** Host path for bind mounts; ignored for tmpfs and overlay. */
  source?: string;
  target: string;
  readonly?: boolean;
  /** Extra mount options, e.g. `mode=1777` for tmpfs; `lowerdir=…,upperdir=…,workdir=…` for overlay. */
  options?: string[];
}

export interface SpecOptions {
  args: string[];
  /** Absolute path of the rootfs directory. */
  rootfs: string;
  /** Image `Env` (KEY=VALUE). */
  imageEnv?: string[];
  /** Extra `--env` entries; later entries override earlier and image ones. */
  env?: string[];
  cwd?: string;
  uid?: number;
  gid?: number;
  additionalGids?: number[];
  terminal?: boolean;
  hostname?: string;
  /** `host` shares the host network namespace (the build default). */
  network?: 'host' | 'private';
  mounts?: RunMount[];
  capAdd?: string[];
  capDrop?: string[];
  /** Run in tbah's user namespace (no root): /sys is bound from the host instead of mounted. */
  rootless?: boolean;
  /** What `--cap-add ALL` stands for: the capabilities this process holds (default: every known one). */
  availableCaps?: readonly string[];
  /** `from --ulimit`: resource limits of the command. */
  rlimits?: { name: string; soft: number; hard: number }[];
}

/** The parts of the OCI runtime spec we produce (a subset of specs-go). */
export interface RuntimeSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: { bounding: string[]; effective: string[]; inheritable: string[]; permitted: string[]; ambient: string[] };
    noNewPrivileges: boolean;
    rlimits?: { type: string; hard: number; soft: number }[];
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: SpecMount[];
  linux: {
    namespaces: { type: string }[];
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

/** Merge env lists by key; a later `KEY=...` replaces an earlier one in place. */
export function mergeEnv(...lists: (readonly string[] | undefined)[]): string[] {
  const out = new Map<string, string>();
  for (const list of lists) {
    for (const entry of list ?? []) {
      const eq = entry.indexOf('=');
      const key = eq < 0 ? entry : entry.slice(0, eq);
      out.delete(key); // re-insert so order reflects the last definition
      out.set(key, eq < 0 ? `${entry}=` : entry);
    }
  }
  return [...out.values()];
}

/** `net_raw`, `CAP_NET_RAW`, `ALL` → canonical `CAP_*` names (`ALL` kept). */
export function normalizeCap(name: string): string {
  const up = name.trim().toUpperCase();
  if (up === 'ALL') return up;
  return up.startsWith('CAP_') ? up : `CAP_${up}`;
}

function capabilitySet(add: readonly string[], drop: readonly string[], available: readonly string[] = Object.keys(CAPABILITY_NUMBERS)): string[] {
  const adds = add.map(normalizeCap);
  const drops = drop.map(normalizeCap);
  for (const c of [...adds, ...drops]) {
    if (c !== 'ALL' && CAPABILITY_NUMBERS[c] === undefined) {
      throw invalidArgument(`unknown capability ${c}`, 'use a name from capabilities(7), e.g. NET_RAW or CAP_NET_RAW');
    }
  }
  // `--cap-drop all` empties the set, then `--cap-add` puts entries back (Buildah's order).
  let caps = drops.includes('ALL') ? [] : DEFAULT_CAPABILITIES.filter((c) => !drops.includes(c));
  // `--cap-add ALL`: everything this process could give (a capability it lacks would make the runtime fail).
  for (const c of adds.flatMap((a) => (a === 'ALL' ? [...available].filter((x) => !drops.includes(x)) : [a]))) {
    if (!caps.includes(c)) caps = [...caps, c];
  }
  return caps;
}

/**
 * In a user namespace sysfs can only be mounted with a network namespace of
 * that user namespace; with the host's network it is bound read-only from the
 * host instead (as podman and Buildah do rootless).
 */
const SYSFS_BIND: SpecMount = { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };

const baseMounts = (rootless: boolean): SpecMount[] => [
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  rootless ? SYSFS_BIND : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
];

function toSpecMount(m: RunMount): SpecMount {
  const extra = m.options ?? [];
  if (m.type === 'tmpfs') {
    return { destination: m.target, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...(m.readonly ? ['ro'] : []), ...extra] };
  }
  if (m.type === 'overlay') {
    return { destination: m.target, type: 'overlay', source: 'overlay', options: [...(m.readonly ? ['ro'] : []), ...extra] };
  }
  if (m.source === undefined) throw invalidArgument(`bind mount at ${m.target} has no source`, 'give source=HOST_PATH');
  return { destination: m.target, type: 'bind', source: m.source, options: ['rbind', m.readonly ? 'ro' : 'rw', ...extra] };
}

export function buildSpec(o: SpecOptions): RuntimeSpec {
  if (o.args.length === 0) throw invalidArgument('run: no command given', 'put the command after --');
  const uid = o.uid ?? 0;
  const gid = o.gid ?? 0;
  let env = mergeEnv(o.imageEnv, o.env);
  if (!env.some((e) => e.startsWith('PATH='))) env = [`PATH=${DEFAULT_PATH}`, ...env];
  if (o.terminal && !env.some((e) => e.startsWith('TERM='))) env = [...env, 'TERM=xterm'];

  const caps = capabilitySet(o.capAdd ?? [], o.capDrop ?? [], o.availableCaps);
  // A non-root user keeps the bounding set (setuid binaries still work) but starts with
  // no effective/permitted capabilities, as Buildah and Docker do.
  const userCaps = uid === 0 ? caps : [];

  const namespaces = [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }];
  if (o.network === 'private') namespaces.push({ type: 'network' });

  const user: RuntimeSpec['process']['user'] = { uid, gid };
  if (o.additionalGids && o.additionalGids.length > 0) user.additionalGids = [...o.additionalGids];

  return {
    ociVersion: '1.0.2',
    process: {
      terminal: o.terminal ?? false,
      user,
      args: [...o.args],
      env,
      cwd: o.cwd ?? '/',
      capabilities: { bounding: caps, effective: userCaps, inheritable: [], permitted: userCaps, ambient: [] },
      noNewPrivileges: false,
      ...(o.rlimits && o.rlimits.length > 0 ? { rlimits: o.rlimits.map((r) => ({ type: `RLIMIT_${r.name.toUpperCase()}`, hard: r.hard, soft: r.soft })) } : {}),
    },
    root: { path: o.rootfs, readonly: false },
    hostname: o.hostname ?? 'tbah',
    mounts: [...baseMounts((o.rootless ?? false) && o.network !== 'private'), ...(o.mounts ?? []).map(toSpecMount)],
    linux: {
      namespaces,
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    },
  };
}
