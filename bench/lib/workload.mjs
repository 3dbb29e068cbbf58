// Deterministic workload: the same bytes, names, modes and mtimes on every machine and every run.
// Content is a mix of incompressible bytes (AES-CTR keystream) and word-like text (gzip ~3x), so
// compression does real work without dominating everything.
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, utimesSync, writeSync } from 'node:fs';
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
