// Floors: what this machine can do at best for the work the steps do, measured in the same run on
// the same file system — sequential disk write and read, sha256, gzip -6 (GNU gzip on one core,
// Node's zlib on one thread, tbah's parallel gzip). A step cannot beat the floor of its work.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';

const MiB = 2 ** 20;

function timed(argv, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 1 << 20, ...opts });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error) throw new Error(`${argv[0]}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${(r.stderr || '').trim().slice(-500)}`);
  return { secs, stdout: r.stdout };
}

const rate = (bytes, secs) => Math.round((bytes / MiB / secs) * 10) / 10;

/**
 * Sequential write (dd from /dev/zero, fsync at the end: the data reached the loop image's backing
 * disk) and read of `mib` MiB on `dir`. Before the read the file's pages are dropped, and so are
 * the backing image's (posix_fadvise DONTNEED via dd's nocache flag), so the read comes from the
 * disk, not from either page cache — without dropping the whole machine's caches.
 */
export function diskFloor(dir, mib, image) {
  const f = path.join(dir, 'floor-disk.bin');
  try {
    const w = timed(['dd', 'if=/dev/zero', `of=${f}`, 'bs=1M', `count=${mib}`, 'conv=fsync', 'status=none']);
    timed(['dd', `if=${f}`, 'iflag=nocache', 'count=0', 'status=none']);
    if (image) timed(['dd', `if=${image}`, 'iflag=nocache', 'count=0', 'status=none']);
    const r = timed(['dd', `if=${f}`, 'of=/dev/null', 'bs=1M', 'status=none']);
    return { mib, writeMiBs: rate(mib * MiB, w.secs), writeS: w.secs, readMiBs: rate(mib * MiB, r.secs), readS: r.secs,
      method: 'dd bs=1M; write conv=fsync; read after fadvise(DONTNEED) of the file and of the loop image' };
  } finally {
    rmSync(f, { force: true });
  }
}

/** A child Node process that prints {secs} for work on `file` (so the bench's own heap stays out). */
function nodeTimed(node, script, args) {
  const r = timed([node, '--input-type=module', '-e', script, ...args]);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

const SHA_SCRIPT = `
import { createHash, randomFillSync } from 'node:crypto';
const mib = Number(process.argv[1]);
const buf = randomFillSync(Buffer.allocUnsafe(1 << 20));
const h = createHash('sha256');
const t0 = process.hrtime.bigint();
for (let i = 0; i < mib; i++) h.update(buf);
h.digest();
console.log(JSON.stringify({ secs: Number(process.hrtime.bigint() - t0) / 1e9 }));`;

const GZIP_SCRIPT = `
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
const [file, mod] = process.argv.slice(1);
let gz, workers = 0, done = async () => {};
if (mod) {
  const m = await import(mod);
  gz = m.createGzipStream({ level: 6 });
  workers = m.defaultGzipWorkers();
  done = m.terminateGzipPool;
} else gz = zlib.createGzip({ level: 6 });
let out = 0;
gz.on('data', (c) => { out += c.length; });
const t0 = process.hrtime.bigint();
await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), gz);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
await done();
console.log(JSON.stringify({ secs, out, workers }));`;

/** sha256 of `mib` MiB in memory, one thread, as tbah's hashing streams do it. */
export function sha256Floor(node, mib) {
  const { secs } = nodeTimed(node, SHA_SCRIPT, [String(mib)]);
  return { mib, MiBs: rate(mib * MiB, secs), secs };
}

/**
 * gzip -6 of `input` (a tar of the tree: what a commit compresses): GNU gzip on one core, Node's
 * zlib on one thread, and tbah's parallel gzip (`pgzipModule`, build/src/core/layer/pgzip.js) with
 * its default worker count. Rates are of the input bytes.
 */
export function gzipFloor(node, input, pgzipModule) {
  const bytes = statSync(input).size;
  const g = timed(['sh', '-c', 'gzip -6 -c "$1" | wc -c', 'sh', input]);
  const out = {
    inputMiB: Math.round((bytes / MiB) * 10) / 10,
    gnuGzip: { MiBs: rate(bytes, g.secs), secs: g.secs, outMiB: Math.round((Number(g.stdout.trim()) / MiB) * 10) / 10 },
  };
  const z = nodeTimed(node, GZIP_SCRIPT, [input]);
  out.nodeZlib = { MiBs: rate(bytes, z.secs), secs: z.secs };
  if (pgzipModule && existsSync(pgzipModule)) {
    const p = nodeTimed(node, GZIP_SCRIPT, [input, pgzipModule]);
    out.tbahParallel = { MiBs: rate(bytes, p.secs), secs: p.secs, workers: p.workers };
  } else out.tbahParallel = { error: `${pgzipModule} missing (run npm run build)` };
  return out;
}
