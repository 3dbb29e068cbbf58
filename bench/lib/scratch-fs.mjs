// A file system of the benchmark's own (tmpfs, or ext4 on a loop image) so results do not depend on
// the state of the root disk, and its teardown: every mount below it (Buildah's overlay mounts
// included) is undone, then the file system itself, then the temp directory.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Mount points at or below `dir`, deepest first (so they can be unmounted in order). */
export function mountsUnder(dir) {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  const unescape = (s) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  const out = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const mp = unescape(f[4]);
    if (mp === dir || mp.startsWith(dir + '/')) out.push(mp);
  }
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
 * Create and mount the benchmark file system. `kind` is 'tmpfs' or 'ext4'; `size` like '8g'.
 * Returns { dir, kind, size, teardown() }; teardown is synchronous and idempotent, so it can run
 * from an 'exit' handler too.
 */
export function createScratchFs(kind, size) {
  const base = mkdtempSync(path.join(os.tmpdir(), 'tbah-bench-'));
  const dir = path.join(base, 'fs');
  let image;
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
      errors.push(...unmountBelow(dir));
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
      run('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', image]);
      run('mount', ['-o', 'loop', image, dir]);
    } else {
      throw new Error(`--fs ${kind}: expected tmpfs or ext4`);
    }
    mounted = true;
  } catch (err) {
    teardown();
    throw err;
  }
  return { dir, kind, size, teardown };
}
