/**
 * Path resolution as if chrooted into `root` (after filepath-securejoin and
 * Buildah's copier): every component is lstat'ed, symlinks are resolved
 * against `root` (absolute targets re-rooted, `..` clamped at root), so the
 * result can never name anything outside `root` — whatever the tree holds.
 */
import { lstat, mkdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { TbahError, isErrno, unsafePath } from '../errors.js';

/** Linux's own limit on symlinks followed in one lookup. */
const MAX_SYMLINKS = 40;

type Known = 'dir' | 'other' | 'missing';

interface Resolved {
  parts: string[];
  /** What lstat said about each part (symlinks never appear: they were resolved). */
  kinds: Known[];
}

async function resolveParts(root: string, p: string, followFinal: boolean): Promise<Resolved> {
  const parts: string[] = [];
  const kinds: Known[] = [];
  const queue = p.split('/').reverse(); // pop() takes the next component
  let links = 0;
  while (queue.length > 0) {
    const c = queue.pop()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      parts.pop(); // clamped: popping the empty root is a no-op
      kinds.pop();
      continue;
    }
    const parentKind = kinds.length === 0 ? 'dir' : kinds[kinds.length - 1];
    if (parentKind !== 'dir') {
      // Nothing exists below a missing or non-directory component, so there is no symlink to follow.
      parts.push(c);
      kinds.push('missing');
      continue;
    }
    if (!followFinal && queue.every((q) => q === '' || q === '.')) {
      parts.push(c);
      kinds.push(await kindOf(path.join(root, ...parts)));
      continue;
    }
    const full = path.join(root, ...parts, c);
    let st;
    try {
      st = await lstat(full);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) {
        parts.push(c);
        kinds.push('missing');
        continue;
      }
      throw cannotInspect(full, err);
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw unsafePath(`too many levels of symbolic links resolving '${p}' inside '${root}'`);
      const target = await readlink(full);
      if (target.startsWith('/')) {
        parts.length = 0;
        kinds.length = 0;
      }
      const t = target.split('/');
      for (let i = t.length - 1; i >= 0; i--) queue.push(t[i]!);
      continue;
    }
    parts.push(c);
    kinds.push(st.isDirectory() ? 'dir' : 'other');
  }
  return { parts, kinds };
}

async function kindOf(full: string): Promise<Known> {
  try {
    const st = await lstat(full);
    return st.isDirectory() ? 'dir' : 'other';
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return 'missing';
    throw cannotInspect(full, err);
  }
}

/** One line, whatever the length of the path (a 70,000-byte name must not flood the terminal). */
function cannotInspect(full: string, err: unknown): TbahError {
  const shown = full.length > 200 ? `${full.slice(0, 200)}…` : full;
  if (isErrno(err, 'ENAMETOOLONG')) return new TbahError('invalid-argument', `path '${shown}' has a name longer than the file system allows`, { hint: 'use shorter names', cause: err });
  return new TbahError('io', `cannot inspect '${shown}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
}

/**
 * The host path that `p` names inside `root`, resolving symlinks as the
 * kernel would if `root` were `/`. Missing components are fine (joined as
 * they are). With `followFinal: false` a final symlink is not followed.
 */
export async function resolveInRoot(root: string, p: string, opts: { followFinal?: boolean } = {}): Promise<string> {
  const r = path.resolve(root);
  const { parts } = await resolveParts(r, p, opts.followFinal ?? true);
  return path.join(r, ...parts);
}

/**
 * Create the directory `p` inside `root` (and its missing parents), after
 * resolving it like `resolveInRoot`. Returns the host path of the directory.
 * A non-directory in the way is an error naming it.
 */
export async function mkdirAllInRoot(root: string, p: string, mode = 0o755): Promise<string> {
  const r = path.resolve(root);
  // A retry only happens if someone swaps a component for a symlink while we work.
  for (let attempt = 0; attempt < 8; attempt++) {
    const { parts, kinds } = await resolveParts(r, p, true);
    let raced = false;
    for (let i = 0; i < parts.length; i++) {
      if (kinds[i] === 'dir') continue;
      const full = path.join(r, ...parts.slice(0, i + 1));
      if (kinds[i] === 'other') throw notADirectory(r, full, p);
      try {
        await mkdir(full, mode);
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) {
          throw new TbahError('io', `cannot create directory '${full}': ${(err as Error).message}`, { cause: err });
        }
        const st = await lstat(full);
        if (st.isSymbolicLink()) {
          raced = true;
          break;
        }
        if (!st.isDirectory()) throw notADirectory(r, full, p);
      }
    }
    if (!raced) return path.join(r, ...parts);
  }
  throw unsafePath(`'${p}' inside '${r}' keeps changing while its directories are created`);
}

const notADirectory = (root: string, full: string, p: string): TbahError =>
  new TbahError('conflict', `'${path.relative(root, full) || '.'}' is not a directory (needed for '${p}' inside '${root}')`, {
    hint: 'a file or device stands where a directory is needed; remove it or fix the layer',
  });
