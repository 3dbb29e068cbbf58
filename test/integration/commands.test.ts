/** Flags and commands beyond the main workflow: add, copy --from, formats, squash, iidfile, rm/rmi variants. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sandbox, sh, tbahBin } from '../helpers/cli.js';
import { validateOciLayout } from '../helpers/validate.js';

const BUSYBOX = '/bin/busybox';

describe('add', () => {
  const sb = new Sandbox();
  let server: Server;
  let base = '';
  before(async () => {
    mkdirSync(sb.path('t', 'pkg'), { recursive: true });
    writeFileSync(sb.path('t', 'pkg', 'a.txt'), 'from the archive');
    sh(`tar -C ${sb.path('t')} -czf ${sb.path('pkg.tar.gz')} pkg`);
    sh(`tar -C ${sb.path('t')} -cf ${sb.path('pkg.tar')} pkg`);
    server = createServer((req, res) => {
      if (req.url === '/files/hello.txt') {
        res.writeHead(200, { 'Last-Modified': 'Wed, 01 Jan 2020 00:00:00 GMT' });
        res.end('hello over http');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => { server.close(); sb.cleanup(); });

  test('extracts local tar and tar.gz archives; copy does not', () => {
    const c = sb.ok(['from', 'scratch']);
    const mnt = sb.ok(['mount', c]);
    sb.ok(['add', c, 'pkg.tar.gz', '/opt/']);
    assert.equal(readFileSync(path.join(mnt, 'opt', 'pkg', 'a.txt'), 'utf8'), 'from the archive');
    sb.ok(['add', c, 'pkg.tar', '/srv']);
    assert.equal(readFileSync(path.join(mnt, 'srv', 'pkg', 'a.txt'), 'utf8'), 'from the archive');
    sb.ok(['copy', c, 'pkg.tar.gz', '/copied/']);
    assert.ok(statSync(path.join(mnt, 'copied', 'pkg.tar.gz')).isFile());
  });

  test('downloads URLs (mtime from Last-Modified, mode 0600); 404 is an error', async () => {
    const c = sb.ok(['from', 'scratch']);
    const mnt = sb.ok(['mount', c]);
    const ok = await sb.runAsync(['add', c, `${base}/files/hello.txt`, '/dl/']);
    assert.equal(ok.status, 0, ok.stderr);
    const st = statSync(path.join(mnt, 'dl', 'hello.txt'));
    assert.equal(readFileSync(path.join(mnt, 'dl', 'hello.txt'), 'utf8'), 'hello over http');
    assert.equal(st.mtimeMs, Date.parse('2020-01-01T00:00:00Z'));
    assert.equal(st.mode & 0o777, 0o600);
    const r = await sb.runAsync(['add', c, `${base}/missing`, '/dl/']);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /HTTP 404/);
    const r2 = sb.run(['copy', c, `${base}/files/hello.txt`, '/dl/']);
    assert.equal(r2.status, 125);
    assert.match(r2.stderr, /only supported by `tbah add`/);
  });
});

describe('copy --from, formats, squash, iidfile', () => {
  const sb = new Sandbox();
  before(() => {
    const c = sb.ok(['from', '--name', 'base', 'scratch']);
    sb.ok(['copy', c, BUSYBOX, '/bin/busybox']);
    sb.ok(['commit', c, 'bb:1']);
  });
  after(() => sb.cleanup());

  test('copy --from another container and from an image', () => {
    const c = sb.ok(['from', 'scratch']);
    sb.ok(['copy', '--from', 'base', c, '/bin/busybox', '/from-ctr/busybox']);
    sb.ok(['copy', '--from', 'bb:1', c, '/bin/busybox', '/from-img/busybox']);
    const mnt = sb.ok(['mount', c]);
    const want = readFileSync(BUSYBOX);
    assert.ok(readFileSync(path.join(mnt, 'from-ctr', 'busybox')).equals(want));
    assert.ok(readFileSync(path.join(mnt, 'from-img', 'busybox')).equals(want));
  });

  test('commit --format docker writes a Docker schema2 image that skopeo reads', () => {
    const c = sb.ok(['from', 'bb:1']);
    sb.ok(['config', '--healthcheck', 'CMD /bin/busybox true', '--shell', '["/bin/busybox","sh","-c"]', c]);
    sb.ok(['commit', '--format', 'docker', c, 'dock:1']);
    const ins = JSON.parse(sb.ok(['inspect', '--type', 'image', 'dock:1'])) as { ManifestType: string; Docker: { config: { Healthcheck?: unknown; Shell?: string[] } }; OCIv1: { config: { Healthcheck?: unknown } } };
    assert.equal(ins.ManifestType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.deepEqual(ins.Docker.config.Shell, ['/bin/busybox', 'sh', '-c']);
    assert.ok(ins.Docker.config.Healthcheck);
    assert.equal(ins.OCIv1.config.Healthcheck, undefined);
    sb.ok(['push', 'dock:1', `docker-archive:${sb.path('dock.tar')}:dock:1`]);
    const manifest = JSON.parse(sh(`tar -xOf ${sb.path('dock.tar')} manifest.json`)) as { Config: string }[];
    const cfg = JSON.parse(sh(`tar -xOf ${sb.path('dock.tar')} ${manifest[0]!.Config}`)) as { config: { Healthcheck?: { Test: string[] } } };
    assert.deepEqual(cfg.config.Healthcheck?.Test, ['CMD', '/bin/busybox', 'true']);
    assert.equal(JSON.parse(sh(`skopeo inspect docker-archive:${sb.path('dock.tar')}`)).Layers.length, 1);
    // An OCI layout holds OCI manifests only (skopeo and umoci read nothing else): refused with a hint.
    const r = sb.run(['push', '--format', 'docker', 'dock:1', `oci:${sb.path('dock')}:d`]);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /--format docker cannot be written to oci:/);
    // Pushed as OCI, the Docker-only fields are dropped.
    sb.ok(['push', 'dock:1', `oci:${sb.path('dock')}:d`]);
    const raw = JSON.parse(sh(`skopeo inspect --raw oci:${sb.path('dock')}:d`)) as { mediaType: string; layers: { mediaType: string }[] };
    assert.equal(raw.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(raw.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  });

  test('commit --squash gives one layer; --iidfile writes sha256:ID and prints nothing', async () => {
    const c = sb.ok(['from', 'bb:1']);
    writeFileSync(sb.path('x'), 'x');
    sb.ok(['copy', c, 'x', '/x']);
    const out = sb.ok(['commit', '--squash', '--iidfile', sb.path('iid'), c, 'squashed:1']);
    assert.equal(out, '');
    const iid = readFileSync(sb.path('iid'), 'utf8');
    assert.match(iid, /^sha256:[a-f0-9]{64}$/);
    sb.ok(['push', 'squashed:1', `oci:${sb.path('sq')}:s`]);
    const v = await validateOciLayout(sb.path('sq'), 's');
    assert.equal(v.configDigest, iid);
    assert.equal(v.layers.length, 1);
    assert.ok(v.layers[0]!.entries.includes('x'));
    assert.ok(v.layers[0]!.entries.includes('bin/busybox'));
  });

  test('commit --rm removes the container; inspect shows a container as JSON', () => {
    const c = sb.ok(['from', 'bb:1']);
    const ins = JSON.parse(sb.ok(['inspect', c])) as { Type: string; Container: string; FromImage: string; OCIv1: { rootfs: { diff_ids: string[] } } };
    assert.equal(ins.Container, c);
    assert.equal(ins.FromImage, 'localhost/bb:1');
    assert.equal(ins.OCIv1.rootfs.diff_ids.length, 1);
    assert.equal(sb.ok(['inspect', '--format', '{{.Container}}', c]), c);
    sb.ok(['commit', '--rm', c, 'bb:2']);
    const r = sb.run(['inspect', '--type', 'container', c]);
    assert.equal(r.status, 125);
  });

  test('rmi --force removes the containers using the image; rm --all empties the list', () => {
    const c = sb.ok(['from', 'bb:2']);
    assert.equal(sb.run(['rmi', 'bb:2']).status, 125);
    const out = sb.ok(['rmi', '--force', 'bb:2']).split('\n');
    assert.equal(out[0], 'untagged: localhost/bb:2');
    assert.match(out[1]!, /^[a-f0-9]{64}$/);
    assert.equal(sb.run(['inspect', '--type', 'container', c]).status, 125);
    sb.ok(['rm', '--all']);
    assert.equal(sb.ok(['containers', '--quiet']), '');
  });

  test('rmi garbage-collects blobs no image or container needs', () => {
    const blobs = (): string[] => sh(`ls ${path.join(sb.store, 'blobs', 'sha256')}`).trim().split('\n');
    const before = blobs().length;
    const c = sb.ok(['from', 'scratch']);
    writeFileSync(sb.path('gc'), 'garbage');
    sb.ok(['copy', c, 'gc', '/gc']);
    sb.ok(['commit', '--rm', c, 'gc:1']);
    assert.equal(blobs().length, before + 3); // layer, config, manifest
    sb.ok(['rmi', 'gc:1']);
    assert.equal(blobs().length, before);
    assert.ok(existsSync(path.join(sb.store, 'index.json')));
  });
});

describe('Buildah conventions', () => {
  const sb = new Sandbox();
  let c = '';
  before(() => {
    c = sb.ok(['from', '--name', 'w', 'scratch']);
    sb.ok(['copy', c, BUSYBOX, '/bin/busybox']);
    sb.ok(['config', '--workingdir', '/work', '--env', 'A=1', c]);
    sb.ok(['commit', c, 'conv:1']);
  });
  after(() => sb.cleanup());

  test('mount of a good and an unknown container: the good one is printed, then exit 125', () => {
    const r = sb.run(['mount', c, 'nosuch']);
    assert.equal(r.status, 125);
    assert.match(r.stdout, /^w \/.*\/(rootfs|merged)\n$/);
    assert.match(r.stderr, /nosuch: container not known/);
  });

  test('copy with no destination copies into the working directory', () => {
    writeFileSync(sb.path('wd.txt'), 'wd');
    sb.ok(['copy', c, 'wd.txt']);
    assert.equal(readFileSync(path.join(sb.ok(['mount', c]), 'work', 'wd.txt'), 'utf8'), 'wd');
  });

  test('inspect --format accepts Go field names', () => {
    assert.equal(sb.ok(['inspect', '--format', '{{.OCIv1.Config.Env}}', 'conv:1']), '[A=1]');
    assert.equal(sb.ok(['inspect', '--format', '{{.OCIv1.config.WorkingDir}}', 'conv:1']), '/work');
  });

  test('--root works before and after the command', () => {
    const other = sb.path('other-store');
    sb.ok(['--root', other, 'from', 'scratch']);
    assert.equal(sb.ok(['containers', '--root', other, '--quiet']).split('\n').length, 1);
    assert.ok(existsSync(path.join(other, 'oci-layout')));
  });

  test('rmi by ID of an image with several names is refused without --force', () => {
    sb.ok(['tag', 'conv:1', 'conv:2']);
    const id = sb.ok(['images', '--quiet', 'conv:1']);
    const r = sb.run(['rmi', id]);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /by ID with more than one tag/);
  });

  test('commit CTR oci:DIR writes there and keeps no unnamed copy in the store', async () => {
    const before = sb.ok(['images', '--quiet']);
    sb.ok(['commit', c, `oci:${sb.path('direct')}:d`]);
    await validateOciLayout(sb.path('direct'), 'd');
    assert.equal(sb.ok(['images', '--quiet']), before);
    const r = sb.run(['commit', '--format', 'docker', c, `oci:${sb.path('direct')}:e`]);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /--format docker cannot be written to oci:/);
  });

  test('add of a truncated archive: a clear error, not a stack trace', () => {
    writeFileSync(sb.path('big.txt'), 'x'.repeat(200000));
    sh(`tar -C ${sb.dir} -czf ${sb.path('t.tar.gz')} big.txt && head -c 300 ${sb.path('t.tar.gz')} > ${sb.path('trunc.tar.gz')}`);
    const r = sb.run(['add', c, 'trunc.tar.gz', '/y/']);
    assert.equal(r.status, 125);
    assert.match(r.stderr.split('\n')[0]!, /^tbah: add .*trunc\.tar\.gz: the gzip archive cannot be read/);
    assert.doesNotMatch(r.stderr, /internal error|    at /);
  });

  test('rmi of every name of an image removes the image', () => {
    const c2 = sb.ok(['from', 'scratch']);
    writeFileSync(sb.path('two'), 'two');
    sb.ok(['copy', c2, 'two', '/two']);
    const id = sb.ok(['commit', '--rm', c2, 'two:a']);
    sb.ok(['tag', 'two:a', 'two:b']);
    const out = sb.ok(['rmi', 'two:a', 'two:b']).split('\n');
    assert.deepEqual(out, ['untagged: localhost/two:a', 'untagged: localhost/two:b', id]);
    assert.doesNotMatch(sb.ok(['images', '--quiet', '--no-trunc']), new RegExp(id));
  });

  test('inspect --format knows Go names such as RootFS.DiffIDs', () => {
    assert.match(sb.ok(['inspect', '--format', '{{len .OCIv1.RootFS.DiffIDs}}', 'conv:1']), /^1$/);
  });

  test('no arguments prints usage', () => {
    const r = sb.run([]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Usage: tbah/);
  });
});

describe('without root', () => {
  const sb = new Sandbox();
  after(() => sb.cleanup());

  /** Runs tbah as uid/gid 65534 (nobody) with its own store. */
  const asNobody = (args: string[]): { status: number; stdout: string; stderr: string } => {
    const p = spawnSync('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, tbahBin, ...args],
      { cwd: sb.dir, env: { ...process.env, HOME: sb.dir, TBAH_ROOT: sb.path('nb-store'), NO_COLOR: '1' }, encoding: 'utf8' });
    return { status: p.status ?? -1, stdout: p.stdout.trim(), stderr: p.stderr };
  };

  test('the caller\'s files are committed as 0:0; --chown to another owner is refused clearly', async () => {
    chmodSync(sb.dir, 0o777);
    cpSync(BUSYBOX, sb.path('bb'));
    chownSync(sb.path('bb'), 65534, 65534);
    const c = asNobody(['from', 'scratch']).stdout;
    assert.equal(c, 'working-container');
    assert.equal(asNobody(['copy', c, 'bb', '/bin/busybox']).status, 0);
    const refused = asNobody(['copy', '--chown', '1000:1000', c, 'bb', '/x']);
    assert.equal(refused.status, 125);
    assert.match(refused.stderr, /--chown 1000:1000: setting other owners needs root/);
    assert.equal(asNobody(['commit', c, 'nb:1']).status, 0);
    assert.equal(asNobody(['push', 'nb:1', `oci:${sb.path('nb-out')}:nb`]).status, 0);
    const v = await validateOciLayout(sb.path('nb-out'), 'nb');
    const blob = path.join(sb.path('nb-out'), 'blobs', 'sha256', v.layers[0]!.digest.slice(7));
    const owners = sh(`tar -tvzf ${blob} --numeric-owner`).trim().split('\n').map((l) => l.split(/\s+/)[1]);
    assert.deepEqual([...new Set(owners)], ['0/0']);
  });
});
