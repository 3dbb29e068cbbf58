/**
 * Hand-written tar codec (ustar + PAX), see docs/architecture.md and
 * research/npm-deps.md §E for why no npm library is used: each of them loses
 * something a layer must keep (large ids, mode 0000, binary xattrs, devices).
 *
 * Writing is deterministic: no uname/gname, no atime/ctime, a fixed PAX header
 * name, numeric fields in octal (base-256 only as a fallback behind a PAX
 * record). Reading accepts V7, ustar, GNU and PAX archives.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { TbahError } from '../errors.js';
import type { TarEntryType, TarHeader } from './tar-types.js';

export interface TarEntry {
  header: TarHeader;
  /** For 'file' entries with size > 0: a host file path to read the content from, or the content itself. */
  source?: string | Buffer;
}

export interface TarReadEntry {
  header: TarHeader;
  /** The entry's content; consume it before asking for the next entry (unconsumed bytes are skipped). */
  body: AsyncIterable<Buffer>;
}

const BLOCK = 512;
/** Output chunk size of packTar: big enough that per-chunk stream overhead vanishes. */
const CHUNK = 256 * 1024;
/** Largest single read from a source file. */
const MAX_READ = 1024 * 1024;
/** Upper bound for metadata bodies (PAX, GNU long names) held in memory while reading. */
const MAX_META = 16 * 1024 * 1024;

const MAX_ID = 0o7777777; // 8-byte octal field
const MAX_SIZE = 0o77777777777; // 12-byte octal field (8 GiB - 1)
const MAX_DEV = 0o7777777;

const TYPEFLAG: Record<TarEntryType, number> = {
  file: 0x30,
  hardlink: 0x31,
  symlink: 0x32,
  char: 0x33,
  block: 0x34,
  dir: 0x35,
  fifo: 0x36,
};

// ---------------------------------------------------------------- encoding

const padLen = (n: number): number => (BLOCK - (n % BLOCK)) % BLOCK;
const isAscii = (s: string): boolean => /^[\x01-\x7f]*$/.test(s);

/** Numeric field: octal, NUL-terminated; base-256 (GNU) when octal cannot hold it (a PAX record then carries it too). */
function putNumber(b: Buffer, off: number, width: number, v: number): void {
  if (v >= 0 && v < 8 ** (width - 1)) {
    b.write(v.toString(8).padStart(width - 1, '0'), off, width - 1, 'latin1');
    b[off + width - 1] = 0;
    return;
  }
  let x = BigInt(v);
  if (x < 0n) x += 1n << BigInt(8 * width); // two's complement: first byte 0xff
  for (let i = width - 1; i >= 0; i--) {
    b[off + i] = Number(x & 0xffn);
    x >>= 8n;
  }
  if (v >= 0) b[off] = 0x80;
}

/** Split a name into ustar prefix + name, or null when it does not fit. */
function splitUstar(name: string): [string, string] | null {
  if (!isAscii(name)) return null;
  if (name.length <= 100) return ['', name];
  const lo = Math.max(name.length - 101, 1);
  const hi = Math.min(155, name.length - 2);
  const i = name.indexOf('/', lo);
  if (i < 0 || i > hi) return null;
  return [name.slice(0, i), name.slice(i + 1)];
}

/** Printable ASCII stand-in for fields whose real value travels in a PAX record. */
function asciiFallback(s: string, max: number): string {
  return s.replace(/[^\x20-\x7e]/g, '_').slice(0, max);
}

function paxRecord(key: string, value: Buffer): Buffer {
  const keyBytes = Buffer.from(key, 'utf8');
  const rest = keyBytes.length + value.length + 3; // ' ' '=' '\n'
  let len = rest + String(rest).length;
  if (String(len).length !== String(len - rest).length) len = rest + String(len).length;
  const head = Buffer.from(`${len} ${key}=`, 'utf8');
  return Buffer.concat([head, value, Buffer.from('\n')], len);
}

function checkHeader(h: TarHeader): void {
  const bad = (what: string): TbahError =>
    new TbahError('invalid-argument', `tar header for '${h.name}': ${what}`, { hint: 'this is a bug in the caller building tar headers' });
  if (h.name.includes('\0') || (h.linkname ?? '').includes('\0')) throw bad('NUL byte in name or link target');
  for (const [k, v] of [['uid', h.uid], ['gid', h.gid], ['size', h.size], ['devmajor', h.devmajor ?? 0], ['devminor', h.devminor ?? 0]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw bad(`${k} ${v} is not a non-negative integer`);
  }
  if (!Number.isSafeInteger(h.mtime)) throw bad(`mtime ${h.mtime} is not an integer`);
  if (!Number.isInteger(h.mode) || h.mode < 0 || h.mode > 0o7777) throw bad(`mode ${h.mode} is outside 0..0o7777`);
  if (h.type !== 'file' && h.size !== 0) throw bad(`a ${h.type} entry must have size 0`);
  if ((h.devmajor ?? 0) > MAX_DEV || (h.devminor ?? 0) > MAX_DEV) throw bad('device number too large for a tar header');
  for (const k of h.xattrs?.keys() ?? []) if (k.includes('=') || k.includes('\0') || k === '') throw bad(`xattr name '${k}' cannot be stored`);
}

function buildBlock(
  name: string,
  prefix: string,
  typeflag: number,
  mode: number,
  uid: number,
  gid: number,
  size: number,
  mtime: number,
  linkname: string,
  devmajor: number,
  devminor: number,
): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(name, 0, 100, 'utf8');
  putNumber(b, 100, 8, mode);
  putNumber(b, 108, 8, uid);
  putNumber(b, 116, 8, gid);
  putNumber(b, 124, 12, size);
  putNumber(b, 136, 12, mtime);
  b[156] = typeflag;
  b.write(linkname, 157, 100, 'utf8');
  b.write('ustar\x0000', 257, 8, 'latin1');
  putNumber(b, 329, 8, devmajor);
  putNumber(b, 337, 8, devminor);
  b.write(prefix, 345, 155, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  b[154] = 0;
  b[155] = 0x20;
  return b;
}

/**
 * The header block(s) for one entry: a PAX 'x' header first when some value
 * does not fit ustar (long or non-ASCII names, big ids/sizes, out-of-range
 * mtime, xattrs), then the ustar header. Content and padding are not included.
 */
export function encodeHeader(h: TarHeader): Buffer {
  checkHeader(h);
  const records: Buffer[] = [];
  const fullName = h.type === 'dir' ? `${h.name}/` : h.name;
  let split = splitUstar(fullName);
  if (split === null) {
    records.push(paxRecord('path', Buffer.from(fullName, 'utf8')));
    split = ['', asciiFallback(fullName, 100)];
  }
  let linkname = h.linkname ?? '';
  if (!isAscii(linkname) || linkname.length > 100) {
    records.push(paxRecord('linkpath', Buffer.from(linkname, 'utf8')));
    linkname = asciiFallback(linkname, 100);
  }
  if (h.uid > MAX_ID) records.push(paxRecord('uid', Buffer.from(String(h.uid))));
  if (h.gid > MAX_ID) records.push(paxRecord('gid', Buffer.from(String(h.gid))));
  if (h.size > MAX_SIZE) records.push(paxRecord('size', Buffer.from(String(h.size))));
  if (h.mtime < 0 || h.mtime > MAX_SIZE) records.push(paxRecord('mtime', Buffer.from(String(h.mtime))));
  if (h.xattrs !== undefined && h.xattrs.size > 0) {
    // Sorted so the same xattrs always give the same bytes; values stay raw bytes.
    for (const k of [...h.xattrs.keys()].sort()) records.push(paxRecord(`SCHILY.xattr.${k}`, h.xattrs.get(k)!));
  }
  const isDev = h.type === 'char' || h.type === 'block';
  const main = buildBlock(
    split[1], split[0], TYPEFLAG[h.type], h.mode, h.uid, h.gid, h.size, h.mtime, linkname,
    isDev ? (h.devmajor ?? 0) : 0, isDev ? (h.devminor ?? 0) : 0,
  );
  if (records.length === 0) return main;
  const pax = Buffer.concat(records);
  const base = h.name.slice(h.name.lastIndexOf('/') + 1);
  const paxName = `PaxHeaders/${asciiFallback(base, 100 - 'PaxHeaders/'.length)}`;
  // The PAX header's own fields are fixed (mode 0644, ids 0, mtime 0) so output stays reproducible.
  const paxHead = buildBlock(paxName, '', 0x78, 0o644, 0, 0, pax.length, 0, '', 0, 0);
  return Buffer.concat([paxHead, pax, Buffer.alloc(padLen(pax.length)), main]);
}

/**
 * Stream a tar archive of `entries`, ending with two zero blocks, with
 * backpressure (entries are pulled only as the consumer reads). Headers and
 * small bodies are packed into ~256 KiB chunks (a stream chunk or stream per
 * file would dominate the cost); small files are read in one call straight
 * into the chunk, large ones in ≤ 1 MiB reads. A file whose size differs from
 * its header (changed while being read) fails the stream with an 'io' error.
 */
export function packTar(entries: AsyncIterable<TarEntry> | Iterable<TarEntry>): Readable {
  return Readable.from(generateTar(entries, false), { objectMode: false, highWaterMark: CHUNK });
}

/**
 * The same bytes as packTar, as chunks that are views of two reused buffers:
 * each chunk is valid only until the next one is asked for. For a consumer
 * that is done with a chunk when it pulls again (hash, then write, awaited),
 * it allocates nothing per chunk — no buffers for V8 to collect late, which
 * is most of a streaming command's peak memory otherwise.
 */
export function tarChunks(entries: AsyncIterable<TarEntry> | Iterable<TarEntry>): AsyncGenerator<Buffer> {
  return generateTar(entries, true);
}

async function* generateTar(entries: AsyncIterable<TarEntry> | Iterable<TarEntry>, reuse: boolean): AsyncGenerator<Buffer> {
  let out = Buffer.allocUnsafe(CHUNK);
  let pos = 0;
  const take = (): Buffer => {
    const full = out.subarray(0, pos);
    if (!reuse) out = Buffer.allocUnsafe(CHUNK);
    pos = 0;
    return full;
  };
  const readBuf = reuse ? Buffer.allocUnsafe(MAX_READ) : undefined;
  const put = function* (b: Buffer): Generator<Buffer> {
    if (pos + b.length > CHUNK && pos > 0) yield take();
    if (b.length > CHUNK) yield b;
    else pos += b.copy(out, pos);
  };
  const zeros = function* (n: number): Generator<Buffer> {
    while (n > 0) {
      if (pos === CHUNK) yield take();
      const k = Math.min(n, CHUNK - pos);
      out.fill(0, pos, pos + k);
      pos += k;
      n -= k;
    }
  };

  for await (const { header: h, source } of entries) {
    yield* put(encodeHeader(h));
    if (h.type !== 'file' || h.size === 0) continue;
    if (source === undefined) {
      throw new TbahError('invalid-argument', `tar entry '${h.name}' has size ${h.size} but no content source`);
    }
    if (typeof source !== 'string') {
      if (source.length !== h.size) {
        throw new TbahError('invalid-argument', `tar entry '${h.name}': content is ${source.length} bytes, header says ${h.size}`);
      }
      yield* put(source);
      yield* zeros(padLen(h.size));
      continue;
    }
    const total = h.size + padLen(h.size);
    if (total <= CHUNK) {
      // Small file: one synchronous read straight into the output chunk. Measured here: 20k
      // open/read/close cost 2.0 s as promises (thread-pool round trips) and 0.14 s synchronously;
      // a chunk's worth of small files blocks the event loop for well under a millisecond.
      if (total > CHUNK - pos) yield take();
      readSmall(source, out, pos, h.size, CHUNK - pos > h.size);
      pos += h.size;
    } else {
      // Large file: ≤ 1 MiB buffers of its own, handed on without copying.
      if (pos > 0) yield take();
      let fh: FileHandle;
      try {
        fh = await open(source, 'r');
      } catch (err) {
        throw ioError(source, err);
      }
      try {
        let left = h.size;
        while (left > 0) {
          const n = Math.min(left, MAX_READ);
          const buf = readBuf !== undefined ? readBuf.subarray(0, n) : Buffer.allocUnsafe(n);
          if ((await readFull(fh, buf, source)) !== n) throw changed(source);
          left -= n;
          yield buf;
        }
        if (!(await atEof(fh, source))) throw changed(source);
      } finally {
        await fh.close();
      }
    }
    yield* zeros(padLen(h.size));
  }
  yield* zeros(2 * BLOCK);
  if (pos > 0) yield take();
}

/** Fill `buf` from the file's current position; returns the count (short only at EOF). */
async function readFull(fh: FileHandle, buf: Buffer, path: string): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    let n: number;
    try {
      ({ bytesRead: n } = await fh.read(buf, got, buf.length - got, null));
    } catch (err) {
      throw ioError(path, err);
    }
    if (n === 0) break;
    got += n;
  }
  return got;
}

const probe = Buffer.alloc(1);

/**
 * Read a whole small file into buf at off. With `spare` the read asks for one byte more
 * than expected, so a file that grew is noticed in the same call (a short read means EOF).
 */
function readSmall(path: string, buf: Buffer, off: number, size: number, spare: boolean): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw ioError(path, err);
  }
  try {
    let got = 0;
    const want = size + (spare ? 1 : 0);
    while (got < size) {
      const n = readSync(fd, buf, off + got, want - got, null);
      if (n === 0) break;
      got += n;
    }
    if (got !== size) throw changed(path);
    if (!spare && readSync(fd, probe, 0, 1, null) !== 0) throw changed(path);
  } catch (err) {
    if (err instanceof TbahError) throw err;
    throw ioError(path, err);
  } finally {
    closeSync(fd);
  }
}
async function atEof(fh: FileHandle, path: string): Promise<boolean> {
  try {
    return (await fh.read(probe, 0, 1, null)).bytesRead === 0;
  } catch (err) {
    throw ioError(path, err);
  }
}

const ioError = (path: string, err: unknown): TbahError =>
  new TbahError('io', `cannot read '${path}': ${(err as Error).message}`, { cause: err });
const changed = (path: string): TbahError =>
  new TbahError('io', `file '${path}' changed size while it was being archived`, {
    hint: 'stop whatever is writing to it and try again',
  });

// ---------------------------------------------------------------- decoding

const corrupt = (what: string): TbahError =>
  new TbahError('corrupt', `tar archive: ${what}`, { hint: 'the layer is damaged or truncated; pull or build it again' });

/** Pulls bytes out of the source iterable; hands out subarrays where it can. */
class ByteSource {
  private readonly it: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  private off = 0;
  private ended = false;
  /** Offset of the next unread byte in the archive, for error messages. */
  position = 0;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  get available(): number {
    return this.buf.length - this.off;
  }

  /** Make sure some unread bytes are buffered; false at end of input. */
  async fill(): Promise<boolean> {
    while (this.off >= this.buf.length) {
      if (this.ended) return false;
      const r = await this.it.next();
      if (r.done === true) {
        this.ended = true;
        return false;
      }
      const v = r.value as Buffer | Uint8Array;
      this.buf = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      this.off = 0;
    }
    return true;
  }

  /** Up to n already-buffered bytes, without copying. */
  take(n: number): Buffer {
    const k = Math.min(n, this.available);
    const b = this.buf.subarray(this.off, this.off + k);
    this.off += k;
    this.position += k;
    return b;
  }

  /** Exactly n bytes, or null when the input ends before the first byte; a partial read is corruption. */
  async read(n: number, what: string): Promise<Buffer | null> {
    if (!(await this.fill())) return null;
    if (this.available >= n) return this.take(n);
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0) {
      if (!(await this.fill())) throw corrupt(`unexpected end of data in ${what} at byte ${this.position}`);
      const b = this.take(left);
      parts.push(b);
      left -= b.length;
    }
    return Buffer.concat(parts, n);
  }

  async skip(n: number, what: string): Promise<void> {
    while (n > 0) {
      if (!(await this.fill())) throw corrupt(`unexpected end of data in ${what} at byte ${this.position}`);
      n -= this.take(n).length;
    }
  }

  async drain(): Promise<void> {
    while (await this.fill()) this.take(this.available);
  }

  async close(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      await this.it.return?.();
    }
  }
}

function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

/** NUL-terminated string field. */
function cstr(b: Buffer, off: number, len: number): string {
  let end = off;
  const max = off + len;
  while (end < max && b[end] !== 0) end++;
  return b.toString('utf8', off, end);
}

/** Octal (space/NUL padded) or GNU base-256 numeric field. */
function parseNumber(b: Buffer, off: number, len: number, field: string): number {
  const first = b[off]!;
  if (first & 0x80) {
    let x = BigInt(first & 0x7f);
    for (let i = 1; i < len; i++) x = (x << 8n) | BigInt(b[off + i]!);
    if (first === 0xff) x -= 1n << BigInt(8 * len - 1); // negative: first byte 0xff (x includes its low 7 bits)
    const v = Number(x);
    if (!Number.isSafeInteger(v)) throw corrupt(`${field} field out of range`);
    return v;
  }
  let i = off;
  const end = off + len;
  while (i < end && (b[i] === 0x20 || b[i] === 0)) i++;
  let v = 0;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === 0 || c === 0x20) break;
    if (c < 0x30 || c > 0x37) throw corrupt(`${field} field is not an octal number`);
    v = v * 8 + (c - 0x30);
  }
  return v;
}

function verifyChecksum(b: Buffer, at: number): void {
  const want = parseNumber(b, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  // Some old writers summed signed chars; GNU tar accepts both, so do we.
  if (want !== unsigned && want !== signed) throw corrupt(`header checksum mismatch at byte ${at}`);
}

interface PaxValues {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  xattrs?: Map<string, Buffer>;
}

function parsePax(buf: Buffer, into: PaxValues, global: boolean): void {
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] === 0) {
      // Some writers NUL-pad the body; tolerate trailing NULs only.
      for (let i = pos; i < buf.length; i++) if (buf[i] !== 0) throw corrupt('malformed PAX record');
      return;
    }
    const sp = buf.indexOf(0x20, pos);
    if (sp < 0 || sp === pos || sp - pos > 20) throw corrupt('malformed PAX record length');
    const lenStr = buf.toString('latin1', pos, sp);
    if (!/^\d+$/.test(lenStr)) throw corrupt('malformed PAX record length');
    const end = pos + Number(lenStr);
    if (end > buf.length || end <= sp + 1 || buf[end - 1] !== 0x0a) throw corrupt('PAX record runs past its header');
    const eq = buf.indexOf(0x3d, sp + 1);
    if (eq < 0 || eq >= end - 1) throw corrupt('PAX record without "="');
    const key = buf.toString('utf8', sp + 1, eq);
    const value = buf.subarray(eq + 1, end - 1);
    pos = end;
    applyPax(key, value, into, global);
  }
}

function paxInt(key: string, value: Buffer): number {
  const s = value.toString('latin1');
  if (!/^\d+$/.test(s)) throw corrupt(`PAX ${key} '${s}' is not a number`);
  const v = Number(s);
  if (!Number.isSafeInteger(v)) throw corrupt(`PAX ${key} '${s}' is out of range`);
  return v;
}

function applyPax(key: string, value: Buffer, into: PaxValues, global: boolean): void {
  if (key.startsWith('SCHILY.xattr.')) {
    // Copy: the value may sit in a large input chunk we do not want to keep alive.
    (into.xattrs ??= new Map()).set(key.slice('SCHILY.xattr.'.length), Buffer.from(value));
    return;
  }
  if (key.startsWith('GNU.sparse.')) {
    throw new TbahError('unsupported', 'tar archive: GNU sparse files are not supported', { hint: 'rebuild the layer without --sparse' });
  }
  if (value.length === 0) {
    // An empty value deletes the keyword: fall back to the header field.
    if (key === 'path' || key === 'linkpath' || key === 'size' || key === 'uid' || key === 'gid' || key === 'mtime') delete into[key];
    return;
  }
  switch (key) {
    case 'path':
    case 'linkpath':
      // A global path/linkpath would rename every entry; nobody writes it, so ignore it there.
      if (!global) into[key] = value.toString('utf8');
      break;
    case 'size':
      if (!global) into.size = paxInt(key, value);
      break;
    case 'uid':
    case 'gid':
      into[key] = paxInt(key, value);
      break;
    case 'mtime': {
      const s = value.toString('latin1');
      if (!/^-?\d+(\.\d*)?$/.test(s)) throw corrupt(`PAX mtime '${s}' is not a number`);
      into.mtime = Math.floor(Number(s));
      break;
    }
    default: // atime, ctime, uname, gname, comment, charset, SCHILY.dev/ino/nlink, ...: not part of tbah's model.
  }
}

/** Strip leading './' and trailing '/'; the root itself becomes '.'. No other sanitising (the applier does that). */
function normaliseName(n: string): string {
  while (n.startsWith('./')) {
    n = n.slice(2);
    while (n.startsWith('/')) n = n.slice(1);
  }
  let end = n.length;
  while (end > 0 && n[end - 1] === '/') end--;
  if (end === 0) return n.length > 0 ? '/' : '.';
  n = n.slice(0, end);
  return n;
}

const TYPES: Record<number, TarEntryType> = {
  0x30: 'file',
  0x00: 'file',
  0x37: 'file', // contiguous file: a plain file everywhere that matters
  0x31: 'hardlink',
  0x32: 'symlink',
  0x33: 'char',
  0x34: 'block',
  0x35: 'dir',
  0x36: 'fifo',
};

/**
 * Read a tar archive entry by entry. PAX 'x' and 'g' headers and GNU long
 * names ('L'/'K') are folded into the following entry; a 'g' header's uid,
 * gid, mtime and xattrs apply to every later entry (path/linkpath/size in a
 * global header are ignored). The archive must end with a zero block: input
 * that stops earlier is reported as corrupt, never as a short archive.
 */
export async function* readTar(source: AsyncIterable<Buffer>): AsyncGenerator<TarReadEntry> {
  const src = new ByteSource(source);
  const global: PaxValues = {};
  let pax: PaxValues = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  try {
    for (;;) {
      const at = src.position;
      const block = await src.read(BLOCK, 'a header');
      if (block === null) throw corrupt(`archive ends at byte ${at} without an end-of-archive marker (truncated?)`);
      if (isZeroBlock(block)) {
        // End of archive. Consume the rest (second zero block, record padding) so a tee'd digest sees every byte.
        await src.drain();
        return;
      }
      verifyChecksum(block, at);
      const flag = block[156]!;
      const magic = block.toString('latin1', 257, 265);
      const ustar = magic === 'ustar\x0000';
      const gnu = magic === 'ustar  \x00';
      let size = parseNumber(block, 124, 12, 'size');

      if (flag === 0x78 || flag === 0x67 || flag === 0x4c || flag === 0x4b) {
        // Metadata for the next entry: read its body whole (bounded).
        if (size > MAX_META) throw new TbahError('unsupported', `tar archive: metadata header of ${size} bytes at byte ${at} is too large`);
        const body = size === 0 ? Buffer.alloc(0) : await src.read(size, 'a metadata header');
        if (body === null) throw corrupt(`unexpected end of data after header at byte ${at}`);
        await src.skip(padLen(size), 'padding');
        if (flag === 0x78) parsePax(body, pax, false);
        else if (flag === 0x67) parsePax(body, global, true);
        else if (flag === 0x4c) longName = cstr(body, 0, body.length);
        else longLink = cstr(body, 0, body.length);
        continue;
      }

      let type = TYPES[flag];
      if (type === undefined) {
        const shown = flag >= 0x20 && flag < 0x7f ? `'${String.fromCharCode(flag)}'` : `0x${flag.toString(16)}`;
        throw new TbahError('unsupported', `tar archive: entry type ${shown} at byte ${at} is not supported`, {
          hint: 'tbah reads files, directories, links, devices and FIFOs only',
        });
      }
      let rawName = cstr(block, 0, 100);
      if (ustar) {
        const prefix = cstr(block, 345, 155);
        if (prefix !== '') rawName = `${prefix}/${rawName}`;
      }
      rawName = pax.path ?? longName ?? rawName;
      // Old archives mark directories with a trailing slash on a plain-file entry.
      if (flag === 0x00 && rawName.endsWith('/')) type = 'dir';
      let linkname = pax.linkpath ?? longLink ?? cstr(block, 157, 100);
      if (pax.size !== undefined) size = pax.size;
      // Only files carry data (as Go's archive/tar: other types' size fields are ignored).
      if (type !== 'file') size = 0;
      const xattrs =
        global.xattrs === undefined ? pax.xattrs : new Map([...global.xattrs, ...(pax.xattrs ?? [])]);
      const header: TarHeader = {
        name: normaliseName(rawName),
        type,
        mode: parseNumber(block, 100, 8, 'mode') & 0o7777,
        uid: pax.uid ?? global.uid ?? parseNumber(block, 108, 8, 'uid'),
        gid: pax.gid ?? global.gid ?? parseNumber(block, 116, 8, 'gid'),
        size,
        mtime: pax.mtime ?? global.mtime ?? parseNumber(block, 136, 12, 'mtime'),
      };
      if (type === 'symlink') header.linkname = linkname;
      else if (type === 'hardlink') header.linkname = normaliseName(linkname);
      if ((type === 'char' || type === 'block') && (ustar || gnu)) {
        header.devmajor = parseNumber(block, 329, 8, 'devmajor');
        header.devminor = parseNumber(block, 337, 8, 'devminor');
      } else if (type === 'char' || type === 'block') {
        header.devmajor = 0;
        header.devminor = 0;
      }
      if (xattrs !== undefined && xattrs.size > 0) header.xattrs = xattrs;
      pax = {};
      longName = undefined;
      longLink = undefined;

      const body = new Body(src, size);
      yield { header, body };
      body.finish();
      await src.skip(body.remaining + padLen(size), `the content of '${header.name}'`);
    }
  } finally {
    await src.close();
  }
}

/** One entry's content as an async iterable of subarrays of the input chunks. */
class Body implements AsyncIterable<Buffer>, AsyncIterator<Buffer> {
  private done = false;
  constructor(
    private readonly src: ByteSource,
    public remaining: number,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this;
  }

  finish(): void {
    this.done = true;
  }

  async next(): Promise<IteratorResult<Buffer>> {
    if (this.remaining === 0) return { done: true, value: undefined };
    if (this.done) throw new TbahError('internal', 'tar entry body read after moving to the next entry');
    if (!(await this.src.fill())) throw corrupt(`unexpected end of data inside an entry at byte ${this.src.position}`);
    const b = this.src.take(this.remaining);
    this.remaining -= b.length;
    return { done: false, value: b };
  }
}
