/**
 * The flags of `from`, `copy`/`add`, `run`, `config` and `commit` that
 * Buildah scripts use (issue #14), end to end through the CLI. Where Buildah
 * 1.28 (installed here) has the feature, the same steps run with both tools on
 * the same base image (tbah builds it, Buildah reads it from an oci-archive)
 * and the observable results are compared: names, config and history, layer
 * listings (`tar tv`), what a command in the container sees. Features newer
 * than 1.28 are checked against their documented (current Buildah) behaviour.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sandbox, hasCommand } from '../helpers/cli.js';

const root = process.getuid?.() === 0;
const APPLETS = ['sh', 'cat', 'echo', 'env', 'grep', 'id', 'ls', 'touch', 'true', 'mkdir', 'stat', 'sleep', 'ln'];
const skip = !root ? 'needs root' : !hasCommand('buildah') ? 'needs buildah' : !hasCommand('runc') ? 'needs runc' : false;

interface Inspect { FromImage: string; OCIv1: { created?: string; architecture: string; os: string; variant?: string; config?: { Env?: string[]; Labels?: Record<string, string> }; history?: History[] }; Manifest: string }
interface History { created?: string; created_by?: string; comment?: string; empty_layer?: boolean; author?: string }
interface Manifest { layers: { mediaType: string; digest: string }[]; annotations?: Record<string, string> }

/** `tar tv` of one layer of an OCI layout: [type, name, link target] per entry (times and sizes aside). */
function layerListing(layout: string, ref: string, which: number): string[][] {
  const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref)!;
  const m = JSON.parse(readFileSync(path.join(layout, 'blobs', 'sha256', desc.digest.slice(7)), 'utf8')) as Manifest;
  const l = m.layers.at(which)!;
  const blob = path.join(layout, 'blobs', 'sha256', l.digest.slice(7));
  const flags = l.mediaType.endsWith('+gzip') ? '-tvzf' : l.mediaType.endsWith('+zstd') ? '--zstd -tvf' : '-tvf';
  const out = spawnSync('sh', ['-c', `tar ${flags} "${blob}"`], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  return out.stdout.trim().split('\n').map((line) => {
    const f = line.split(/\s+/);
    const rest = f.slice(5).join(' ');
    const link = / link to (.*)$/.exec(rest) ?? / -> (.*)$/.exec(rest);
    return [f[0]![0]!, link ? rest.slice(0, link.index) : rest, link ? link[1]! : ''];
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on the port (the server process has started). */
async function listening(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1', () => { sock.destroy(); resolve(true); });
      sock.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on port ${port}`);
}

describe('flags of from, copy, run, config and commit, with Buildah 1.28 as the oracle', { skip }, () => {
  const sb = new Sandbox('tbah-flags-');
  const bstore = sb.path('buildah');
  const benv = { ...process.env, BUILDAH_RUNTIME: 'runc' };
  /** Buildah on a private vfs store; returns stdout trimmed, throws with stderr on failure. */
  const bh = (args: string[], o: { env?: Record<string, string | undefined> } = {}): string => {
    const r = spawnSync('buildah', ['--storage-driver', 'vfs', '--root', `${bstore}/root`, '--runroot', `${bstore}/run`, ...args],
      { encoding: 'utf8', env: { ...benv, ...o.env } as NodeJS.ProcessEnv, cwd: sb.dir, maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`buildah ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const bhStatus = (args: string[]): { status: number; stderr: string } => {
    const r = spawnSync('buildah', ['--storage-driver', 'vfs', '--root', `${bstore}/root`, '--runroot', `${bstore}/run`, ...args], { encoding: 'utf8', env: benv });
    return { status: r.status ?? -1, stderr: r.stderr };
  };
  const tInspect = (what: string, type = 'container'): Inspect => JSON.parse(sb.ok(['inspect', '--type', type, what])) as Inspect;
  const bInspect = (what: string, type = 'container'): Inspect => JSON.parse(bh(['inspect', '--type', type, what])) as Inspect;
  const manifestOf = (i: Inspect): Manifest => JSON.parse(i.Manifest) as Manifest;

  before(() => {
    mkdirSync(bstore);
    // The base both tools use: busybox with applets, passwd and group, made by tbah and handed to Buildah.
    const c = sb.ok(['from', 'scratch']);
    sb.ok(['copy', c, '/bin/busybox', '/bin/busybox']);
    const mnt = sb.ok(['mount', c]);
    for (const a of APPLETS) symlinkSync('busybox', path.join(mnt, 'bin', a));
    mkdirSync(path.join(mnt, 'etc'));
    writeFileSync(path.join(mnt, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1001:1001::/home/app:/bin/sh\n');
    writeFileSync(path.join(mnt, 'etc', 'group'), 'root:x:0:\napp:x:1001:\ng5:x:5000:app\ng6:x:6000:app\n');
    sb.ok(['umount', c]);
    sb.ok(['config', '--cmd', '["/bin/sh"]', c]);
    // Without tbah's identity label: a label the base has is inherited (as in Buildah), which would hide what commit adds.
    sb.ok(['commit', '--rm', '--no-identity-label', c, 'base:1']);
    sb.ok(['push', 'base:1', `oci-archive:${sb.path('base.tar')}:base:1`]);
    bh(['pull', '-q', `oci-archive:${sb.path('base.tar')}:base:1`]);
    bh(['tag', 'localhost/base:1', 'base:1']);
  });
  after(() => {
    spawnSync('buildah', ['--storage-driver', 'vfs', '--root', `${bstore}/root`, '--runroot', `${bstore}/run`, 'rm', '-a'], { stdio: 'ignore', env: benv });
    sb.cleanup();
  });

  // ---------------------------------------------------------------- from

  test('from: the container name and FromImage follow the reference as typed', () => {
    sb.ok(['tag', 'base:1', 'busybox1']);
    bh(['tag', 'base:1', 'busybox1']);
    const t = sb.ok(['from', 'busybox1']);
    const b = bh(['from', 'busybox1']);
    assert.equal(t, 'busybox1-working-container');
    assert.equal(t, b);
    assert.equal(tInspect(t).FromImage, 'localhost/busybox1:latest');
    assert.equal(tInspect(t).FromImage, bInspect(b).FromImage);
  });

  test('from --arch/--os/--variant/--platform: normalised as containers/image, also for scratch', () => {
    // Cases where Buildah 1.28 and current containers/image agree.
    for (const flags of [['--arch', 'aarch64'], ['--arch', 'armhf'], ['--platform', 'linux/arm/v7'], ['--arch', 'x86_64'], ['--arch', 'armel'],
      ['--arch', 'i386'], ['--arch', 'arm64', '--variant', 'v8'], ['--platform', 'linux/amd64/v1'], ['--arch', 'ARM64']]) {
      const t = tInspect(sb.ok(['from', ...flags, 'scratch'])).OCIv1;
      const b = bInspect(bh(['from', ...flags, 'scratch'])).OCIv1;
      assert.deepEqual([t.architecture, t.os, t.variant ?? ''], [b.architecture, b.os, b.variant ?? ''], flags.join(' '));
    }
    // ...and images committed from it.
    const c = sb.ok(['from', '--arch', 'aarch64', 'scratch']);
    sb.ok(['copy', c, '/etc/hostname', '/h']);
    sb.ok(['commit', c, 'arm:1']);
    assert.equal(tInspect('arm:1', 'image').OCIv1.architecture, 'arm64');
    // A local image of another platform is not the image asked for.
    const t = sb.run(['from', '--pull=never', '--arch', 'arm64', 'base:1']);
    assert.equal(t.status, 125);
    assert.match(t.stderr, /image not known for arm64/);
    assert.equal(bhStatus(['from', '--pull=never', '--arch', 'arm64', 'base:1']).status, 125);
  });

  test('from --volume, --add-host, --ulimit apply to every later run', () => {
    const vol = sb.path('vol');
    mkdirSync(vol);
    writeFileSync(path.join(vol, 'f'), 'in the volume\n');
    const flags = ['-v', `${vol}:/mnt/v:ro`, '--add-host', 'myhost:1.2.3.4', '--ulimit', 'nofile=512:1024', '--ulimit', 'nproc=100'];
    const script = 'ulimit -n; ulimit -Hn; ulimit -u; cat /mnt/v/f; grep myhost /etc/hosts; touch /mnt/v/g 2>/dev/null || echo read-only';
    const t = sb.ok(['from', ...flags, 'base:1']);
    const b = bh(['from', ...flags, 'base:1']);
    const want = bh(['run', b, '--', 'sh', '-c', script]);
    assert.equal(want, '512\n1024\n100\nin the volume\n1.2.3.4\tmyhost\nread-only');
    for (const isolation of ['oci', 'chroot']) {
      for (let i = 0; i < 2; i++) assert.equal(sb.ok(['run', '--isolation', isolation, t, '--', 'sh', '-c', script]), want, `${isolation} run ${i + 1}`);
    }
    assert.equal(sb.run(['from', '--ulimit', 'nofile=9:8', 'base:1']).status, 125, 'soft above hard');
    assert.equal(sb.run(['from', '--add-host', 'nohost', 'base:1']).status, 125);
  });

  test('from oci-archive:FILE without a ref takes the name its image carries', () => {
    const archive = sb.path('named.tar');
    sb.ok(['push', 'base:1', `oci-archive:${archive}:myrepo/bb:v3`]);
    const t = sb.ok(['from', `oci-archive:${archive}`]);
    const b = bh(['from', `oci-archive:${archive}`]);
    assert.equal(t, 'bb-working-container');
    assert.equal(t, b);
    assert.equal(tInspect(t).FromImage, 'localhost/myrepo/bb:v3');
    assert.equal(tInspect(t).FromImage, bInspect(b).FromImage);
    assert.ok(sb.ok(['images', '--format', '{{.Name}}:{{.Tag}}']).split('\n').includes('localhost/myrepo/bb:v3'));
  });

  // ---------------------------------------------------------------- copy / add

  test('copy keeps hard links hard links, in the rootfs and in the layer', () => {
    const src = sb.path('hl');
    mkdirSync(path.join(src, 'sub'), { recursive: true });
    writeFileSync(path.join(src, 'a'), 'content\n');
    linkSync(path.join(src, 'a'), path.join(src, 'b'));
    linkSync(path.join(src, 'a'), path.join(src, 'sub', 'c'));
    const t = sb.ok(['from', 'scratch']);
    const b = bh(['from', 'scratch']);
    sb.ok(['copy', t, src, '/hl']);
    bh(['copy', b, src, '/hl']);
    const mnt = sb.ok(['mount', t]);
    const inodes = ['a', 'b', 'sub/c'].map((f) => statSync(path.join(mnt, 'hl', f)).ino);
    assert.equal(new Set(inodes).size, 1, 'one inode in the rootfs');
    sb.ok(['commit', t, 'hl:t']);
    bh(['commit', '-q', b, 'hl:b']);
    sb.ok(['push', 'hl:t', `oci:${sb.path('hl-t')}:x`]);
    bh(['push', '-q', 'hl:b', `oci:${sb.path('hl-b')}:x`]);
    const tl = layerListing(sb.path('hl-t'), 'x', -1);
    assert.deepEqual(tl, layerListing(sb.path('hl-b'), 'x', -1));
    assert.ok(tl.some(([type, name, link]) => type === 'h' && name === 'hl/b' && link === 'hl/a'), JSON.stringify(tl));
  });

  test('copy --from keeps the owners of the source unless --chown (current Buildah)', () => {
    const f = sb.path('owned');
    writeFileSync(f, 'x');
    chownSync(f, 1234, 5678);
    const src = sb.ok(['from', 'scratch']);
    sb.ok(['copy', '--chown', '1234:5678', src, f, '/owned']);
    sb.ok(['commit', src, 'owned:1']);
    const c = sb.ok(['from', 'scratch']);
    sb.ok(['copy', '--from', src, c, '/owned', '/from-ctr']);
    sb.ok(['copy', '--from', 'owned:1', c, '/owned', '/from-img']);
    sb.ok(['copy', '--from', src, '--chown', '7:8', c, '/owned', '/chowned']);
    sb.ok(['copy', c, f, '/host']); // host files: 0:0 as before
    const mnt = sb.ok(['mount', c]);
    const own = (p: string): string => { const st = lstatSync(path.join(mnt, p)); return `${st.uid}:${st.gid}`; };
    assert.deepEqual(['from-ctr', 'from-img', 'chowned', 'host'].map(own), ['1234:5678', '1234:5678', '7:8', '0:0']);
  });

  test('copy --no-follow-symlinks, --timestamp, --exclude, --allow-wildcard=false, --allow-empty-wildcard', () => {
    const ctx = sb.path('ctx1');
    mkdirSync(path.join(ctx, 'docs', 'sub'), { recursive: true });
    writeFileSync(path.join(ctx, 'target.txt'), 'target\n');
    symlinkSync('target.txt', path.join(ctx, 'link'));
    for (const f of ['a.md', 'b.txt', 'sub/c.md', 'sub/d.txt']) writeFileSync(path.join(ctx, 'docs', f), f);
    const c = sb.ok(['from', 'scratch']);
    const mnt = sb.ok(['mount', c]);
    sb.ok(['copy', '--contextdir', ctx, c, 'link', '/followed']);
    sb.ok(['copy', '--contextdir', ctx, '--no-follow-symlinks', c, 'link', '/kept']);
    assert.ok(lstatSync(path.join(mnt, 'followed')).isFile());
    assert.equal(readFileSync(path.join(mnt, 'followed'), 'utf8'), 'target\n');
    assert.ok(lstatSync(path.join(mnt, 'kept')).isSymbolicLink());
    assert.equal(readlinkSync(path.join(mnt, 'kept')), 'target.txt');
    sb.ok(['copy', '--timestamp', '1234', c, path.join(ctx, 'docs'), '/stamped']);
    for (const p of ['stamped/a.md', 'stamped/sub', 'stamped/sub/c.md']) assert.equal(lstatSync(path.join(mnt, p)).mtimeMs, 1234_000, p);
    // Patterns relative to the context; repeatable and comma-separated, as Buildah's string slice.
    sb.ok(['copy', '--contextdir', ctx, '--exclude', '**/*.md', '--exclude', 'docs/sub/d.txt,nothing', c, 'docs', '/ex']);
    assert.deepEqual(readdirSync(path.join(mnt, 'ex')).sort(), ['b.txt', 'sub']);
    assert.deepEqual(readdirSync(path.join(mnt, 'ex', 'sub')), []);
    const nowild = sb.run(['copy', '--no-allow-wildcard', c, path.join(ctx, 'docs', '*.txt'), '/w/']);
    assert.equal(nowild.status, 125);
    assert.match(nowild.stderr, /wildcards are not allowed/);
    assert.equal(sb.run(['copy', c, path.join(ctx, '*.nomatch'), '/empty/']).status, 125);
    assert.match(sb.ok(['copy', '--allow-empty-wildcard', c, path.join(ctx, '*.nomatch'), '/empty/']), /^[a-f0-9]{64}$/);
    assert.ok(!existsSync(path.join(mnt, 'empty')), 'nothing copied, the destination not made');
  });

  test('copy --contextdir: an absolute source inside the context is taken relative to it', () => {
    const ctx = sb.path('ctx2');
    mkdirSync(path.join(ctx, 'a'), { recursive: true });
    writeFileSync(path.join(ctx, 'a', 'b'), 'in context\n');
    const t = sb.ok(['from', 'scratch']);
    const b = bh(['from', 'scratch']);
    for (const [src, dst] of [[path.join(ctx, 'a', 'b'), '/abs'], ['/a/b', '/rooted']]) {
      sb.ok(['copy', '--contextdir', ctx, t, src!, dst!]);
      bh(['copy', '--contextdir', ctx, b, src!, dst!]);
    }
    sb.ok(['copy', '--contextdir', ctx, t, 'a/b', '/rel']); // Buildah 1.28 refuses relative sources with --contextdir ("can't make a/b relative")
    const tm = sb.ok(['mount', t]);
    const bm = bh(['mount', b]);
    for (const f of ['abs', 'rooted']) {
      assert.equal(readFileSync(path.join(tm, f), 'utf8'), 'in context\n');
      assert.equal(readFileSync(path.join(bm, f), 'utf8'), 'in context\n');
    }
    assert.equal(readFileSync(path.join(tm, 'rel'), 'utf8'), 'in context\n');
  });

  test('copy and add take URLs: the bytes as served (never extracted), mode 0600, mtime from Last-Modified; --checksum', async () => {
    const www = sb.path('www');
    mkdirSync(www);
    spawnSync('sh', ['-c', `cd ${www} && mkdir d && echo x > d/x && tar czf pkg.tar.gz d && rm -r d`]);
    utimesSync(path.join(www, 'pkg.tar.gz'), 1600000000, 1600000000);
    const port = await freePort();
    // A separate process: the tools are run synchronously below.
    const server = spawnSync('sh', ['-c', `cd ${www} && (python3 -m http.server ${port} --bind 127.0.0.1 >/dev/null 2>&1 & echo $!)`], { encoding: 'utf8' });
    const pid = Number(server.stdout.trim());
    try {
      const url = `http://127.0.0.1:${port}/pkg.tar.gz`;
      await listening(port);
      const t = sb.ok(['from', 'scratch']);
      const b = bh(['from', 'scratch']);
      for (const verb of ['copy', 'add']) {
        sb.ok([verb, t, url, `/${verb}/`]);
        bh([verb, b, url, `/${verb}/`]);
      }
      const tm = sb.ok(['mount', t]);
      const bm = bh(['mount', b]);
      const want = readFileSync(path.join(www, 'pkg.tar.gz'));
      for (const verb of ['copy', 'add']) {
        const tf = path.join(tm, verb, 'pkg.tar.gz');
        const bf = path.join(bm, verb, 'pkg.tar.gz');
        assert.ok(readFileSync(tf).equals(want) && readFileSync(bf).equals(want), `${verb}: the bytes as served`);
        assert.deepEqual([statSync(tf).mode & 0o7777, statSync(tf).mtimeMs], [statSync(bf).mode & 0o7777, statSync(bf).mtimeMs]);
        assert.equal(statSync(tf).mtimeMs, 1600000000_000);
      }
      // --checksum (current Buildah): URLs only, checked.
      const sum = `sha256:${spawnSync('sha256sum', [path.join(www, 'pkg.tar.gz')], { encoding: 'utf8' }).stdout.split(' ')[0]}`;
      sb.ok(['add', '--checksum', sum, t, url, '/sum/']);
      const bad = sb.run(['add', '--checksum', `sha256:${'0'.repeat(64)}`, t, url, '/bad/']);
      assert.equal(bad.status, 125);
      assert.match(bad.stderr, /unexpected response digest/);
      assert.ok(!existsSync(path.join(tm, 'bad')));
      const local = sb.run(['add', '--checksum', sum, t, path.join(www, 'pkg.tar.gz'), '/l/']);
      assert.equal(local.status, 125);
      assert.match(local.stderr, /not supported for local sources/);
    } finally {
      process.kill(pid);
    }
  });

  test('--add-history on copy, add, run and config records what Buildah records', () => {
    const f = sb.path('hist.txt');
    writeFileSync(f, 'h\n');
    const dir = sb.path('histdir');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'x'), 'x');
    const steps = (tool: 'tbah' | 'buildah', c: string): string[] => {
      const run = tool === 'tbah' ? (a: string[]): string => sb.ok(a) : (a: string[]): string => bh(a);
      const digests = [
        run(['copy', '--add-history', c, f, '/f']),
        run(['copy', '--add-history', c, dir, '/d']),
        run(['copy', '--add-history', c, f, dir, '/m/']),
        run(['add', '--add-history', c, f, '/a']),
      ];
      run(['run', ...(tool === 'buildah' ? ['--network', 'host'] : []), '--add-history', c, '--', 'touch', '/ran']);
      run(['config', '--add-history', '--user', '1001', '--env', 'A=1', '--port', '80', '--label', 'l=1', '--cmd', 'echo hi',
        '--entrypoint', '["/bin/sh"]', '--workingdir', '/w', '--volume', '/v', '--stop-signal', 'TERM', '--healthcheck', 'CMD true',
        '--healthcheck-interval', '5s', c]);
      return digests;
    };
    const t = sb.ok(['from', 'base:1']);
    const b = bh(['from', 'base:1']);
    const td = steps('tbah', t);
    const bd = steps('buildah', b);
    // A failed run records nothing.
    assert.equal(sb.run(['run', '--add-history', t, '--', 'sh', '-c', 'exit 3']).status, 3);
    sb.ok(['commit', t, 'hist:t']);
    bh(['commit', '-q', b, 'hist:b']);
    const norm = (h: History[], digests: string[]): string[] => h.map((e) => `${digests.reduce((s, d, i) => s.replaceAll(d, `<d${i}>`), e.created_by ?? '')} empty=${e.empty_layer === true}`);
    const th = tInspect('hist:t', 'image').OCIv1.history!;
    const bhist = bInspect('hist:b', 'image').OCIv1.history!;
    assert.deepEqual(norm(th, td), norm(bhist, bd));
    assert.equal(th.filter((h) => h.comment === 'FROM localhost/base:1').length, 1);
  });

  // ---------------------------------------------------------------- run

  test('run --valid-exit-codes (current Buildah)', () => {
    const c = sb.ok(['from', 'base:1']);
    assert.equal(sb.run(['run', '--valid-exit-codes', '0,3', c, '--', 'sh', '-c', 'exit 3']).status, 0);
    assert.equal(sb.run(['run', '--valid-exit-codes', '3', c, '--', 'sh', '-c', 'exit 4']).status, 4);
    const zero = sb.run(['run', '--valid-exit-codes', '3', c, '--', 'true']);
    assert.equal(zero.status, 125);
    assert.match(zero.stderr, /exit status 0 is not in the valid exit codes list/);
  });

  test('run passes the caller\'s proxy variables and nothing else of its environment; --env NAME takes the caller\'s value', () => {
    const env = { http_proxy: 'http://proxy:3128', NO_PROXY: 'internal', FTP_PROXY: 'ftp://p', FOO: 'bar', MYVAR: 'mine', MYVAR2: 'two' };
    const keys = (out: string): string[] => out.split('\n').map((l) => l.split('=')[0]!).filter((k) => k !== '').sort();
    const t = sb.ok(['from', 'base:1']);
    const b = bh(['from', 'base:1']);
    const tenv = sb.ok(['run', t, '--', 'env'], { env });
    const benvOut = bh(['run', '--network', 'host', b, '--', 'env'], { env });
    assert.deepEqual(keys(tenv), keys(benvOut));
    assert.match(tenv, /^http_proxy=http:\/\/proxy:3128$/m);
    assert.doesNotMatch(tenv, /FOO/);
    const looked = sb.ok(['run', '--env', 'MYVAR', '--env', 'UNSET_HERE', '--env', 'http_proxy=over', t, '--', 'env'], { env });
    assert.match(looked, /^MYVAR=mine$/m);
    assert.doesNotMatch(looked, /UNSET_HERE|MYVAR2/);
    assert.match(looked, /^http_proxy=over$/m);
    assert.match(sb.ok(['run', '--env', 'MYV*', t, '--', 'env'], { env }), /^MYVAR2=two$/m);
  });

  test('run --cap-add=ALL gives every capability tbah holds', () => {
    const c = sb.ok(['from', 'base:1']);
    const own = /^CapBnd:\s*(\S+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1];
    const status = sb.ok(['run', '--cap-add=ALL', c, '--', 'cat', '/proc/self/status']);
    assert.equal(/^CapEff:\s*(\S+)$/m.exec(status)![1], own);
  });

  test('run --user: supplementary groups and gids as Buildah', () => {
    const t = sb.ok(['from', 'base:1']);
    const b = bh(['from', 'base:1']);
    for (const u of ['1000', '1000:2000', '1001', 'app', 'app:2000', '1001:g5', '0']) {
      const script = 'id; grep Groups /proc/self/status';
      assert.equal(sb.ok(['run', '--user', u, t, '--', 'sh', '-c', script]), bh(['run', '--network', 'host', '--user', u, b, '--', 'sh', '-c', script]), `--user ${u}`);
    }
  });

  test('run --mount type=bind with a source containing ":" (ro and rw)', () => {
    const src = sb.path('with:colon');
    mkdirSync(src);
    writeFileSync(path.join(src, 'f'), 'colon\n');
    const t = sb.ok(['from', 'base:1']);
    const b = bh(['from', 'base:1']);
    assert.equal(sb.ok(['run', '--mount', `type=bind,src=${src},dst=/x`, t, '--', 'cat', '/x/f']), bh(['run', '--network', 'host', '--mount', `type=bind,src=${src},dst=/x`, b, '--', 'cat', '/x/f']));
    // rw: readable and writable in the run, the host copy left alone (tbah's departure, as Buildah HEAD).
    assert.equal(sb.ok(['run', '--mount', `type=bind,src=${src},dst=/x,rw`, t, '--', 'sh', '-c', 'echo w > /x/g && cat /x/f /x/g']), 'colon\nw');
    assert.deepEqual(readdirSync(src), ['f']);
  });

  test('run: cache mounts take src=SUBDIR; secret mounts take env=NAME, never written to disk', async () => {
    const c = sb.ok(['from', 'base:1']);
    sb.ok(['run', '--mount', 'type=cache,id=sub-cache,target=/c,src=one/two', c, '--', 'sh', '-c', 'echo kept > /c/f']);
    assert.equal(sb.ok(['run', '--mount', 'type=cache,id=sub-cache,target=/c', c, '--', 'cat', '/c/one/two/f']), 'kept');
    const secret = `s3cr3t-${process.pid}-${Date.now()}`;
    const env = { TOKEN: secret };
    assert.equal(sb.ok(['run', '--secret', 'id=tok,env=TOKEN', '--mount', 'type=secret,id=tok,env=MYTOK', c, '--', 'sh', '-c', 'echo $MYTOK; ls /run/secrets 2>/dev/null | wc -l'], { env }), `${secret}\n0`);
    // While a run with an env secret is going on, nothing on disk holds it (the bundle lives in /dev/shm).
    const run = sb.runAsync(['run', '--secret', 'id=tok,env=TOKEN', '--mount', 'type=secret,id=tok,env=MYTOK', c, '--', 'sh', '-c', 'touch /started; sleep 2'], { env });
    const mnt = sb.ok(['mount', c]);
    for (let i = 0; i < 200 && !existsSync(path.join(mnt, 'started')); i++) await new Promise((r) => setTimeout(r, 25));
    const grep = (dir: string): string => spawnSync('grep', ['-rl', '--', secret, dir], { encoding: 'utf8' }).stdout;
    assert.equal(grep(os.tmpdir()) + grep(sb.store), '', 'the secret is on no disk');
    assert.equal((await run).status, 0);
    assert.equal(grep(sb.store), '');
  });

  test('/etc/hosts names the container as Buildah writes it, and never reaches a layer', () => {
    const t = sb.ok(['from', '--name', 'hosty', 'base:1']);
    const b = bh(['from', '--name', 'hosty', 'base:1']);
    const id = (tInspect(t) as unknown as { ContainerID: string }).ContainerID.slice(0, 12);
    const line = sb.ok(['run', t, '--', 'sh', '-c', 'grep -v localhost /etc/hosts | tail -1']);
    assert.match(line, new RegExp(`^\\S+\\t${id} hosty$`));
    const bid = (bInspect(b) as unknown as { ContainerID: string }).ContainerID.slice(0, 12);
    assert.match(bh(['run', b, '--', 'sh', '-c', 'tail -1 /etc/hosts']), new RegExp(`^\\S+\\t${bid} hosty$`), 'Buildah\'s line, same shape');
    sb.ok(['run', t, '--', 'touch', '/marker']);
    sb.ok(['commit', t, 'hosty:1']);
    sb.ok(['push', 'hosty:1', `oci:${sb.path('hosty')}:x`]);
    assert.deepEqual(layerListing(sb.path('hosty'), 'x', -1).map(([, n]) => n), ['marker'], 'the new layer: the command\'s change only');
  });

  // ---------------------------------------------------------------- config / commit

  test('commit -D and --compression-format: stored as said, refused together', () => {
    const t = sb.ok(['from', 'base:1']);
    const b = bh(['from', 'base:1']);
    sb.ok(['run', t, '--', 'touch', '/one']);
    bh(['run', '--network', 'host', b, '--', 'touch', '/one']);
    sb.ok(['commit', t, 'plain:t']); // tbah stores plain tars by default, as Buildah
    bh(['commit', '-q', b, 'plain:b']); // Buildah's default is -D
    const last = (i: Inspect): string => manifestOf(i).layers.at(-1)!.mediaType;
    assert.equal(last(tInspect('plain:t', 'image')), 'application/vnd.oci.image.layer.v1.tar');
    assert.equal(last(tInspect('plain:t', 'image')), last(bInspect('plain:b', 'image')));
    sb.ok(['run', t, '--', 'touch', '/one-more']); // tbah's commit carries what changed since the last one
    sb.ok(['commit', '--compression-format', 'gzip', t, 'gz:t']); // stored compressed, asked for
    bh(['commit', '-q', '--disable-compression=false', b, 'gz:b']);
    assert.equal(last(tInspect('gz:t', 'image')), last(bInspect('gz:b', 'image')));
    sb.ok(['run', t, '--', 'touch', '/two']);
    sb.ok(['commit', '--compression-format', 'zstd', t, 'zst:t']);
    const zl = manifestOf(tInspect('zst:t', 'image')).layers.at(-1)!;
    assert.equal(zl.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
    assert.equal(spawnSync('zstd', ['-t', '-q', path.join(sb.store, 'blobs', 'sha256', zl.digest.slice(7))]).status, 0);
    sb.ok(['push', 'zst:t', `oci:${sb.path('zst')}:x`]);
    assert.deepEqual(layerListing(sb.path('zst'), 'x', -1).map(([, n]) => n), ['two']);
    const both = sb.run(['commit', '-D', '--compression-format', 'zstd', t]);
    assert.equal(both.status, 125);
    assert.match(both.stderr, /--disable-compression and --compression-format cannot be used together/);
  });

  test('commit --unsetenv, and the identity label (present by default, absent with a fixed time or --identity-label=false)', () => {
    const t = sb.ok(['from', 'base:1']);
    const b = bh(['from', 'base:1']);
    for (const [tool, c] of [['t', t], ['b', b]] as const) {
      const run = tool === 't' ? (a: string[]): string => sb.ok(a) : (a: string[]): string => bh(a);
      run(['config', '--env', 'KEEP=1', '--env', 'DROP=2', '--env', 'ALSO=3', c]);
      run(['commit', '-q', '--unsetenv', 'DROP,ALSO', c, `unset:${tool}`]);
    }
    const env = (i: Inspect): string[] | undefined => i.OCIv1.config?.Env;
    assert.deepEqual(env(tInspect('unset:t', 'image')), env(bInspect('unset:b', 'image')));
    assert.deepEqual(env(tInspect('unset:t', 'image')), ['KEEP=1']);
    assert.deepEqual(env(tInspect(t)), ['KEEP=1', 'DROP=2', 'ALSO=3'], 'the container keeps them');
    const labels = (i: Inspect): Record<string, string> => i.OCIv1.config?.Labels ?? {};
    assert.ok('io.tbah.version' in labels(tInspect('unset:t', 'image')));
    assert.ok('io.buildah.version' in labels(bInspect('unset:b', 'image')));
    sb.ok(['commit', '--no-identity-label', t, 'nolabel:t']);
    bh(['commit', '-q', '--identity-label=false', b, 'nolabel:b']);
    assert.ok(!('io.tbah.version' in labels(tInspect('nolabel:t', 'image'))));
    assert.ok(!('io.buildah.version' in labels(bInspect('nolabel:b', 'image'))));
    // Current Buildah: no label with a fixed time (1.28 still adds it).
    sb.ok(['commit', '--timestamp', '0', t, 'fixed:t']);
    sb.ok(['commit', '--source-date-epoch', '0', t, 'sde:t']);
    assert.ok(!('io.tbah.version' in labels(tInspect('fixed:t', 'image'))));
    assert.ok(!('io.tbah.version' in labels(tInspect('sde:t', 'image'))));
  });

  test('commit --squash leaves one history entry; the first commit on a base says FROM <base>', () => {
    const t = sb.ok(['from', 'base:1']);
    const b = bh(['from', 'base:1']);
    sb.ok(['run', t, '--', 'touch', '/s']);
    bh(['run', '--network', 'host', b, '--', 'touch', '/s']);
    sb.ok(['commit', t, 'first:t']);
    bh(['commit', '-q', b, 'first:b']);
    const last = (i: Inspect): History => i.OCIv1.history!.at(-1)!;
    assert.equal(last(tInspect('first:t', 'image')).comment, last(bInspect('first:b', 'image')).comment);
    assert.equal(last(tInspect('first:t', 'image')).comment, 'FROM localhost/base:1');
    sb.ok(['commit', '--squash', t, 'sq:t']);
    bh(['commit', '-q', '--squash', b, 'sq:b']);
    const th = tInspect('sq:t', 'image').OCIv1.history!;
    assert.equal(th.length, 1);
    assert.equal(th.length, bInspect('sq:b', 'image').OCIv1.history!.length);
    assert.equal(manifestOf(tInspect('sq:t', 'image')).layers.length, 1);
    // A later commit of the same container is no first commit any more.
    sb.ok(['commit', t, 'second:t']);
    assert.equal(last(tInspect('second:t', 'image')).comment, undefined);
  });

  test('commit annotations: --annotation, --unsetannotation (also the generated ones), the created annotation', () => {
    const c = sb.ok(['from', 'base:1']);
    sb.ok(['commit', c, 'ann1']);
    const a1 = manifestOf(tInspect('ann1', 'image')).annotations!;
    assert.equal(a1['org.opencontainers.image.base.name'], 'localhost/base:1');
    assert.match(a1['org.opencontainers.image.base.digest']!, /^sha256:[a-f0-9]{64}$/);
    assert.equal(a1['org.opencontainers.image.created'], tInspect('ann1', 'image').OCIv1.created);
    sb.ok(['commit', '--annotation', 'k=v', '--annotation', 'empty', '--unsetannotation', 'org.opencontainers.image.base.name',
      '--no-created-annotation', c, 'ann2']);
    assert.deepEqual(manifestOf(tInspect('ann2', 'image')).annotations, {
      'org.opencontainers.image.base.digest': a1['org.opencontainers.image.base.digest'], k: 'v', empty: '',
    });
    sb.ok(['config', '--unsetannotation', 'org.opencontainers.image.base.digest', c]);
    sb.ok(['commit', '--unsetannotation', 'org.opencontainers.image.created', c, 'ann3']);
    assert.deepEqual(manifestOf(tInspect('ann3', 'image')).annotations, { 'org.opencontainers.image.base.name': 'localhost/base:1' });
  });

  test('commit --source-date-epoch and --rewrite-timestamp: created time, clamped file times, the same image twice', () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const c = sb.ok(['from', 'base:1']);
      sb.ok(['run', c, '--', 'sh', '-c', 'echo new > /new']);
      ids.push(sb.ok(['commit', '--source-date-epoch', '1000', '--rewrite-timestamp', c, `sde${i}`]));
      const img = tInspect(`sde${i}`, 'image').OCIv1;
      assert.equal(img.created, '1970-01-01T00:16:40Z');
    }
    assert.equal(ids[0], ids[1]);
    sb.ok(['push', 'sde0', `oci:${sb.path('sde')}:x`]);
    // The stored layer (a plain tar; the pushed copy is gzipped and has another digest).
    const out = spawnSync('sh', ['-c', `tar --full-time -tvf ${path.join(sb.store, 'blobs', 'sha256', manifestOf(tInspect('sde0', 'image')).layers.at(-1)!.digest.slice(7))}`], { encoding: 'utf8' }).stdout;
    assert.match(out, /1970-01-01 00:16:40 new/);
    const both = sb.run(['commit', '--timestamp', '1', '--source-date-epoch', '2', sb.ok(['from', 'base:1'])]);
    assert.equal(both.status, 125);
  });
});
