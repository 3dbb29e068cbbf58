// A file system of the benchmark's own (tmpfs, or ext4 on a loop image) so results do not depend on
// the state of the root disk, and its teardown: every mount below it (Buildah's overlay mounts
// included) is undone, then the file system itself, then the temp directory.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Every mount of this process's namespace: { mountPoint, fsType, source, superOptions }, oldest first. */
export function readMounts() {
  const unescape = (x) => x.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  const out = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const f = line.slice(0, sep).split(' ');
    const [fsType, source, superOptions] = line.slice(sep + 3).split(' ');
    out.push({ mountPoint: unescape(f[4]), options: f[5], fsType, source: unescape(source ?? ''), superOptions: unescape(superOptions ?? '') });
  }
  return out;
}

/** Mount points at or below `dir`, deepest first (so they can be unmounted in order). */
export function mountsUnder(dir) {
  const out = readMounts().map((m) => m.mountPoint).filter((mp) => mp === dir || mp.startsWith(dir + '/'));
  // Later lines are newer mounts; deeper paths must go first as well.
  return out.reverse().sort((a, b) => b.split('/').length - a.split('/').length);
}

function umount(mp) {
  let r = spawnSync('umount', [mp], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) r = spawnSync('umount', ['-l', mp], { stdio: ['ignore', 'ignore', 'pipe'] });
  return r.status === 0 ? null : `umount ${mp}: ${String(r.stderr).trim()}`;
}

/** Unmount everything mounted strictly below `dir` (not `dir` itself). Returns error strings. */
export function unmountBelow(dir) {
  return mountsUnder(dir).filter((mp) => mp !== dir).map(umount).filter(Boolean);
}

/**
 * Unmount everything below `dir` and every mount elsewhere whose source or options name a path
 * under it (an overlay mounted outside its store, with lowerdir/upperdir inside). Newest first.
 */
export function unmountReferencing(dir) {
  const inside = (p) => p === dir || p.startsWith(dir + '/');
  const mentions = (m) => m.source.split(/[,:=]/).some(inside) || m.superOptions.split(/[,:=]/).some(inside);
  const targets = readMounts().filter((m) => (inside(m.mountPoint) && m.mountPoint !== dir) || (!inside(m.mountPoint) && mentions(m)));
  const errors = [];
  for (const m of targets.reverse().sort((a, b) => b.mountPoint.split('/').length - a.mountPoint.split('/').length)) {
    if (!readMounts().some((x) => x.mountPoint === m.mountPoint)) continue; // went with its parent
    const e = umount(m.mountPoint);
    if (e) errors.push(e);
  }
  return errors;
}

/**
 * Create and mount the benchmark file system. `kind` is 'tmpfs' or 'ext4'; `size` like '8g'.
 * Returns { dir, kind, size, teardown() }; teardown is synchronous and idempotent, so it can run
 * from an 'exit' handler too.
 */
export function createScratchFs(kind, size) {
  const base = mkdtempSync(path.join(os.tmpdir(), 'tbah-bench-'));
  const dir = path.join(base, 'fs');
  let image;
  let features = null;
  let mounted = false;
  let done = false;
  const run = (cmd, args) => {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${String(r.stderr).trim() || `exit ${r.status}`}`);
  };
  const teardown = () => {
    if (done) return [];
    done = true;
    const errors = [];
    if (mounted) {
      errors.push(...unmountReferencing(dir));
      const e = umount(dir);
      if (e) errors.push(e);
    }
    // Only remove what is no longer a mount: never delete through a live mount.
    if (!existsSync(dir) || mountsUnder(dir).length === 0) rmSync(base, { recursive: true, force: true });
    else errors.push(`left ${base} in place: still mounted`);
    return errors;
  };
  try {
    mkdirSync(dir);
    if (kind === 'tmpfs') {
      run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
    } else if (kind === 'ext4') {
      image = path.join(base, 'ext4.img');
      run('truncate', ['-s', size, image]);
      // mkfs.ext4's defaults include a journal (has_journal); mounted with the default data=ordered.
      run('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', image]);
      run('mount', ['-o', 'loop', image, dir]);
      const d = spawnSync('dumpe2fs', ['-h', image], { encoding: 'utf8' });
      features = /Filesystem features:\s*(.*)/.exec(d.stdout ?? '')?.[1]?.trim().split(/\s+/) ?? null;
    } else {
      throw new Error(`--fs ${kind}: expected tmpfs or ext4`);
    }
    mounted = true;
  } catch (err) {
    teardown();
    throw err;
  }
  const mount = readMounts().filter((m) => m.mountPoint === dir).at(-1);
  // A loop device reads and writes its image through the host's page cache unless direct I/O is on.
  let loopDirectIo = null;
  const loop = /^\/dev\/(loop\d+)$/.exec(mount?.source ?? '');
  if (loop) {
    try { loopDirectIo = readFileSync(`/sys/block/${loop[1]}/loop/dio`, 'utf8').trim() === '1'; } catch { /* older kernel */ }
  }
  return { dir, kind, size, image: image ?? null, backingDir: base, features,
    mountOptions: mount ? `${mount.options},${mount.superOptions}` : null, source: mount?.source ?? null, loopDirectIo, teardown };
}
