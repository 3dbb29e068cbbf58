/**
 * The overlay driver (as root): layers unpacked once and shared, `from` copies
 * nothing, a commit reads only the upper directory and the upper becomes the
 * new layer, real mounts that outlive the command, whiteouts both ways, and
 * garbage collection of unpacked layers. The driver-independent behaviour is
 * covered by the rest of the suite, which runs for both drivers.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sandbox, sh, tbahBin, treeFingerprint } from '../helpers/cli.js';
import { validateOciLayout } from '../helpers/validate.js';

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : 'the overlay driver needs root';
const env = { TBAH_STORAGE_DRIVER: 'overlay' };

const mounted = (p: string): boolean => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === p);
const unpacked = (sb: Sandbox): string[] => {
  try { return readdirSync(path.join(sb.store, 'layers', 'sha256')).sort(); } catch { return []; }
};
/** Entries of the image's layers as `tar tv` lists them (owner, mode, name), layer by layer. */
async function layerNames(sb: Sandbox, image: string): Promise<string[][]> {
  const dir = sb.path(`out-${Math.random().toString(16).slice(2)}`);
  sb.ok(['push', image, `oci:${dir}:x`]);
  const v = await validateOciLayout(dir, 'x');
  return v.layers.map((l) => l.entries.map((e) => e.replace(/\/$/, '')));
}

describe('overlay driver', { skip }, () => {
  const sb = new Sandbox('tbah-ovl-');
  const run = (args: string[]): string => sb.ok(args, { env });

  before(() => {
    const c = run(['from', 'scratch']);
    run(['copy', c, '/bin/busybox', '/bin/busybox']);
    const mnt = run(['mount', c]);
    for (const a of ['sh', 'ls', 'rm', 'mkdir', 'touch', 'echo', 'cat', 'chmod', 'ln', 'mv', 'sleep']) symlinkSync('busybox', path.join(mnt, 'bin', a));
    mkdirSync(path.join(mnt, 'etc'));
    writeFileSync(path.join(mnt, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    mkdirSync(path.join(mnt, 'tmp'));
    chmodSync(path.join(mnt, 'tmp'), 0o1777);
    mkdirSync(path.join(mnt, 'data', 'sub'), { recursive: true });
    writeFileSync(path.join(mnt, 'data', 'sub', 'a'), 'a');
    writeFileSync(path.join(mnt, 'data', 'b'), 'b');
    run(['umount', c]);
    run(['config', '--env', 'PATH=/bin', c]);
    run(['commit', '--rm', c, 'base']);
  });
  after(() => sb.cleanup());

  test('from records the overlay driver; the base layer is unpacked once, whatever the number of containers', () => {
    const before = unpacked(sb);
    assert.equal(before.length, 1, 'the committed upper became the base layer');
    const a = run(['from', 'base']);
    const b = run(['from', 'base']);
    assert.equal(sb.ok(['inspect', '--format', '{{.Driver}}', a]), 'overlay');
    assert.deepEqual(unpacked(sb), before, 'no layer unpacked again');
    // A container is an upper and a work directory: nothing of the image is copied into it.
    const dir = path.join(sb.store, 'containers', sb.ok(['inspect', '--format', '{{.ContainerID}}', b]));
    assert.deepEqual(readdirSync(dir).sort(), ['merged', 'state.json', 'upper-0', 'work-0']);
    assert.deepEqual(readdirSync(path.join(dir, 'upper-0')), []);
    run(['rm', a, b]);
  });

  test('mount is a real overlay mount that stays after the command; umount and rm undo it', () => {
    const c = run(['from', 'base']);
    const mnt = run(['mount', c]);
    assert.ok(mounted(mnt), 'mounted');
    assert.equal(run(['mount', c]), mnt, 'mounting again prints the same path');
    assert.equal(readFileSync(path.join(mnt, 'data', 'b'), 'utf8'), 'b');
    writeFileSync(path.join(mnt, 'new'), 'x');
    run(['umount', c]);
    assert.ok(!mounted(mnt), 'unmounted');
    assert.ok(!existsSync(path.join(mnt, 'new')), 'the files are not shown while unmounted');
    const again = run(['mount', c]);
    assert.equal(readFileSync(path.join(again, 'new'), 'utf8'), 'x', 'what was written through the mount is kept');
    run(['rm', c]);
    assert.ok(!mounted(again), 'rm unmounts');
  });

  test('a commit carries only the upper: changes, deletions as whiteouts, replaced directories as opaque', async () => {
    const c = run(['from', 'base']);
    sb.ok(['run', '--isolation', 'chroot', c, '--', 'sh', '-c', 'echo changed > /data/b; rm /data/sub/a; rm -r /data/sub; mkdir /data/sub; touch /data/sub/new; echo x > /etc/motd'], { env });
    run(['commit', c, 'step1']);
    const layers = await layerNames(sb, 'step1');
    assert.equal(layers.length, 2);
    assert.deepEqual([...layers[1]!].sort(), ['data', 'data/b', 'data/sub', 'data/sub/.wh..wh..opq', 'data/sub/new', 'etc', 'etc/motd'].sort());
    // The container goes on from the new layer: the next commit has only what came after.
    sb.ok(['run', '--isolation', 'chroot', c, '--', 'rm', '/etc/motd'], { env });
    run(['commit', c, 'step2']);
    const l2 = await layerNames(sb, 'step2');
    assert.deepEqual(l2[2], ['etc', 'etc/.wh.motd']);
    const mnt = run(['mount', c]);
    assert.ok(!existsSync(path.join(mnt, 'etc', 'motd')));
    assert.equal(readFileSync(path.join(mnt, 'data', 'b'), 'utf8'), 'changed\n');
    assert.deepEqual(readdirSync(path.join(mnt, 'data', 'sub')), ['new']);
    run(['rm', c]);
  });

  test('run leaves no traces: mount points it made and copied-up directories it only passed through never reach a layer', async () => {
    const c = run(['from', 'base']);
    sb.ok(['run', c, '--', 'sh', '-c', ':'], { env });
    sb.ok(['run', '--isolation', 'chroot', c, '--', 'sh', '-c', ':'], { env });
    run(['config', '--label', 'x=1', c]);
    run(['commit', c, 'noop']);
    const layers = await layerNames(sb, 'noop');
    assert.equal(layers.length, 1, 'no new layer: nothing changed');
    run(['rm', c]);
  });

  test('the new layer\'s unpacked form is exactly its blob: a container from the committed image sees the same tree as one unpacked from the blob', () => {
    const c = run(['from', 'base']);
    sb.ok(['run', '--isolation', 'chroot', c, '--', 'sh', '-c', 'echo 1 > /data/f; mkdir -p /opt/x; chmod 0750 /opt/x; ln -s ../data /opt/x/l'], { env });
    run(['commit', '--timestamp', '1000', c, 'stamped']);
    // Through the adopted upper…
    const a = run(['from', 'stamped']);
    const ma = run(['mount', a]);
    // …and through a fresh unpack of the blobs in another store.
    const other = new Sandbox('tbah-ovl2-');
    try {
      sb.ok(['push', 'stamped', `oci-archive:${other.path('s.tar')}`]);
      const b = other.ok(['from', `oci-archive:${other.path('s.tar')}`], { env });
      const mb = other.ok(['mount', b], { env });
      for (const p of ['data/f', 'opt', 'opt/x', 'opt/x/l']) {
        const sa = lstatSync(path.join(ma, p));
        const sB = lstatSync(path.join(mb, p));
        assert.equal(sa.mode, sB.mode, `${p} mode`);
        assert.equal(Math.floor(sa.mtimeMs / 1000), Math.floor(sB.mtimeMs / 1000), `${p} mtime`);
        assert.equal(Math.floor(sa.mtimeMs / 1000), 1000, `${p} has the commit's --timestamp`);
      }
      assert.equal(treeFingerprint(ma), treeFingerprint(mb));
    } finally {
      other.cleanup();
    }
    run(['rm', a, c]);
  });

  test('a one-file commit does not read the base: its cost is independent of the image', async () => {
    const c = run(['from', 'base']);
    const mnt = run(['mount', c]);
    writeFileSync(path.join(mnt, 'one'), '1');
    run(['commit', c, 'one']);
    assert.ok(mounted(mnt), 'a container mounted by the user stays mounted across a commit');
    writeFileSync(path.join(mnt, 'two'), '2');
    run(['commit', c, 'two']);
    const layers = await layerNames(sb, 'two');
    assert.deepEqual(layers.slice(1), [['one'], ['two']]);
    run(['rm', c]);
  });

  test('a directory the layer implies without listing it keeps the mode of the one below (/tmp stays 1777)', async () => {
    const c = run(['from', 'base']);
    run(['copy', c, '/etc/hostname', '/tmp/x']);
    run(['commit', c, 'tmpfile']);
    // Re-import the image through an archive into a fresh store: every layer is unpacked from its blob.
    const other = new Sandbox('tbah-ovl3-');
    try {
      sb.ok(['push', 'tmpfile', `oci-archive:${other.path('t.tar')}`]);
      const b = other.ok(['from', `oci-archive:${other.path('t.tar')}`], { env });
      const mb = other.ok(['mount', b], { env });
      assert.equal(statSync(path.join(mb, 'tmp')).mode & 0o7777, 0o1777);
    } finally {
      other.cleanup();
    }
    run(['rm', c]);
  });

  test('a commit refuses, clearly and with nothing changed, while a process uses the mount', async () => {
    const c = run(['from', 'base']);
    const mnt = run(['mount', c]);
    writeFileSync(path.join(mnt, 'f'), '1');
    const child = spawn('sleep', ['30'], { cwd: mnt, stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const state = treeFingerprint(path.join(sb.store, 'containers'));
      const r = sb.run(['commit', c, 'busy'], { env });
      assert.equal(r.status, 125);
      assert.match(r.stderr, /busy/);
      assert.equal(r.stderr.trim().split('\n').length, 2, 'one line and a hint');
      assert.equal(treeFingerprint(path.join(sb.store, 'containers')), state);
      assert.ok(mounted(mnt));
    } finally {
      child.kill();
      await new Promise((r) => child.on('close', r));
    }
    run(['commit', c, 'busy']);
    run(['rm', c]);
  });

  test('two froms of one new image at once unpack each layer once', async () => {
    const other = new Sandbox('tbah-ovl4-');
    try {
      sb.ok(['push', 'step1', `oci-archive:${other.path('s.tar')}`]);
      other.ok(['from', '--name', 'seed', 'scratch'], { env });
      const rs = await Promise.all([1, 2, 3].map(() => other.runAsync(['from', `oci-archive:${other.path('s.tar')}`], { env })));
      for (const r of rs) assert.equal(r.status, 0, r.stderr);
      assert.equal(unpacked(other).length, 2);
      assert.deepEqual(readdirSync(path.join(other.store, 'layers', 'tmp')), [], 'no half-unpacked layer left');
    } finally {
      other.cleanup();
    }
  });

  test('unpacked layers go with the last image and container that use them, never before', () => {
    const c = run(['from', 'base']);
    run(['copy', c, '/etc/hostname', '/h']);
    run(['commit', c, 'gc-me']);
    const d = run(['from', 'gc-me']);
    const withAll = unpacked(sb);
    run(['rmi', '--force', 'gc-me']); // removes `d` too
    run(['rm', c]);
    assert.equal(unpacked(sb).length, withAll.length - 1, 'the layer only gc-me used is gone');
    assert.ok(!sb.ok(['containers', '--format', '{{.ContainerName}}']).split('\n').includes(d));
    // base's layer stays: the image still names it.
    const e = run(['from', 'base']);
    run(['rm', e]);
  });

  test('a layer cannot smuggle overlayfs markers: trusted.overlay.* xattrs in a tar are not applied', () => {
    const work = sb.path('evil');
    mkdirSync(path.join(work, 'root', 'd'), { recursive: true });
    writeFileSync(path.join(work, 'root', 'd', 'f'), 'x');
    // GNU tar writes the xattr into the archive from a file that has it.
    sh(`setfattr -n trusted.overlay.opaque -v y ${path.join(work, 'root', 'd')}`);
    sh(`tar --xattrs --xattrs-include='*' -C ${path.join(work, 'root')} -cf ${path.join(work, 'l.tar')} d`);
    const c = run(['from', 'base']);
    run(['add', c, path.join(work, 'l.tar'), '/']);
    run(['commit', c, 'evil']);
    const other = new Sandbox('tbah-ovl5-');
    try {
      sb.ok(['push', 'evil', `oci-archive:${other.path('e.tar')}`]);
      const b = other.ok(['from', `oci-archive:${other.path('e.tar')}`], { env });
      const mb = other.ok(['mount', b], { env });
      assert.ok(existsSync(path.join(mb, 'data', 'b')), 'lower content still shown');
      for (const l of readdirSync(path.join(other.store, 'layers', 'sha256'))) {
        const d = path.join(other.store, 'layers', 'sha256', l, 'd');
        if (existsSync(d)) assert.equal(sh(`getfattr --absolute-names -d -m - ${d} || true`).includes('trusted.overlay'), false);
      }
    } finally {
      other.cleanup();
    }
    rmSync(work, { recursive: true, force: true });
    run(['rm', c]);
  });
});

describe('overlay and dir drivers agree', { skip }, () => {
  test('the same steps with --timestamp give the same image ID on both drivers', () => {
    const ids: string[] = [];
    for (const driver of ['overlay', 'dir']) {
      const sb = new Sandbox(`tbah-agree-${driver}-`);
      try {
        const e = { TBAH_STORAGE_DRIVER: driver };
        const c = sb.ok(['from', 'scratch'], { env: e });
        sb.ok(['copy', c, '/bin/busybox', '/bin/busybox'], { env: e });
        sb.ok(['copy', c, '/etc/hostname', '/etc/motd'], { env: e });
        sb.ok(['commit', '--timestamp', '0', c, 'one'], { env: e });
        sb.ok(['run', '--isolation', 'chroot', c, '--', '/bin/busybox', 'sh', '-c', '/bin/busybox rm /etc/motd; /bin/busybox mkdir -p /a/b; /bin/busybox touch /a/b/c'], { env: e });
        ids.push(sb.ok(['commit', '--timestamp', '0', c, 'two'], { env: e }));
      } finally {
        sb.cleanup();
      }
    }
    assert.equal(ids[0], ids[1]);
  });
});

describe('tbah with the overlay driver, a crashed commit', { skip }, () => {
  test('kill -9 at any point of a commit leaves a container that works', async () => {
    const sb = new Sandbox('tbah-ovl-kill-');
    try {
      const c = sb.ok(['from', 'scratch'], { env });
      sb.ok(['copy', c, '/bin/busybox', '/bin/busybox'], { env });
      let landed = 0;
      for (const delay of [30, 60, 90, 120, 160, 220, 300]) {
        const mnt = sb.ok(['mount', c], { env });
        writeFileSync(path.join(mnt, `f${delay}`), String(delay));
        const child = spawn(process.execPath, [tbahBin, 'commit', c, `k${delay}`], { env: { ...process.env, ...env, TBAH_ROOT: sb.store }, stdio: 'ignore' });
        const closed = new Promise<number | null>((r) => child.on('close', (code, sig) => r(sig === 'SIGKILL' ? null : code)));
        await new Promise((r) => setTimeout(r, delay));
        child.kill('SIGKILL');
        const code = await closed;
        if (code === null) landed++;
        // The container still works and still has every file written so far.
        const m2 = sb.ok(['mount', c], { env });
        assert.equal(readFileSync(path.join(m2, `f${delay}`), 'utf8'), String(delay));
        sb.ok(['commit', c, `after${delay}`], { env });
        const n = sb.ok(['from', `after${delay}`], { env });
        const m3 = sb.ok(['mount', n], { env });
        assert.equal(readFileSync(path.join(m3, `f${delay}`), 'utf8'), String(delay));
        sb.ok(['rm', n], { env });
      }
      assert.ok(landed > 0, 'at least one kill landed mid-commit');
    } finally {
      sb.cleanup();
    }
  });
});
