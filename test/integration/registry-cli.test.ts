/**
 * Registries end to end through the CLI, against a real CNCF Distribution
 * server on 127.0.0.1: push, pull, from with pull policies, remote inspect,
 * formats and compression, platforms from an index, Basic auth, and interop
 * both ways with skopeo and buildah.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type Server, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sandbox, hasCommand, sh, tbahBin, treeFingerprint } from '../helpers/cli.js';
import { type TestRegistry, startRegistry } from '../helpers/registry.js';

const BUSYBOX = '/bin/busybox';
const NO_TLS = '--tls-verify=false';

interface RawManifest { mediaType: string; config: { digest: string }; layers: Array<{ digest: string; mediaType: string }> }

function skopeoRaw(ref: string, extra: string[] = []): RawManifest {
  return JSON.parse(sh(`skopeo inspect --raw --tls-verify=false ${extra.join(' ')} docker://${ref}`)) as RawManifest;
}

function blobCount(store: string): number {
  return readdirSync(path.join(store, 'blobs', 'sha256')).length;
}

/** A busybox image built from scratch, as a user would, committed as NAME. */
function buildBase(sb: Sandbox, name: string, configFlags: string[] = []): string {
  const c = sb.ok(['from', 'scratch']);
  sb.ok(['copy', c, BUSYBOX, '/bin/busybox']);
  const mnt = sb.ok(['mount', c]);
  symlinkSync('busybox', path.join(mnt, 'bin', 'sh'));
  sb.ok(['config', '--cmd', '["/bin/sh"]', ...configFlags, c]);
  return sb.ok(['commit', '--rm', c, name]);
}

describe('registries through the CLI (docker-registry on 127.0.0.1)', () => {
  let reg: TestRegistry;
  let sb: Sandbox;
  let id: string;

  before(async () => {
    assert.ok(existsSync(BUSYBOX), 'busybox-static must be installed (scripts/install-deps.sh does it)');
    reg = await startRegistry();
    sb = new Sandbox('tbah-regcli-');
    id = buildBase(sb, 'app:1', ['--label', 'stage=base']);
  });
  after(async () => {
    await reg?.stop();
    sb?.cleanup();
  });

  test('push to docker:// and to a name without transport; skopeo reads both; --digestfile holds the manifest digest', () => {
    const r = sb.run(['push', NO_TLS, '--digestfile', sb.path('d1'), 'app:1', `docker://${reg.host}/team/app:1`]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '', 'push prints nothing on stdout');
    assert.match(r.stderr, /Writing manifest to image destination/);
    const digest = readFileSync(sb.path('d1'), 'utf8');
    const info = JSON.parse(sh(`skopeo inspect --tls-verify=false docker://${reg.host}/team/app:1`)) as { Digest: string; Labels: Record<string, string> };
    assert.equal(info.Digest, digest);
    assert.equal(info.Labels['stage'], 'base');
    sb.ok(['push', '-q', NO_TLS, 'app:1', `${reg.host}/team/app:latest`]);
    assert.equal(skopeoRaw(`${reg.host}/team/app:latest`).config.digest, `sha256:${id}`);
    // skopeo can copy it out again, and the copy is a valid image.
    sh(`skopeo copy -q --src-tls-verify=false docker://${reg.host}/team/app:1 oci:${sb.path('sk-layout')}:x`);
    assert.ok(existsSync(sb.path('sk-layout', 'index.json')));
  });

  test('pull into a fresh store: the same image ID and layer digests; stdout is the ID; from then reuses it', () => {
    const other = new Sandbox('tbah-regcli-pull-');
    try {
      const r = other.run(['pull', NO_TLS, `${reg.host}/team/app:1`]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), id);
      const img = JSON.parse(other.ok(['inspect', '--type', 'image', `${reg.host}/team/app:1`])) as { Manifest: string };
      const remote = skopeoRaw(`${reg.host}/team/app:1`);
      assert.deepEqual((JSON.parse(img.Manifest) as RawManifest).layers.map((l) => l.digest), remote.layers.map((l) => l.digest));
      const before = treeFingerprint(path.join(other.store, 'blobs'));
      const c = other.ok(['from', '-q', `${reg.host}/team/app:1`]);
      assert.equal(c, 'app-working-container');
      assert.equal(treeFingerprint(path.join(other.store, 'blobs')), before, 'policy missing: a local image is used as is');
      assert.ok(existsSync(path.join(other.ok(['mount', c]), 'bin', 'busybox')));
    } finally {
      other.cleanup();
    }
  });

  test('from pulls an image that is not local; --pull=never refuses and leaves the store unchanged', () => {
    const other = new Sandbox('tbah-regcli-from-');
    try {
      other.ok(['images']); // create the store
      const fp = treeFingerprint(other.store);
      const never = other.run(['from', '--pull=never', `${reg.host}/team/app:1`]);
      assert.equal(never.status, 125);
      assert.match(never.stderr, /image not known/);
      assert.equal(treeFingerprint(other.store), fp);
      const r = other.run(['from', NO_TLS, `${reg.host}/team/app:1`]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'app-working-container');
      assert.match(r.stderr, new RegExp(`Trying to pull ${reg.host.replace(/\./g, '\\.')}/team/app:1`));
      assert.equal(other.ok(['images', '-q']), id.slice(0, 12));
    } finally {
      other.cleanup();
    }
  });

  test('--pull=newer keeps an unchanged image without transfer and takes a newer one', () => {
    const other = new Sandbox('tbah-regcli-newer-');
    try {
      sb.ok(['push', '-q', NO_TLS, 'app:1', `${reg.host}/moving/app:1`]);
      other.ok(['pull', '-q', NO_TLS, `${reg.host}/moving/app:1`]);
      const same = other.run(['from', '--pull=newer', NO_TLS, `${reg.host}/moving/app:1`]);
      assert.equal(same.status, 0, same.stderr);
      assert.doesNotMatch(same.stderr, /Copying/);
      const id2 = buildBase(sb, 'app:2', ['--label', 'stage=two']);
      sb.ok(['push', '-q', NO_TLS, 'app:2', `${reg.host}/moving/app:1`]);
      const c = other.ok(['from', '-q', '--pull=newer', NO_TLS, `${reg.host}/moving/app:1`]);
      const info = JSON.parse(other.ok(['inspect', c])) as { FromImageID: string };
      assert.equal(info.FromImageID, id2);
      // --pull=always pulls even when present (and prints progress).
      const again = other.run(['pull', NO_TLS, `${reg.host}/moving/app:1`]);
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stderr, /skipped: already exists/);
    } finally {
      other.cleanup();
    }
  });

  test('inspect docker:// reads the manifest and config without pulling', () => {
    const other = new Sandbox('tbah-regcli-inspect-');
    try {
      other.ok(['images']);
      const fp = treeFingerprint(other.store);
      const out = other.ok(['inspect', '--type', 'image', NO_TLS, '--format', '{{.FromImageID}} {{index .OCIv1.config.Labels "stage"}}', `docker://${reg.host}/team/app:1`]);
      assert.equal(out, `${id} base`);
      assert.equal(treeFingerprint(other.store), fp, 'nothing was stored');
    } finally {
      other.cleanup();
    }
  });

  test('a missing tag names the tag; a missing registry is a clear error; the store is unchanged', () => {
    const fp = treeFingerprint(sb.store);
    const r = sb.run(['pull', NO_TLS, `${reg.host}/team/app:nope`]);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /team\/app:nope/);
    assert.match(r.stderr, /not found|unknown/);
    const dead = sb.run(['pull', NO_TLS, '127.0.0.1:1/x/y:1']);
    assert.equal(dead.status, 125);
    assert.match(dead.stderr, /127\.0\.0\.1:1/);
    assert.equal(treeFingerprint(sb.store), fp);
  });

  test('push --format docker writes a Docker schema 2 manifest that skopeo reads', () => {
    sb.ok(['push', '-q', NO_TLS, '--format', 'docker', 'app:1', `${reg.host}/fmt/app:docker`]);
    const m = skopeoRaw(`${reg.host}/fmt/app:docker`);
    assert.equal(m.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(m.layers[0]!.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    const other = new Sandbox('tbah-regcli-v2s2-');
    try {
      assert.equal(other.ok(['pull', '-q', NO_TLS, `${reg.host}/fmt/app:docker`]).length, 64);
    } finally {
      other.cleanup();
    }
  });

  test('push --compression-format zstd: zstd layers; a second push reuses the compressed blob; tbah pulls it back', () => {
    sb.ok(['push', '-q', NO_TLS, '--compression-format', 'zstd', 'app:1', `${reg.host}/z/app:1`]);
    const m = skopeoRaw(`${reg.host}/z/app:1`);
    assert.equal(m.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
    const blobs = blobCount(sb.store);
    sb.ok(['push', '-q', NO_TLS, '--compression-format', 'zstd', 'app:1', `${reg.host}/z2/app:1`]);
    assert.equal(blobCount(sb.store), blobs, 'no second compression');
    assert.deepEqual(skopeoRaw(`${reg.host}/z2/app:1`).layers, m.layers);
    const docker = sb.run(['push', NO_TLS, '--format', 'docker', '--compression-format', 'zstd', 'app:1', `${reg.host}/z3/app:1`]);
    assert.equal(docker.status, 125);
    assert.match(docker.stderr, /zstd.*--format oci|OCI/);
    const other = new Sandbox('tbah-regcli-zstd-');
    try {
      other.ok(['pull', '-q', NO_TLS, `${reg.host}/z/app:1`]);
      const c = other.ok(['from', `${reg.host}/z/app:1`]);
      assert.ok(existsSync(path.join(other.ok(['mount', c]), 'bin', 'busybox')));
    } finally {
      other.cleanup();
    }
  });

  test('a push to another repository of the same registry sends no layer bytes (mount or skip)', () => {
    const r = sb.run(['push', NO_TLS, 'app:1', `${reg.host}/elsewhere/app:1`]);
    assert.equal(r.status, 0, r.stderr);
    const layerLines = r.stderr.split('\n').filter((l) => l.startsWith('Copying blob'));
    assert.ok(layerLines.length > 0);
    for (const l of layerLines) assert.match(l, /mounted from another repository|skipped: already exists/);
  });

  test('an index: the host platform by default, --platform or --arch to choose, a clear error for a platform it lacks', async () => {
    const armId = buildBase(sb, 'app-arm:1', ['--arch', 'arm64', '--variant', 'v8']);
    sb.ok(['push', '-q', NO_TLS, 'app:1', `${reg.host}/multi/app:amd64`]);
    sb.ok(['push', '-q', NO_TLS, 'app-arm:1', `${reg.host}/multi/app:arm64`]);
    const entry = async (tag: string, platform: Record<string, string>): Promise<Record<string, unknown>> => {
      const res = await fetch(`http://${reg.host}/v2/multi/app/manifests/${tag}`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
      const bytes = Buffer.from(await res.arrayBuffer());
      const { createHash } = await import('node:crypto');
      return { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length, platform };
    };
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        await entry('arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' }),
        await entry('amd64', { os: 'linux', architecture: 'amd64' }),
      ],
    };
    const put = await fetch(`http://${reg.host}/v2/multi/app/manifests/latest`, {
      method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' }, body: JSON.stringify(index),
    });
    assert.equal(put.status, 201);
    const other = new Sandbox('tbah-regcli-multi-');
    try {
      assert.equal(other.ok(['pull', '-q', NO_TLS, `${reg.host}/multi/app:latest`]), id);
      assert.equal(other.ok(['pull', '-q', NO_TLS, '--platform', 'linux/arm64', `${reg.host}/multi/app:latest`]), armId);
      assert.equal(other.ok(['pull', '-q', NO_TLS, '--arch', 'arm64', `${reg.host}/multi/app:latest`]), armId);
      const bad = other.run(['pull', '-q', NO_TLS, '--arch', 's390x', `${reg.host}/multi/app:latest`]);
      assert.equal(bad.status, 125);
      assert.match(bad.stderr, /linux\/s390x.*linux\/arm64\/v8, linux\/amd64/);
      const badFlag = other.run(['pull', '--platform', 'linux', `${reg.host}/multi/app:latest`]);
      assert.equal(badFlag.status, 125);
      assert.match(badFlag.stderr, /--platform linux: expected OS\/ARCH/);
    } finally {
      other.cleanup();
    }
  });

  test('interop: an image skopeo copies into the registry pulls with identical layer digests', () => {
    sb.ok(['push', '-q', 'app:1', `oci:${sb.path('to-skopeo')}:app`]);
    sh(`skopeo copy -q --dest-tls-verify=false --format v2s2 oci:${sb.path('to-skopeo')}:app docker://${reg.host}/by-skopeo/app:1`);
    const remote = skopeoRaw(`${reg.host}/by-skopeo/app:1`);
    const other = new Sandbox('tbah-regcli-sk-');
    try {
      other.ok(['pull', '-q', NO_TLS, `${reg.host}/by-skopeo/app:1`]);
      const img = JSON.parse(other.ok(['inspect', '--type', 'image', `${reg.host}/by-skopeo/app:1`])) as { Manifest: string; ManifestType: string };
      assert.equal(img.ManifestType, 'application/vnd.docker.distribution.manifest.v2+json');
      assert.deepEqual((JSON.parse(img.Manifest) as RawManifest).layers.map((l) => l.digest), remote.layers.map((l) => l.digest));
    } finally {
      other.cleanup();
    }
  });

  test('interop with buildah: buildah runs what tbah pushed; tbah pulls what buildah pushed', { skip: !hasCommand('buildah') && 'buildah not installed' }, () => {
    const root = sb.path('buildah');
    mkdirSync(root);
    const b = `buildah --root ${root}/root --runroot ${root}/run --storage-driver vfs`;
    const c = sh(`${b} from -q --tls-verify=false docker://${reg.host}/team/app:1`).trim();
    assert.equal(sh(`${b} run --isolation chroot ${c} -- /bin/busybox echo hi`).trim(), 'hi');
    sh(`${b} commit -q ${c} bh:1`);
    sh(`${b} push -q --tls-verify=false bh:1 docker://${reg.host}/by-buildah/app:1`);
    const remote = skopeoRaw(`${reg.host}/by-buildah/app:1`);
    const other = new Sandbox('tbah-regcli-bh-');
    try {
      const got = other.ok(['pull', '-q', NO_TLS, `${reg.host}/by-buildah/app:1`]);
      assert.equal(`sha256:${got}`, remote.config.digest);
      const img = JSON.parse(other.ok(['inspect', '--type', 'image', `${reg.host}/by-buildah/app:1`])) as { Manifest: string };
      assert.deepEqual((JSON.parse(img.Manifest) as RawManifest).layers.map((l) => l.digest), remote.layers.map((l) => l.digest));
    } finally {
      other.cleanup();
      sh(`${b} rm -a >/dev/null 2>&1 || true; ${b} rmi -a -f >/dev/null 2>&1 || true`);
    }
  });
});

describe('registry authentication through the CLI (htpasswd)', () => {
  const user = { name: 'builder', password: 'S3cret-Pa55' };
  let reg: TestRegistry;
  let sb: Sandbox;

  before(async () => {
    reg = await startRegistry({ user });
    sb = new Sandbox('tbah-regauth-');
    buildBase(sb, 'app:1');
  });
  after(async () => {
    await reg?.stop();
    sb?.cleanup();
  });

  test('without credentials: unauthorized with a login hint; the store is unchanged', () => {
    const fp = treeFingerprint(sb.store);
    const r = sb.run(['pull', NO_TLS, `${reg.host}/team/app:1`], { env: { REGISTRY_AUTH_FILE: sb.path('none.json'), HOME: sb.dir, XDG_RUNTIME_DIR: sb.dir } });
    assert.equal(r.status, 125);
    assert.match(r.stderr, /unauthorized|authentication/i);
    assert.match(r.stderr, /tbah login/);
    assert.equal(treeFingerprint(sb.store), fp);
  });

  test('--creds pushes and pulls; a wrong password fails without printing it', () => {
    const env = { HOME: sb.dir, XDG_RUNTIME_DIR: sb.dir, REGISTRY_AUTH_FILE: undefined };
    sb.ok(['push', '-q', NO_TLS, '--creds', `${user.name}:${user.password}`, 'app:1', `${reg.host}/team/app:1`], { env });
    const other = new Sandbox('tbah-regauth-pull-');
    try {
      assert.equal(other.ok(['pull', '-q', NO_TLS, '--creds', `${user.name}:${user.password}`, `${reg.host}/team/app:1`], { env }).length, 64);
      const bad = other.run(['pull', NO_TLS, '--creds', `${user.name}:Wrong-Secret-1`, `${reg.host}/team/app:1`], { env });
      assert.equal(bad.status, 125);
      assert.doesNotMatch(bad.stdout + bad.stderr, /Wrong-Secret-1/);
      assert.match(bad.stderr, /unauthorized/i);
      const noPass = other.run(['pull', NO_TLS, '--creds', user.name, `${reg.host}/team/app:1`], { env });
      assert.equal(noPass.status, 125);
      assert.match(noPass.stderr, /--creds: no password/);
    } finally {
      other.cleanup();
    }
  });

  test('--authfile with an auth.json entry; a missing --authfile is a clear error', () => {
    const file = sb.path('auth.json');
    writeFileSync(file, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${user.name}:${user.password}`).toString('base64') } } }));
    const other = new Sandbox('tbah-regauth-file-');
    try {
      assert.equal(other.ok(['pull', '-q', NO_TLS, '--authfile', file, `${reg.host}/team/app:1`]).length, 64);
      const missing = other.run(['pull', NO_TLS, '--authfile', sb.path('nope.json'), `${reg.host}/team/app:1`]);
      assert.equal(missing.status, 125);
      assert.match(missing.stderr, /nope\.json: credential file is not accessible/);
      // REGISTRY_AUTH_FILE is read the same way.
      assert.equal(other.ok(['from', '-q', '--pull=always', NO_TLS, `${reg.host}/team/app:1`], { env: { REGISTRY_AUTH_FILE: file } }), 'app-working-container');
    } finally {
      other.cleanup();
    }
  });
});

describe('an interrupted pull leaves nothing visible', () => {
  let reg: TestRegistry;
  let sb: Sandbox;
  let proxy: Server;
  let proxyHost: string;
  let blobRequested: () => void;
  const sawBlob = new Promise<void>((r) => { blobRequested = r; });

  before(async () => {
    reg = await startRegistry();
    sb = new Sandbox('tbah-regint-');
    const c = sb.ok(['from', 'scratch']);
    writeFileSync(sb.path('big'), randomBytes(8 << 20)); // incompressible: the layer is ~8 MiB
    sb.ok(['copy', c, sb.path('big'), '/big']);
    sb.ok(['commit', '--rm', c, 'big:1']);
    sb.ok(['push', '-q', NO_TLS, 'big:1', `${reg.host}/big/app:1`]);
    // A proxy that sends the first 1 MiB of any large blob and then stalls, so the pull is caught mid-layer.
    proxy = createServer((req, res) => {
      const up = httpRequest(`http://${reg.host}${req.url}`, { method: req.method, headers: req.headers }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        const big = /\/blobs\/sha256:/.test(req.url ?? '') && Number(ur.headers['content-length'] ?? 0) > (2 << 20);
        if (!big) {
          ur.pipe(res);
          return;
        }
        let sent = 0;
        ur.on('data', (chunk: Buffer) => {
          if (sent >= 1 << 20) {
            ur.pause();
            blobRequested();
            return;
          }
          sent += chunk.length;
          res.write(chunk);
        });
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    proxyHost = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  after(async () => {
    proxy?.closeAllConnections();
    await new Promise((r) => proxy?.close(r));
    await reg?.stop();
    sb?.cleanup();
  });

  test('SIGINT mid-layer: non-zero exit, no image, no layer blob; the next pull completes', async () => {
    const other = new Sandbox('tbah-regint-pull-');
    try {
      other.ok(['images']);
      const child = spawn(process.execPath, [tbahBin, 'pull', NO_TLS, `${proxyHost}/big/app:1`], {
        env: { ...process.env, TBAH_ROOT: other.store, NO_COLOR: '1' }, stdio: 'ignore',
      });
      const exited = new Promise<number | string>((r) => child.on('exit', (code, sig) => r(code ?? sig ?? -1)));
      await sawBlob;
      child.kill('SIGINT');
      const status = await exited;
      assert.notEqual(status, 0);
      assert.equal(other.ok(['images', '-q']), '', 'no image is listed');
      const layer = skopeoRaw(`${reg.host}/big/app:1`).layers[0]!.digest;
      assert.ok(!existsSync(path.join(other.store, 'blobs', 'sha256', layer.slice(7))), 'no partial layer blob under its digest');
      const r = other.run(['pull', '-q', NO_TLS, `${reg.host}/big/app:1`]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(other.ok(['images', '-q']).length, 12);
    } finally {
      other.cleanup();
    }
  });
});
