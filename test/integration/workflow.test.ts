/**
 * The working container end to end, through the built CLI, checked by an
 * independent validator and by skopeo and umoci (issue #2's scenario).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, rmSync, statSync, lstatSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sandbox, sh, tbahBin, treeFingerprint } from '../helpers/cli.js';
import { validateDockerArchive, validateOciArchive, validateOciLayout } from '../helpers/validate.js';

const BUSYBOX = '/bin/busybox';

/** Layer entry names without the trailing '/' tar puts on directories. */
const names = (entries: string[]): string[] => entries.map((e) => e.replace(/\/$/, '')).sort();

describe('working container: from → copy → config → commit → push', () => {
  const sb = new Sandbox();
  let ctr = '';
  let id = '';

  before(() => {
    assert.ok(existsSync(BUSYBOX), 'busybox-static must be installed (scripts/install-deps.sh does it)');
    mkdirSync(sb.path('app'));
    writeFileSync(sb.path('app', 'server'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
    writeFileSync(sb.path('app', 'README'), 'docs\n');
  });
  after(() => sb.cleanup());

  test('from scratch prints the container name', () => {
    ctr = sb.ok(['from', 'scratch']);
    assert.equal(ctr, 'working-container');
    assert.equal(sb.ok(['from', 'scratch']), 'working-container-1');
    sb.ok(['rm', 'working-container-1']);
  });

  test('copy prints a content digest; mount gives a real directory', () => {
    const digest = sb.ok(['copy', ctr, BUSYBOX, '/bin/busybox']);
    assert.match(digest, /^[a-f0-9]{64}$/);
    const mnt = sb.ok(['mount', ctr]);
    assert.ok(statSync(path.join(mnt, 'bin', 'busybox')).isFile());
    symlinkSync('busybox', path.join(mnt, 'bin', 'sh'));
    sb.ok(['umount', ctr]);
  });

  test('config then commit prints the image ID', () => {
    sb.ok(['config', '--cmd', '["/bin/sh"]', '--env', 'PATH=/bin', '--label', 'org.example.v=1', ctr]);
    id = sb.ok(['commit', ctr, 'busybox:1']);
    assert.match(id, /^[a-f0-9]{64}$/);
    const img = JSON.parse(sb.ok(['inspect', '--type', 'image', 'busybox:1'])) as { OCIv1: { config: { Cmd: string[]; Env: string[]; Labels: Record<string, string> }; rootfs: { diff_ids: string[] } }; FromImageID: string };
    assert.equal(img.FromImageID, id);
    assert.deepEqual(img.OCIv1.config.Cmd, ['/bin/sh']);
    assert.deepEqual(img.OCIv1.config.Env, ['PATH=/bin']);
    assert.equal(img.OCIv1.config.Labels['org.example.v'], '1');
    assert.equal(img.OCIv1.rootfs.diff_ids.length, 1);
  });

  test('push to an OCI layout, read back by the validator, skopeo and umoci', async () => {
    sb.ok(['push', 'busybox:1', `oci:${sb.path('out')}:busybox`]);
    const v = await validateOciLayout(sb.path('out'), 'busybox');
    assert.equal(v.configDigest, `sha256:${id}`);
    assert.ok(v.layers[0]!.entries.includes('bin/busybox'));
    assert.ok(v.layers[0]!.entries.includes('bin/sh'));
    const info = JSON.parse(sh(`skopeo inspect oci:${sb.path('out')}:busybox`)) as { Layers: string[]; Env: string[] };
    assert.equal(info.Layers.length, 1);
    assert.deepEqual(info.Env, ['PATH=/bin']);
    sh(`umoci unpack --image ${sb.path('out')}:busybox ${sb.path('bundle')}`);
    assert.ok(statSync(sb.path('bundle', 'rootfs', 'bin', 'busybox')).isFile());
    assert.equal(readlinkSync(sb.path('bundle', 'rootfs', 'bin', 'sh')), 'busybox');
    const run = sh(`${sb.path('bundle', 'rootfs', 'bin', 'busybox')} echo ok`);
    assert.equal(run.trim(), 'ok');
  });

  test('push to oci-archive: and docker-archive:, read back by skopeo', async () => {
    sb.ok(['push', 'busybox:1', `oci-archive:${sb.path('bb.tar')}`]);
    const v = await validateOciArchive(sb.path('bb.tar'));
    assert.equal(v.configDigest, `sha256:${id}`);
    sh(`skopeo copy oci-archive:${sb.path('bb.tar')} oci:${sb.path('x')}:y`);
    await validateOciLayout(sb.path('x'), 'y');

    sb.ok(['push', 'busybox:1', `docker-archive:${sb.path('bb-docker.tar')}:busybox:1`]);
    const d = await validateDockerArchive(sb.path('bb-docker.tar'), 'busybox:1');
    assert.equal(d.layers.length, 1);
    const info = JSON.parse(sh(`skopeo inspect docker-archive:${sb.path('bb-docker.tar')}`)) as { RepoTags: string[]; Layers: string[] };
    assert.equal(info.Layers.length, 1);
  });

  test('from a local image, copy a directory, commit a second image with one more layer', async () => {
    const ctr2 = sb.ok(['from', 'busybox:1']);
    assert.equal(ctr2, 'busybox-working-container');
    sb.ok(['copy', ctr2, './app', '/app']);
    sb.ok(['commit', ctr2, 'app:1']);
    sb.ok(['push', 'app:1', `oci:${sb.path('app-out')}:app`]);
    const v = await validateOciLayout(sb.path('app-out'), 'app');
    assert.equal(v.layers.length, 2);
    assert.deepEqual(names(v.layers[1]!.entries), ['app', 'app/README', 'app/server']);
    // The container goes on on top of its commit: a second commit adds only what changed since.
    writeFileSync(sb.path('new.txt'), 'n');
    sb.ok(['copy', ctr2, 'new.txt', '/app/']);
    sb.ok(['commit', ctr2, 'app:2']);
    sb.ok(['push', 'app:2', `oci:${sb.path('app-out')}:app2`]);
    const v2 = await validateOciLayout(sb.path('app-out'), 'app2');
    assert.equal(v2.layers.length, 3);
    assert.deepEqual(names(v2.layers[2]!.entries), ['app', 'app/new.txt']);
    sb.ok(['rm', ctr2]);
  });

  test('from oci:, oci-archive: and docker-archive:', () => {
    assert.equal(sb.ok(['from', `oci:${sb.path('out')}:busybox`]), 'busybox-working-container');
    assert.equal(sb.ok(['from', `oci-archive:${sb.path('bb.tar')}`]), 'oci-archive-working-container');
    assert.equal(sb.ok(['from', `docker-archive:${sb.path('bb-docker.tar')}`]), 'busybox-working-container-1');
    const list = sb.ok(['containers', '--format', '{{.ContainerName}}']).split('\n');
    assert.ok(list.includes('oci-archive-working-container'));
    sb.ok(['rm', '--all']);
  });

  test('images, tag, rmi', () => {
    const table = sb.ok(['images']);
    assert.match(table.split('\n')[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.match(table, /localhost\/busybox\s+1\s+[a-f0-9]{12}/);
    sb.ok(['tag', 'app:1', 'app:latest']);
    assert.match(sb.ok(['images']), /localhost\/app\s+latest/);
    const out = sb.ok(['rmi', 'app:1']);
    assert.equal(out, 'untagged: localhost/app:1');
    assert.match(sb.ok(['images']), /localhost\/app\s+latest/);
  });
});

describe('reproducible images', () => {
  const sb = new Sandbox();
  after(() => sb.cleanup());

  test('the same content with the same --timestamp gives the same image ID', () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const c = sb.ok(['from', 'scratch']);
      sb.ok(['copy', c, BUSYBOX, '/bin/busybox']);
      sb.ok(['config', '--cmd', '["/bin/sh"]', c]);
      ids.push(sb.ok(['commit', '--timestamp', '0', '--rm', c, `repro:${i}`]));
    }
    assert.equal(ids[0], ids[1]);
  });

  test('SOURCE_DATE_EPOCH sets the created time', () => {
    const c = sb.ok(['from', 'scratch']);
    sb.ok(['copy', c, BUSYBOX, '/bin/busybox']);
    sb.ok(['commit', '--rm', c, 'sde:1'], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
    const cfg = JSON.parse(sb.ok(['inspect', '--format', '{{json .OCIv1}}', 'sde:1'])) as { created: string };
    assert.equal(cfg.created, '2023-11-14T22:13:20Z');
  });
});

describe('deletions become whiteouts', () => {
  const sb = new Sandbox();
  after(() => sb.cleanup());

  test('a file removed after a commit is whited out in the next layer and absent from a new container', async () => {
    const c = sb.ok(['from', 'scratch']);
    mkdirSync(sb.path('d', 'sub'), { recursive: true });
    writeFileSync(sb.path('d', 'a'), 'a');
    writeFileSync(sb.path('d', 'sub', 'b'), 'b');
    sb.ok(['copy', c, './d', '/d']);
    sb.ok(['commit', c, 'wh:1']);
    const mnt = sb.ok(['mount', c]);
    rmSync(path.join(mnt, 'd', 'a'));
    rmSync(path.join(mnt, 'd', 'sub'), { recursive: true });
    sb.ok(['commit', c, 'wh:2']);
    sb.ok(['push', 'wh:2', `oci:${sb.path('o')}:wh`]);
    const v = await validateOciLayout(sb.path('o'), 'wh');
    assert.deepEqual(names(v.layers[1]!.entries), ['d', 'd/.wh.a', 'd/.wh.sub']);
    const c2 = sb.ok(['from', 'wh:2']);
    const m2 = sb.ok(['mount', c2]);
    assert.ok(!existsSync(path.join(m2, 'd', 'a')));
    assert.ok(!existsSync(path.join(m2, 'd', 'sub')));
  });

  test('a commit with no changes adds no layer', () => {
    const c = sb.ok(['from', 'wh:2']);
    sb.ok(['config', '--label', 'x=y', c]);
    sb.ok(['commit', c, 'wh:3']);
    const cfg = JSON.parse(sb.ok(['inspect', '--format', '{{json .OCIv1}}', 'wh:3'])) as { rootfs: { diff_ids: string[] }; history: { empty_layer?: boolean }[] };
    assert.equal(cfg.rootfs.diff_ids.length, 2);
    assert.equal(cfg.history.at(-1)!.empty_layer, true);
  });
});

describe('copy is confined to the container', () => {
  const sb = new Sandbox();
  after(() => sb.cleanup());

  test('a symlink in the image cannot make copy write on the host', () => {
    const outside = sb.path('outside');
    mkdirSync(outside);
    writeFileSync(sb.path('payload'), 'x');
    const c = sb.ok(['from', 'scratch']);
    const mnt = sb.ok(['mount', c]);
    symlinkSync(outside, path.join(mnt, 'evil'));          // absolute symlink to a host dir
    symlinkSync('../../../../../../../..' + outside, path.join(mnt, 'evil2'));
    sb.ok(['copy', c, 'payload', '/evil/p1']);
    sb.ok(['copy', c, 'payload', '/evil2/p2']);
    assert.ok(!existsSync(path.join(outside, 'p1')), 'wrote through an absolute symlink onto the host');
    assert.ok(!existsSync(path.join(outside, 'p2')), 'wrote through a relative symlink onto the host');
    assert.ok(existsSync(path.join(mnt, outside.slice(1), 'p1')));
  });

  test('--chown resolves names in the container and --chmod sets modes', () => {
    const c = sb.ok(['from', 'scratch']);
    const mnt = sb.ok(['mount', c]);
    mkdirSync(path.join(mnt, 'etc'));
    writeFileSync(path.join(mnt, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n');
    writeFileSync(path.join(mnt, 'etc', 'group'), 'root:x:0:\napp:x:1001:\nstaff:x:50:\n');
    sb.ok(['copy', '--chown', 'app', '--chmod', '640', c, 'payload', '/f1']);
    sb.ok(['copy', '--chown', 'app:staff', c, 'payload', '/f2']);
    sb.ok(['copy', '--chown', '1234:5678', c, 'payload', '/f3']);
    const s1 = lstatSync(path.join(mnt, 'f1'));
    assert.deepEqual([s1.uid, s1.gid, s1.mode & 0o7777], [1000, 1001, 0o640]);
    const s2 = lstatSync(path.join(mnt, 'f2'));
    assert.deepEqual([s2.uid, s2.gid], [1000, 50]);
    const s3 = lstatSync(path.join(mnt, 'f3'));
    assert.deepEqual([s3.uid, s3.gid], [1234, 5678]);
    const r = sb.run(['copy', '--chown', 'nobody', c, 'payload', '/f4']);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /unknown user "nobody"/);
  });

  test('--contextdir applies .dockerignore and keeps sources inside the context', () => {
    const ctx = sb.path('ctx');
    mkdirSync(path.join(ctx, 'src'), { recursive: true });
    writeFileSync(path.join(ctx, 'src', 'a.js'), 'a');
    writeFileSync(path.join(ctx, 'src', 'a.log'), 'log');
    writeFileSync(path.join(ctx, '.dockerignore'), '**/*.log\n');
    const c = sb.ok(['from', 'scratch']);
    sb.ok(['copy', '--contextdir', ctx, c, 'src', '/src']);
    const mnt = sb.ok(['mount', c]);
    assert.ok(existsSync(path.join(mnt, 'src', 'a.js')));
    assert.ok(!existsSync(path.join(mnt, 'src', 'a.log')));
    // `..` cannot climb out of the context: this names ctx/etc/hostname, which does not exist.
    const r = sb.run(['copy', '--contextdir', ctx, c, '../../etc/hostname', '/h']);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /no such file or directory/);
    assert.ok(!existsSync(path.join(mnt, 'h')));
    assert.equal(readFileSync(path.join(mnt, 'src', 'a.js'), 'utf8'), 'a');
  });
});

describe('bad input: one-line error, exit 125, store unchanged', () => {
  const sb = new Sandbox();
  let ctr = '';
  before(() => {
    ctr = sb.ok(['from', 'scratch']);
    writeFileSync(sb.path('f'), 'f');
    sb.ok(['copy', ctr, 'f', '/f']);
    sb.ok(['commit', ctr, 'base:1']);
    sb.ok(['from', 'base:1']); // puts base:1 in use
  });
  after(() => sb.cleanup());

  const cases: [string, string[], RegExp][] = [
    ['unknown container', ['copy', 'nope', 'f', '/f'], /nope: container not known/],
    ['unknown image', ['from', '--pull=never', 'nope:1'], /nope:1: image not known/],
    ['unknown image, pull fails', ['from', '-q', 'nope:1'], /nope:1: image not known locally, and pulling docker\.io\/library\/nope:1 failed/],
    ['bad reference', ['from', 'UPPER/Case'], /UPPER\/Case/],
    ['missing source', ['copy', 'CTR', 'does-not-exist', '/x'], /source does-not-exist: no such file or directory/],
    ['bad --chmod', ['copy', '--chmod', '9z', 'CTR', 'f', '/x'], /--chmod 9z/],
    ['bad --cmd', ['config', '--cmd', '["a",', 'CTR'], /--cmd/],
    ['bad --timestamp', ['commit', '--timestamp', 'soon', 'CTR'], /--timestamp soon/],
    ['flag after the name', ['config', 'CTR', '--label', 'a=b'], /no options \(--label\) can be specified after/],
    ['unknown flag', ['commit', '--nope', 'CTR'], /unknown option '--nope'/],
    ['rmi of an image in use', ['rmi', 'base:1'], /in use by a container/],
    ['duplicate --name', ['from', '--name', 'working-container', 'scratch'], /already in use/],
    ['push without transport', ['push', 'base:1', 'somewhere'], /registry|transport/],
  ];
  for (const [what, args, msg] of cases) {
    test(what, () => {
      const before = treeFingerprint(sb.store);
      const r = sb.run(args.map((a) => (a === 'CTR' ? ctr : a)));
      assert.equal(r.status, 125, `exit status for ${what}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trim().split('\n');
      assert.match(lines[0]!, /^tbah: /);
      assert.match(lines[0]!, msg);
      assert.ok(lines.length <= 2 && (lines.length === 1 || lines[1]!.startsWith('hint: ')), r.stderr);
      assert.equal(treeFingerprint(sb.store), before, `${what} changed the store`);
    });
  }
});

describe('parallel tbah processes on one store', () => {
  const sb = new Sandbox();
  after(() => sb.cleanup());

  test('8 concurrent from+copy+commit pipelines get distinct names and valid images', async () => {
    const { spawn } = await import('node:child_process');
    writeFileSync(sb.path('f'), 'payload');
    const script = (i: number): string => `set -e; t="node ${tbahBin}"; c=$($t from scratch); $t copy "$c" f /f${i} >/dev/null; $t commit --rm "$c" par:${i} >/dev/null`;
    const runs = Array.from({ length: 8 }, (_, i) => new Promise<number>((resolve) => {
      spawn('sh', ['-c', script(i)], { cwd: sb.dir, env: { ...process.env, TBAH_ROOT: sb.store }, stdio: 'inherit' }).on('close', (code) => resolve(code ?? -1));
    }));
    assert.deepEqual(await Promise.all(runs), Array(8).fill(0));
    const names = sb.ok(['images', '--format', '{{.Name}}:{{.Tag}}']).split('\n').sort();
    assert.deepEqual(names, Array.from({ length: 8 }, (_, i) => `localhost/par:${i}`).sort());
    for (let i = 0; i < 8; i++) {
      sb.ok(['push', `par:${i}`, `oci:${sb.path('par')}:p${i}`]);
      await validateOciLayout(sb.path('par'), `p${i}`);
    }
  });
});

