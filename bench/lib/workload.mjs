// Deterministic workload: the same bytes, names, modes and mtimes on every machine and every run.
// Content is a mix of incompressible bytes (AES-CTR keystream) and word-like text (gzip ~3x), so
// compression does real work without dominating everything.
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, lutimesSync, mkdirSync, openSync, readFileSync, symlinkSync, utimesSync, writeSync } from 'node:fs';
import * as path from 'node:path';

/** Whole-second mtime given to every generated file and directory (2023-11-14). */
export const MTIME = 1700000000;

export const DEFAULT_SHAPE = { files: 20000, fileSize: 4096, bigFiles: 5, bigMiB: 40 };
/** For a smoke test of the bench itself (`--quick`). */
export const QUICK_SHAPE = { files: 2000, fileSize: 4096, bigFiles: 5, bigMiB: 4 };

function makeRng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
}

/** 4 MiB of skewed pseudo-words, sliced at random offsets for every compressible piece. */
function textPool(rnd, bytes) {
  const words = Array.from({ length: 4000 }, () => {
    let w = '';
    for (let n = 2 + (rnd() % 9); n > 0; n--) w += String.fromCharCode(97 + (rnd() % 26));
    return w;
  });
  const parts = [];
  let len = 0;
  while (len < bytes) {
    const w = words[Math.min(rnd() % words.length, rnd() % words.length, rnd() % words.length)];
    const sep = rnd() % 11 === 0 ? '\n' : ' ';
    parts.push(w, sep);
    len += w.length + 1;
  }
  return Buffer.from(parts.join('').slice(0, bytes), 'latin1');
}

/**
 * Write the workload under `root`:
 *   root/tree/dNN/dNN/fNNNNN.txt   `files` small files, 2 of 3 text, 1 of 3 random
 *   root/big/blob-K.bin            `bigFiles` files of `bigMiB` MiB, 1 MiB chunks alternating random/text
 *   one/added.txt (beside root)    the single file of the small-commit cases
 * Returns { src, oneFile, bytes, entries, sha256 } where sha256 covers names and contents in order.
 */
export function generateWorkload(root, shape = DEFAULT_SHAPE) {
  const rnd = makeRng(0x5eed1234);
  const pool = textPool(rnd, 4 << 20);
  const aes = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 1));
  const random = (n) => aes.update(Buffer.alloc(n));
  const text = (n) => {
    const off = rnd() % (pool.length - n);
    return pool.subarray(off, off + n);
  };
  const hash = createHash('sha256');
  let bytes = 0;
  let entries = 0;
  const dirs = new Set();
  const mkdir = (d) => {
    mkdirSync(d, { recursive: true, mode: 0o755 });
    for (let p = d; p !== root && p.startsWith(root + '/'); p = path.dirname(p)) dirs.add(p);
  };
  const writeFile = (file, chunks) => {
    const fd = openSync(file, 'w', 0o644);
    hash.update(path.relative(root, file) + '\0');
    for (const c of chunks()) {
      writeSync(fd, c);
      hash.update(c);
      bytes += c.length;
    }
    closeSync(fd);
    utimesSync(file, MTIME, MTIME);
    entries++;
  };

  const src = path.join(root, 'src');
  mkdir(src);
  // 20 × 20 directories, files spread evenly: a realistic fan-out, not one huge directory.
  const fanout = 20;
  const perDir = Math.ceil(shape.files / (fanout * fanout));
  let n = 0;
  for (let a = 0; a < fanout && n < shape.files; a++) {
    for (let b = 0; b < fanout && n < shape.files; b++) {
      const d = path.join(src, 'tree', `d${String(a).padStart(2, '0')}`, `d${String(b).padStart(2, '0')}`);
      mkdir(d);
      for (let k = 0; k < perDir && n < shape.files; k++, n++) {
        const isText = n % 3 !== 0;
        writeFile(path.join(d, `f${String(n).padStart(5, '0')}.txt`), function* () {
          yield isText ? text(shape.fileSize) : random(shape.fileSize);
        });
      }
    }
  }
  mkdir(path.join(src, 'big'));
  const MiB = 1 << 20;
  for (let k = 0; k < shape.bigFiles; k++) {
    writeFile(path.join(src, 'big', `blob-${k}.bin`), function* () {
      for (let c = 0; c < shape.bigMiB; c++) yield (c + k) % 2 === 0 ? random(MiB) : text(MiB);
    });
  }
  const oneDir = path.join(root, 'one');
  mkdir(oneDir);
  const oneFile = path.join(oneDir, 'added.txt');
  writeFile(oneFile, function* () { yield text(4096); });
  // Directory mtimes last: creating children changed them.
  const deepestFirst = [...dirs].sort((a, b) => b.split('/').length - a.split('/').length);
  for (const d of deepestFirst) utimesSync(d, MTIME, MTIME);
  return { src, oneFile, bytes, entries, dirs: dirs.size, sha256: hash.digest('hex'), shape };
}

// ---------------------------------------------------------------------------------------------
// Base images: layers shaped like a distribution image (many small files, a few large ones), a
// static busybox so `run` has something to execute, and the same content mix on every machine
// (apart from busybox, which is the host's /bin/busybox from busybox-static: its sha256 is recorded).

/** Share of 64 KiB content chunks that are incompressible; the rest is text (gzip ~3×). */
export const RANDOM_SHARE = 0.42;
/** 97 % small files (512 B–32 KiB), 3 % large (64 KiB–4 MiB), log-uniform: ~37 KiB a file. */
const SMALL = [512, 32 << 10];
const LARGE = [64 << 10, 4 << 20];
const LARGE_SHARE = 0.03;

/**
 * The fat base: 4 layers, ~150 MiB unpacked (~109 MB gzip). `big` adds 4 bulk layers on top of the
 * same 4 (so pulling it after the fat base fetches only those) for a ~1 GiB base.
 */
export const BASE_SHAPES = {
  default: {
    fat: [
      { name: 'os', mib: 10, prefix: 'usr/share/bench-os', os: true },
      { name: 'libs', mib: 55, prefix: 'usr/lib/bench-libs' },
      { name: 'runtime', mib: 60, prefix: 'opt/bench-runtime' },
      { name: 'deps', mib: 25, prefix: 'srv/bench-deps' },
    ],
    bigExtra: [1, 2, 3, 4].map((k) => ({ name: `bulk${k}`, mib: 218.5, prefix: `usr/share/bench-bulk${k}` })),
  },
  quick: {
    fat: [
      { name: 'os', mib: 3, prefix: 'usr/share/bench-os', os: true },
      { name: 'libs', mib: 5, prefix: 'usr/lib/bench-libs' },
      { name: 'runtime', mib: 5, prefix: 'opt/bench-runtime' },
      { name: 'deps', mib: 3, prefix: 'srv/bench-deps' },
    ],
    bigExtra: [1, 2].map((k) => ({ name: `bulk${k}`, mib: 24, prefix: `usr/share/bench-bulk${k}` })),
  },
};

export const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'true', 'false', 'ls', 'cat', 'echo', 'env', 'id', 'sleep'];

/** True when `file` is an ELF executable without a program interpreter (statically linked). */
function isStaticElf(file) {
  const b = readFileSync(file);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) return false; // ELF64 LE only
  const phoff = Number(b.readBigUInt64LE(32));
  const phentsize = b.readUInt16LE(54);
  const phnum = b.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * phentsize) === 3) return false; // PT_INTERP
  return true;
}

function seedOf(name) {
  return createHash('sha256').update(name).digest().readUInt32LE(0) || 1;
}

/**
 * Write one layer's files under `dir` (the layer's root: its contents go to / of the image).
 * Returns { name, dir, files, bytes, sha256 }.
 */
function generateLayer(dir, spec, pool) {
  const rnd = makeRng(seedOf(`bench-layer-${spec.name}`));
  const aes = createCipheriv('aes-128-ctr', Buffer.alloc(16, 9), createHash('md5').update(spec.name).digest());
  const uniform = () => rnd() / 2 ** 32;
  const logUniform = ([lo, hi]) => Math.round(lo * Math.exp(uniform() * Math.log(hi / lo)));
  const text = (n) => {
    const off = rnd() % (pool.length - n);
    return pool.subarray(off, off + n);
  };
  const hash = createHash('sha256');
  const dirs = new Set();
  let files = 0;
  let bytes = 0;
  const mkdir = (d, mode = 0o755) => {
    mkdirSync(d, { recursive: true, mode });
    for (let p = d; p !== dir && p.startsWith(dir + '/'); p = path.dirname(p)) dirs.add(p);
  };
  const write = (file, chunks, mode = 0o644) => {
    const fd = openSync(file, 'w', mode);
    hash.update(path.relative(dir, file) + '\0');
    for (const c of chunks) {
      writeSync(fd, c);
      hash.update(c);
      bytes += c.length;
    }
    closeSync(fd);
    utimesSync(file, MTIME, MTIME);
    files++;
  };
  mkdir(dir);
  if (spec.os) {
    if (!isStaticElf(BUSYBOX)) throw new Error(`${BUSYBOX} is missing or not statically linked: install busybox-static`);
    for (const d of ['bin', 'etc', 'usr/bin', 'var/tmp']) mkdir(path.join(dir, d));
    mkdir(path.join(dir, 'tmp'), 0o1777);
    mkdir(path.join(dir, 'root'), 0o700);
    write(path.join(dir, 'bin', 'busybox'), [readFileSync(BUSYBOX)], 0o755);
    for (const a of APPLETS) {
      const link = path.join(dir, 'bin', a);
      symlinkSync('busybox', link);
      lutimesSync(link, MTIME, MTIME);
      hash.update(`bin/${a}\0->busybox`);
    }
    write(path.join(dir, 'etc', 'passwd'), [Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n')]);
    write(path.join(dir, 'etc', 'group'), [Buffer.from('root:x:0:\nnogroup:x:65534:\n')]);
    write(path.join(dir, 'etc', 'os-release'), [Buffer.from('NAME="tbah bench base"\nID=tbah-bench\n')]);
  }
  const target = Math.round(spec.mib * 2 ** 20);
  const CHUNK = 64 << 10;
  const FILES_PER_DIR = 25;
  const DIRS_PER_DIR = 20;
  for (let n = 0; bytes < target; n++) {
    const want = Math.min(target - bytes, logUniform(uniform() < LARGE_SHARE ? LARGE : SMALL));
    const leaf = Math.floor(n / FILES_PER_DIR);
    const d = path.join(dir, spec.prefix, `d${String(Math.floor(leaf / DIRS_PER_DIR)).padStart(3, '0')}`, `d${String(leaf % DIRS_PER_DIR).padStart(2, '0')}`);
    if (n % FILES_PER_DIR === 0) mkdir(d);
    const chunks = [];
    for (let off = 0; off < want; off += CHUNK) {
      const len = Math.min(CHUNK, want - off);
      chunks.push(uniform() < RANDOM_SHARE ? aes.update(Buffer.alloc(len)) : text(len));
    }
    // Every 7th file executable: a layer of libraries and programs, not only data.
    write(path.join(d, `f${String(n).padStart(6, '0')}${n % 7 === 0 ? '.so' : '.dat'}`), chunks, n % 7 === 0 ? 0o755 : 0o644);
  }
  const deepestFirst = [...dirs].sort((a, b) => b.split('/').length - a.split('/').length);
  for (const d of [...deepestFirst, dir]) utimesSync(d, MTIME, MTIME);
  return { name: spec.name, dir, files, bytes, sha256: hash.digest('hex') };
}

/**
 * Write the base layers under `root`: root/<name>/ for every layer of `shape.fat` then
 * `shape.bigExtra`. Returns { fat: [layer…], bigExtra: [layer…], busyboxSha256 }.
 */
export function generateBases(root, shape) {
  const pool = textPool(makeRng(0xba5e0001), 4 << 20);
  const gen = (specs) => specs.map((s) => generateLayer(path.join(root, s.name), s, pool));
  const fat = gen(shape.fat);
  const bigExtra = gen(shape.bigExtra);
  return { fat, bigExtra, busyboxSha256: createHash('sha256').update(readFileSync(BUSYBOX)).digest('hex') };
}
