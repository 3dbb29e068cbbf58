import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, symlink, writeFile, link, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TbahError } from '../../src/core/errors.js';
import { encodeHeader, packTar, readTar } from '../../src/core/layer/tar.js';
import type { TarEntry } from '../../src/core/layer/tar.js';
import type { TarHeader } from '../../src/core/layer/tar-types.js';

const Y2100 = 4102444800; // 2100-01-01T00:00:00Z
const BIN = Buffer.from([0x01, 0xff, 0x80, 0x00, 0xc3]);

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'tbah-tar-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function toBuffer(r: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c);
  return Buffer.concat(parts);
}

/** Feed a buffer in awkward chunk sizes so block boundaries never line up with chunks. */
async function* chunked(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function readAll(src: AsyncIterable<Buffer>): Promise<{ header: TarHeader; data: Buffer }[]> {
  const out: { header: TarHeader; data: Buffer }[] = [];
  for await (const e of readTar(src)) out.push({ header: e.header, data: await toBuffer(e.body) });
  return out;
}

async function expectError(p: Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof TbahError, `expected TbahError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (re) assert.match(err.message, re);
    return true;
  });
}

const h = (x: Partial<TarHeader> & Pick<TarHeader, 'name' | 'type'>): TarHeader => ({
  mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1_700_000_000, ...x,
});

const longDir = `${'d'.repeat(90)}/${'e'.repeat(60)}`; // > 100 bytes, fits ustar prefix+name
const veryLong = `${'x'.repeat(100)}/${'y'.repeat(100)}/${'z'.repeat(80)}.txt`; // > 255 bytes

/** Entries exercising every property that tar libraries tend to lose. */
function sampleEntries(): TarEntry[] {
  const content = (s: string): Buffer => Buffer.from(s);
  return [
    { header: h({ name: 'd', type: 'dir', mode: 0o755 }) },
    { header: h({ name: 'd/f', type: 'file', mode: 0o000, uid: 300000, gid: 1000000, size: 5, mtime: Y2100 }), source: content('hello') },
    { header: h({ name: 'suid', type: 'file', mode: 0o4755, size: 1 }), source: content('x') },
    { header: h({ name: 'sgid', type: 'dir', mode: 0o2755 }) },
    { header: h({ name: 'tmp', type: 'dir', mode: 0o1777 }) },
    { header: h({ name: 'old', type: 'file', mtime: -86400 }) },
    { header: h({ name: 'future', type: 'file', mtime: 2 ** 34 }) },
    { header: h({ name: 'bigid', type: 'file', uid: 3_000_000, gid: 2 ** 32 - 2 }) },
    { header: h({ name: `${longDir}/file.txt`, type: 'file', size: 3 }), source: content('abc') },
    { header: h({ name: veryLong, type: 'file', size: 4 }), source: content('long') },
    { header: h({ name: 'ünïcødé/日本語.txt', type: 'file', size: 2 }), source: content('jp') },
    { header: h({ name: 'ünïcødé', type: 'dir', mode: 0o700 }) },
    { header: h({ name: 'lnk', type: 'symlink', mode: 0o777, linkname: `/${'t'.repeat(150)}/target` }) },
    { header: h({ name: 'lnk2', type: 'symlink', mode: 0o777, linkname: '../ünï/ziel' }) },
    {
      header: h({ name: 'cap', type: 'file', mode: 0o755, size: 2, xattrs: new Map([['security.capability', BIN], ['user.bin', BIN], ['user.text', Buffer.from('v=1\n')]]) }),
      source: content('ok'),
    },
    { header: h({ name: 'xdir', type: 'dir', mode: 0o755, xattrs: new Map([['user.opaque', Buffer.from('y')]]) }) },
    { header: h({ name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 }) },
    { header: h({ name: 'dev/sda', type: 'block', mode: 0o660, gid: 6, devmajor: 8, devminor: 0 }) },
    { header: h({ name: 'run/fifo', type: 'fifo', mode: 0o600 }) },
    { header: h({ name: 'hl', type: 'hardlink', linkname: 'd/f' }) },
    { header: h({ name: 'empty', type: 'file', size: 0 }) },
  ];
}

describe('encodeHeader', () => {
  it('writes a plain ustar block when everything fits', () => {
    const b = encodeHeader(h({ name: 'a/b', type: 'dir', mode: 0 }));
    assert.equal(b.length, 512);
    assert.equal(b.toString('latin1', 0, 5), 'a/b/\0'); // dirs end with '/'
    assert.equal(b.toString('latin1', 100, 108), '0000000\0'); // mode 0 stays 0
    assert.equal(b[156], 0x35);
    assert.equal(b.toString('latin1', 257, 265), 'ustar\x0000');
    assert.equal(b.toString('latin1', 265, 297), '\0'.repeat(32)); // no uname
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : b[i]!;
    assert.equal(parseInt(b.toString('latin1', 148, 154), 8), sum);
    assert.equal(b.toString('latin1', 154, 156), '\0 ');
  });

  it('uses the ustar prefix for names up to 255 bytes and PAX beyond', () => {
    const b = encodeHeader(h({ name: `${longDir}/file.txt`, type: 'file' }));
    assert.equal(b.length, 512);
    assert.equal(b.toString('latin1', 345, 345 + 91), `${'d'.repeat(90)}\0`);
    assert.equal(b.toString('latin1', 0, 70), `${'e'.repeat(60)}/file.txt\0`);
    const p = encodeHeader(h({ name: veryLong, type: 'file' }));
    assert.equal(p[156], 0x78);
    assert.match(p.toString('latin1', 512, 1024), new RegExp(`\\d+ path=${veryLong}\n`));
    assert.equal(p.toString('latin1', 0, 96), `PaxHeaders/${'z'.repeat(80)}.txt\0`);
  });

  it('keeps binary xattr values byte-exact and counts record length in bytes', () => {
    const b = encodeHeader(h({ name: 'f', type: 'file', xattrs: new Map([['security.capability', BIN]]) }));
    const rec = Buffer.concat([Buffer.from('42 SCHILY.xattr.security.capability='), BIN, Buffer.from('\n')]);
    assert.equal(rec.length, 42);
    assert.deepEqual(b.subarray(512, 512 + rec.length), rec);
  });

  it('encodes and decodes a header for a file larger than 8 GiB', async () => {
    const size = 9 * 1024 ** 3 + 7;
    const hdr = h({ name: 'huge.img', type: 'file', size });
    const enc = encodeHeader(hdr);
    assert.match(enc.toString('latin1', 512, 1024), new RegExp(`size=${size}\n`));
    for await (const e of readTar(chunked(enc, 100))) {
      assert.deepEqual(e.header, hdr);
      break; // there is no body; stop before the reader looks for it
    }
  });

  it('refuses headers it cannot represent', () => {
    assert.throws(() => encodeHeader(h({ name: 'a\0b', type: 'file' })), /NUL/);
    assert.throws(() => encodeHeader(h({ name: 'd', type: 'dir', size: 3 })), /size 0/);
    assert.throws(() => encodeHeader(h({ name: 'f', type: 'file', uid: -1 })), /uid/);
  });
});

describe('packTar / readTar round trip', () => {
  it('keeps every field of every entry type', async () => {
    const entries = sampleEntries();
    const tar = await toBuffer(packTar(entries));
    assert.equal(tar.length % 512, 0);
    assert.ok(tar.subarray(tar.length - 1024).every((x) => x === 0));
    for (const size of [tar.length, 1, 7, 511, 513, 4096]) {
      const got = await readAll(chunked(tar, size));
      assert.equal(got.length, entries.length);
      got.forEach((g, i) => {
        const want = entries[i]!;
        assert.deepEqual(g.header, want.header, `entry ${want.header.name} (chunk ${size})`);
        assert.deepEqual(g.data, (want.source as Buffer | undefined) ?? Buffer.alloc(0));
      });
    }
  });

  it('is deterministic', async () => {
    const a = await toBuffer(packTar(sampleEntries()));
    const b = await toBuffer(packTar(sampleEntries()));
    assert.ok(a.equals(b));
  });

  it('skips bodies the consumer did not read', async () => {
    const tar = await toBuffer(packTar([
      { header: h({ name: 'a', type: 'file', size: 1000 }), source: Buffer.alloc(1000, 1) as Buffer },
      { header: h({ name: 'b', type: 'file', size: 3 }), source: Buffer.from('bbb') },
    ]));
    const names: string[] = [];
    let last: Buffer = Buffer.alloc(0);
    for await (const e of readTar(chunked(tar, 300))) {
      names.push(e.header.name);
      if (e.header.name === 'b') last = await toBuffer(e.body);
      if (e.header.name === 'a') {
        // read one chunk only
        for await (const c of e.body) {
          assert.ok(c.length <= 300);
          break;
        }
      }
    }
    assert.deepEqual(names, ['a', 'b']);
    assert.equal(last.toString(), 'bbb');
  });

  it('streams files from disk, small and large, with identical bytes', async () => {
    const dir = path.join(tmp, 'src1');
    await mkdir(dir);
    const big = Buffer.alloc(3 * 1024 * 1024 + 123);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    await writeFile(path.join(dir, 'big'), big);
    const entries: TarEntry[] = [];
    const want = new Map<string, Buffer>();
    for (let i = 0; i < 200; i++) {
      const data = Buffer.alloc(i * 37 + (i % 3 === 0 ? 512 : 0), i);
      await writeFile(path.join(dir, `f${i}`), data);
      want.set(`f${i}`, data);
      entries.push({ header: h({ name: `f${i}`, type: 'file', size: data.length }), source: path.join(dir, `f${i}`) });
      if (i === 100) {
        entries.push({ header: h({ name: 'big', type: 'file', size: big.length }), source: path.join(dir, 'big') });
        want.set('big', big);
      }
    }
    const chunks: Buffer[] = [];
    for await (const c of packTar(entries)) chunks.push(c);
    assert.ok(chunks.length < 40, `output should be coalesced into few chunks, got ${chunks.length}`);
    const got = await readAll(chunked(Buffer.concat(chunks), 65536));
    assert.equal(got.length, 201);
    for (const g of got) assert.ok(g.data.equals(want.get(g.header.name)!), g.header.name);
  });

  it('fails with an io error naming the file when it changed size', async () => {
    const f = path.join(tmp, 'changing');
    await writeFile(f, '12345');
    for (const size of [4, 6]) {
      await expectError(toBuffer(packTar([{ header: h({ name: 'c', type: 'file', size }), source: f }])), 'io', /changing/);
    }
    const bigF = path.join(tmp, 'changing-big');
    await writeFile(bigF, Buffer.alloc(600_000));
    for (const size of [599_999, 600_001]) {
      await expectError(toBuffer(packTar([{ header: h({ name: 'c', type: 'file', size }), source: bigF }])), 'io', /changing-big/);
    }
    await expectError(toBuffer(packTar([{ header: h({ name: 'c', type: 'file', size: 1 }), source: path.join(tmp, 'nope') }])), 'io', /nope/);
  });

  it('applies backpressure instead of reading everything ahead', async () => {
    let produced = 0;
    function* many(): Generator<TarEntry> {
      for (let i = 0; i < 10_000; i++) {
        produced++;
        yield { header: h({ name: `f${i}`, type: 'file', size: 4096 }), source: Buffer.alloc(4096) };
      }
    }
    const r = packTar(many());
    await new Promise((res) => r.once('readable', res));
    await new Promise((res) => setTimeout(res, 50));
    assert.ok(produced < 1000, `produced ${produced} entries without a reader`);
    r.destroy();
  });
});

describe('readTar error handling', () => {
  it('reports a bad checksum as corrupt', async () => {
    const tar = await toBuffer(packTar([{ header: h({ name: 'a', type: 'file', size: 1 }), source: Buffer.from('a') }]));
    tar[10] ^= 0x01;
    await expectError(readAll(chunked(tar, 512)), 'corrupt', /checksum/);
  });

  it('reports every truncation as corrupt', async () => {
    const tar = await toBuffer(packTar([
      { header: h({ name: 'a', type: 'file', size: 700 }), source: Buffer.alloc(700, 2) },
      { header: h({ name: veryLong, type: 'file', size: 1 }), source: Buffer.from('b') },
    ]));
    const end = tar.length - 1024;
    for (const cut of [0, 100, 512, 800, 1024, 1536, 1600, 2048, end - 512, end - 1]) {
      await expectError(readAll(chunked(tar.subarray(0, cut), 256)), 'corrupt', undefined);
    }
    // One zero block is enough for an end marker (as GNU tar and Go accept).
    assert.equal((await readAll(chunked(tar.subarray(0, end + 512), 256))).length, 2);
  });

  it('refuses unknown entry types and GNU sparse files', async () => {
    const dir = path.join(tmp, 'sparse');
    await mkdir(dir);
    execFileSync('truncate', ['-s', '1M', path.join(dir, 'sp')]);
    const sparse = execFileSync('tar', ['-S', '--format=gnu', '-C', dir, '-cf', '-', 'sp']);
    await expectError(readAll(chunked(sparse, 4096)), 'unsupported', /'S'/);
    const paxSparse = execFileSync('tar', ['-S', '--format=posix', '-C', dir, '-cf', '-', 'sp']);
    await expectError(readAll(chunked(paxSparse, 4096)), 'unsupported', /sparse/);
  });
});

// ------------------------------------------------------------------ interop

function python(script: string, ...args: string[]): string {
  return execFileSync('python3', ['-c', script, ...args], { encoding: 'utf8' });
}

const PY_DUMP = `
import tarfile, json, sys
out = []
with tarfile.open(sys.argv[1], 'r:') as t:
    for m in t:
        out.append(dict(name=m.name, type=m.type.decode('latin1'), mode=m.mode, uid=m.uid, gid=m.gid, size=m.size,
            mtime=m.mtime, linkname=m.linkname, devmajor=m.devmajor, devminor=m.devminor,
            pax={k: v.encode('utf-8', 'surrogateescape').hex() for k, v in m.pax_headers.items()},
            data=(t.extractfile(m).read().hex() if m.isreg() else None)))
print(json.dumps(out))
`;

describe('interoperability', () => {
  it('GNU tar lists what packTar writes', async () => {
    const file = path.join(tmp, 'ours.tar');
    await writeFile(file, await toBuffer(packTar(sampleEntries())));
    const out = execFileSync('tar', ['-tvf', file, '--numeric-owner', '--full-time', '--quoting-style=literal'], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
    const lines = out.trim().split('\n');
    const line = (name: string): string => {
      const l = lines.find((x) => x.includes(` ${name}`));
      assert.ok(l, `no line for ${name} in\n${out}`);
      return l;
    };
    assert.match(line('d/f'), /^---------- 300000\/1000000\s+5 2100-01-01 00:00:00 d\/f$/);
    assert.match(line('suid'), /^-rwsr-xr-x /);
    assert.match(line('sgid/'), /^drwxr-sr-x /);
    assert.match(line('tmp/'), /^drwxrwxrwt /);
    assert.match(line('old'), / 1969-12-31 00:00:00 old$/);
    assert.match(line('bigid'), / 3000000\/4294967294 /);
    assert.match(line(veryLong), / 4 /);
    assert.match(line('ünïcødé/日本語.txt'), / 2 /);
    assert.match(line('lnk ->'), new RegExp(`lnk -> /t{150}/target$`));
    assert.match(line('dev/null'), /^crw-rw-rw- 0\/0\s+1,3 /);
    assert.match(line('dev/sda'), /^brw-rw---- 0\/6\s+8,0 /);
    assert.match(line('run/fifo'), /^prw------- /);
    assert.match(line('hl link to'), /hl link to d\/f$/);
    assert.equal(lines.length, sampleEntries().length);
    // GNU tar also extracts the xattrs byte-exact.
    const x = path.join(tmp, 'gnu-extract');
    await mkdir(x);
    execFileSync('tar', ['--xattrs', '--xattrs-include=user.*', '-xf', file, '-C', x, 'cap']);
    // (security.capability is left out: the kernel rejects this made-up value, as it should.)
    const got = python(`import os, sys; print(os.getxattr(sys.argv[1], 'user.text').hex(), os.getxattr(sys.argv[1], 'user.bin').hex())`, path.join(x, 'cap'));
    assert.equal(got.trim(), `${Buffer.from('v=1\n').toString('hex')} 01ff8000c3`);
  });

  it('python tarfile reads what packTar writes, xattr bytes included', async () => {
    const file = path.join(tmp, 'ours-py.tar');
    const entries = sampleEntries();
    await writeFile(file, await toBuffer(packTar(entries)));
    const got = JSON.parse(python(PY_DUMP, file)) as Record<string, unknown>[];
    assert.equal(got.length, entries.length);
    const byName = new Map(got.map((m) => [m['name'] as string, m]));
    assert.deepEqual(byName.get('d/f'), {
      ...byName.get('d/f'), mode: 0, uid: 300000, gid: 1000000, mtime: Y2100, size: 5, data: Buffer.from('hello').toString('hex'),
    });
    assert.equal(byName.get('old')!['mtime'], -86400);
    assert.equal(byName.get('future')!['mtime'], 2 ** 34);
    assert.equal(byName.get('bigid')!['uid'], 3_000_000);
    assert.equal(byName.get('suid')!['mode'], 0o4755);
    assert.equal(byName.get(veryLong)!['data'], Buffer.from('long').toString('hex'));
    assert.ok(byName.has('ünïcødé/日本語.txt'));
    assert.equal(byName.get('lnk')!['linkname'], `/${'t'.repeat(150)}/target`);
    assert.equal(byName.get('lnk2')!['linkname'], '../ünï/ziel');
    const pax = byName.get('cap')!['pax'] as Record<string, string>;
    assert.equal(pax['SCHILY.xattr.security.capability'], '01ff8000c3');
    assert.equal(pax['SCHILY.xattr.user.text'], Buffer.from('v=1\n').toString('hex'));
    assert.equal(pax['SCHILY.xattr.user.bin'], '01ff8000c3');
    assert.deepEqual([byName.get('dev/null')!['devmajor'], byName.get('dev/null')!['devminor']], [1, 3]);
    assert.equal(byName.get('run/fifo')!['type'], '6');
    assert.equal(byName.get('hl')!['type'], '1');
    assert.equal(byName.get('hl')!['linkname'], 'd/f');
  });

  async function makeTree(): Promise<string> {
    const dir = path.join(tmp, `tree-${Math.random().toString(36).slice(2)}`);
    await mkdir(path.join(dir, longDir), { recursive: true });
    await mkdir(path.join(dir, path.dirname(veryLong)), { recursive: true });
    await writeFile(path.join(dir, longDir, 'file.txt'), 'abc');
    await writeFile(path.join(dir, veryLong), 'long');
    await writeFile(path.join(dir, 'data.bin'), Buffer.alloc(100_000, 9));
    await link(path.join(dir, 'data.bin'), path.join(dir, 'hard'));
    await symlink(`/${'t'.repeat(150)}/target`, path.join(dir, 'lnk'));
    await mkdir(path.join(dir, 'ünï'));
    await writeFile(path.join(dir, 'ünï', 'é.txt'), 'e');
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    await utimes(path.join(dir, 'data.bin'), Y2100, Y2100);
    python(`import os, sys; os.setxattr(sys.argv[1], 'user.bin', bytes([1, 255, 128, 0, 195]))`, path.join(dir, 'ünï', 'é.txt'));
    return dir;
  }

  for (const format of ['gnu', 'posix', 'ustar-like-v7']) {
    it(`readTar reads GNU tar --format=${format}`, async () => {
      if (format === 'ustar-like-v7') {
        const dir = path.join(tmp, 'v7');
        await mkdir(dir);
        await writeFile(path.join(dir, 'plain'), 'v7!');
        await mkdir(path.join(dir, 'sub'));
        const tar = execFileSync('tar', ['--format=v7', '-C', dir, '-cf', '-', 'plain', 'sub']);
        const got = await readAll(chunked(tar, 1000));
        assert.deepEqual(got.map((g) => [g.header.name, g.header.type, g.data.toString()]), [['plain', 'file', 'v7!'], ['sub', 'dir', '']]);
        return;
      }
      const dir = await makeTree();
      const tar = execFileSync('tar', [`--format=${format}`, '--xattrs', '-C', dir, '-cf', '-', '.'], { maxBuffer: 1 << 26 });
      const got = await readAll(chunked(tar, 10_000));
      const by = new Map(got.map((g) => [g.header.name, g]));
      assert.ok(by.has('.'), 'root entry ./ is reported as "."');
      assert.equal(by.get(`${longDir}/file.txt`)?.data.toString(), 'abc');
      assert.equal(by.get(veryLong)?.data.toString(), 'long');
      assert.equal(by.get(path.dirname(veryLong))?.header.type, 'dir');
      assert.equal(by.get('lnk')?.header.linkname, `/${'t'.repeat(150)}/target`);
      assert.equal(by.get('ünï/é.txt')?.data.toString(), 'e');
      if (format === 'posix') assert.deepEqual(by.get('ünï/é.txt')?.header.xattrs, new Map([['user.bin', BIN]]));
      assert.equal(by.get('fifo')?.header.type, 'fifo');
      const data = by.get('data.bin') ?? by.get('hard');
      const other = data === by.get('data.bin') ? by.get('hard') : by.get('data.bin');
      assert.equal(data?.data.length, 100_000);
      assert.equal(other?.header.type, 'hardlink');
      assert.equal(by.get('data.bin')?.header.mtime, Y2100);
    });
  }

  it('readTar reads python tarfile archives (PAX xattrs, fractional mtime, GNU base-256)', async () => {
    const file = path.join(tmp, 'py.tar');
    python(`
import tarfile, io, sys
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:
    ti = tarfile.TarInfo('bin/ping'); ti.size = 4; ti.mode = 0o4755; ti.uid = 3000000; ti.gid = 7; ti.mtime = -1.5
    ti.pax_headers = {'SCHILY.xattr.security.capability': b'\\x01\\xff\\x80\\x00\\xc3'.decode('utf-8', 'surrogateescape')}
    t.addfile(ti, io.BytesIO(b'ping'))
    ti = tarfile.TarInfo('d/'); ti.type = tarfile.DIRTYPE; ti.mode = 0o1777; ti.mtime = 12.9
    t.addfile(ti)
    ti = tarfile.TarInfo('dev/tty'); ti.type = tarfile.CHRTYPE; ti.devmajor = 5; ti.devminor = 0; ti.mode = 0o620
    t.addfile(ti)
with tarfile.open(sys.argv[1] + '.gnu', 'w', format=tarfile.GNU_FORMAT) as t:
    ti = tarfile.TarInfo('n' * 300); ti.size = 2; ti.uid = 2**40; ti.mtime = -100; ti.mode = 0
    t.addfile(ti, io.BytesIO(b'hi'))
    ti = tarfile.TarInfo('sl'); ti.type = tarfile.SYMTYPE; ti.linkname = 'L' * 200
    t.addfile(ti)
`, file);
    const pax = await readAll(chunked(await readFile(file), 333));
    assert.deepEqual(pax[0]!.header, {
      name: 'bin/ping', type: 'file', mode: 0o4755, uid: 3000000, gid: 7, size: 4, mtime: -2,
      xattrs: new Map([['security.capability', BIN]]),
    });
    assert.equal(pax[0]!.data.toString(), 'ping');
    assert.deepEqual([pax[1]!.header.name, pax[1]!.header.type, pax[1]!.header.mode, pax[1]!.header.mtime], ['d', 'dir', 0o1777, 12]);
    assert.deepEqual([pax[2]!.header.type, pax[2]!.header.devmajor, pax[2]!.header.devminor], ['char', 5, 0]);
    const gnu = await readAll(chunked(await readFile(`${file}.gnu`), 512));
    assert.deepEqual(gnu[0]!.header, { name: 'n'.repeat(300), type: 'file', mode: 0, uid: 2 ** 40, gid: 0, size: 2, mtime: -100 });
    assert.equal(gnu[1]!.header.linkname, 'L'.repeat(200));
  });

  it('applies PAX global headers to later entries', async () => {
    const file = path.join(tmp, 'global.tar');
    python(`
import tarfile, io, sys
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT, pax_headers={'uid': '4242', 'comment': 'x', 'SCHILY.xattr.user.g': 'G'}) as t:
    ti = tarfile.TarInfo('a'); t.addfile(ti)
    ti = tarfile.TarInfo('b'); ti.pax_headers = {'uid': '7'}; t.addfile(ti)
`, file);
    const got = await readAll(chunked(await readFile(file), 512));
    assert.deepEqual(got.map((g) => [g.header.name, g.header.uid, g.header.xattrs?.get('user.g')?.toString()]), [['a', 4242, 'G'], ['b', 7, 'G']]);
  });

  it('accepts typeflags NUL and 7 as files, old-style directory slashes, and base-256 fields', async () => {
    const mk = (name: string, flag: number, size: number, uidField?: Buffer): Buffer => {
      const b = encodeHeader(h({ name: 'placeholder', type: 'file', size }));
      b.fill(0, 0, 100);
      b.write(name, 0);
      b[156] = flag;
      if (uidField) uidField.copy(b, 108);
      b.fill(0x20, 148, 156);
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += b[i]!;
      b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
      return b;
    };
    const b256 = Buffer.from([0x80, 0, 0, 0, 0, 0x98, 0x96, 0x80]); // 10_000_000
    const tar = Buffer.concat([
      mk('./a', 0, 2), Buffer.from('hi'), Buffer.alloc(510),
      mk('c', 0x37, 0, b256),
      mk('olddir/', 0, 0),
      Buffer.alloc(1024),
    ]);
    const got = await readAll(chunked(tar, 512));
    assert.deepEqual(got.map((g) => [g.header.name, g.header.type, g.header.uid, g.data.toString()]), [
      ['a', 'file', 0, 'hi'], ['c', 'file', 10_000_000, ''], ['olddir', 'dir', 0, ''],
    ]);
  });
});
