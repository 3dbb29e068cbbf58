/**
 * applyLayer in overlay mode: a layer unpacked alone into its own directory in
 * overlayfs's on-disk form (the overlay driver's layer store), and the
 * lookup through a stack of such directories.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile, chmod, utimes, lstat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { applyLayer } from '../../src/core/layer/apply.js';
import { packTar } from '../../src/core/layer/tar.js';
import type { TarEntry } from '../../src/core/layer/tar.js';
import type { TarHeader } from '../../src/core/layer/tar-types.js';
import { OPAQUE_XATTR, isOpaqueDir, isWhiteoutAt, lowerLookup } from '../../src/core/driver/layer-store.js';

const fsx = createRequire(import.meta.url)('fs-native-extensions') as { setAttrSync(fd: number, name: string, v: Buffer): void };
const isRoot = process.geteuid?.() === 0;
const T = 1_600_000_000;
let base: string;
let n = 0;

before(async () => { base = await mkdtemp(path.join(tmpdir(), 'tbah-apply-ovl-')); });
after(async () => { await rm(base, { recursive: true, force: true }); });

const h = (x: Partial<TarHeader> & Pick<TarHeader, 'name' | 'type'>): TarHeader => ({
  mode: x.type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size: 0, mtime: T, ...x,
});
const file = (name: string, content: string, more: Partial<TarHeader> = {}): TarEntry => ({
  header: h({ name, type: 'file', size: Buffer.byteLength(content), ...more }), source: Buffer.from(content),
});
const dir = (name: string, more: Partial<TarHeader> = {}): TarEntry => ({ header: h({ name, type: 'dir', ...more }) });
const wh = (name: string): TarEntry => ({ header: h({ name, type: 'file' }) });
const hard = (name: string, target: string): TarEntry => ({ header: h({ name, type: 'hardlink', linkname: target }) });

async function newDir(): Promise<string> {
  const d = path.join(base, `l${n++}`);
  await mkdir(d);
  return d;
}

/** Unpack `entries` as one layer over `lowers` (topmost first). */
async function unpack(entries: TarEntry[], lowers: string[] = []): Promise<{ dir: string; warnings: string[] }> {
  const dir = await newDir();
  const warnings: string[] = [];
  await applyLayer(dir, packTar(entries), {
    ownership: 'chown',
    onWarning: (m) => warnings.push(m),
    overlay: {
      makeWhiteout: (abs) => execFileSync('mknod', ['-m', '0', abs, 'c', '0', '0']),
      opaqueXattr: OPAQUE_XATTR,
      lower: lowerLookup(lowers),
    },
  });
  return { dir, warnings };
}

describe('applyLayer in overlay mode', { skip: !isRoot && 'whiteout devices need root' }, () => {
  it('whiteouts become 0/0 character devices and touch nothing below', async () => {
    const low = await newDir();
    await writeFile(path.join(low, 'a'), 'a');
    const { dir: out } = await unpack([wh('.wh.a'), dir('d'), wh('d/.wh.x')], [low]);
    assert.ok(isWhiteoutAt(path.join(out, 'a')));
    assert.ok(isWhiteoutAt(path.join(out, 'd', 'x')));
    assert.equal(await readFile(path.join(low, 'a'), 'utf8'), 'a', 'the lower layer is untouched');
  });

  it('an opaque marker becomes the opaque xattr on its directory, whatever the order', async () => {
    const { dir: out } = await unpack([file('d/before', 'b'), wh('d/.wh..wh..opq'), file('d/after', 'a')]);
    assert.ok(isOpaqueDir(path.join(out, 'd')));
    assert.deepEqual(fs.readdirSync(path.join(out, 'd')).sort(), ['after', 'before']);
  });

  it('entries of the layer win over its own whiteouts; a directory made again after its whiteout is opaque', async () => {
    const { dir: out } = await unpack([file('f', 'mine'), wh('.wh.f'), wh('.wh.g'), file('g', 'again'), wh('.wh.d'), dir('d'), file('d/x', 'x'), wh('.wh.e'), file('e/y', 'y')]);
    assert.equal(await readFile(path.join(out, 'f'), 'utf8'), 'mine');
    assert.equal(await readFile(path.join(out, 'g'), 'utf8'), 'again');
    assert.ok(isOpaqueDir(path.join(out, 'd')), 'whiteout then directory: the directory replaces the one below');
    assert.ok(!isOpaqueDir(path.join(out, 'f')));
    assert.ok(fs.statSync(path.join(out, 'e')).isDirectory());
  });

  it('a directory the layer implies takes owner, mode and time from the layers below', async () => {
    const low = await newDir();
    await mkdir(path.join(low, 'tmp'));
    await chmod(path.join(low, 'tmp'), 0o1777);
    fs.chownSync(path.join(low, 'tmp'), 12, 34);
    await utimes(path.join(low, 'tmp'), 1000, 1000);
    const { dir: out } = await unpack([file('tmp/x', 'x'), file('new/y', 'y')], [low]);
    const st = await lstat(path.join(out, 'tmp'));
    assert.deepEqual([st.mode & 0o7777, st.uid, st.gid, st.mtimeMs / 1000], [0o1777, 12, 34, 1000]);
    assert.equal((await lstat(path.join(out, 'new'))).mode & 0o7777, 0o755, 'nothing below: the default');
  });

  it('a hardlink to a file of a lower layer becomes a copy', async () => {
    const low = await newDir();
    await writeFile(path.join(low, 'orig'), 'content', { mode: 0o640 });
    const { dir: out } = await unpack([hard('link', 'orig')], [low]);
    assert.equal(await readFile(path.join(out, 'link'), 'utf8'), 'content');
    assert.equal((await lstat(path.join(out, 'link'))).mode & 0o7777, 0o640);
  });

  it('overlayfs markers in a tar are never applied', async () => {
    const { dir: out, warnings } = await unpack([{ header: h({ name: 'd', type: 'dir', xattrs: new Map([['trusted.overlay.opaque', Buffer.from('y')], ['user.overlay.redirect', Buffer.from('/x')]]) }) }]);
    assert.ok(!isOpaqueDir(path.join(out, 'd')));
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /overlayfs's own marker/);
  });
});

describe('lowerLookup through a stack of layer directories', () => {
  it('the topmost layer wins; whiteouts, files over directories and opaque directories hide what is below', async () => {
    const l1 = await newDir();
    const l2 = await newDir();
    await mkdir(path.join(l1, 'a', 'b'), { recursive: true });
    await writeFile(path.join(l1, 'a', 'b', 'f'), '1');
    await writeFile(path.join(l1, 'a', 'g'), '1');
    await writeFile(path.join(l1, 'h'), '1');
    await mkdir(path.join(l1, 'o'));
    await writeFile(path.join(l1, 'o', 'hidden'), '1');
    await mkdir(path.join(l2, 'a'));
    await writeFile(path.join(l2, 'a', 'g'), '2');
    await mkdir(path.join(l2, 'o'));
    const fd = fs.openSync(path.join(l2, 'o'), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    fsx.setAttrSync(fd, OPAQUE_XATTR, Buffer.from('y'));
    fs.closeSync(fd);
    if (isRoot) execFileSync('mknod', ['-m', '0', path.join(l2, 'h'), 'c', '0', '0']);
    const look = lowerLookup([l2, l1]);
    assert.equal(look('a/g')!.path, path.join(l2, 'a', 'g'));
    assert.equal(look('a/b/f')!.path, path.join(l1, 'a', 'b', 'f'));
    assert.equal(look('o/hidden'), null);
    if (isRoot) assert.equal(look('h'), null);
    assert.equal(look('nothing'), null);
  });
});
