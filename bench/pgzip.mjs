#!/usr/bin/env node
// Micro-benchmark: parallel gzip (build/src/core/layer/pgzip.js) vs zlib.createGzip vs pigz/gzip.
// Usage: npx tsc -p tsconfig.json && node bench/pgzip.mjs [sizeMiB=300] [runs=3]
// The input is a deterministic mix shaped like a layer (text, binary-ish, incompressible, zeros),
// written to tmpfs so disk speed does not enter the numbers; every output is checked by gunzip.
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync, statSync, openSync, writeSync, closeSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { createGzipStream, terminateGzipPool } = await import(path.join(here, '..', 'build', 'src', 'core', 'layer', 'pgzip.js'));

const sizeMiB = Number(process.argv[2] ?? 300);
const runs = Number(process.argv[3] ?? 3);
const tmpRoot = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
const dir = mkdtempSync(path.join(tmpRoot, 'tbah-pgzip-bench-'));
const input = path.join(dir, 'input.bin');
const output = path.join(dir, 'out.gz');

// xorshift32: deterministic and fast enough for ~100 MB of generated text.
let seed = 0x9e3779b9;
const rnd = () => {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed;
};
// A few thousand pseudo-words with a skewed pick: compresses like source and config files (~3.5x).
const words = Array.from({ length: 4000 }, () => {
  let w = '';
  for (let n = 2 + (rnd() % 9); n > 0; n--) w += String.fromCharCode(97 + (rnd() % 26));
  return w;
});
const pickWord = () => words[Math.min(rnd() % words.length, rnd() % words.length, rnd() % words.length)];
const aes = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 1));

function textSegment(n) {
  const parts = [];
  let len = 0;
  while (len < n) {
    const w = pickWord();
    const sep = rnd() % 11 === 0 ? '\n' : ' ';
    parts.push(w, sep);
    len += w.length + 1;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}
function binarySegment(n) {
  // Skewed bytes plus back-references: compresses roughly like executables and libraries.
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i += 64) {
    const end = Math.min(n, i + 64);
    if (i >= 4096 && rnd() % 2 === 0) {
      const from = i - 64 * (1 + (rnd() % 63));
      b.copy(b, i, from, from + (end - i));
    } else {
      for (let j = i; j < end; j++) { const r = rnd(); b[j] = (r & (r >>> 8) & (r >>> 16)) & 0xff; }
    }
  }
  return b;
}
const randomSegment = (n) => aes.update(Buffer.alloc(n));

function generate(file, total) {
  const fd = openSync(file, 'w');
  let written = 0;
  try {
    while (written < total) {
      const kind = rnd() % 20; // 35 % text, 35 % binary, 20 % random, 10 % zeros
      const n = Math.min(total - written, 4096 + (rnd() % (2 << 20)));
      const seg = kind < 7 ? textSegment(n) : kind < 14 ? binarySegment(n) : kind < 18 ? randomSegment(n) : Buffer.alloc(n);
      writeSync(fd, seg);
      written += n;
    }
  } finally {
    closeSync(fd);
  }
}

function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

async function timeNode(makeStream) {
  const t = process.hrtime.bigint();
  await pipeline(createReadStream(input), makeStream(), createWriteStream(output));
  return Number(process.hrtime.bigint() - t) / 1e9;
}

function timeCmd(cmd, args) {
  const t = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', `"$0" "$@" < '${input}' > '${output}'`, cmd, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} failed`);
  return Number(process.hrtime.bigint() - t) / 1e9;
}

async function inputDigest() {
  const h = createHash('sha256');
  await pipeline(createReadStream(input), h);
  return h.digest('hex');
}
async function outputCheck() {
  const h = createHash('sha256');
  await pipeline(createReadStream(output), zlib.createGunzip(), h);
  return h.digest('hex');
}
async function outputDigest() {
  const h = createHash('sha256');
  await pipeline(createReadStream(output), h);
  return h.digest('hex');
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const load0 = os.loadavg()[0];
try {
  const tg = Date.now();
  generate(input, sizeMiB << 20);
  const inSize = statSync(input).size;
  const want = await inputDigest();
  console.log(`input: ${(inSize / 1e6).toFixed(1)} MB mixed data in ${tmpRoot} (generated in ${((Date.now() - tg) / 1000).toFixed(1)} s); ` +
    `node ${process.version}, zlib ${process.versions.zlib}, ${os.availableParallelism()} cores; median of ${runs} runs, level 6`);

  const cases = [
    ['pgzip workers=1', () => timeNode(() => createGzipStream({ workers: 1 }))],
    ['pgzip workers=2', () => timeNode(() => createGzipStream({ workers: 2 }))],
    ['zlib.createGzip', () => timeNode(() => zlib.createGzip({ level: 6 }))],
  ];
  if (which('pigz')) cases.push(['pigz -p2 -6', () => timeCmd('pigz', ['-p2', '-6', '-n', '-c'])]);
  else console.log('pigz: not installed, skipped');
  if (which('gzip')) cases.push(['gzip -6', () => timeCmd('gzip', ['-6', '-n', '-c'])]);
  else console.log('gzip: not installed, skipped');

  const results = [];
  const pgzipDigests = new Set();
  for (const [name, run] of cases) {
    const times = [];
    for (let i = 0; i < runs; i++) times.push(await run());
    const size = statSync(output).size;
    if ((await outputCheck()) !== want) throw new Error(`${name}: output does not gunzip to the input`);
    if (name.startsWith('pgzip')) pgzipDigests.add(await outputDigest());
    results.push({ name, t: median(times), size, times });
  }
  const base = results.find((r) => r.name === 'zlib.createGzip').t;
  console.log('\n' + ['case'.padEnd(18), 'median s'.padStart(9), 'MB/s'.padStart(7), 'vs zlib'.padStart(8), 'out MB'.padStart(9), 'ratio'.padStart(6), '  runs'].join(' '));
  for (const r of results) {
    console.log([
      r.name.padEnd(18), r.t.toFixed(2).padStart(9), (inSize / 1e6 / r.t).toFixed(0).padStart(7),
      `${(base / r.t).toFixed(2)}x`.padStart(8), (r.size / 1e6).toFixed(2).padStart(9), (r.size / inSize).toFixed(3).padStart(6),
      '  ' + r.times.map((t) => t.toFixed(2)).join(' '),
    ].join(' '));
  }
  console.log(`\npgzip outputs identical across worker counts: ${pgzipDigests.size === 1 ? 'yes' : 'NO'}`);
  console.log(`load average (1 min) at start ${load0.toFixed(2)}, at end ${os.loadavg()[0].toFixed(2)}: other processes skew the numbers`);
} finally {
  await terminateGzipPool();
  rmSync(dir, { recursive: true, force: true });
}
