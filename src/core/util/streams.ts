/** Stream plumbing that never loses an error (plain `.pipe` does, and a lost error hangs or ends the process silently). */
import type { Readable, Writable } from 'node:stream';

/** `src.pipe(next)`, with `src`'s errors passed on to `next` and `src` closed when `next` is. */
export function chain<T extends Writable>(src: Readable, next: T): T {
  src.on('error', (err) => next.destroy(err));
  next.on('close', () => {
    if (!src.destroyed) src.destroy();
  });
  return src.pipe(next);
}
