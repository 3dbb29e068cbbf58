/**
 * Parallel gzip for layer blobs, pigz-style: the input is cut into fixed-size blocks, each block is
 * raw-deflated on its own (primed with the last 32 KiB of the previous block as dictionary, ended
 * with Z_SYNC_FLUSH so blocks concatenate on byte boundaries, Z_FINISH on the last one), and the
 * results are written in order inside ONE standard gzip member. The CRC-32 is computed serially on
 * the main thread (zlib.crc32 runs at GB/s, so it never bounds throughput).
 *
 * Reproducibility: the block boundaries depend only on the input length and `blockSize`, never on
 * how the input was chunked on write or how many workers ran, so the bytes depend only on the
 * input, the level and the block size (for a given Node/zlib build). The header is fixed: mtime 0,
 * no name, XFL as zlib sets it for the level, OS = 3 (Unix, what zlib and pigz write on Linux) on
 * every platform. An input of at most one block is byte-identical to `zlib.gzipSync(input, { level })`
 * for levels 1–9 (level 0's stored-block sizes depend on output buffer space, so only tiny inputs match).
 */
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { availableParallelism } from 'node:os';
import { constants as zlibConstants, crc32, deflateRaw, deflateRawSync } from 'node:zlib';
import { TbahError } from '../errors.js';

export interface GzipStreamOptions {
  /** zlib level 0–9; default 6 (what gzip, pigz, Docker and Buildah use). */
  level?: number;
  /** Blocks compressed at once on libuv's thread pool; 0 = compress in the main thread. */
  workers?: number;
  /** Bytes per block (changing it changes the output bytes); default 1 MiB. */
  blockSize?: number;
}

export const DEFAULT_BLOCK_SIZE = 1 << 20;
const DICT_SIZE = 32 * 1024; // deflate's window: priming with more is pointless
const MIN_BLOCK_SIZE = DICT_SIZE;
const MAX_BLOCK_SIZE = 64 << 20;
const MAX_WORKERS = 4;

/** Default worker count: one per core, capped (more only adds memory and start-up time). */
export function defaultGzipWorkers(): number {
  return Math.max(1, Math.min(availableParallelism(), MAX_WORKERS));
}

/**
 * Returns a Transform that gzips what is written to it into a single gzip member.
 * Memory stays bounded: at most about 2×workers blocks are in flight (input + output).
 */
export function createGzipStream(opts: GzipStreamOptions = {}): Transform {
  const level = opts.level ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new TbahError('invalid-argument', `gzip level ${String(level)} is not an integer from 0 to 9`, { hint: 'use 6 (the default) unless you have measured otherwise' });
  }
  const workers = opts.workers ?? defaultGzipWorkers();
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) {
    throw new TbahError('invalid-argument', `gzip worker count ${String(workers)} is not an integer from 0 to 64`, { hint: 'leave it unset to use one worker per core' });
  }
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(blockSize) || blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE) {
    throw new TbahError('invalid-argument', `gzip block size ${String(blockSize)} is outside ${MIN_BLOCK_SIZE}..${MAX_BLOCK_SIZE}`, { hint: 'leave it unset (1 MiB); the block size is part of what makes the output reproducible' });
  }
  return new GzipStream(level, workers, blockSize);
}

/** Drops queued blocks of the shared pool (nothing keeps the process alive; kept for a clean shutdown). */
export async function terminateGzipPool(): Promise<void> {
  await pool.terminate();
}

// ---------------------------------------------------------------------------------------------
// Gzip framing (RFC 1952)

function gzipHeader(level: number): Buffer {
  // XFL exactly as zlib's deflate.c chooses it, so small inputs match zlib.gzipSync byte for byte.
  const xfl = level === 9 ? 2 : level < 2 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]);
}

function gzipTrailer(crc: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32LE(crc >>> 0, 0);
  b.writeUInt32LE(size % 2 ** 32, 4); // ISIZE is the length modulo 2^32
  return b;
}

// ---------------------------------------------------------------------------------------------
// Block compression. The pool and the in-thread path give the same bytes: one deflate call per block with these
// options: every parameter that shapes the bytes is pinned here, including chunkSize (level 0's
// stored blocks follow the output buffer size) and the single-call flush (an async zlib stream
// writes with Z_NO_FLUSH first, which also changes level 0's output).

interface DeflateOptions {
  level: number;
  windowBits: number;
  memLevel: number;
  strategy: number;
  chunkSize: number;
  finishFlush: number;
}

function deflateOptions(level: number, last: boolean): DeflateOptions {
  return {
    level, windowBits: 15, memLevel: 8, strategy: zlibConstants.Z_DEFAULT_STRATEGY, chunkSize: 64 * 1024,
    finishFlush: last ? zlibConstants.Z_FINISH : zlibConstants.Z_SYNC_FLUSH,
  };
}

interface Block {
  /** Dedicated buffer (own ArrayBuffer, offset 0). */
  data: ArrayBuffer;
  len: number;
  /** Last 32 KiB of the previous block (dedicated buffer), or null for the first block. */
  dict: ArrayBuffer | null;
  opts: DeflateOptions;
}

/** Blocks the event loop for one block (~30 ms per MiB at level 6): only for inputs of one block and workers: 0. */
function deflateInThread(b: Block): Buffer {
  const opts = b.dict === null ? b.opts : { ...b.opts, dictionary: new Uint8Array(b.dict) };
  return deflateRawSync(new Uint8Array(b.data, 0, b.len), opts);
}

interface Job {
  block: Block;
  owner: object;
  done: (err: Error | null, out?: Buffer) => void;
}

/**
 * Blocks are deflated on libuv's thread pool (zlib's asynchronous API), never
 * in worker threads: a worker is a whole V8 isolate (~40 MB RSS each, measured),
 * a pool thread costs nothing. At most `workers` blocks compress at once
 * (the pool also serves file reads), across all streams of the process.
 */
class DeflatePool {
  private readonly queue: Job[] = [];
  private running = 0;
  private limit = 0;

  /** `workers` is the submitting stream's parallelism: the pool runs as many as the largest seen. */
  submit(job: Job, workers: number): void {
    this.limit = Math.max(this.limit, workers);
    this.queue.push(job);
    this.pump();
  }

  /** Drops queued (not yet started) jobs of a destroyed stream. */
  cancel(owner: object): void {
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i]!.owner === owner) this.queue.splice(i, 1);
  }

  async terminate(): Promise<void> {
    this.limit = 0;
    const queued = this.queue.splice(0);
    for (const job of queued) job.done(new Error('gzip pool terminated'));
  }

  private pump(): void {
    while (this.queue.length > 0 && this.running < this.limit) {
      const job = this.queue.shift()!;
      this.running++;
      const b = job.block;
      const opts = b.dict === null ? b.opts : { ...b.opts, dictionary: new Uint8Array(b.dict) };
      // One write ended with the block's flush mode: the same bytes as deflateRawSync for levels 1–9.
      deflateRaw(new Uint8Array(b.data, 0, b.len), opts, (err, out) => {
        this.running--;
        job.done(err, out);
        this.pump();
      });
    }
  }
}

const pool = new DeflatePool();

// ---------------------------------------------------------------------------------------------

class GzipStream extends Transform {
  readonly #level: number;
  readonly #workers: number;
  readonly #blockSize: number;
  /** Blocks handed out for compression but not yet pushed downstream (input + output memory). */
  readonly #maxInFlight: number;

  #cur: Buffer | null = null;
  #curLen = 0;
  #prevTail: Buffer | null = null;
  #crc = 0;
  #total = 0;

  /** Input block buffers whose compression finished: reused, so a long stream allocates a handful, not one per MiB. */
  readonly #free: Buffer[] = [];

  #nextSeq = 0;
  #emitSeq = 0;
  #inFlight = 0;
  readonly #results = new Map<number, Buffer>();

  /** Downstream said stop (push returned false); resumed by _read. */
  #paused = false;
  #headerSent = false;
  #draining = false;
  /** A _transform or _flush stalled for in-flight room. */
  #waiting: (() => void) | null = null;
  #flushCb: TransformCallback | null = null;

  constructor(level: number, workers: number, blockSize: number) {
    super();
    this.#level = level;
    this.#workers = workers;
    this.#blockSize = blockSize;
    this.#maxInFlight = Math.max(2, workers * 2);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let off = 0;
    const step = (): void => {
      while (off < chunk.length) {
        if (this.#curLen === this.#blockSize) {
          // A full block is sent only once a byte beyond it arrives: the last block must be the
          // one flushed with Z_FINISH, wherever the input ends.
          if (this.#inFlight >= this.#maxInFlight) {
            this.#waiting = step;
            return;
          }
          this.#dispatch(false);
        }
        this.#cur ??= this.#free.pop() ?? Buffer.allocUnsafeSlow(this.#blockSize);
        const n = chunk.copy(this.#cur, this.#curLen, off, Math.min(chunk.length, off + this.#blockSize - this.#curLen));
        this.#curLen += n;
        off += n;
      }
      cb();
    };
    step();
  }

  override _flush(cb: TransformCallback): void {
    const step = (): void => {
      if (this.#inFlight >= this.#maxInFlight) {
        this.#waiting = step;
        return;
      }
      this.#dispatch(true);
      this.#flushCb = cb;
      this.#drain();
    };
    step();
  }

  override _read(size: number): void {
    this.#paused = false;
    this.#drain();
    super._read(size);
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    pool.cancel(this);
    this.#results.clear();
    this.#cur = this.#prevTail = null;
    this.#waiting = this.#flushCb = null;
    cb(err);
  }

  #dispatch(last: boolean): void {
    const seq = this.#nextSeq++;
    const len = this.#curLen;
    const data = this.#cur ?? Buffer.allocUnsafeSlow(0);
    const view = data.subarray(0, len);
    this.#crc = crc32(view, this.#crc);
    this.#total += len;
    const dict = this.#prevTail;
    if (!last) {
      // Copy the tail: the block's buffer is reused once it is compressed.
      this.#prevTail = Buffer.allocUnsafeSlow(DICT_SIZE);
      view.copy(this.#prevTail, 0, len - DICT_SIZE);
    }
    this.#cur = null;
    this.#curLen = 0;
    this.#inFlight++;

    const block: Block = { data: data.buffer as ArrayBuffer, len, dict: dict === null ? null : (dict.buffer as ArrayBuffer), opts: deflateOptions(this.#level, last) };
    const done = (err: Error | null, out?: Buffer): void => {
      if (this.destroyed) return;
      if (data.length === this.#blockSize) this.#free.push(data);
      if (err !== null) {
        this.destroy(new TbahError('internal', `parallel gzip failed on block ${seq}: ${err.message}`, { hint: 'this is a bug or the process ran out of memory; retry, or report it', cause: err }));
        return;
      }
      this.#results.set(seq, out!);
      this.#drain();
    };
    // A single-block input never pays worker start-up; the bytes are the same either way.
    // Level 0's stored blocks follow how the input was written, so it always takes the one-call path.
    if (this.#workers === 0 || (seq === 0 && last) || this.#level === 0) {
      // Deferred so results always arrive asynchronously (the ordering logic relies on it).
      setImmediate(() => {
        if (this.destroyed) return;
        let out: Buffer;
        try {
          out = deflateInThread(block);
        } catch (err) {
          return done(err instanceof Error ? err : new Error(String(err)));
        }
        done(null, out);
      });
    } else {
      pool.submit({ block, owner: this, done }, this.#workers);
    }
  }

  /** Pushes finished blocks in order while downstream wants them; wakes stalled writers. */
  #drain(): void {
    if (this.#draining || this.destroyed) return;
    this.#draining = true;
    try {
      for (;;) {
        let progressed = false;
        while (!this.#paused && this.#results.has(this.#emitSeq)) {
          const out = this.#results.get(this.#emitSeq)!;
          this.#results.delete(this.#emitSeq);
          this.#emitSeq++;
          this.#inFlight--;
          progressed = true;
          if (!this.#headerSent) {
            this.#headerSent = true;
            this.push(gzipHeader(this.#level));
          }
          if (!this.push(out)) this.#paused = true;
        }
        if (this.#waiting !== null && this.#inFlight < this.#maxInFlight) {
          const resume = this.#waiting;
          this.#waiting = null;
          resume();
          progressed = true;
        }
        if (this.#flushCb !== null && this.#emitSeq === this.#nextSeq) {
          const cb = this.#flushCb;
          this.#flushCb = null;
          this.push(gzipTrailer(this.#crc, this.#total));
          cb();
          return;
        }
        if (!progressed || this.destroyed) return;
      }
    } finally {
      this.#draining = false;
    }
  }
}
