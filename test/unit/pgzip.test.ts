import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';
import { createGzipStream, terminateGzipPool, DEFAULT_BLOCK_SIZE } from '../../src/core/layer/pgzip.js';
import type { GzipStreamOptions } from '../../src/core/layer/pgzip.js';
import { TbahError } from '../../src/core/errors.js';

const MiB = 1 << 20;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tbah-pgzip-'));
after(async () => {
  await terminateGzipPool();
  rmSync(tmp, { recursive: true, force: true });
});

/** Writes `input` in pieces of the given sizes (cycled), honouring backpressure; returns the output. */
async function gzip(input: Buffer, opts: GzipStreamOptions = {}, pieces: number[] = [64 * 1024]): Promise<Buffer> {
  const s = createGzipStream(opts);
  const out: Buffer[] = [];
  s.on('data', (d: Buffer) => out.push(d));
  const ended = once(s, 'end');
  let off = 0;
  for (let i = 0; off < input.length; i++) {
    const n = pieces[i % pieces.length]!;
    if (!s.write(input.subarray(off, off + n))) await once(s, 'drain');
    off += n;
  }
  s.end();
  await ended;
  return Buffer.concat(out);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Text-like data (compressible) interleaved with random runs (incompressible). */
function mixed(size: number): Buffer {
  const b = Buffer.alloc(size);
  let off = 0;
  let i = 0;
  while (off < size) {
    const n = Math.min(size - off, 20_000 + ((i * 7919) % 150_000));
    if (i % 3 === 2) randomBytes(n).copy(b, off);
    else b.write(`line ${i} of some layer file: ${'abcdefghij'.repeat(1 + (i % 5))}\n`.repeat(Math.ceil(n / 40)).slice(0, n), off, 'latin1');
    off += n;
    i++;
  }
  return b;
}

function runTool(cmd: string, args: string[], input: Buffer): Buffer {
  const r = spawnSync(cmd, args, { input, maxBuffer: 256 * MiB });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr?.toString()}`);
  return r.stdout;
}

test('small input: same bytes as zlib.gzipSync, fixed header (mtime 0, no name, OS 3)', async () => {
  const input = Buffer.from('hello layer\n'.repeat(3000));
  for (const level of [0, 1, 6, 9]) {
    const out = await gzip(input, { level });
    assert.deepEqual(out, zlib.gzipSync(input, { level }), `level ${level}`);
    assert.deepEqual([...out.subarray(0, 4)], [0x1f, 0x8b, 8, 0]); // magic, deflate, no FNAME/FEXTRA
    assert.equal(out.readUInt32LE(4), 0); // mtime
    assert.equal(out[8], level === 9 ? 2 : level < 2 ? 4 : 0); // XFL
    assert.equal(out[9], 3); // OS: Unix
  }
  // Default level is 6.
  assert.deepEqual(await gzip(input), zlib.gzipSync(input, { level: 6 }));
});

test('empty input gives a valid empty gzip member', async () => {
  for (const workers of [0, 2]) {
    const out = await gzip(Buffer.alloc(0), { workers });
    assert.deepEqual(out, zlib.gzipSync(Buffer.alloc(0)));
    assert.equal(zlib.gunzipSync(out).length, 0);
  }
});

test('input of exactly one block is one deflate block; one byte more makes two', async () => {
  const one = mixed(DEFAULT_BLOCK_SIZE);
  const out = await gzip(one, { workers: 2 });
  assert.deepEqual(out, zlib.gzipSync(one)); // compressed in-thread, Z_FINISH, no dictionary
  const two = Buffer.concat([one, Buffer.from('x')]);
  const out2 = await gzip(two, { workers: 2 });
  assert.notDeepEqual(out2, zlib.gzipSync(two));
  assert.deepEqual(zlib.gunzipSync(out2), two);
  // The same for a small block size at its boundary.
  const small = mixed(64 * 1024);
  assert.deepEqual(await gzip(small, { blockSize: 64 * 1024, workers: 2 }), zlib.gzipSync(small));
});

test('multi-block output is identical across worker counts and write chunkings', async () => {
  const input = Buffer.concat([mixed(3 * MiB + 12345), randomBytes(2 * MiB + 7), mixed(MiB / 2)]);
  const ref = await gzip(input, { workers: 1 });
  assert.deepEqual(zlib.gunzipSync(ref), input);
  assert.ok(ref.length < input.length * 0.8, 'compressible parts were compressed');
  const chunkings = [[input.length], [1000], [DEFAULT_BLOCK_SIZE], [DEFAULT_BLOCK_SIZE + 1, 3], [1, 17, 65_536, 300_001, 4096]];
  for (const workers of [0, 1, 2, 4]) {
    for (const pieces of chunkings) {
      const out = await gzip(input, { workers }, pieces);
      assert.equal(sha(out), sha(ref), `workers ${workers}, pieces ${pieces.join(',')}`);
    }
  }
  // Byte-at-a-time writes across several (small) blocks.
  const small = mixed(200_000);
  const refSmall = await gzip(small, { blockSize: 32 * 1024, workers: 2 }, [small.length]);
  assert.deepEqual(await gzip(small, { blockSize: 32 * 1024, workers: 4 }, [1]), refSmall);
  assert.deepEqual(zlib.gunzipSync(refSmall), small);
});

test('every level round-trips; block size changes the bytes, not the content', async () => {
  const input = mixed(2 * MiB + 999);
  for (const level of [0, 1, 5, 9]) assert.deepEqual(zlib.gunzipSync(await gzip(input, { level, workers: 2 })), input, `level ${level}`);
  const a = await gzip(input, { blockSize: 128 * 1024 });
  const b = await gzip(input, { blockSize: 512 * 1024 });
  assert.notDeepEqual(a, b);
  assert.deepEqual(zlib.gunzipSync(a), input);
  assert.deepEqual(zlib.gunzipSync(b), input);
});

test('output is accepted by gzip -t, gzip -dc and python3 gzip', async () => {
  const input = Buffer.concat([mixed(2 * MiB), randomBytes(MiB + 3), mixed(5000)]);
  for (const [name, data] of [['multi', input], ['small', input.subarray(0, 4000)], ['empty', Buffer.alloc(0)]] as const) {
    const out = await gzip(data, { workers: 2 });
    const file = path.join(tmp, `${name}.gz`);
    writeFileSync(file, out);
    runTool('gzip', ['-t', file], Buffer.alloc(0));
    assert.equal(sha(runTool('gzip', ['-dc', file], Buffer.alloc(0))), sha(data), `gzip -dc ${name}`);
    const py = runTool('python3', ['-c', 'import gzip,sys; sys.stdout.buffer.write(gzip.open(sys.argv[1]).read())', file], Buffer.alloc(0));
    assert.equal(sha(py), sha(data), `python3 ${name}`);
    // ONE member: the body is a single deflate stream holding all the data (the tools above
    // would silently join several members), and the trailer carries its CRC and length.
    assert.deepEqual(zlib.inflateRawSync(out.subarray(10, out.length - 8)), data);
    assert.equal(out.readUInt32LE(out.length - 8), zlib.crc32(data));
    assert.equal(out.readUInt32LE(out.length - 4), data.length);
  }
});

test('a stalled consumer stalls the writer after a bounded number of blocks', async () => {
  const workers = 2;
  const s = createGzipStream({ workers, blockSize: 64 * 1024 });
  const piece = randomBytes(16 * 1024);
  let accepted = 0;
  let stalled = false;
  // Keep writing while the stream accepts; nobody reads the output.
  for (let i = 0; i < 2000 && !stalled; i++) {
    accepted += piece.length;
    if (!s.write(piece)) {
      const drained = await Promise.race([once(s, 'drain').then(() => true), new Promise((r) => setTimeout(r, 1000, false))]);
      stalled = !drained;
    }
  }
  assert.ok(stalled, 'writer was never stalled');
  // In flight: 2×workers blocks, one block being filled, plus the stream buffers (16 KiB each side).
  assert.ok(accepted <= (2 * workers + 2) * 64 * 1024 + 4 * piece.length, `accepted ${accepted} bytes`);
  s.destroy();
});

test('a multi-hundred-MB stream keeps RSS bounded and round-trips', async () => {
  const total = 256 * MiB;
  const unit = Buffer.alloc(MiB);
  for (let i = 0; i < unit.length; i += 4) unit.writeUInt32LE((i * 2654435761) >>> 8, i);
  let produced = 0;
  let crcIn = 0;
  const source = new Readable({
    read() {
      if (produced >= total) return void this.push(null);
      // A fresh buffer per chunk (varying content) so nothing is retained by accident.
      const chunk = Buffer.from(unit);
      chunk.writeUInt32LE(produced / MiB, 0);
      crcIn = zlib.crc32(chunk, crcIn);
      produced += chunk.length;
      this.push(chunk);
    },
  });
  let crcOut = 0;
  let outLen = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      crcOut = zlib.crc32(chunk, crcOut);
      outLen += chunk.length;
      cb();
    },
  });
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    await pipeline(source, createGzipStream({ level: 1, workers: 2 }), zlib.createGunzip(), sink);
  } finally {
    clearInterval(timer);
  }
  assert.equal(outLen, total);
  assert.equal(crcOut, crcIn);
  // Blocks in flight add a few MB; holding the stream would add hundreds.
  assert.ok(peak - base < 150 * MiB, `RSS grew by ${((peak - base) / MiB).toFixed(0)} MiB`);
});

test('a block that fails to compress fails the stream with an internal TbahError; the pool recovers', async () => {
  await terminateGzipPool(); // earlier streams may have widened the pool: start from one slot
  const s = createGzipStream({ workers: 1, blockSize: 32 * 1024 });
  const failed = once(s, 'error');
  s.resume();
  s.write(mixed(1 * MiB)); // one block compressing, one queued
  await terminateGzipPool(); // the queued block fails
  const [err] = (await failed) as [unknown];
  assert.ok(err instanceof TbahError);
  assert.equal(err.code, 'internal');
  assert.match(err.message, /gzip/);
  // New streams work as before.
  const input = mixed(3 * MiB);
  assert.deepEqual(zlib.gunzipSync(await gzip(input, { workers: 2 })), input);
});

test('bad options are rejected with invalid-argument', () => {
  for (const opts of [{ level: 10 }, { level: -1 }, { level: 1.5 }, { workers: -1 }, { blockSize: 1000 }, { blockSize: 2 ** 30 }]) {
    assert.throws(() => createGzipStream(opts), (e: unknown) => e instanceof TbahError && e.code === 'invalid-argument', JSON.stringify(opts));
  }
});

test('the compression pool never keeps a process alive, and finishes what it was given', () => {
  const mod = fileURLToPath(new URL('../../src/core/layer/pgzip.js', import.meta.url));
  // The child never terminates the pool; after writing everything it has nothing but the workers
  // to wait for, so it exits early (if busy workers were unref'd) or hangs (if idle ones were ref'd).
  const script = `
    import { createGzipStream } from ${JSON.stringify(mod)};
    import { createHash } from 'node:crypto';
    const input = Buffer.alloc(5 << 20);
    for (let i = 0; i < input.length; i++) input[i] = (i * 31) % 251;
    const s = createGzipStream({ workers: 2 });
    const h = createHash('sha256');
    s.on('data', (d) => h.update(d));
    s.on('end', () => console.log(h.digest('hex')));
    s.end(input);
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.signal, null, 'child hung');
  assert.equal(r.status, 0, r.stderr);
  const input = Buffer.alloc(5 << 20);
  for (let i = 0; i < input.length; i++) input[i] = (i * 31) % 251;
  return gzip(input, { workers: 0 }).then((out) => assert.equal(r.stdout.trim(), sha(out)));
});
