/**
 * `tbah run` end to end through the CLI, under both isolations (a real runc and
 * namespaces + chroot): exit status, users, mounts of every type, secrets,
 * hostname, terminals, Ctrl-C, and no traces in the next layer.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { Sandbox, hasCommand, tbahBin, treeFingerprint } from '../helpers/cli.js';
import { validateOciLayout } from '../helpers/validate.js';

const root = process.getuid?.() === 0;
const APPLETS = ['sh', 'echo', 'id', 'touch', 'ls', 'cat', 'pwd', 'sleep', 'hostname', 'grep', 'mkdir', 'stat', 'rm', 'true', 'wc'];

/** Resolves when `cond` holds; the test's own timeout bounds the wait. */
async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 25));
}

/** Every file under `dir`, gzip members decompressed, as one list of buffers. */
function allBytes(dir: string): { file: string; data: Buffer }[] {
  const out: { file: string; data: Buffer }[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const data = readFileSync(p);
        out.push({ file: p, data });
        if (data[0] === 0x1f && data[1] === 0x8b) out.push({ file: `${p} (gunzipped)`, data: gunzipSync(data) });
      }
    }
  };
  walk(dir);
  return out;
}

/** The entry names of the last layer of `image`, pushed to an OCI layout and read by the independent validator. */
async function lastLayer(sb: Sandbox, image: string): Promise<string[]> {
  const dir = sb.path(`layout-${Math.random().toString(36).slice(2)}`);
  sb.ok(['push', image, `oci:${dir}:r`]);
  const v = await validateOciLayout(dir, 'r');
  return v.layers.at(-1)!.entries.map((e) => e.replace(/\/$/, ''));
}

const runcState = (): string[] => spawnSync('runc', ['--root', '/run/tbah/runc', 'list', '-q'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l !== '');

for (const isolation of ['oci', 'chroot'] as const) {
  const skip = !root ? 'needs root'
    : isolation === 'oci' && !hasCommand('runc') ? 'needs runc'
    : isolation === 'chroot' && !(hasCommand('unshare') && hasCommand('perl')) ? 'needs unshare and perl'
    : false;

  describe(`tbah run (isolation ${isolation})`, { skip }, () => {
    const sb = new Sandbox();
    const env = { TBAH_ISOLATION: isolation };
    const run = (args: string[], o: Parameters<Sandbox['run']>[1] = {}) => sb.run(['run', ...args], { ...o, env: { ...env, ...o.env } });
    const ok = (args: string[], o: Parameters<Sandbox['run']>[1] = {}) => sb.ok(['run', ...args], { ...o, env: { ...env, ...o.env } });
    let c = '';
    let rootfs = '';
    before(() => {
      c = sb.ok(['from', 'scratch']);
      sb.ok(['copy', c, '/bin/busybox', '/bin/busybox']);
      rootfs = sb.ok(['mount', c]);
      for (const a of APPLETS) symlinkSync('busybox', path.join(rootfs, 'bin', a));
      mkdirSync(path.join(rootfs, 'etc'));
      writeFileSync(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
      writeFileSync(path.join(rootfs, 'etc', 'group'), 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n');
      sb.ok(['commit', c, 'runbase:1']);
    });
    after(() => sb.cleanup());

    test('the command\'s exit status and output are tbah\'s', () => {
      const r = run([c, '--', 'sh', '-c', 'echo out; exit 7']);
      assert.equal(r.status, 7);
      assert.equal(r.stdout, 'out\n');
      assert.equal(run([c, '--', 'sh', '-c', 'kill -TERM $$; sleep 5']).status, 0, 'pid 1 without a handler ignores its own TERM, as in any container');
      assert.equal(run([c, '--', 'sh', '-c', 'sh -c "kill -KILL \\$\\$"; exit $?']).status, 137);
    });

    test('a missing command gives 127 and a one-line message; a non-executable file 126', () => {
      const r = run([c, '--', 'nosuch']);
      assert.equal(r.status, 127);
      assert.match(r.stderr, /^tbah: run: command "nosuch" not found in the container\n/);
      assert.equal(run([c, '--', '/etc/passwd']).status, 126);
      assert.equal(run([c, '--', 'sh', '-c', 'nosuch']).status, 127, 'a shell\'s own 127 passes through');
    });

    test('--user (with supplementary groups and no capabilities), --workingdir and --env', () => {
      const out = ok(['--user', 'app', '--workingdir', '/data', '--env', 'A=1', c, '--', 'sh', '-c', 'id -un; id -G; pwd; echo $A $HOME']);
      assert.deepEqual(out.split('\n'), ['app', '1000 2000', '/data', '1 /home/app']);
      const status = ok(['--user', '1234:567', c, '--', 'cat', '/proc/self/status']);
      assert.match(status, /^Uid:\s+1234\s+1234\s+1234\s+1234$/m);
      assert.match(status, /^Gid:\s+567\s+567\s+567\s+567$/m);
      assert.match(status, /^CapEff:\s+0+$/m);
      // root gets Buildah's default set, and --cap-add/--cap-drop change it
      assert.match(ok([c, '--', 'grep', 'CapEff', '/proc/self/status']), /CapEff:\s+00000000800005fb/);
      assert.match(ok(['--cap-drop', 'CHOWN', '--cap-add', 'NET_RAW', c, '--', 'grep', 'CapBnd', '/proc/self/status']), /CapBnd:\s+00000000800025fa/);
      assert.equal(ok([c, '--', 'sh', '-c', 'echo $$']), '1', 'the command is pid 1 of its own PID namespace');
    });

    test('--network none has only an up loopback; host has the host\'s interfaces', () => {
      assert.equal(ok(['--network', 'none', c, '--', 'ls', '/sys/class/net']), 'lo');
      assert.equal(ok(['--network', 'none', c, '--', 'cat', '/sys/class/net/lo/flags']), '0x9');
      assert.deepEqual(ok([c, '--', 'ls', '/sys/class/net']).split('\n'), readdirSync('/sys/class/net').sort());
    });

    test('-v writes through (or not, with :ro); tmpfs is private to the run', () => {
      const dir = sb.path('vol');
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'shared.txt'), 'from host');
      assert.equal(ok(['-v', `${dir}:/mnt/host:ro`, c, '--', 'sh', '-c', 'cat /mnt/host/shared.txt; touch /mnt/host/x 2>/dev/null || echo " read-only"']), 'from host read-only');
      ok(['-v', `${dir}:/mnt/host`, c, '--', 'sh', '-c', 'echo written > /mnt/host/out']);
      assert.equal(readFileSync(path.join(dir, 'out'), 'utf8'), 'written\n');
      assert.equal(ok(['--mount', 'type=tmpfs,target=/scratch', c, '--', 'sh', '-c', 'echo x > /scratch/y; cat /scratch/y']), 'x');
      assert.equal(ok(['--mount', 'type=tmpfs,target=/scratch', c, '--', 'ls', '/scratch']), '');
    });

    test('--mount type=bind is read-only by default; with rw the writes are thrown away', () => {
      const dir = sb.path('bindsrc');
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'f'), 'orig\n');
      const before = treeFingerprint(dir);
      assert.equal(ok(['--mount', `type=bind,src=${dir},dst=/b`, c, '--', 'sh', '-c', 'touch /b/x 2>/dev/null && echo writable || echo read-only']), 'read-only');
      const out = ok(['--mount', `type=bind,src=${dir},dst=/b,rw`, c, '--', 'sh', '-c', 'echo changed > /b/f; echo new > /b/n; rm /b/f; echo again > /b/f; cat /b/f /b/n; ls /b']);
      assert.deepEqual(out.split('\n'), ['again', 'new', 'f', 'n']);
      assert.equal(treeFingerprint(dir), before, 'the host source is unchanged');
      writeFileSync(sb.path('single'), 'one file\n');
      assert.equal(ok(['--mount', `type=bind,src=${sb.path('single')},dst=/etc/single,rw`, c, '--', 'sh', '-c', 'echo more >> /etc/single; cat /etc/single']), 'one file\nmore');
      assert.equal(readFileSync(sb.path('single'), 'utf8'), 'one file\n');
    });

    test('a cache mount keeps its content across runs and containers, owned and moded as asked', () => {
      const target = `/var/cache/${isolation}`;
      ok(['--mount', `type=cache,target=${target}`, c, '--', 'sh', '-c', `echo one >> ${target}/log`]);
      const c2 = sb.ok(['from', 'runbase:1']);
      assert.equal(ok(['--mount', `type=cache,target=${target}`, c2, '--', 'sh', '-c', `echo two >> ${target}/log; cat ${target}/log`]), 'one\ntwo');
      // the same id under another target is the same cache
      assert.equal(ok(['--mount', `type=cache,id=${target},target=/elsewhere`, c2, '--', 'cat', '/elsewhere/log']), 'one\ntwo');
      assert.equal(ok(['--mount', `type=cache,id=owned-${isolation},target=/o,uid=1000,gid=1000,mode=0700`, c, '--', 'stat', '-c', '%u:%g %a', '/o']), '1000:1000 700');
      assert.equal(ok(['--user', 'app', '--mount', `type=cache,id=owned-${isolation},target=/o`, c, '--', 'sh', '-c', 'echo mine > /o/f && cat /o/f']), 'mine');
      assert.equal(ok(['--mount', `type=cache,target=${target},ro`, c, '--', 'sh', '-c', `touch ${target}/x 2>/dev/null && echo writable || echo read-only`]), 'read-only');
      assert.ok(!existsSync(path.join(rootfs, 'var')), 'no mount point left in the rootfs');
      sb.ok(['rm', c2]);
    });

    test('secrets: at /run/secrets/ID mode 0400 for the run, their bytes nowhere afterwards', async () => {
      const secret = `s3cret-${isolation}-${Math.random().toString(36).slice(2)}`;
      const envSecret = `envs3cret-${isolation}-${Math.random().toString(36).slice(2)}`;
      writeFileSync(sb.path('token.txt'), secret, { mode: 0o600 });
      const out = ok([
        '--secret', `id=token,src=${sb.path('token.txt')}`, '--secret', 'id=fromenv,env=MY_TOKEN', '--secret', `id=other,src=${sb.path('token.txt')}`,
        '--mount', 'type=secret,id=other,target=/etc/other-secret,mode=0440,uid=1000,gid=1000',
        c, '--', 'sh', '-c',
        'stat -c "%a %u:%g %n" /run/secrets/token /run/secrets/fromenv /etc/other-secret; cat /run/secrets/token >/dev/null; ls /run/secrets; echo x > /run/secrets/token 2>/dev/null || echo read-only; wc -c < /run/secrets/fromenv',
      ], { env: { MY_TOKEN: envSecret } });
      assert.deepEqual(out.split('\n').map((l) => l.trim()), [
        '400 0:0 /run/secrets/token', '400 0:0 /run/secrets/fromenv', '440 1000:1000 /etc/other-secret',
        'fromenv', 'token', 'read-only', String(envSecret.length),
      ]);
      assert.ok(!existsSync(path.join(rootfs, 'run')), '/run was made for the secrets and is gone');
      assert.ok(!existsSync(path.join(rootfs, 'etc', 'other-secret')));
      assert.match(run(['--mount', 'type=secret,id=nosuch,required', c, '--', 'true']).stderr, /secret required but no secret with id "nosuch" found/);
      sb.ok(['commit', c, `secrets-${isolation}:1`]);
      const names = await lastLayer(sb, `secrets-${isolation}:1`);
      assert.ok(!names.some((n) => n === 'run' || n.startsWith('run/') || n === 'etc/other-secret'), names.join(', '));
      const inspect = sb.ok(['inspect', c]) + sb.ok(['inspect', '--type', 'image', `secrets-${isolation}:1`]);
      for (const s of [secret, envSecret]) {
        assert.ok(!inspect.includes(s), 'secret in inspect output');
        for (const f of allBytes(sb.store)) assert.ok(!f.data.includes(s), `secret bytes in ${f.file}`);
        for (const f of readdirSync('/dev/shm').filter((n) => n.startsWith('tbah-secrets-'))) {
          for (const g of allBytes(path.join('/dev/shm', f))) assert.ok(!g.data.includes(s), `secret left in ${g.file}`);
        }
      }
    });

    test('/etc/hostname and the UTS hostname: the container\'s short ID, or --hostname; kept only if the command changes it', async () => {
      const id = sb.ok(['inspect', '--format', '{{.ContainerID}}', c]).slice(0, 12);
      assert.equal(ok([c, '--', 'sh', '-c', 'hostname; cat /etc/hostname']), `${id}\n${id}`);
      assert.equal(ok(['--hostname', 'builder', c, '--', 'sh', '-c', 'hostname; cat /etc/hostname']), 'builder\nbuilder');
      assert.ok(!existsSync(path.join(rootfs, 'etc', 'hostname')));
      const c3 = sb.ok(['from', 'runbase:1']);
      const r3 = sb.ok(['mount', c3]);
      ok([c3, '--', 'sh', '-c', 'echo chosen > /etc/hostname']);
      assert.equal(readFileSync(path.join(r3, 'etc', 'hostname'), 'utf8'), 'chosen\n');
      sb.ok(['rm', c3]);
    });

    test('changes land in the next commit; mounts and injected files leave no trace', async () => {
      const dir = sb.path('trace');
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'secret'), 'x');
      ok(['-v', `${dir}:/mnt/vol`, '--mount', `type=bind,src=${dir},dst=/mnt/bind,rw`, '--mount', 'type=tmpfs,target=/mnt/tmpfs',
        '--mount', 'type=cache,target=/cache', '--secret', `id=t,src=${path.join(dir, 'secret')}`,
        c, '--', 'sh', '-c', 'touch /made-by-run /mnt/bind/x /mnt/tmpfs/y /cache/z']);
      sb.ok(['commit', c, `runbase:${isolation}`]);
      const names = await lastLayer(sb, `runbase:${isolation}`);
      assert.ok(names.includes('made-by-run'));
      for (const trace of ['mnt', 'cache', 'run', 'proc', 'sys', 'dev', 'etc/resolv.conf', 'etc/hosts', 'etc/hostname']) {
        assert.ok(!names.some((n) => n === trace || n.startsWith(`${trace}/`)), `${trace} leaked into the layer: ${names.join(', ')}`);
      }
      for (const trace of ['mnt', 'cache', 'run', 'proc', 'sys', 'dev', 'etc/resolv.conf', 'etc/hosts', 'etc/hostname']) {
        assert.ok(!existsSync(path.join(rootfs, trace)), `${trace} left in the rootfs`);
      }
    });

    test('-t gives the command a terminal and passes stdin through', { skip: hasCommand('script') ? false : 'needs script' }, () => {
      // `script` gives tbah a real pty, as a user's terminal would.
      const cmd = [process.execPath, tbahBin, 'run', '-t', c, '--', 'sh', '-c', 'test -t 0 && test -t 1 && echo TTY; read line; echo "got:$line"; exit 3']
        .map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
      const r = spawnSync('script', ['-qefc', cmd, '/dev/null'], {
        input: 'hello\n', encoding: 'utf8', env: { ...process.env, ...env, TBAH_ROOT: sb.store, SHELL: '/bin/sh' },
      });
      assert.equal(r.status, 3, r.stderr);
      assert.match(r.stdout, /TTY\r?\n/);
      assert.match(r.stdout, /got:hello\r?\n/);
      // Without a terminal on tbah's side the command still gets one.
      const r2 = run(['-t', c, '--', 'sh', '-c', 'test -t 0 && echo TTY; echo $TERM']);
      assert.equal(r2.status, 0, r2.stderr);
      assert.equal(r2.stdout.replace(/\r/g, ''), 'TTY\nxterm\n');
      assert.equal(ok([c, '--', 'sh', '-c', 'test -t 0 || echo no-tty']), 'no-tty');
    });

    test('Ctrl-C: 130, no runtime state, mounts, bundles or rootfs changes left behind', { timeout: 120_000 }, async () => {
      const tmp = mkdtempSync(path.join(os.tmpdir(), 'tbah-ctrlc-'));
      const id = sb.ok(['inspect', '--format', '{{.ContainerID}}', c]);
      const before = treeFingerprint(rootfs);
      try {
        const child = spawn(process.execPath, [tbahBin, 'run', '--mount', 'type=tmpfs,target=/scratch', '-v', `${sb.dir}:/host`, c, '--', 'sleep', '100'], {
          env: { ...process.env, ...env, TBAH_ROOT: sb.store, TMPDIR: tmp }, stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
        const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
        // Wait until the command itself runs: the pid file in tbah's bundle names a process that is `sleep`.
        await until(() => {
          for (const b of readdirSync(tmp)) {
            const pidFile = path.join(tmp, b, 'pid');
            if (!existsSync(pidFile)) continue;
            const pid = readFileSync(pidFile, 'utf8').trim();
            try { if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep\0')) return true; } catch { /* not yet */ }
          }
          return false;
        });
        child.kill('SIGINT');
        assert.equal(await exited, 130, stderr);
        assert.deepEqual(readdirSync(tmp), [], 'the bundle is gone');
        assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(rootfs + '/'), 'no mounts under the rootfs');
        assert.deepEqual(runcState().filter((n) => n.startsWith(`tbah-${id.slice(0, 12)}`)), [], 'no runc state');
        assert.equal(treeFingerprint(rootfs), before, 'the rootfs is as it was');
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });

    test('tbah killed with SIGKILL: the next run or commit removes what it left', { timeout: 120_000 }, async () => {
      const tmp = mkdtempSync(path.join(os.tmpdir(), 'tbah-kill9-'));
      const gate = sb.path(`gate-${isolation}`);
      mkdirSync(gate);
      const id = sb.ok(['inspect', '--format', '{{.ContainerID}}', c]);
      const tenv = { ...process.env, ...env, TBAH_ROOT: sb.store, TMPDIR: tmp };
      writeFileSync(path.join(gate, 'k'), 'kill9-secret');
      try {
        const child = spawn(process.execPath, [tbahBin, 'run', '-v', `${gate}:/gate`, '--mount', 'type=tmpfs,target=/scratch', '--secret', `id=k,src=${path.join(gate, 'k')}`, c, '--',
          'sh', '-c', 'touch /gate/started; while [ ! -e /gate/go ]; do sleep 0.05; done; touch /gate/finished'], { env: tenv, stdio: 'ignore' });
        const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
        // The runtime writes its pid file a moment after the command starts: wait for both.
        await until(() => existsSync(path.join(gate, 'started'))
          && readdirSync(tmp).some((n) => n.startsWith('tbah-run-') && existsSync(path.join(tmp, n, 'pid')) && readFileSync(path.join(tmp, n, 'pid'), 'utf8').trim() !== ''));
        const bundle = readdirSync(tmp).find((n) => n.startsWith('tbah-run-'))!;
        const pid = Number(readFileSync(path.join(tmp, bundle, 'pid'), 'utf8'));
        child.kill('SIGKILL');
        await exited;
        if (isolation === 'chroot') {
          // The helper dies with tbah and takes the command with it.
          await until(() => !existsSync(`/proc/${pid}`));
          assert.ok(!existsSync(path.join(gate, 'finished')));
        } else {
          // runc's container runs on to its end, then stays stopped in runc's state.
          writeFileSync(path.join(gate, 'go'), '');
          await until(() => existsSync(path.join(gate, 'finished')) && !existsSync(`/proc/${pid}`));
        }
        assert.ok(existsSync(path.join(rootfs, 'gate')) && existsSync(path.join(rootfs, 'scratch')), 'the killed run left its mount points');
        sb.ok(['commit', c, `afterkill-${isolation}:1`]);
        const names = await lastLayer(sb, `afterkill-${isolation}:1`);
        for (const trace of ['gate', 'scratch', 'run', 'proc', 'sys', 'dev', 'etc/hosts', 'etc/hostname', 'etc/resolv.conf']) {
          assert.ok(!names.includes(trace), `${trace} in the layer after a killed run: ${names.join(', ')}`);
          assert.ok(!existsSync(path.join(rootfs, trace)), `${trace} left in the rootfs`);
        }
        // The next run, in the same TMPDIR, removes the dead run's bundle (and runc's stopped container).
        assert.equal(sb.ok(['run', c, '--', 'true'], { env: { ...env, TMPDIR: tmp } }), '');
        assert.deepEqual(readdirSync(tmp), []);
        assert.deepEqual(runcState().filter((n) => n.startsWith(`tbah-${id.slice(0, 12)}`)), []);
        assert.ok(!readdirSync('/dev/shm').some((n) => n.startsWith('tbah-secrets-') && readdirSync(path.join('/dev/shm', n)).length > 0
          && allBytes(path.join('/dev/shm', n)).some((f) => f.data.includes('kill9-secret'))), 'the secret copy is gone');
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  });
}

describe('tbah run: cache sharing', { skip: !root || !hasCommand('runc') ? 'needs root and runc' : false }, () => {
  const sb = new Sandbox();
  let c = '';
  let c2 = '';
  before(() => {
    c = sb.ok(['from', 'scratch']);
    sb.ok(['copy', c, '/bin/busybox', '/bin/busybox']);
    const m = sb.ok(['mount', c]);
    for (const a of APPLETS) symlinkSync('busybox', path.join(m, 'bin', a));
    sb.ok(['commit', c, 'cachebase:1']);
    c2 = sb.ok(['from', 'cachebase:1']);
  });
  after(() => sb.cleanup());

  /** Start a run that writes `mark`, then waits for `go` in its cache dir (created from the host). */
  function holder(sharing: string, id: string): { done: Promise<number | null>; dirs: () => string[]; stop: () => void } {
    const child = spawn(process.execPath, [tbahBin, 'run', '--mount', `type=cache,id=${id},target=/c,sharing=${sharing}`, c, '--', 'sh', '-c',
      'echo held >> /c/log; while [ ! -e /c/go ]; do sleep 0.05; done; echo released >> /c/log'], { env: { ...process.env, TBAH_ROOT: sb.store }, stdio: 'ignore' });
    const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const cacheDir = path.join(sb.store, 'cache');
    return {
      done,
      dirs: () => (existsSync(cacheDir) ? readdirSync(cacheDir) : []).filter((n) => !n.endsWith('.lock') && !n.startsWith('.')).map((n) => path.join(cacheDir, n)),
      stop: () => { if (child.exitCode === null) child.kill('SIGKILL'); },
    };
  }
  /** The cache dir the holder is in now: its log says held and not yet released. */
  const heldIn = (dirs: string[]): string | undefined => dirs.find((d) => existsSync(path.join(d, 'log')) && readFileSync(path.join(d, 'log'), 'utf8') === 'held\n');

  test('shared: a second run sees the first one\'s cache while it runs', { timeout: 120_000 }, async (t) => {
    const h = holder('shared', 'sh-id');
    t.after(h.stop);
    let dir: string | undefined;
    await until(() => (dir = heldIn(h.dirs())) !== undefined);
    assert.equal(sb.ok(['run', '--mount', 'type=cache,id=sh-id,target=/c', c2, '--', 'cat', '/c/log']), 'held');
    writeFileSync(path.join(dir!, 'go'), '');
    assert.equal(await h.done, 0);
  });

  test('private: a concurrent user gets a fresh directory', { timeout: 120_000 }, async (t) => {
    const h = holder('private', 'pr-id');
    t.after(h.stop);
    let dir: string | undefined;
    await until(() => (dir = heldIn(h.dirs())) !== undefined);
    assert.equal(sb.ok(['run', '--mount', 'type=cache,id=pr-id,target=/c,sharing=private', c2, '--', 'ls', '/c']), '');
    writeFileSync(path.join(dir!, 'go'), '');
    assert.equal(await h.done, 0);
    // Once free, the first instance is used again.
    assert.equal(sb.ok(['run', '--mount', 'type=cache,id=pr-id,target=/c,sharing=private', c2, '--', 'cat', '/c/log']), 'held\nreleased');
  });

  test('locked: a second run waits until the first is done', { timeout: 120_000 }, async (t) => {
    const h = holder('locked', 'lk-id');
    t.after(h.stop);
    let dir: string | undefined;
    await until(() => (dir = heldIn(h.dirs())) !== undefined);
    const child = spawn(process.execPath, [tbahBin, 'run', '--mount', 'type=cache,id=lk-id,target=/c,sharing=locked', c2, '--', 'sh', '-c', 'echo second >> /c/log'],
      { env: { ...process.env, TBAH_ROOT: sb.store }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const second = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    let secondDone = false;
    void second.then(() => { secondDone = true; });
    // The second run must say it waits for the cache, and never finish first.
    await until(() => stderr.includes('\n') || secondDone);
    assert.equal(stderr, 'tbah: waiting for the cache lk-id: another run is using it\n');
    assert.ok(!secondDone, 'the second run did not wait for the cache');
    writeFileSync(path.join(dir!, 'go'), '');
    assert.equal(await h.done, 0);
    assert.equal(await second, 0);
    assert.equal(readFileSync(path.join(dir!, 'log'), 'utf8'), 'held\nreleased\nsecond\n');
  });

  test('Ctrl-C while waiting for a locked cache ends the wait: 130, nothing left behind', { timeout: 120_000 }, async (t) => {
    const h = holder('locked', 'int-id');
    t.after(h.stop);
    let dir: string | undefined;
    await until(() => (dir = heldIn(h.dirs())) !== undefined);
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'tbah-wait-'));
    t.after(() => rmSync(tmp, { recursive: true, force: true }));
    const child = spawn(process.execPath, [tbahBin, 'run', '--mount', 'type=cache,id=int-id,target=/c,sharing=locked', c2, '--', 'sh', '-c', 'echo never >> /c/log'],
      { env: { ...process.env, TBAH_ROOT: sb.store, TMPDIR: tmp }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const second = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await until(() => stderr.includes('waiting for the cache'));
    child.kill('SIGINT');
    assert.equal(await second, 130);
    assert.deepEqual(readdirSync(tmp), []);
    writeFileSync(path.join(dir!, 'go'), '');
    assert.equal(await h.done, 0);
    assert.equal(readFileSync(path.join(dir!, 'log'), 'utf8'), 'held\nreleased\n');
  });
});

describe('tbah run: OCI runtime choice', { skip: !root || !hasCommand('runc') ? 'needs root and runc' : false }, () => {
  const sb = new Sandbox();
  let c = '';
  before(() => {
    c = sb.ok(['from', 'scratch']);
    sb.ok(['copy', c, '/bin/busybox', '/bin/sh']);
  });
  after(() => sb.cleanup());
  const hybrid = existsSync('/sys/fs/cgroup/unified') && hasCommand('crun');

  test('crun on a hybrid-cgroup host: the default falls back to runc with one warning per host and boot; --runtime crun is refused clearly', { skip: hybrid ? false : 'needs crun on a host with hybrid cgroups' }, () => {
    // A private run-time directory stands for a freshly booted host (the verdict lives in $XDG_RUNTIME_DIR/tbah).
    const runDir = sb.path('xdg-run');
    mkdirSync(runDir, { mode: 0o700 });
    const env = { XDG_RUNTIME_DIR: runDir };
    const first = sb.run(['run', c, '--', '/bin/sh', '-c', 'echo ran'], { env });
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout, 'ran\n');
    assert.equal(first.stderr, 'tbah: warning: crun does not work on this host (cgroups in hybrid mode are not supported by crun); using runc\n');
    assert.ok(readdirSync(path.join(runDir, 'tbah')).some((f) => f.startsWith('runtime-verdict-')), 'the verdict is kept per host');
    const second = sb.run(['run', c, '--', '/bin/sh', '-c', 'echo ran'], { env });
    assert.equal(second.stderr, '', 'the verdict is cached');
    // Another store on the same host and boot: no second probe, no second warning.
    const other = new Sandbox();
    try {
      const c2 = other.ok(['from', 'scratch']);
      other.ok(['copy', c2, '/bin/busybox', '/bin/sh']);
      const r = other.run(['run', c2, '--', '/bin/sh', '-c', 'echo ran'], { env });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '', 'a new store reuses the host verdict');
    } finally {
      other.cleanup();
    }
    for (const r of [sb.run(['run', '--runtime', 'crun', c, '--', '/bin/sh', '-c', 'true']), sb.run(['run', c, '--', '/bin/sh', '-c', 'true'], { env: { TBAH_RUNTIME: 'crun' } })]) {
      assert.equal(r.status, 125);
      assert.match(r.stderr, /^tbah: crun cannot run containers on this host: it does not support hybrid cgroups/);
      assert.match(r.stderr, /hint: use --runtime runc, or --isolation chroot/);
    }
  });

  test('--runtime runc and TBAH_RUNTIME=runc', () => {
    assert.equal(sb.ok(['run', '--runtime', 'runc', c, '--', '/bin/sh', '-c', 'echo a']), 'a');
    assert.equal(sb.ok(['run', c, '--', '/bin/sh', '-c', 'echo b'], { env: { TBAH_RUNTIME: 'runc' } }), 'b');
  });

  test('no runtime at all: a clear error that points to --isolation chroot', () => {
    const r = sb.run(['run', c, '--', '/bin/sh', '-c', 'true'], { env: { PATH: '/nonexistent' } });
    assert.equal(r.status, 125);
    assert.equal(r.stderr, 'tbah: no OCI runtime found (looked for crun and runc in PATH)\nhint: install runc (apt-get install runc), or use --isolation chroot, which needs none\n');
    const r2 = sb.run(['run', '--runtime', 'nosuch-runtime', c, '--', '/bin/sh', '-c', 'true']);
    assert.match(r2.stderr, /^tbah: OCI runtime "nosuch-runtime" not found\n/);
  });

  test('--isolation and the environment', () => {
    assert.match(sb.run(['run', '--isolation', 'rootless', c, '--', '/bin/sh']).stderr, /--isolation rootless: unsupported isolation/);
    assert.match(sb.run(['run', c, '--', '/bin/sh'], { env: { BUILDAH_ISOLATION: 'bogus' } }).stderr, /BUILDAH_ISOLATION bogus: unsupported isolation/);
    // TBAH_ISOLATION wins over BUILDAH_ISOLATION; chroot needs no runtime in PATH beyond its tools.
    assert.equal(sb.ok(['run', c, '--', '/bin/sh', '-c', 'echo chrooted'], { env: { BUILDAH_ISOLATION: 'oci', TBAH_ISOLATION: 'chroot', PATH: '/usr/bin:/bin:/usr/sbin:/sbin', TBAH_RUNTIME: 'nosuch' } }), 'chrooted');
  });
});
