import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TbahError } from '../../src/core/errors.js';
import { mkdirAllInRoot, resolveInRoot } from '../../src/core/layer/secure-path.js';

let base: string;
let root: string;
let outside: string;

before(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'tbah-securepath-'));
  root = path.join(base, 'root');
  outside = path.join(base, 'outside');
  await mkdir(outside);
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await mkdir(path.join(root, 'usr/lib'), { recursive: true });
  await writeFile(path.join(root, 'etc/passwd'), 'root:x:0:0\n');
  await symlink('/', path.join(root, 'toroot')); // a -> /
  await symlink('../../..', path.join(root, 'up')); // a -> ../../..
  await symlink('/etc', path.join(root, 'etclink')); // a -> /etc
  await symlink('usr/lib', path.join(root, 'lib')); // relative, in-root
  await symlink(outside, path.join(root, 'host')); // absolute host path
  await symlink('loop2', path.join(root, 'loop1'));
  await symlink('loop1', path.join(root, 'loop2'));
  await symlink('chain2', path.join(root, 'chain1'));
  await symlink('/chain3/', path.join(root, 'chain2'));
  await symlink('etclink/../usr', path.join(root, 'chain3'));
  await symlink('missing/dir', path.join(root, 'dangling'));
  await symlink('etc/passwd', path.join(root, 'pw'));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

function isInside(p: string): boolean {
  return p === root || p.startsWith(`${root}/`);
}

describe('resolveInRoot', () => {
  const cases: [string, string][] = [
    ['', ''],
    ['/', ''],
    ['etc/passwd', 'etc/passwd'],
    ['/etc/passwd', 'etc/passwd'],
    ['../../../etc/passwd', 'etc/passwd'],
    ['toroot', ''],
    ['toroot/etc/passwd', 'etc/passwd'],
    ['toroot/../../x', 'x'],
    ['up', ''],
    ['up/etc', 'etc'],
    ['etclink/passwd', 'etc/passwd'],
    ['etclink/../..', ''],
    ['lib/libc.so', 'usr/lib/libc.so'],
    ['lib/../bin', 'usr/bin'], // '..' applies to the resolved path, as the kernel does
    ['chain1/lib', 'usr/lib'],
    ['chain1', 'usr'],
    ['dangling/x', 'missing/dir/x'],
    ['nope/a/../b', 'nope/b'],
    ['etc/passwd/x', 'etc/passwd/x'],
    ['host/file', '<outside>/file'], // a host path is re-rooted, never followed outside
    ['pw', 'etc/passwd'],
  ];
  for (const [p, want] of cases) {
    it(`'${p}' → '${want}'`, async () => {
      const got = await resolveInRoot(root, p);
      assert.equal(got, path.join(root, want.replace('<outside>', outside)));
      assert.ok(isInside(got));
    });
  }

  it('does not follow a final symlink when asked not to', async () => {
    assert.equal(await resolveInRoot(root, 'toroot', { followFinal: false }), path.join(root, 'toroot'));
    assert.equal(await resolveInRoot(root, 'etclink/../toroot/', { followFinal: false }), path.join(root, 'toroot'));
    // intermediate symlinks are still followed
    assert.equal(await resolveInRoot(root, 'lib/x', { followFinal: false }), path.join(root, 'usr/lib/x'));
  });

  it('gives up on symlink loops with an unsafe-path error naming the path', async () => {
    await assert.rejects(resolveInRoot(root, 'loop1/x'), (err: unknown) => {
      assert.ok(err instanceof TbahError);
      assert.equal(err.code, 'unsafe-path');
      assert.match(err.message, /loop1\/x/);
      return true;
    });
  });

  it('follows exactly 40 links and no more', async () => {
    const r = path.join(base, 'many');
    await mkdir(r);
    for (let i = 0; i < 41; i++) await symlink(`l${i + 1}`, path.join(r, `l${i}`));
    await mkdir(path.join(r, 'l41'));
    await assert.rejects(resolveInRoot(r, 'l0'), /too many levels/);
    assert.equal(await resolveInRoot(r, 'l1'), path.join(r, 'l41'));
  });
});

describe('mkdirAllInRoot', () => {
  it('creates missing directories through hostile symlinks, inside the root only', async () => {
    const before = await readdir(outside);
    for (const p of ['host/evil', 'toroot/tmp/a/b', 'up/up/var/x', 'etclink/ssl/certs', 'lib/python3/site']) {
      const got = await mkdirAllInRoot(root, p);
      assert.ok(isInside(got), `${p} → ${got}`);
      assert.ok((await lstat(got)).isDirectory());
    }
    assert.deepEqual(await readdir(outside), before, 'nothing appeared outside the root');
    assert.ok((await lstat(path.join(root, outside.slice(1), 'evil'))).isDirectory());
    assert.ok((await lstat(path.join(root, 'etc/ssl/certs'))).isDirectory());
    assert.ok((await lstat(path.join(root, 'usr/lib/python3/site'))).isDirectory());
  });

  it('sets the requested mode on created directories', async () => {
    const got = await mkdirAllInRoot(root, 'modes/a', 0o711);
    assert.equal((await lstat(got)).mode & 0o777, 0o711 & ~process.umask());
  });

  it('refuses a non-directory in the way and names it', async () => {
    await assert.rejects(mkdirAllInRoot(root, 'etc/passwd/sub'), (err: unknown) => {
      assert.ok(err instanceof TbahError);
      assert.equal(err.code, 'conflict');
      assert.match(err.message, /'etc\/passwd' is not a directory/);
      return true;
    });
    await assert.rejects(mkdirAllInRoot(root, 'pw/sub'), /'etc\/passwd' is not a directory/);
  });

  it('returns the root itself for an empty path', async () => {
    assert.equal(await mkdirAllInRoot(root, '/'), root);
  });
});
