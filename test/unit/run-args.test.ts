/** Parsing of `tbah run`'s -v, --mount, --secret and --isolation values (pure, no I/O). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ownLimit, parseAddHost, parseExitCodes, parseMount, parseSecret, parseUlimit, parseVolume, proxyEnv, resolveRunEnv,
} from '../../src/core/ops/run-args.js';
import { hostsFile } from '../../src/core/runtime/hosts.js';
import { resolveIsolation } from '../../src/core/runtime/select.js';
import { TbahError } from '../../src/core/errors.js';

test('-v SRC:DST[:ro|rw], relative sources from cwd', () => {
  assert.deepEqual(parseVolume('src:/s:ro', '/home/u'), { type: 'bind', source: '/home/u/src', target: '/s', readonly: true });
  assert.deepEqual(parseVolume('/a:/b', '/x'), { type: 'bind', source: '/a', target: '/b', readonly: false });
  assert.throws(() => parseVolume('/a'), /expected SRC:DST/);
  assert.throws(() => parseVolume('/a:rel'), /absolute/);
  assert.throws(() => parseVolume('/a:/b:z'), /unknown option/);
});

test('--mount type=bind: read-only by default, rw means throw-away writes', () => {
  assert.deepEqual(parseMount('type=bind,src=d,dst=/d', '/c'), { type: 'bind', source: '/c/d', target: '/d', readonly: true });
  assert.deepEqual(parseMount('type=bind,source=/d,target=/d,rw', '/c'), { type: 'bind', source: '/d', target: '/d', discardWrites: true });
  assert.deepEqual(parseMount('type=bind,source=/d,target=/d,readonly=false', '/c'), { type: 'bind', source: '/d', target: '/d', discardWrites: true });
  assert.deepEqual(parseMount('type=bind,source=/d,destination=/d,ro=true'), { type: 'bind', source: '/d', target: '/d', readonly: true });
  assert.throws(() => parseMount('type=bind,target=/d'), /needs source=/);
  assert.throws(() => parseMount('type=bind,src=/d,dst=/d,ro,rw'), /either ro or rw/);
  assert.throws(() => parseMount('type=bind,src=/d,dst=/d,from=img'), (e: unknown) => e instanceof TbahError && e.code === 'unsupported');
  assert.throws(() => parseMount('type=bind,src=/d,dst=/d,bogus=1'), /unknown option bogus/);
});

test('--mount type=tmpfs', () => {
  assert.deepEqual(parseMount('type=tmpfs,target=/t,tmpfs-mode=1777,tmpfs-size=64m'), { type: 'tmpfs', target: '/t', options: ['mode=1777', 'size=64m'] });
  assert.deepEqual(parseMount('type=tmpfs,dst=/t,ro'), { type: 'tmpfs', target: '/t', readonly: true, options: [] });
  assert.throws(() => parseMount('type=tmpfs'), /needs target=/);
  assert.throws(() => parseMount('type=tmpfs,target=t'), /absolute/);
  assert.throws(() => parseMount('type=tmpfs,target=/t,size=lots'), /size lots/);
});

test('--mount type=cache: id, sharing, mode (octal), uid, gid, ro', () => {
  assert.deepEqual(parseMount('type=cache,target=/root/.cache'), { type: 'cache', target: '/root/.cache' });
  assert.deepEqual(parseMount('type=cache,target=/c,id=go,sharing=locked,mode=0700,uid=1000,gid=100,ro'), {
    type: 'cache', target: '/c', id: 'go', sharing: 'locked', mode: 0o700, uid: 1000, gid: 100, readonly: true,
  });
  assert.throws(() => parseMount('type=cache,target=/c,sharing=sometimes'), /sharing=sometimes/);
  assert.throws(() => parseMount('type=cache,target=/c,mode=rwx'), /octal/);
  assert.throws(() => parseMount('type=cache,target=/c,uid=root'), /expected a number/);
  assert.throws(() => parseMount('type=cache,target=/c,from=img'), (e: unknown) => e instanceof TbahError && e.code === 'unsupported');
});

test('--mount type=secret: id, or the id from the target\'s name', () => {
  assert.deepEqual(parseMount('type=secret,id=tok'), { type: 'secret', id: 'tok' });
  assert.deepEqual(parseMount('type=secret,target=/etc/tok,mode=0440,uid=1,gid=2,required'), { type: 'secret', id: 'tok', target: '/etc/tok', mode: 0o440, uid: 1, gid: 2, required: true });
  assert.throws(() => parseMount('type=secret'), /needs id=/);
  assert.throws(() => parseMount('type=volume,target=/v'), /type volume is not supported/);
  assert.throws(() => parseMount('target=/v'), /type \(none\)/);
});

test('--secret: a file or an environment variable, never the bytes', () => {
  assert.deepEqual(parseSecret('id=t,src=tok.txt', '/w'), { id: 't', file: '/w/tok.txt' });
  assert.deepEqual(parseSecret('id=t,source=/tok', '/w'), { id: 't', file: '/tok' });
  assert.deepEqual(parseSecret('id=t,env=TOKEN'), { id: 't', env: 'TOKEN' });
  assert.deepEqual(parseSecret('id=t,src=TOKEN,type=env'), { id: 't', env: 'TOKEN' });
  assert.throws(() => parseSecret('src=/x'), /needs id=/);
  assert.throws(() => parseSecret('id=t'), /needs src=FILE or env=VAR/);
  assert.throws(() => parseSecret('id=t,src=/x,env=Y'), /either src= or env=/);
  assert.throws(() => parseSecret('id=t,src=/x,type=ssh'), /type=ssh/);
  assert.throws(() => parseSecret('id=t,id=u,src=/x'), /given twice/);
});

test('--isolation, TBAH_ISOLATION, BUILDAH_ISOLATION', () => {
  assert.equal(resolveIsolation(undefined, {}), 'oci');
  assert.equal(resolveIsolation('chroot', { TBAH_ISOLATION: 'oci' }), 'chroot');
  assert.equal(resolveIsolation(undefined, { TBAH_ISOLATION: 'chroot', BUILDAH_ISOLATION: 'oci' }), 'chroot');
  assert.equal(resolveIsolation(undefined, { BUILDAH_ISOLATION: 'chroot' }), 'chroot');
  assert.throws(() => resolveIsolation('rootless', {}), (e: unknown) => e instanceof TbahError && /rootless: unsupported/.test(e.message) && /use oci or chroot/.test(e.hint ?? ''));
  assert.throws(() => resolveIsolation(undefined, { TBAH_ISOLATION: 'vm' }), /TBAH_ISOLATION vm/);
});

test('--mount type=cache,src=SUBDIR; type=secret,env=NAME', () => {
  assert.deepEqual(parseMount('type=cache,target=/c,src=a/b'), { type: 'cache', target: '/c', source: 'a/b' });
  assert.deepEqual(parseMount('type=cache,target=/c,source=x,id=k'), { type: 'cache', target: '/c', source: 'x', id: 'k' });
  assert.throws(() => parseMount('type=cache,target=/c,src='), /subdirectory/);
  assert.deepEqual(parseMount('type=secret,id=t,env=TOKEN'), { type: 'secret', id: 't', env: 'TOKEN' });
  assert.deepEqual(parseMount('type=secret,id=t,env=TOKEN,target=/s'), { type: 'secret', id: 't', env: 'TOKEN', target: '/s' });
  assert.throws(() => parseMount('type=secret,id=t,env=1BAD'), /not a variable name/);
});

test('--ulimit NAME=SOFT[:HARD] as go-units, -1 from our own limits', () => {
  assert.deepEqual(parseUlimit('nofile=512:1024'), { name: 'nofile', soft: 512, hard: 1024 });
  assert.deepEqual(parseUlimit('nproc=100'), { name: 'nproc', soft: 100, hard: 100 });
  assert.deepEqual(parseUlimit('nofile=-1:2048', () => ({ soft: 1024, hard: 4096 })), { name: 'nofile', soft: 1024, hard: 2048 });
  assert.throws(() => parseUlimit('nofile=-1'), /-1 means/);
  assert.throws(() => parseUlimit('nofile=9:8'), /soft limit must be less than or equal to hard limit/);
  assert.throws(() => parseUlimit('bogus=1'), /invalid ulimit type/);
  assert.throws(() => parseUlimit('nofile'), /requires name=SOFT:HARD/);
  const limits = 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            20000                40000                files     \nMax cpu time              unlimited            unlimited            seconds   \n';
  assert.deepEqual(ownLimit('nofile', limits), { soft: 20000, hard: 40000 });
  assert.equal(ownLimit('cpu', limits), undefined, 'unlimited has no number');
});

test('--add-host HOST:IP (IPv4 and IPv6)', () => {
  assert.deepEqual(parseAddHost('db.local:10.0.0.5'), { host: 'db.local', ip: '10.0.0.5' });
  assert.deepEqual(parseAddHost('v6:fe80::1'), { host: 'v6', ip: 'fe80::1' });
  assert.deepEqual(parseAddHost('v6b:[::1]'), { host: 'v6b', ip: '::1' });
  for (const bad of ['nohost', ':1.2.3.4', 'h:1.2.3', 'h:300.1.1.1', 'h:gg::1', 'h w:1.2.3.4']) assert.throws(() => parseAddHost(bad), TbahError, bad);
});

test('run --env: K=V as given, K / K* / * from the caller (LookupEnvVarReferences); proxies pass by default', () => {
  const caller = { A: '1', AB: '2', B: '3', http_proxy: 'http://p', HTTPS_PROXY: 'http://q', NOT: undefined };
  assert.deepEqual(resolveRunEnv(['X=y', 'A', 'MISSING', 'NOT'], caller), ['X=y', 'A=1']);
  assert.deepEqual(resolveRunEnv(['A*'], caller), ['A=1', 'AB=2']);
  assert.equal(resolveRunEnv(['*'], caller).length, 5);
  assert.deepEqual(proxyEnv(caller), ['http_proxy=http://p', 'HTTPS_PROXY=http://q']);
});

test('--valid-exit-codes', () => {
  assert.deepEqual(parseExitCodes(['0', '1', '255']), [0, 1, 255]);
  assert.throws(() => parseExitCodes(['256']), /not an exit code/);
  assert.throws(() => parseExitCodes(['x']), /not an exit code/);
});

test('/etc/hosts: --add-host lines first, the host\'s file, then the container\'s own line', () => {
  const base = '127.0.0.1 localhost\n';
  assert.equal(hostsFile(base, { hostname: 'abc123def456', containerName: 'app-working-container', network: 'host', localIp: '192.0.2.2', addHosts: [{ host: 'db', ip: '10.0.0.5' }] }),
    '10.0.0.5\tdb\n127.0.0.1 localhost\n192.0.2.2\thost.containers.internal\n192.0.2.2\tabc123def456 app-working-container\n');
  assert.equal(hostsFile('127.0.0.1 localhost', { hostname: 'h', containerName: 'c', network: 'none' }), '127.0.0.1 localhost\n127.0.0.1\th c\n');
});
