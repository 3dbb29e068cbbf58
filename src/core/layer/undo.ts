/**
 * An undo log for changes made to a directory tree (a container's rootfs by
 * `copy`/`add`): what was created is removed, what was replaced was only moved
 * aside and comes back, and directories whose owner, mode or times were
 * changed get them back. So a copy that fails half-way (a full disk, a corrupt
 * archive) leaves the container as it was, and the next commit carries nothing
 * of it. Only a directory's ctime cannot be restored (the kernel owns it).
 *
 * Synchronous on purpose: the callers (copy, the layer applier) do their
 * per-file work synchronously.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { isErrno } from '../errors.js';

/** Times in seconds with microseconds: as close as utimes(2) through Node gets. */
interface DirMeta { path: string; uid: number; gid: number; mode: number; atime: number; mtime: number }

export class UndoLog {
  private readonly made: string[] = [];
  private readonly createdSet = new Set<string>();
  /** [original path, where it was moved] */
  private readonly asides: Array<[string, string]> = [];
  private readonly touched = new Map<string, DirMeta>();
  /** Replaced paths that could not be moved aside (see replace). */
  readonly lost: string[] = [];
  private n = 0;

  /**
   * `root`: the tree being changed (every directory up to it may get new
   * times: overlayfs copies parents up); `asideDir`: a private directory,
   * ideally on the same file system, for what gets replaced.
   */
  constructor(private readonly root: string, private readonly asideDir: string) {}

  /**
   * `p` is about to be created or changed: record the directories above it
   * first (creating it changes their times). Call before the change.
   */
  willChange(p: string): void {
    this.touchParent(p);
  }

  /** Something new now stands at `p` (it did not exist before). */
  created(p: string): void {
    if (this.createdSet.has(p)) return;
    this.createdSet.add(p);
    this.made.push(p);
    this.touchParent(p);
  }

  /** True when `p`, or a directory above it, was created by this log's owner. */
  isNew(p: string): boolean {
    for (let d = p; ; d = path.dirname(d)) {
      if (this.createdSet.has(d)) return true;
      if (path.dirname(d) === d) return false;
    }
  }

  /**
   * `p` is about to be removed or replaced: move it aside instead. Something
   * this log created is simply removed.
   */
  replace(p: string, st: fs.Stats): void {
    if (this.isNew(p)) {
      if (st.isDirectory()) fs.rmSync(p, { recursive: true, force: true });
      else fs.unlinkSync(p);
      return;
    }
    this.touchParent(p);
    const dest = path.join(this.asideDir, String(this.n++));
    try {
      fs.renameSync(p, dest);
      this.asides.push([p, dest]);
    } catch (err) {
      if (!isErrno(err, 'EXDEV') && !isErrno(err, 'ENOENT')) throw err;
      // Another file system (an overlay mount, a bind mount inside the rootfs): a sibling name is on the same one.
      const sibling = path.join(path.dirname(p), `.tbah-undo-${randomBytes(6).toString('hex')}`);
      try {
        fs.renameSync(p, sibling);
        this.asides.push([p, sibling]);
      } catch (err2) {
        // overlayfs without redirect_dir cannot rename a lower directory at all: remove it as
        // before the undo log existed; a rollback cannot bring this one back.
        if (!isErrno(err2, 'EXDEV')) throw err2;
        fs.rmSync(p, { recursive: true, force: true });
        this.lost.push(p);
      }
    }
  }

  /** The owner, mode or times of the existing directory `p` are about to change. */
  touch(p: string): void {
    if (this.touched.has(p) || this.isNew(p)) return;
    let st: fs.BigIntStats;
    try {
      st = fs.lstatSync(p, { bigint: true });
    } catch {
      return;
    }
    if (!st.isDirectory()) return;
    const sec = (ns: bigint): number => Number(ns / 1000n) / 1e6;
    this.touched.set(p, { path: p, uid: Number(st.uid), gid: Number(st.gid), mode: Number(st.mode) & 0o7777, atime: sec(st.atimeNs), mtime: sec(st.mtimeNs) });
  }

  private touchParent(p: string): void {
    for (let d = path.dirname(p); d.startsWith(this.root); d = path.dirname(d)) {
      this.touch(d); // once per directory: touch() keeps the first record
      if (d === this.root || path.dirname(d) === d) return;
    }
  }

  /** Put everything back as it was. Best effort: one failure does not stop the rest. */
  rollback(): void {
    const tryDo = (f: () => void): void => {
      try {
        f();
      } catch {
        // best effort
      }
    };
    for (const p of [...this.made].reverse()) tryDo(() => fs.rmSync(p, { recursive: true, force: true }));
    for (const [p, aside] of [...this.asides].reverse()) {
      tryDo(() => {
        fs.rmSync(p, { recursive: true, force: true });
        fs.renameSync(aside, p);
      });
    }
    // Deepest first, so restoring a parent's mtime comes after its children changed.
    for (const m of [...this.touched.values()].sort((a, b) => b.path.length - a.path.length)) {
      tryDo(() => {
        const st = fs.lstatSync(m.path);
        if (!st.isDirectory()) return;
        if (st.uid !== m.uid || st.gid !== m.gid) fs.lchownSync(m.path, m.uid, m.gid);
        fs.chmodSync(m.path, m.mode);
        fs.utimesSync(m.path, m.atime, m.mtime);
      });
    }
    this.forget();
  }

  /** The changes stay: drop what was moved aside. */
  commit(): void {
    for (const [, aside] of this.asides) fs.rmSync(aside, { recursive: true, force: true });
    this.forget();
  }

  private forget(): void {
    this.made.length = 0;
    this.createdSet.clear();
    this.asides.length = 0;
    this.touched.clear();
  }
}
