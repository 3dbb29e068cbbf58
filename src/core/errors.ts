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
