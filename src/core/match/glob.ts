/**
 * Source globs for `tbah copy`/`add`, as Buildah's copier expands them
 * (`copier.extendedGlob`): Go `filepath.Glob` per pattern, where a `**`
 * component stands for every directory below that point, itself included,
 * without following symlinks (Go's WalkDir). Results are sorted by bytes.
 *
 * Buildah runs this chrooted into the source root; tbah resolves every
 * directory it reads with `resolveInRoot`, so symlinks behave as they would
 * in that chroot and nothing outside `root` is ever listed.
 *
 * Two deliberate departures from Buildah's implementation, both where it
 * re-reads paths as patterns: a `**` that follows a wildcard component
 * expands the wildcard first (Buildah walks the literal path, e.g. "*", and
 * finds nothing), and directory names found under `**` are taken literally
 * (Buildah would re-read a directory named `[x]` as a character class).
 */
import type { Dirent } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { isErrno } from '../errors.js';
import { resolveInRoot } from '../layer/secure-path.js';
import { compileMatch, goClean, hasMagic } from './pattern.js';

export { hasMagic } from './pattern.js';

type Comp = { lit: string } | { re: RegExp };

/** A concrete path inside root ('' = root) and, when known, its host path with no symlink left in it. */
interface Node {
  rel: string;
  host?: string;
  /** lstat said directory (only meaningful with `host`). */
  dir?: boolean;
}

/** A pattern as Buildah holds it between `**` expansions: a concrete base plus components still to glob. */
interface Pending {
  base: Node;
  comps: Comp[];
}

/** One expansion's state: the root, and directory listings already read (a `**` walk reads each once). */
interface Ctx {
  root: string;
  listings: Map<string, Dirent[]>;
}

const join = (a: string, b: string): string => (a === '' ? b : `${a}/${b}`);
const ignorable = (err: unknown): boolean =>
  isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'EACCES') || isErrno(err, 'ELOOP') || isErrno(err, 'EPERM');

/** Bytewise order, root first — the order of Buildah's sort.Strings over absolute paths. */
function compareRel(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '') return -1;
  if (b === '') return 1;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Expand `pattern` (relative to `root`; a leading '/' also means root) to the
 * relative paths it names, sorted by bytes and deduplicated; the root itself
 * is ".". A pattern without magic names itself if it exists (lstat). A
 * malformed pattern throws TbahError('invalid-argument').
 */
export async function expandGlob(root: string, pattern: string): Promise<string[]> {
  const ctx: Ctx = { root: path.resolve(root), listings: new Map() };
  // Buildah joins the pattern onto its directory first, which cleans it lexically (`a/*/..` is `a`).
  const parts = goClean(`/${pattern}`).split('/').filter((p) => p !== '');
  // Compile everything first: Go's Glob rejects a bad pattern before touching the disk.
  const comps: (Comp | '**')[] = parts.map((p) => (p === '**' ? '**' : hasMagic(p) ? { re: compileMatch(p) } : { lit: p }));

  let pending: Pending[] = [{ base: { rel: '', host: ctx.root }, comps: [] }];
  for (const c of comps) {
    if (c === '**') {
      const starts = (await Promise.all(pending.map((p) => globPending(ctx, p)))).flat();
      // Parents first: a directory already reached by a walk has had its whole subtree walked.
      starts.sort((a, b) => compareRel(a.rel, b.rel));
      const walked = new Map<string, Node>();
      for (const s of starts) {
        if (walked.has(s.rel)) continue;
        for (const d of await walkDirs(ctx, s)) walked.set(d.rel, d);
      }
      pending = [...walked.values()].map((d) => ({ base: d, comps: [] }));
    } else {
      for (const p of pending) p.comps.push(c);
    }
  }

  // Directories are read concurrently: the order is restored by the final sort.
  const found = new Set<string>();
  for (const nodes of await Promise.all(pending.map((p) => globPending(ctx, p)))) for (const n of nodes) found.add(n.rel);
  return [...found].sort(compareRel).map((r) => (r === '' ? '.' : r));
}

/** Go's filepath.Glob of one pending pattern. */
async function globPending(ctx: Ctx, p: Pending): Promise<Node[]> {
  if (!p.comps.some((c) => 're' in c)) {
    // No magic: the path itself, if lstat finds it.
    const rel = p.comps.reduce((acc, c) => join(acc, (c as { lit: string }).lit), p.base.rel);
    if (p.comps.length === 0 && p.base.host !== undefined && p.base.dir !== undefined) return [p.base];
    const host = await resolveInRoot(ctx.root, rel, { followFinal: false });
    try {
      const st = await lstat(host);
      return [st.isSymbolicLink() ? { rel } : { rel, host, dir: st.isDirectory() }];
    } catch (err) {
      if (ignorable(err)) return [];
      throw err;
    }
  }
  let nodes: Node[] = [p.base];
  let seenMagic = false;
  for (const c of p.comps) {
    const next: Node[] = [];
    if ('lit' in c && !seenMagic) {
      // Before any wildcard Go just joins; the directory is checked when it is read.
      for (const n of nodes) next.push({ rel: join(n.rel, c.lit) });
    } else {
      const listings = await Promise.all(nodes.map((n) => listDir(ctx, n)));
      for (const [k, n] of nodes.entries()) {
        for (const e of listings[k]!) {
          if ('lit' in c ? e.name !== c.lit : !c.re.test(e.name)) continue;
          const rel = join(n.rel, e.name);
          next.push(e.host !== undefined ? { rel, host: e.host, dir: e.dir } : { rel });
        }
      }
      seenMagic = true;
    }
    nodes = next;
  }
  return nodes;
}

/** Entries of a directory, following symlinks to it as the chroot would (Go's glob() stats the dir). */
async function listDir(ctx: Ctx, n: Node): Promise<{ name: string; host?: string; dir?: boolean }[]> {
  if (n.host !== undefined && n.dir === false) return [];
  let host = n.host !== undefined && n.dir === true ? n.host : undefined;
  if (host === undefined) {
    host = await resolveInRoot(ctx.root, n.rel);
    try {
      if (!(await stat(host)).isDirectory()) return [];
    } catch (err) {
      if (ignorable(err)) return [];
      throw err;
    }
  }
  let ents = ctx.listings.get(host);
  if (ents === undefined) {
    try {
      ents = await readdir(host, { withFileTypes: true });
    } catch (err) {
      if (ignorable(err)) return [];
      throw err;
    }
  }
  return ents.map((e) => (e.isSymbolicLink() ? { name: e.name } : { name: e.name, host: path.join(host, e.name), dir: e.isDirectory() }));
}

/** Go's WalkDir from `start` collecting directories: the start itself only if lstat says directory; never follows symlinks. */
async function walkDirs(ctx: Ctx, start: Node): Promise<Node[]> {
  let host = start.host;
  if (host === undefined || start.dir === undefined) {
    host = await resolveInRoot(ctx.root, start.rel, { followFinal: false });
    try {
      if (!(await lstat(host)).isDirectory()) return [];
    } catch (err) {
      if (ignorable(err)) return [];
      throw err;
    }
  } else if (!start.dir) return [];
  const out: Node[] = [];
  const walk = async (rel: string, dirHost: string): Promise<void> => {
    out.push({ rel, host: dirHost, dir: true });
    let ents: Dirent[];
    try {
      ents = await readdir(dirHost, { withFileTypes: true });
    } catch (err) {
      if (ignorable(err)) return; // Go's WalkDir keeps the directory, skips its contents
      throw err;
    }
    ctx.listings.set(dirHost, ents);
    await Promise.all(ents.filter((e) => e.isDirectory()).map((e) => walk(join(rel, e.name), path.join(dirHost, e.name))));
  };
  await walk(start.rel, host);
  return out;
}
