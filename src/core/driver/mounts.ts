/**
 * Kernel mounts for the overlay driver. Node has no mount(2), so util-linux's
 * `mount`/`umount` do it (a few ms each); whether a path is mounted is read
 * from /proc/self/mountinfo, never trusted from our own state (a reboot or a
 * killed tbah can make the two disagree).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { TbahError } from '../errors.js';

/** Mount points of this mount namespace (octal escapes decoded). */
export function mountPoints(): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4) out.push(unescapeMountPath(f[4]!));
  }
  return out;
}

function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function isMountPoint(p: string, points: string[] = mountPoints()): boolean {
  return points.includes(p);
}

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string, points: string[] = mountPoints()): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return points.filter((p) => p === dir || p.startsWith(prefix)).sort((a, b) => b.length - a.length);
}

/** util-linux and coreutils tools by absolute path when PATH lacks them (a caller's narrowed PATH). */
function tool(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/bin', '/usr/sbin', '/sbin'])) {
    if (dir !== '' && existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return name;
}

function run(cmd: string, args: string[], cwd?: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(tool(cmd), args, { cwd, encoding: 'utf8' }, (err, _stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 127) : 0;
      resolve({ code, stderr: String(stderr).trim() || (err && code === 127 ? (err as Error).message : '') });
    });
  });
}

export interface OverlayMount {
  /** Lower directories, topmost first, relative to `cwd` (kept short: the options must fit in one page). */
  lower: string[];
  upper?: string;
  work?: string;
  cwd: string;
  target: string;
  readOnly?: boolean;
  /** In a user namespace overlayfs keeps its whiteout/opaque markers in user.overlay.* xattrs. */
  userXattr?: boolean;
}

/** Page size bound of mount(2) option data. */
const MAX_OPTIONS = 4095;

export function overlayOptions(m: OverlayMount): string {
  // redirect_dir/metacopy off: the upper directory must hold whole files and plain
  // directories, so a commit can read it as a change set (a renamed lower directory is
  // copied, as with Docker's overlay2); index off: layers are shared by many mounts.
  const opts = [`lowerdir=${m.lower.join(':')}`];
  if (m.upper !== undefined) opts.push(`upperdir=${m.upper}`, `workdir=${m.work}`);
  opts.push('redirect_dir=off', 'index=off', 'metacopy=off');
  if (m.userXattr) opts.push('userxattr');
  if (m.readOnly) opts.push('ro');
  return opts.join(',');
}

export async function mountOverlay(m: OverlayMount): Promise<void> {
  const options = overlayOptions(m);
  if (options.length > MAX_OPTIONS) {
    throw new TbahError('unsupported', `the container has too many layers (${m.lower.length}) for one overlay mount`, {
      hint: 'commit with --squash to fold them, or use --storage-driver dir',
    });
  }
  const r = await run('mount', ['-t', 'overlay', 'overlay', '-o', options, m.target], m.cwd);
  if (r.code !== 0) {
    throw new TbahError('io', `mounting the overlay at ${m.target} failed: ${r.stderr || `mount exited ${r.code}`}`, {
      hint: 'the overlay driver needs root and a file system overlayfs accepts as upper (ext4, xfs, tmpfs); or use --storage-driver dir',
    });
  }
}

/**
 * Unmount `target`. Busy mounts are an error unless `lazy` (detach now, free
 * when the last user goes): only safe when nothing will be moved from under it.
 */
export async function unmount(target: string, opts: { lazy?: boolean } = {}): Promise<void> {
  const r = await run('umount', opts.lazy ? ['-l', target] : [target]);
  if (r.code === 0 || !isMountPoint(target)) return;
  if (/busy/i.test(r.stderr)) {
    throw new TbahError('in-use', `${target} is busy: a process is using the mounted container`, {
      hint: 'leave the mount point (cd elsewhere) and stop programs using files under it, then try again',
    });
  }
  throw new TbahError('io', `unmounting ${target} failed: ${r.stderr || `umount exited ${r.code}`}`);
}

/** Create an overlay whiteout (a 0/0 character device) at `file`. */
export async function makeWhiteoutDevice(file: string): Promise<void> {
  const r = await run('mknod', ['-m', '0000', '--', file, 'c', '0', '0']);
  if (r.code !== 0) {
    throw new TbahError('io', `creating an overlay whiteout at ${file} failed: ${r.stderr}`, {
      hint: 'the overlay driver needs root (or a user namespace on Linux ≥ 5.8); or use --storage-driver dir',
    });
  }
}
