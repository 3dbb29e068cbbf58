import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, open, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TbahError } from '../../src/core/errors.js';
import { applyLayer } from '../../src/core/layer/apply.js';
import type { ApplyOptions } from '../../src/core/layer/apply.js';
import { packTar } from '../../src/core/layer/tar.js';
import type { TarEntry } from '../../src/core/layer/tar.js';
import type { TarHeader } from '../../src/core/layer/tar-types.js';

const fsx = createRequire(import.meta.url)('fs-native-extensions') as { getAttr(fd: number, name: string): Promise<Buffer | null> };
const isRoot = process.geteuid?.() === 0;
const Y2100 = 4102444800;
const BIN = Buffer.from([0x01, 0xff, 0x80, 0x00, 0xc3]);
const T = 1_600_000_000;

let base: string;
let outside: string;
let n = 0;

before(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'tbah-apply-'));
  outside = path.join(base, 'outside');
  await mkdir(outside);
  await writeFile(path.join(outside, 'target'), 'precious');
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

async function newRoot(): Promise<string> {
  const r = path.join(base, `root${n++}`);
  await mkdir(r);
  return r;
}

const h = (x: Partial<TarHeader> & Pick<TarHeader, 'name' | 'type'>): TarHeader => ({
  mode: x.type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size: 0, mtime: T, ...x,
});
const file = (name: string, content: string, more: Partial<TarHeader> = {}): TarEntry => ({
  header: h({ name, type: 'file', size: Buffer.byteLength(content), ...more }),
  source: Buffer.from(content),
});
const dir = (name: string, more: Partial<TarHeader> = {}): TarEntry => ({ header: h({ name, type: 'dir', ...more }) });
const sym = (name: string, target: string): TarEntry => ({ header: h({ name, type: 'symlink', mode: 0o777, linkname: target }) });
const hard = (name: string, target: string): TarEntry => ({ header: h({ name, type: 'hardlink', linkname: target }) });
const wh = (name: string): TarEntry => ({ header: h({ name, type: 'file' }) });

async function apply(root: string, entries: TarEntry[], opts: Partial<ApplyOptions> = {}): Promise<{ warnings: string[]; stats: { entries: number; bytes: number } }> {
  const warnings: string[] = [];
  const stats = await applyLayer(root, packTar(entries), {
    ownership: isRoot ? 'chown' : 'ignore',
    onWarning: (m) => warnings.push(m),
    ...opts,
  });
  return { warnings, stats };
}

async function tree(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await readdir(path.join(root, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = rel === '' ? e.name : `${rel}/${e.name}`;
    out.push(e.isDirectory() ? `${p}/` : p);
    if (e.isDirectory()) out.push(...(await tree(root, p)));
  }
  return out;
}

async function getXattr(p: string, name: string, flags = constants.O_RDONLY): Promise<Buffer | null> {
  const fh = await open(p, flags);
  try {
    return await fsx.getAttr(fh.fd, name);
  } finally {
    await fh.close();
  }
}

async function expectUnsafe(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof TbahError, `expected TbahError, got ${String(err)}`);
    assert.equal(err.code, 'unsafe-path');
    assert.match(err.message, re);
    return true;
  });
}

async function outsideUnchanged(): Promise<void> {
  assert.deepEqual(await readdir(outside), ['target']);
  assert.equal(await readFile(path.join(outside, 'target'), 'utf8'), 'precious');
  assert.equal((await stat(path.join(outside, 'target'))).nlink, 1);
}

describe('applyLayer: content and metadata', () => {
  it('writes files, dirs, links and specials with exact metadata', { skip: !isRoot && 'needs root' }, async () => {
    const root = await newRoot();
    const { warnings, stats } = await apply(root, [
      dir('d', { mode: 0o750, mtime: Y2100, uid: 300000, gid: 1000000 }),
      file('d/zero', 'shadow', { mode: 0o000, uid: 1000000, gid: 300000 }),
      file('d/suid', '#!/bin/sh\n', { mode: 0o4755, uid: 0, gid: 0, mtime: -86400 }),
      file('d/sgid', 'x', { mode: 0o2711, uid: 5, gid: 6 }),
      dir('tmp', { mode: 0o1777 }),
      dir('sgid-dir', { mode: 0o2755, gid: 50 }),
      sym('bin', 'usr/bin'),
      sym('abs', '/etc/../nowhere'),
      hard('d/hl', 'd/sgid'),
      { header: h({ name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 }) },
      { header: h({ name: 'dev/loop9', type: 'block', mode: 0o660, gid: 6, devmajor: 7, devminor: 9 }) },
      { header: h({ name: 'run/fifo', type: 'fifo', mode: 0o620, uid: 7 }) },
      {
        header: h({ name: 'ping', type: 'file', mode: 0o4755, size: 2, xattrs: new Map([['security.capability', Buffer.from('0100000200200000000000000000000000000000', 'hex')], ['user.bin', BIN]]) }),
        source: Buffer.from('ok'),
      },
      { header: h({ name: 'xd', type: 'dir', xattrs: new Map([['user.dirattr', BIN], ['trusted.tbah.x', Buffer.from('y')]]) }) },
      file('big', 'z'.repeat(3_000_000)),
    ]);
    assert.deepEqual(warnings, []);
    assert.equal(stats.entries, 15);
    assert.equal(stats.bytes, 6 + 10 + 1 + 2 + 3_000_000);

    const st = async (p: string) => lstat(path.join(root, p));
    const d = await st('d');
    assert.deepEqual([d.mode & 0o7777, d.uid, d.gid, d.mtimeMs / 1000], [0o750, 300000, 1000000, Y2100], 'dir mtime set after its children');
    const z = await st('d/zero');
    assert.deepEqual([z.mode & 0o7777, z.uid, z.gid, z.mtimeMs / 1000, z.size], [0, 1000000, 300000, T, 6]);
    const s = await st('d/suid');
    assert.deepEqual([s.mode & 0o7777, s.mtimeMs / 1000], [0o4755, -86400]);
    const g = await st('d/sgid');
    assert.deepEqual([g.mode & 0o7777, g.uid, g.gid, g.nlink], [0o2711, 5, 6, 2], 'setgid survives chown');
    assert.equal((await st('d/hl')).ino, g.ino);
    assert.equal((await st('tmp')).mode & 0o7777, 0o1777);
    assert.deepEqual([(await st('sgid-dir')).mode & 0o7777, (await st('sgid-dir')).gid], [0o2755, 50]);
    assert.equal(await readlink(path.join(root, 'bin')), 'usr/bin');
    assert.equal(await readlink(path.join(root, 'abs')), '/etc/../nowhere');
    assert.equal((await st('abs')).mtimeMs / 1000, T);
    const nul = await st('dev/null');
    assert.ok(nul.isCharacterDevice());
    assert.deepEqual([nul.rdev >> 8, nul.rdev & 0xff, nul.mode & 0o7777], [1, 3, 0o666]);
    const loop = await st('dev/loop9');
    assert.ok(loop.isBlockDevice());
    assert.deepEqual([loop.rdev >> 8, loop.rdev & 0xff, loop.gid, loop.mode & 0o7777], [7, 9, 6, 0o660]);
    const fifo = await st('run/fifo');
    assert.ok(fifo.isFIFO());
    assert.deepEqual([fifo.mode & 0o7777, fifo.uid, fifo.mtimeMs / 1000], [0o620, 7, T]);
    const ping = await st('ping');
    assert.equal(ping.mode & 0o7777, 0o4755);
    assert.deepEqual(await getXattr(path.join(root, 'ping'), 'user.bin'), BIN);
    assert.equal((await getXattr(path.join(root, 'ping'), 'security.capability'))?.toString('hex'), '0100000200200000000000000000000000000000');
    assert.deepEqual(await getXattr(path.join(root, 'xd'), 'user.dirattr', constants.O_RDONLY | constants.O_DIRECTORY), BIN);
    assert.equal((await getXattr(path.join(root, 'xd'), 'trusted.tbah.x', constants.O_RDONLY | constants.O_DIRECTORY))?.toString(), 'y');
    assert.equal((await readFile(path.join(root, 'big'))).length, 3_000_000);
  });

  it("with ownership 'ignore' leaves the caller as owner but keeps modes", async () => {
    const root = await newRoot();
    await apply(root, [file('f', 'x', { uid: 1234, gid: 1234, mode: 0o640 }), dir('d', { uid: 99, mode: 0o700 })], { ownership: 'ignore' });
    const f = await lstat(path.join(root, 'f'));
    assert.deepEqual([f.uid, f.mode & 0o7777], [process.geteuid?.(), 0o640]);
    assert.equal((await lstat(path.join(root, 'd'))).mode & 0o7777, 0o700);
  });

  it('warns instead of failing where the filesystem refuses an xattr', async () => {
    const root = await newRoot();
    const { warnings } = await apply(root, [
      { header: h({ name: 'f', type: 'file', size: 1, xattrs: new Map([['bogusns.attr', Buffer.from('1')], ['user.ok', Buffer.from('2')]]) }), source: Buffer.from('f') },
    ]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /bogusns\.attr.*'f'/);
    assert.equal((await getXattr(path.join(root, 'f'), 'user.ok'))?.toString(), '2');
  });

  it('treats the root entry as metadata for the root directory and refuses to change its type', async () => {
    const root = await newRoot();
    await apply(root, [dir('.', { mode: 0o711, mtime: Y2100 }), file('a', 'a')]);
    const st = await lstat(root);
    assert.deepEqual([st.mode & 0o7777, st.mtimeMs / 1000], [0o711, Y2100]);
    await chmod(root, 0o755);
    await expectUnsafe(apply(root, [file('./', '')]), /root/);
  });

  it('applies what GNU tar writes from a real tree', async () => {
    const src = await newRoot();
    await mkdir(path.join(src, 'a/b/c'), { recursive: true });
    await writeFile(path.join(src, 'a/b/c/file'), 'deep');
    await writeFile(path.join(src, `a/${'long'.repeat(40)}`), 'long');
    await symlink('../a/b', path.join(src, 'a/up'));
    const tarBuf = execFileSync('tar', ['--format=posix', '-C', src, '-cf', '-', '.']);
    const root = await newRoot();
    await applyLayer(root, (async function* () { yield tarBuf; })(), { ownership: 'ignore' });
    assert.deepEqual(await tree(root), await tree(src));
    assert.equal(await readFile(path.join(root, 'a/up/c/file'), 'utf8'), 'deep');
  });
});

describe('applyLayer: whiteouts', () => {
  async function lower(): Promise<string> {
    const root = await newRoot();
    await apply(root, [
      dir('etc'), file('etc/a', 'a'), file('etc/b', 'b'),
      dir('d'), file('d/x', 'x'), file('d/y', 'y'), dir('d/sub'), file('d/sub/z', 'z'), dir('d/keepdir'), file('d/keepdir/old', 'o'),
      dir('gone'), file('gone/inner', 'i'),
      sym('lib', 'usr/lib'), dir('usr'), dir('usr/lib'), file('usr/lib/libx.so', 'x'),
    ]);
    return root;
  }

  it('.wh.NAME removes files, directories and symlinks of lower layers', async () => {
    const root = await lower();
    await apply(root, [wh('etc/.wh.a'), wh('.wh.gone'), wh('.wh.lib'), wh('.wh.never-existed'), wh('lib/.wh.nothing')]);
    assert.deepEqual(await tree(root), [
      'd/', 'd/keepdir/', 'd/keepdir/old', 'd/sub/', 'd/sub/z', 'd/x', 'd/y', 'etc/', 'etc/b', 'usr/', 'usr/lib/', 'usr/lib/libx.so',
    ]);
  });

  it('whiteouts follow in-root symlinks of their parent, like any other entry', async () => {
    const root = await lower();
    await apply(root, [wh('lib/.wh.libx.so')]);
    assert.deepEqual(await readdir(path.join(root, 'usr/lib')), []);
  });

  it('.wh..wh..opq hides all lower children but keeps this layer\'s, whatever the order', async () => {
    const root = await lower();
    const { stats } = await apply(root, [
      dir('d', { mode: 0o700 }),
      file('d/before', 'b'),
      file('d/sub/mine', 'm'), // implies d/sub: kept, but its lower child z must go
      dir('d/keepdir'), // a layer dir entry over a lower dir: its lower content is hidden too
      wh('d/.wh..wh..opq'),
      file('d/after', 'a'),
    ]);
    assert.equal(stats.entries, 6);
    assert.deepEqual(await tree(root, 'd'), ['d/after', 'd/before', 'd/keepdir/', 'd/sub/', 'd/sub/mine']);
    assert.equal((await lstat(path.join(root, 'd'))).mode & 0o777, 0o700);
    assert.deepEqual(await tree(root, 'etc'), ['etc/a', 'etc/b'], 'other directories untouched');
  });

  it('a whiteout never removes an entry of its own layer and is never created itself', async () => {
    const root = await lower();
    await apply(root, [file('etc/new', 'n'), wh('etc/.wh.new'), wh('etc/.wh.b'), file('etc/b', 'again')]);
    assert.deepEqual(await tree(root, 'etc'), ['etc/a', 'etc/b', 'etc/new']);
    assert.equal(await readFile(path.join(root, 'etc/b'), 'utf8'), 'again');
  });

  it('refuses whiteouts that name nothing or climb out', async () => {
    const root = await lower();
    await expectUnsafe(apply(root, [wh('etc/.wh..')]), /names no file/);
    await expectUnsafe(apply(root, [wh('../.wh.outside')]), /outside the root/);
    await outsideUnchanged();
  });
});

describe('applyLayer: replacement rules', () => {
  it('replaces non-directories, keeps directories for directories, removes directories for non-directories', async () => {
    const root = await newRoot();
    await apply(root, [
      file('f2d', 'file'), dir('d2f'), file('d2f/child', 'c'), sym('s2f', path.join(outside, 'target')),
      dir('keep', { mode: 0o700 }), file('keep/child', 'c'), sym('s2d', '/'), file('f2s', 'f'), file('f2f', 'old'),
    ]);
    await apply(root, [
      dir('f2d'), file('d2f', 'now a file'), file('s2f', 'replaced the link'), dir('keep', { mode: 0o751, mtime: Y2100 }),
      dir('s2d'), sym('f2s', 'somewhere'), file('f2f', 'new'),
    ]);
    assert.ok((await lstat(path.join(root, 'f2d'))).isDirectory());
    assert.equal(await readFile(path.join(root, 'd2f'), 'utf8'), 'now a file');
    assert.equal(await readFile(path.join(root, 's2f'), 'utf8'), 'replaced the link');
    assert.ok((await lstat(path.join(root, 's2f'))).isFile());
    const k = await lstat(path.join(root, 'keep'));
    assert.deepEqual([k.mode & 0o7777, k.mtimeMs / 1000], [0o751, Y2100]);
    assert.deepEqual(await readdir(path.join(root, 'keep')), ['child']);
    assert.ok((await lstat(path.join(root, 's2d'))).isDirectory());
    assert.equal(await readlink(path.join(root, 'f2s')), 'somewhere');
    assert.equal(await readFile(path.join(root, 'f2f'), 'utf8'), 'new');
    await outsideUnchanged();
  });
});

describe('applyLayer: hostile layers never write outside the root', () => {
  it('a symlink to / (or to a host path) followed by files through it', async () => {
    const root = await newRoot();
    await apply(root, [
      sym('evil', '/'), file('evil/tmp/pwned', 'x'),
      sym('evil2', outside), file('evil2/pwned', 'x'), file('evil2/target', 'overwritten?'),
      sym('up', '../../../../../..'), file(`up${outside}/pwned2`, 'x'),
      dir('evil/etc'), file('evil/etc/passwd', 'root::0:0'),
    ]);
    await outsideUnchanged();
    assert.equal(await readFile(path.join(root, 'tmp/pwned'), 'utf8'), 'x');
    assert.equal(await readFile(path.join(root, outside, 'pwned'), 'utf8'), 'x');
    assert.equal(await readFile(path.join(root, outside, 'target'), 'utf8'), 'overwritten?');
    assert.equal(await readFile(path.join(root, outside, 'pwned2'), 'utf8'), 'x');
    assert.equal(await readFile(path.join(root, 'etc/passwd'), 'utf8'), 'root::0:0');
    assert.equal(await readlink(path.join(root, 'evil')), '/', 'the symlink itself is kept as written');
  });

  it('a symlink in a lower layer is equally harmless', async () => {
    const root = await newRoot();
    await symlink(outside, path.join(root, 'lowerlink'));
    await apply(root, [file('lowerlink/target', 'nope'), dir('lowerlink/newdir')]);
    await outsideUnchanged();
    assert.equal(await readFile(path.join(root, outside, 'target'), 'utf8'), 'nope');
  });

  it("'..' names and hardlinks to host files are refused", async () => {
    const passwdLinks = (await stat('/etc/passwd')).nlink;
    for (const [entries, re] of [
      [[file('../escape', 'x')], /outside the root/],
      [[file('a/../../escape', 'x')], /outside the root/],
      [[hard('h', '/etc/passwd')], /does not exist inside the root/],
      [[hard('h', '../../../../etc/passwd')], /outside the root/],
      [[sym('l', '/etc'), hard('h', 'l/passwd')], /does not exist inside the root/],
      [[sym('l', outside), hard('h', 'l/target')], /does not exist inside the root/],
      [[dir('somedir'), hard('h', 'somedir')], /directory/],
      [[hard('h', '.')], /root/],
    ] as [TarEntry[], RegExp][]) {
      const root = await newRoot();
      await expectUnsafe(apply(root, entries), re);
      await assert.rejects(lstat(path.join(root, 'h')));
      await assert.rejects(lstat(path.join(base, 'escape')));
    }
    assert.equal((await stat('/etc/passwd')).nlink, passwdLinks);
    await outsideUnchanged();
  });

  it('a hardlink through an in-root symlink reaches the in-root file only', async () => {
    const root = await newRoot();
    await apply(root, [dir('etc'), file('etc/passwd', 'inside'), sym('l', '/etc'), hard('h', 'l/passwd'), sym('s', outside + '/target'), hard('hs', 's')]);
    const a = await lstat(path.join(root, 'etc/passwd'));
    assert.equal((await lstat(path.join(root, 'h'))).ino, a.ino);
    // A hardlink to a symlink links the symlink itself, never what it points to.
    assert.ok((await lstat(path.join(root, 'hs'))).isSymbolicLink());
    await outsideUnchanged();
  });

  it('absolute names are re-rooted', async () => {
    const root = await newRoot();
    await apply(root, [file('/abs/file', 'a'), file(`${outside}/target`, 'in root')]);
    assert.equal(await readFile(path.join(root, 'abs/file'), 'utf8'), 'a');
    assert.equal(await readFile(path.join(root, outside, 'target'), 'utf8'), 'in root');
    await outsideUnchanged();
  });

  it('a truncated layer is an error, not a partial success', async () => {
    const root = await newRoot();
    const chunks: Buffer[] = [];
    for await (const c of packTar([file('a', 'x'.repeat(5000)), file('b', 'y')])) chunks.push(c as Buffer);
    const whole = Buffer.concat(chunks);
    await assert.rejects(
      applyLayer(root, (async function* () { yield whole.subarray(0, 3000); })(), { ownership: 'ignore' }),
      (err: unknown) => err instanceof TbahError && err.code === 'corrupt',
    );
  });
});

describe('applyLayer without root', { skip: !isRoot && 'the test drops privileges from root' }, () => {
  it('skips devices with a warning, creates FIFOs, refuses chown', async () => {
    const root = await newRoot();
    await chmod(base, 0o755);
    execFileSync('chown', ['65534:65534', root]);
    const tarPath = path.join(base, 'nonroot.tar');
    const chunks: Buffer[] = [];
    for await (const c of packTar([
      { header: h({ name: 'dev/null', type: 'char', devmajor: 1, devminor: 3 }) },
      { header: h({ name: 'fifo', type: 'fifo', mode: 0o640 }) },
      dir('ro', { mode: 0o000 }), file('ro/f', 'inside a read-only dir'), dir('ro/sub', { mode: 0o500, mtime: Y2100 }), file('ro/sub/g', 'g'),
    ])) chunks.push(c as Buffer);
    await writeFile(tarPath, Buffer.concat(chunks));
    await chmod(tarPath, 0o644);
    const mod = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/core/layer/apply.js');
    const script = `
      import { createReadStream } from 'node:fs';
      const { applyLayer } = await import(${JSON.stringify(mod)});
      const warnings = [];
      let chownErr = '';
      try { await applyLayer(process.argv[1], createReadStream(process.argv[2]), { ownership: 'chown' }); } catch (e) { chownErr = e.code; }
      const stats = await applyLayer(process.argv[1], createReadStream(process.argv[2]), { ownership: 'ignore', onWarning: (w) => warnings.push(w) });
      console.log(JSON.stringify({ warnings, stats, chownErr }));`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script, root, tarPath], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { warnings: string[]; stats: { entries: number }; chownErr: string };
    assert.equal(out.chownErr, 'invalid-argument');
    assert.equal(out.stats.entries, 6);
    assert.equal(out.warnings.length, 1);
    assert.match(out.warnings[0]!, /device 'dev\/null' skipped/);
    await assert.rejects(lstat(path.join(root, 'dev/null')));
    const fifo = await lstat(path.join(root, 'fifo'));
    assert.ok(fifo.isFIFO());
    assert.deepEqual([fifo.mode & 0o777, fifo.uid], [0o640, 65534]);
    assert.equal((await lstat(path.join(root, 'ro'))).mode & 0o777, 0o000);
    const sub = await lstat(path.join(root, 'ro/sub'));
    assert.deepEqual([sub.mode & 0o777, sub.mtimeMs / 1000, sub.uid], [0o500, Y2100, 65534], 'children get their metadata before the parent is locked');
    assert.equal(await readFile(path.join(root, 'ro/f'), 'utf8'), 'inside a read-only dir');
  });
});
