/** runInContainer with a busybox rootfs, through a real runc and through the chroot isolation; needs root and runc (CI has both). */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp, openSync, closeSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runInContainer } from '../../src/core/runtime/run.js';
import type { RunOptions } from '../../src/core/runtime/run.js';
import type { Isolation } from '../../src/core/runtime/select.js';
import { TbahError } from '../../src/core/errors.js';

const runtime = process.env['TBAH_RUNTIME'] ?? 'runc';
const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => spawnSync('test', ['-x', p]).status === 0);
const skipAll = process.getuid?.() !== 0 ? 'needs root' : busybox === undefined ? 'needs busybox-static' : false;
const skips: Record<Isolation, string | false> = {
  oci: skipAll || (spawnSync(runtime, ['--version'], { stdio: 'ignore' }).status !== 0 ? `needs ${runtime}` : false),
  chroot: skipAll || (spawnSync('sh', ['-c', 'command -v unshare && command -v perl'], { stdio: 'ignore' }).status !== 0 ? 'needs unshare and perl' : false),
};
const skip = skipAll;

let tmp: string;
let rootfs: string;

async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await fsp.readdir(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.posix.join(rel, e.name);
      out.push(`${r}${e.isDirectory() ? '/' : ''}`);
      if (e.isDirectory()) await walk(r);
    }
  };
  await walk('/');
  return out.sort();
}

/** Run and capture stdout through a file (spawn needs a real fd to hand to runc). */
async function runIn(opts: RunOptions, expectNew: string[] = [], outFile = path.join(tmp, `out-${Math.random().toString(36).slice(2)}`)): Promise<{ code: number; out: string }> {
  const fd = openSync(outFile, 'w');
  try {
    const before = await listing(rootfs);
    // The listing is checked whether the run succeeds or throws.
    const result = await runInContainer(rootfs, { ...opts, stdio: ['ignore', fd, 'inherit'] }).then((c) => ({ c }), (e: unknown) => ({ e }));
    const afterList = await listing(rootfs);
    // Nothing created only for the run may remain (no /proc, /dev, /sys, /etc/hosts, ...).
    const added = afterList.filter((e) => !before.includes(e));
    const allowed = [...expectNew, ...(opts.workingDir !== undefined ? [opts.workingDir] : [])];
    assert.deepEqual(added.filter((e) => !allowed.some((a) => `${a}/`.startsWith(e) || e.startsWith(`${a}/`))), [], 'run left entries in the rootfs');
    if ('e' in result) throw result.e;
    return { code: result.c, out: readFileSync(outFile, 'utf8') };
  } finally {
    closeSync(fd);
  }
}

before(async () => {
  if (skip) return;
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'tbah-runtime-'));
  rootfs = path.join(tmp, 'rootfs');
  await fsp.mkdir(path.join(rootfs, 'bin'), { recursive: true });
  await fsp.copyFile(busybox as string, path.join(rootfs, 'bin/busybox'));
  await fsp.chmod(path.join(rootfs, 'bin/busybox'), 0o755);
  for (const n of ['sh', 'id', 'echo', 'cat', 'ls', 'mkdir', 'touch', 'pwd', 'sleep', 'true', 'grep']) await fsp.symlink('busybox', path.join(rootfs, 'bin', n));
  await fsp.writeFile(path.join(rootfs, 'notexec'), '#!/bin/sh\n', { mode: 0o644 });
});

after(async () => { if (tmp) await fsp.rm(tmp, { recursive: true, force: true }); });

for (const isolation of ['oci', 'chroot'] as const) {
  const run = (opts: RunOptions, expectNew: string[] = [], outFile?: string) => runIn({ ...opts, isolation }, expectNew, outFile);

  test(`${isolation}: exit status propagates`, { skip: skips[isolation] }, async () => {
    assert.equal((await run({ args: ['sh', '-c', 'exit 7'] })).code, 7);
    assert.equal((await run({ args: ['sh', '-c', 'true'] })).code, 0);
  });

  test(`${isolation}: SIGTERM to tbah is forwarded to the command`, { skip: skips[isolation] }, async () => {
    // A command that traps TERM gets it (once); we signal only once the trap is set (it prints "ready").
    const outFile = path.join(tmp, `signal-out-${isolation}`);
    let stop = false;
    const poll = (async () => {
      while (!stop) {
        const text = await fsp.readFile(outFile, 'utf8').catch(() => '');
        if (text.includes('ready')) { process.kill(process.pid, 'SIGTERM'); return; }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      const r = await run({ args: ['sh', '-c', 'trap "echo got; exit 42" TERM; echo ready; while true; do sleep 0.1; done'] }, [], outFile);
      assert.equal(r.code, 42);
      assert.equal(r.out, 'ready\ngot\n');
    } finally {
      stop = true;
      await poll;
    }
  });

  test(`${isolation}: SIGTERM to tbah ends a pid 1 that has no handler for it: 143`, { skip: skips[isolation] }, async () => {
    // The kernel drops such signals for pid 1; tbah carries the default action out instead.
    const outFile = path.join(tmp, `signal-plain-${isolation}`);
    let stop = false;
    const poll = (async () => {
      while (!stop) {
        const text = await fsp.readFile(outFile, 'utf8').catch(() => '');
        if (text.includes('ready')) { process.kill(process.pid, 'SIGTERM'); return; }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      // `exec` makes sleep itself pid 1, with default dispositions.
      const r = await run({ args: ['sh', '-c', 'echo ready; exec sleep 100'] }, [], outFile);
      assert.equal(r.code, 143);
    } finally {
      stop = true;
      await poll;
    }
  });

  test(`${isolation}: stdout is the command output; env from image and --env, --env wins`, { skip: skips[isolation] }, async () => {
    const r = await run({ args: ['sh', '-c', 'echo "$A-$B-$PATH"'], imageEnv: ['A=img', 'B=img'], env: ['B=cli'] });
    assert.equal(r.code, 0);
    assert.equal(r.out, 'img-cli-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n');
  });

  test(`${isolation}: --user uid:gid`, { skip: skips[isolation] }, async () => {
    const r = await run({ args: ['sh', '-c', 'id -u; id -g'], user: '1234:567' });
    assert.equal(r.out, '1234\n567\n');
  });

  test(`${isolation}: --user name resolved from the rootfs /etc/passwd`, { skip: skips[isolation] }, async () => {
    await fsp.mkdir(path.join(rootfs, 'etc'), { recursive: true });
    await fsp.writeFile(path.join(rootfs, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n');
    await fsp.writeFile(path.join(rootfs, 'etc/group'), 'root:x:0:\napp:x:1001:\nextra:x:2000:app\n');
    try {
      const r = await run({ args: ['sh', '-c', 'id -u; id -g; id -G; echo $HOME'], user: 'app' });
      assert.equal(r.out, '1000\n1001\n1001 2000\n/home/app\n');
    } finally {
      await fsp.rm(path.join(rootfs, 'etc'), { recursive: true, force: true });
    }
  });

  test(`${isolation}: working dir is created if missing and kept`, { skip: skips[isolation] }, async () => {
    const r = await run({ args: ['pwd'], workingDir: '/work/dir' });
    assert.equal(r.out, '/work/dir\n');
    assert.ok((await fsp.stat(path.join(rootfs, 'work/dir'))).isDirectory());
    await fsp.rm(path.join(rootfs, 'work'), { recursive: true });
  });

  test(`${isolation}: a missing command is 127, a non-executable file 126`, { skip: skips[isolation] }, async () => {
    await assert.rejects(run({ args: ['no-such-cmd'] }), (e: unknown) => e instanceof TbahError && e.exitCode === 127 && /no-such-cmd/.test(e.message));
    await assert.rejects(run({ args: ['/notexec'] }), (e: unknown) => e instanceof TbahError && e.exitCode === 126);
  });

  test(`${isolation}: bind mounts are readable inside, read-only when asked, and leave no mount point`, { skip: skips[isolation] }, async () => {
    const src = path.join(tmp, `src-${isolation}`);
    await fsp.mkdir(src);
    await fsp.writeFile(path.join(src, 'file.txt'), 'from host\n');
    const r = await run({
      args: ['sh', '-c', 'cat /deep/mnt/file.txt; touch /deep/mnt/x 2>/dev/null && echo writable || echo readonly'],
      mounts: [{ type: 'bind', source: src, target: '/deep/mnt', readonly: true }],
    });
    assert.equal(r.out, 'from host\nreadonly\n');
    await assert.rejects(fsp.lstat(path.join(rootfs, 'deep')), { code: 'ENOENT' });
  });

  test(`${isolation}: tmpfs mount and /etc/hosts, /etc/resolv.conf are provided and not left behind`, { skip: skips[isolation] }, async () => {
    const r = await run({
      args: ['sh', '-c', 'echo x > /scratch/y && cat /scratch/y; test -f /etc/hosts && test -f /etc/resolv.conf && echo ok; ls /proc/self >/dev/null && echo proc'],
      mounts: [{ type: 'tmpfs', target: '/scratch' }],
    });
    assert.equal(r.out, 'x\nok\nproc\n');
    for (const p of ['scratch', 'etc', 'proc', 'dev', 'sys']) await assert.rejects(fsp.lstat(path.join(rootfs, p)), { code: 'ENOENT' });
  });

  test(`${isolation}: changes made by the command stay in the rootfs`, { skip: skips[isolation] }, async () => {
    const r = await run({ args: ['sh', '-c', 'mkdir -p /data && echo hi > /data/f'] }, ['/data']);
    assert.equal(r.code, 0);
    assert.equal(readFileSync(path.join(rootfs, 'data/f'), 'utf8'), 'hi\n');
    await fsp.rm(path.join(rootfs, 'data'), { recursive: true });
  });

  test(`${isolation}: an /etc file the command edits is kept, untouched ones are not written`, { skip: skips[isolation] }, async () => {
    await fsp.mkdir(path.join(rootfs, 'etc'));
    await fsp.writeFile(path.join(rootfs, 'etc/hosts'), 'image hosts\n', { mode: 0o640 });
    try {
      const r = await run({ args: ['sh', '-c', 'echo edited >> /etc/hosts; grep -c edited /etc/hosts; cat /etc/hostname'], hostname: 'h1' });
      assert.equal(r.out, '1\nh1\n');
      // The run's copy (the host's hosts file plus the edit) is now the image's: the command changed it.
      const kept = readFileSync(path.join(rootfs, 'etc/hosts'), 'utf8');
      assert.ok(kept.endsWith('edited\n') && !kept.startsWith('image hosts'), kept);
      assert.equal((await fsp.stat(path.join(rootfs, 'etc/hosts'))).mode & 0o777, 0o640, 'written in place: the mode stays');
      assert.deepEqual((await fsp.readdir(path.join(rootfs, 'etc'))).sort(), ['hosts']);
    } finally {
      await fsp.rm(path.join(rootfs, 'etc'), { recursive: true, force: true });
    }
  });

  test(`${isolation}: a runtime that cannot start is a TbahError and still leaves nothing behind`, { skip: isolation === 'chroot' ? 'oci only' : skips[isolation] }, async () => {
    await assert.rejects(run({ args: ['true'], runtime: 'tbah-no-such-runtime' }), (e: unknown) => e instanceof TbahError && /tbah-no-such-runtime/.test(e.message));
  });

  test(`${isolation}: a working dir that is also a mount parent is kept, the mount point is not`, { skip: skips[isolation] }, async () => {
    const src = path.join(tmp, `src2-${isolation}`);
    await fsp.mkdir(src);
    const r = await run({ args: ['pwd'], workingDir: '/w', mounts: [{ type: 'bind', source: src, target: '/w/m' }] });
    assert.equal(r.out, '/w\n');
    assert.deepEqual(await fsp.readdir(path.join(rootfs, 'w')), []);
    await fsp.rmdir(path.join(rootfs, 'w'));
  });
}
