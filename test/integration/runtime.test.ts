/** runInContainer against a real runc with a busybox rootfs; needs root and runc (CI has both). */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp, openSync, closeSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runInContainer } from '../../src/core/runtime/run.js';
import type { RunOptions } from '../../src/core/runtime/run.js';
import { TbahError } from '../../src/core/errors.js';

const runtime = process.env['TBAH_RUNTIME'] ?? 'runc';
const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => spawnSync('test', ['-x', p]).status === 0);
const skip = process.getuid?.() !== 0 ? 'needs root'
  : spawnSync(runtime, ['--version'], { stdio: 'ignore' }).status !== 0 ? `needs ${runtime}`
  : busybox === undefined ? 'needs busybox-static' : false;

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
async function run(opts: RunOptions, expectNew: string[] = [], outFile = path.join(tmp, `out-${Math.random().toString(36).slice(2)}`)): Promise<{ code: number; out: string }> {
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

test('exit status propagates', { skip }, async () => {
  assert.equal((await run({ args: ['sh', '-c', 'exit 7'] })).code, 7);
  assert.equal((await run({ args: ['sh', '-c', 'true'] })).code, 0);
});

test('SIGTERM to tbah is forwarded to the command', { skip }, async () => {
  // pid 1 ignores signals it has no handler for, so the command traps TERM itself;
  // we signal only once the trap is set (it prints "ready").
  const outFile = path.join(tmp, 'signal-out');
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

test('stdout is the command output; env from image and --env, --env wins', { skip }, async () => {
  const r = await run({ args: ['sh', '-c', 'echo "$A-$B-$PATH"'], imageEnv: ['A=img', 'B=img'], env: ['B=cli'] });
  assert.equal(r.code, 0);
  assert.equal(r.out, 'img-cli-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n');
});

test('--user uid:gid', { skip }, async () => {
  const r = await run({ args: ['sh', '-c', 'id -u; id -g'], user: '1234:567' });
  assert.equal(r.out, '1234\n567\n');
});

test('--user name resolved from the rootfs /etc/passwd', { skip }, async () => {
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

test('working dir is created if missing and kept', { skip }, async () => {
  const r = await run({ args: ['pwd'], workingDir: '/work/dir' });
  assert.equal(r.out, '/work/dir\n');
  assert.ok((await fsp.stat(path.join(rootfs, 'work/dir'))).isDirectory());
  await fsp.rm(path.join(rootfs, 'work'), { recursive: true });
});

test('a missing command is 127, a non-executable file 126', { skip }, async () => {
  await assert.rejects(run({ args: ['no-such-cmd'] }), (e: unknown) => e instanceof TbahError && e.exitCode === 127 && /no-such-cmd/.test(e.message));
  await assert.rejects(run({ args: ['/notexec'] }), (e: unknown) => e instanceof TbahError && e.exitCode === 126);
});

test('bind mounts are readable inside, read-only when asked, and leave no mount point', { skip }, async () => {
  const src = path.join(tmp, 'src');
  await fsp.mkdir(src);
  await fsp.writeFile(path.join(src, 'file.txt'), 'from host\n');
  const r = await run({
    args: ['sh', '-c', 'cat /deep/mnt/file.txt; touch /deep/mnt/x 2>/dev/null && echo writable || echo readonly'],
    mounts: [{ type: 'bind', source: src, target: '/deep/mnt', readonly: true }],
  });
  assert.equal(r.out, 'from host\nreadonly\n');
  await assert.rejects(fsp.lstat(path.join(rootfs, 'deep')), { code: 'ENOENT' });
});

test('tmpfs mount and /etc/hosts, /etc/resolv.conf are provided and not left behind', { skip }, async () => {
  const r = await run({
    args: ['sh', '-c', 'echo x > /scratch/y && cat /scratch/y; test -f /etc/hosts && test -f /etc/resolv.conf && echo ok; ls /proc/self >/dev/null && echo proc'],
    mounts: [{ type: 'tmpfs', target: '/scratch' }],
  });
  assert.equal(r.out, 'x\nok\nproc\n');
  for (const p of ['scratch', 'etc', 'proc', 'dev', 'sys']) await assert.rejects(fsp.lstat(path.join(rootfs, p)), { code: 'ENOENT' });
});

test('changes made by the command stay in the rootfs', { skip }, async () => {
  const r = await run({ args: ['sh', '-c', 'mkdir -p /data && echo hi > /data/f'] }, ['/data']);
  assert.equal(r.code, 0);
  assert.equal(readFileSync(path.join(rootfs, 'data/f'), 'utf8'), 'hi\n');
  await fsp.rm(path.join(rootfs, 'data'), { recursive: true });
});

test('existing /etc/hosts is not changed by a command that edits it', { skip }, async () => {
  await fsp.mkdir(path.join(rootfs, 'etc'));
  await fsp.writeFile(path.join(rootfs, 'etc/hosts'), 'image hosts\n');
  try {
    const r = await run({ args: ['sh', '-c', 'echo edited >> /etc/hosts; cat /etc/hosts | grep -c edited'] });
    assert.equal(r.out, '1\n');
    assert.equal(readFileSync(path.join(rootfs, 'etc/hosts'), 'utf8'), 'image hosts\n');
  } finally {
    await fsp.rm(path.join(rootfs, 'etc'), { recursive: true, force: true });
  }
});

test('a runtime that cannot start is a TbahError and still leaves nothing behind', { skip }, async () => {
  await assert.rejects(run({ args: ['true'], runtime: 'tbah-no-such-runtime' }), (e: unknown) => e instanceof TbahError && /tbah-no-such-runtime/.test(e.message));
});

test('a working dir that is also a mount parent is kept, the mount point is not', { skip }, async () => {
  const src = path.join(tmp, 'src2');
  await fsp.mkdir(src);
  const r = await run({ args: ['pwd'], workingDir: '/w', mounts: [{ type: 'bind', source: src, target: '/w/m' }] });
  assert.equal(r.out, '/w\n');
  assert.deepEqual(await fsp.readdir(path.join(rootfs, 'w')), []);
  await fsp.rmdir(path.join(rootfs, 'w'));
});
