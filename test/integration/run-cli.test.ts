/** `tbah run` through runc: exit status, output, users, mounts, and no traces in the next layer. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sandbox, hasCommand } from '../helpers/cli.js';
import { validateOciLayout } from '../helpers/validate.js';

const skip = process.getuid?.() !== 0 || !hasCommand('runc') ? 'needs root and runc' : false;

describe('tbah run', { skip }, () => {
  const sb = new Sandbox();
  let c = '';
  before(() => {
    c = sb.ok(['from', 'scratch']);
    sb.ok(['copy', c, '/bin/busybox', '/bin/busybox']);
    const m = sb.ok(['mount', c]);
    for (const a of ['sh', 'echo', 'id', 'touch', 'ls', 'cat', 'pwd']) symlinkSync('busybox', path.join(m, 'bin', a));
    mkdirSync(path.join(m, 'etc'));
    writeFileSync(path.join(m, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
    writeFileSync(path.join(m, 'etc', 'group'), 'root:x:0:\napp:x:1000:\n');
    sb.ok(['commit', c, 'runbase:1']);
  });
  after(() => sb.cleanup());

  test('the command\'s exit status and output are tbah\'s', () => {
    const r = sb.run(['run', c, '--', 'sh', '-c', 'echo out; exit 7']);
    assert.equal(r.status, 7);
    assert.equal(r.stdout, 'out\n');
  });

  test('a missing command gives 127 and a one-line message', () => {
    const r = sb.run(['run', c, '--', 'nosuch']);
    assert.equal(r.status, 127);
    assert.match(r.stderr, /^tbah: run: command "nosuch" not found/);
  });

  test('--user, --workingdir and --env', () => {
    const out = sb.ok(['run', '--user', 'app', '--workingdir', '/data', '--env', 'A=1', c, '--', 'sh', '-c', 'id -un; pwd; echo $A']);
    assert.deepEqual(out.split('\n'), ['app', '/data', '1']);
    assert.equal(sb.ok(['run', '--user', 'app', c, '--', 'id', '-u']), '1000');
  });

  test('--network none has only loopback; -v and tmpfs mounts work', () => {
    assert.equal(sb.ok(['run', '--network', 'none', c, '--', 'ls', '/sys/class/net']), 'lo');
    writeFileSync(sb.path('shared.txt'), 'from host');
    assert.equal(sb.ok(['run', '-v', `${sb.dir}:/mnt/host:ro`, c, '--', 'cat', '/mnt/host/shared.txt']), 'from host');
    assert.equal(sb.ok(['run', '--mount', 'type=tmpfs,target=/scratch', c, '--', 'sh', '-c', 'echo x > /scratch/y; cat /scratch/y']), 'x');
  });

  test('changes land in the next commit; mounts and injected files leave no trace', async () => {
    sb.ok(['run', c, '--', 'touch', '/made-by-run']);
    sb.ok(['commit', c, 'runbase:2']);
    sb.ok(['push', 'runbase:2', `oci:${sb.path('o')}:r`]);
    const v = await validateOciLayout(sb.path('o'), 'r');
    const names = v.layers.at(-1)!.entries.map((e) => e.replace(/\/$/, ''));
    assert.ok(names.includes('made-by-run'));
    for (const trace of ['mnt', 'mnt/host', 'scratch', 'proc', 'sys', 'dev', 'etc/resolv.conf', 'etc/hosts']) {
      assert.ok(!names.includes(trace), `${trace} leaked into the layer: ${names.join(', ')}`);
    }
    assert.ok(!existsSync(path.join(sb.ok(['mount', c]), 'mnt')));
  });
});
