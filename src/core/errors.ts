/**
 * Typed errors. The core throws these; the CLI renders them in one place as
 * `tbah: message` plus an optional `hint:` line and exits with `exitCode`.
 */
export type ErrorCode =
  | 'usage'
  | 'not-found'
  | 'invalid-reference'
  | 'invalid-argument'
  | 'conflict'
  | 'in-use'
  | 'corrupt'
  | 'unsafe-path'
  | 'io'
  | 'unsupported'
  | 'lock-timeout'
  | 'network'
  /** A registry wants (other) credentials: `tbah login` helps. */
  | 'unauthorized'
  /** Authenticated, but the account may not do this. */
  | 'denied'
  | 'internal';

export class TbahError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  /** Process exit status for the CLI; 125 is Buildah's code for its own failures. */
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, opts: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TbahError';
    this.code = code;
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? 125;
  }
}

export const notFound = (what: string, hint?: string): TbahError =>
  new TbahError('not-found', what, hint === undefined ? {} : { hint });

export const invalidArgument = (what: string, hint?: string): TbahError =>
  new TbahError('invalid-argument', what, hint === undefined ? {} : { hint });

export const unsafePath = (what: string): TbahError =>
  new TbahError('unsafe-path', what, { hint: 'the layer or source is hostile or broken; nothing was written outside the root' });

/** True for Node system errors with the given errno code (ENOENT, EEXIST, ...). */
export function isErrno(err: unknown, code: string): err is NodeJS.ErrnoException {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

/** What each errno means to a user, and what to do about it. */
const ERRNO_TEXT: Record<string, { what: string; hint: string }> = {
  ENOENT: { what: 'no such file or directory', hint: 'check the path; its parent directory must exist' },
  ENOTDIR: { what: 'a path component is not a directory', hint: 'check the path: it or one of its parents is not a directory' },
  EISDIR: { what: 'is a directory', hint: 'name a file, not a directory' },
  EACCES: { what: 'permission denied', hint: 'check the permissions of the path and its parents, or run as a user who may write there' },
  EPERM: { what: 'operation not permitted', hint: 'check the permissions and attributes (chattr, mount options) of the path, or run as root' },
  ENOSPC: { what: 'no space left on device', hint: 'free space on that file system, then run the command again' },
  EDQUOT: { what: 'disk quota exceeded', hint: 'free space within your quota, then run the command again' },
  EROFS: { what: 'read-only file system', hint: 'remount it read-write, or choose a path on a writable file system' },
  EEXIST: { what: 'already exists', hint: 'remove it or choose another path' },
  ENAMETOOLONG: { what: 'file name too long', hint: 'choose a shorter path' },
  EMFILE: { what: 'too many open files', hint: 'raise the open-file limit (`ulimit -n`)' },
  ENXIO: { what: 'no reader on the other end', hint: 'open the FIFO for reading first' },
  EPIPE: { what: 'the reading end went away', hint: 'keep the reader of the pipe open until the command ends' },
  ELOOP: { what: 'too many levels of symbolic links', hint: 'check the links along the path' },
  EIO: { what: 'input/output error', hint: 'the disk is failing, or this is a file that cannot be read as a whole (like /proc/self/mem)' },
};

/** The errno codes errnoError turns into plain sentences. */
export const KNOWN_ERRNOS: ReadonlySet<string> = new Set(Object.keys(ERRNO_TEXT));

/** Codes about a file system as a whole, not one path: inside a store, the store is the thing to name. */
export const WHOLE_FS: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'EROFS']);

/** Roots of the stores this process opened (noted by the BlobStore), so errors inside them can name the store. */
const storeRoots = new Set<string>();

export function noteStoreRoot(root: string): void {
  storeRoots.add(root);
}

function storeOf(p: string): string | undefined {
  for (const r of storeRoots) if (p === r || p.startsWith(r + '/')) return r;
  return undefined;
}

/** `/dir/.tmp-x.tar-1a2b3c` → `/dir/x.tar`: the name the user gave, not the temp file beside it. */
function userName(p: string): string {
  const slash = p.lastIndexOf('/');
  const m = /^\.tmp-(.+)-[0-9a-f]{12}$/.exec(p.slice(slash + 1));
  return m ? p.slice(0, slash + 1) + m[1] : p;
}

const errnoCode = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null && typeof (err as NodeJS.ErrnoException).code === 'string' ? (err as NodeJS.ErrnoException).code : undefined;

/**
 * A Node system error as one line naming the user's thing, e.g.
 * `no space left on device writing the store /var/lib/tbah`: a full or
 * read-only file system under a store names the store; a temp name
 * (`.tmp-NAME-hex`) is shown as the user's NAME. Anything that is not a
 * known errno error is returned unchanged.
 */
export function errnoError(err: unknown, doing: string, target: string): unknown {
  if (err instanceof TbahError) return err;
  const code = errnoCode(err);
  const t = code === undefined ? undefined : ERRNO_TEXT[code];
  if (t === undefined) return err;
  const store = WHOLE_FS.has(code!) ? storeOf(target) : undefined;
  const name = userName(target);
  const shown = store !== undefined ? `the store ${store}` : name.length > 200 ? `${name.slice(0, 200)}…` : name;
  // In a store, tbah itself can free space: say how.
  const hint = store !== undefined && code !== 'EROFS' ? t.hint.replace(/^free space/, 'free space (`tbah rmi`, `tbah rm`, or elsewhere)') : t.hint;
  return new TbahError(code === 'ENOENT' ? 'not-found' : 'io', `${t.what} ${doing} ${shown}`, { hint, cause: err });
}

/** Like errnoError, for a full or read-only file system only; every other error is returned unchanged. */
export function diskError(err: unknown, doing: string, target: string): unknown {
  const code = errnoCode(err);
  return code !== undefined && WHOLE_FS.has(code) ? errnoError(err, doing, target) : err;
}

const READS = new Set(['read', 'scandir', 'stat', 'lstat', 'fstat', 'readlink', 'access', 'opendir', 'realpath']);

/**
 * Any Node system error that reached the top, as a TbahError naming its
 * path (or the store). Undefined when `err` is not a system error with a known code.
 */
export function systemError(err: unknown): TbahError | undefined {
  const e = err as NodeJS.ErrnoException;
  const code = errnoCode(err);
  if (err instanceof TbahError || code === undefined || !KNOWN_ERRNOS.has(code)) return undefined;
  const p = e.path ?? (e as { dest?: string }).dest;
  // A full or read-only file system is met by writes; open(2) otherwise may be either: say only what was done.
  const doing = WHOLE_FS.has(code) ? 'writing' : e.syscall === 'open' ? 'opening' : e.syscall !== undefined && READS.has(e.syscall) ? 'reading' : 'writing';
  if (p === undefined) {
    const only = storeRoots.size === 1 ? [...storeRoots][0] : undefined;
    // A write on a file descriptor carries no path: inside a command that opened one store, it was that store.
    return errnoError(err, doing, only !== undefined && WHOLE_FS.has(code) ? only : 'a file') as TbahError;
  }
  return errnoError(err, doing, p) as TbahError;
}
