import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveRunUser } from '../../src/core/runtime/user.js';
import { TbahError } from '../../src/core/errors.js';

let root: string;

before(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'tbah-runuser-'));
  await fsp.mkdir(path.join(root, 'etc'));
  await fsp.writeFile(path.join(root, 'etc/passwd'), [
    'root:x:0:0:root:/root:/bin/sh',
    'app:x:1000:1000:App:/home/app:/bin/sh',
    'web:x:33:33::/var/www:/bin/false',
    '',
  ].join('\n'));
  await fsp.writeFile(path.join(root, 'etc/group'), [
    'root:x:0:',
    'wheel:x:10:root,app',
    'app:x:1000:',
    'audio:x:29:app, web',
    'staff:x:50:',
    'www-data:x:33:web',
    '',
  ].join('\n'));
});

after(async () => { await fsp.rm(root, { recursive: true, force: true }); });

// Buildah 1.28 (runc), measured: `id; grep Groups /proc/self/status` for each --user form.
test('default is root with root supplementary groups (the primary gid first)', async () => {
  assert.deepEqual(await resolveRunUser(root, undefined), { uid: 0, gid: 0, additionalGids: [0, 10], name: 'root', home: '/root' });
});

test('name resolves uid, primary gid and supplementary groups', async () => {
  assert.deepEqual(await resolveRunUser(root, 'app'), { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29], name: 'app', home: '/home/app' });
});

test('numeric uid known in passwd gets its gid and groups', async () => {
  const u = await resolveRunUser(root, '33');
  assert.deepEqual([u.uid, u.gid, u.additionalGids, u.name], [33, 33, [33, 29], 'web']);
});

test('uid:gid and name:group: the group is the only supplementary group (Buildah: Groups: GID)', async () => {
  const a = await resolveRunUser(root, '1000:50');
  assert.deepEqual([a.uid, a.gid, a.additionalGids], [1000, 50, [50]]);
  const b = await resolveRunUser(root, 'app:staff');
  assert.deepEqual([b.uid, b.gid, b.additionalGids], [1000, 50, [50]]);
  const c = await resolveRunUser(root, '4242:4243');
  assert.deepEqual(c, { uid: 4242, gid: 4243, additionalGids: [4243] });
});

test('a numeric uid /etc/passwd does not know gets gid 0 (Buildah: uid=1000 gid=0 groups=0)', async () => {
  assert.deepEqual(await resolveRunUser(root, '4242'), { uid: 4242, gid: 0, additionalGids: [0] });
});

test('unknown names are errors', async () => {
  await assert.rejects(resolveRunUser(root, 'nobody'), TbahError);
  await assert.rejects(resolveRunUser(root, 'app:nogroup'), TbahError);
});

test('rootfs without /etc/passwd accepts numeric ids only', async () => {
  const empty = await fsp.mkdtemp(path.join(os.tmpdir(), 'tbah-runuser-empty-'));
  try {
    assert.deepEqual(await resolveRunUser(empty, '5'), { uid: 5, gid: 0, additionalGids: [0] });
    await assert.rejects(resolveRunUser(empty, 'app'), TbahError);
  } finally { await fsp.rm(empty, { recursive: true, force: true }); }
});
