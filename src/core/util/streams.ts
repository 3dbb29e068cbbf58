/** Stream plumbing that never loses an error (plain `.pipe` does, and a lost error hangs or ends the process silently). */
import type { Readable, Writable } from 'node:stream';

/** `src.pipe(next)`, with `src`'s errors passed on to `next` and `src` closed when `next` is. */
export function chain<T extends Writable>(src: Readable, next: T): T {
  src.on('error', (err) => next.destroy(err));
  // Data flows at once: an error (a blob that is too long) may come before the
  // consumer attaches. Kept in `next`'s state, it reaches the consumer's
  // pipeline or `for await` then, instead of crashing the process now.
  next.on('error', keep);
  next.on('close', () => {
    if (!src.destroyed) src.destroy();
  });
  return src.pipe(next);
}

/** An error listener that only keeps the stream from crashing the process; the error stays in `stream.errored`. */
export function keep(): void {}
