import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSpec, mergeEnv, normalizeCap, CAPABILITY_NUMBERS, DEFAULT_PATH, DEFAULT_CAPABILITIES } from '../../src/core/runtime/spec.js';
import { TbahError } from '../../src/core/errors.js';

const base = { args: ['sh', '-c', 'true'], rootfs: '/var/x/rootfs' };

test('process defaults: root, cwd /, default PATH, not a terminal', () => {
  const s = buildSpec(base);
  assert.deepEqual(s.process.args, ['sh', '-c', 'true']);
  assert.deepEqual(s.process.user, { uid: 0, gid: 0 });
  assert.equal(s.process.cwd, '/');
  assert.equal(s.process.terminal, false);
  assert.deepEqual(s.process.env, [`PATH=${DEFAULT_PATH}`]);
  assert.deepEqual(s.root, { path: '/var/x/rootfs', readonly: false });
  assert.equal(s.ociVersion, '1.0.2');
});

test('env: image Env then --env, later wins, image PATH kept', () => {
  const s = buildSpec({ ...base, imageEnv: ['PATH=/opt/bin', 'A=1', 'B=2'], env: ['A=3', 'C'] });
  assert.deepEqual(s.process.env, ['PATH=/opt/bin', 'B=2', 'A=3', 'C=']);
  assert.deepEqual(mergeEnv(['X=1=2'], ['Y=']), ['X=1=2', 'Y=']);
});

test('terminal adds TERM unless set', () => {
  assert.ok(buildSpec({ ...base, terminal: true }).process.env.includes('TERM=xterm'));
  const s = buildSpec({ ...base, terminal: true, env: ['TERM=vt100'] });
  assert.deepEqual(s.process.env.filter((e) => e.startsWith('TERM=')), ['TERM=vt100']);
  assert.equal(s.process.terminal, true);
});

test('user, groups, cwd, hostname', () => {
  const s = buildSpec({ ...base, uid: 1000, gid: 100, additionalGids: [10, 20], cwd: '/data', hostname: 'box' });
  assert.deepEqual(s.process.user, { uid: 1000, gid: 100, additionalGids: [10, 20] });
  assert.equal(s.process.cwd, '/data');
  assert.equal(s.hostname, 'box');
});

test('namespaces: no network namespace for host, one for private', () => {
  const types = (n: { type: string }[]) => n.map((x) => x.type).sort();
  assert.deepEqual(types(buildSpec(base).linux.namespaces), ['ipc', 'mount', 'pid', 'uts']);
  assert.deepEqual(types(buildSpec({ ...base, network: 'private' }).linux.namespaces), ['ipc', 'mount', 'network', 'pid', 'uts']);
});

test('standard mounts, /sys read-only, caller mounts appended', () => {
  const s = buildSpec({
    ...base,
    mounts: [
      { type: 'bind', source: '/host/src', target: '/src', readonly: true },
      { type: 'bind', source: '/host/out', target: '/out' },
      { type: 'tmpfs', target: '/scratch', options: ['mode=1777'] },
    ],
  });
  assert.deepEqual(s.mounts.map((m) => m.destination), ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/src', '/out', '/scratch']);
  const byDest = new Map(s.mounts.map((m) => [m.destination, m]));
  assert.ok(byDest.get('/sys')!.options.includes('ro'));
  assert.equal(byDest.get('/proc')!.type, 'proc');
  assert.equal(byDest.get('/dev')!.type, 'tmpfs');
  assert.deepEqual(byDest.get('/src'), { destination: '/src', type: 'bind', source: '/host/src', options: ['rbind', 'ro'] });
  assert.deepEqual(byDest.get('/out')!.options, ['rbind', 'rw']);
  assert.equal(byDest.get('/scratch')!.type, 'tmpfs');
  assert.ok(byDest.get('/scratch')!.options.includes('mode=1777'));
});

test('bind mount without a source is rejected', () => {
  assert.throws(() => buildSpec({ ...base, mounts: [{ type: 'bind', target: '/x' }] }), TbahError);
});

test('no command is rejected', () => {
  assert.throws(() => buildSpec({ ...base, args: [] }), TbahError);
});

test('capabilities: Buildah defaults for root, empty effective set for a non-root user', () => {
  const root = buildSpec(base).process.capabilities;
  assert.deepEqual(root.bounding, [...DEFAULT_CAPABILITIES]);
  assert.deepEqual(root.effective, [...DEFAULT_CAPABILITIES]);
  assert.deepEqual(root.permitted, [...DEFAULT_CAPABILITIES]);
  assert.deepEqual(root.ambient, []);
  assert.equal(DEFAULT_CAPABILITIES.length, 10);
  assert.ok(!DEFAULT_CAPABILITIES.includes('CAP_SYS_ADMIN'));
  const user = buildSpec({ ...base, uid: 1000 }).process.capabilities;
  assert.deepEqual(user.bounding, [...DEFAULT_CAPABILITIES]);
  assert.deepEqual(user.effective, []);
  assert.deepEqual(user.permitted, []);
});

test('cap add/drop, names normalized, drop all then add', () => {
  const c = buildSpec({ ...base, capAdd: ['net_raw', 'CAP_SYS_PTRACE'], capDrop: ['chown', 'CAP_KILL'] }).process.capabilities.bounding;
  assert.ok(c.includes('CAP_NET_RAW') && c.includes('CAP_SYS_PTRACE'));
  assert.ok(!c.includes('CAP_CHOWN') && !c.includes('CAP_KILL'));
  assert.equal(c.length, DEFAULT_CAPABILITIES.length);
  const d = buildSpec({ ...base, capDrop: ['all'], capAdd: ['setuid'] }).process.capabilities.bounding;
  assert.deepEqual(d, ['CAP_SETUID']);
  assert.equal(normalizeCap(' sys_admin '), 'CAP_SYS_ADMIN');
  assert.throws(() => buildSpec({ ...base, capAdd: ['NO_SUCH_CAP'] }), TbahError);
});

test('--cap-add ALL gives every available capability, minus --cap-drop', () => {
  const all = buildSpec({ ...base, capAdd: ['all'] }).process.capabilities.bounding;
  assert.deepEqual([...all].sort(), Object.keys(CAPABILITY_NUMBERS).sort());
  const held = ['CAP_CHOWN', 'CAP_SYS_ADMIN', 'CAP_NET_RAW'];
  const some = buildSpec({ ...base, capAdd: ['ALL'], capDrop: ['ALL', 'NET_RAW'], availableCaps: held }).process.capabilities.bounding;
  assert.deepEqual(some, ['CAP_CHOWN', 'CAP_SYS_ADMIN']);
});

test('rlimits from --ulimit', () => {
  assert.equal(buildSpec(base).process.rlimits, undefined);
  assert.deepEqual(buildSpec({ ...base, rlimits: [{ name: 'nofile', soft: 512, hard: 1024 }] }).process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 512 }]);
});

test('masked and read-only paths like runc', () => {
  const s = buildSpec(base);
  assert.ok(s.linux.maskedPaths.includes('/proc/kcore'));
  assert.ok(s.linux.maskedPaths.includes('/sys/firmware'));
  assert.ok(s.linux.readonlyPaths.includes('/proc/sys'));
  assert.ok(s.linux.readonlyPaths.includes('/proc/sysrq-trigger'));
});

test('spec is JSON-serializable and independent of the input arrays', () => {
  const args = ['echo', 'hi'];
  const s = buildSpec({ ...base, args });
  args.push('mutated');
  assert.deepEqual(JSON.parse(JSON.stringify(s)).process.args, ['echo', 'hi']);
});

test('unknown capability names are refused; every default has a number', () => {
  assert.throws(() => buildSpec({ ...base, capAdd: ['CAP_NOPE'] }), /unknown capability CAP_NOPE/);
  assert.throws(() => buildSpec({ ...base, capDrop: ['bogus'] }), /unknown capability CAP_BOGUS/);
  for (const c of DEFAULT_CAPABILITIES) assert.equal(typeof CAPABILITY_NUMBERS[c], 'number');
  assert.equal(CAPABILITY_NUMBERS['CAP_SETFCAP'], 31);
});

test('overlay mounts carry their lower/upper/work options', () => {
  const s = buildSpec({ ...base, mounts: [{ type: 'overlay', target: '/b', options: ['lowerdir=/l', 'upperdir=/u', 'workdir=/w'] }] });
  assert.deepEqual(s.mounts.at(-1), { destination: '/b', type: 'overlay', source: 'overlay', options: ['lowerdir=/l', 'upperdir=/u', 'workdir=/w'] });
});
