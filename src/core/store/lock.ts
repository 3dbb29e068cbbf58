/**
 * Store locks: Linux OFD byte-range locks (fs-native-extensions). The kernel
 * drops them when the holder dies, so `kill -9` never leaves a stale lock and
 * nobody waits out a timeout (measured in docs/architecture.md).
 */
import { promises as fsp, constants } from 'node:fs';
import * as path from 'node:path';
import { nativeFs } from '../util/native.js';
import { TbahError } from '../errors.js';

export type LockMode = 'shared' | 'exclusive';

export class Lock {
  private constructor(private fh: fsp.FileHandle | undefined, readonly file: string) {}

  static async acquire(file: string, mode: LockMode, timeoutMs = 10 * 60_000): Promise<Lock> {
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const fh = await fsp.open(file, constants.O_RDWR | constants.O_CREAT, 0o600);
    const shared = mode === 'shared';
    try {
      if (!nativeFs().tryLock(fh.fd, { shared })) {
        // Blocking wait runs on the libuv pool; a timer turns a hang into a clear error.
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new TbahError('lock-timeout', `timed out waiting for lock ${file}`, {
            hint: 'another tbah process holds it; wait for it to finish',
          })), timeoutMs);
          timer.unref();
        });
        try {
          await Promise.race([nativeFs().waitForLock(fh.fd, { shared }), timeout]);
        } finally {
          clearTimeout(timer);
        }
      }
    } catch (err) {
      await fh.close();
      throw err;
    }
    return new Lock(fh, file);
  }

  /** Take the lock only if it is free right now. */
  static async tryAcquire(file: string, mode: LockMode): Promise<Lock | undefined> {
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const fh = await fsp.open(file, constants.O_RDWR | constants.O_CREAT, 0o600);
    if (nativeFs().tryLock(fh.fd, { shared: mode === 'shared' })) return new Lock(fh, file);
    await fh.close();
    return undefined;
  }

  async release(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    if (fh) await fh.close(); // closing the fd releases the OFD lock
  }
}

export async function withLock<T>(file: string, mode: LockMode, fn: () => Promise<T>): Promise<T> {
  const lock = await Lock.acquire(file, mode);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
