/**
 * The transports a Buildah script uses beside registries and OCI layouts,
 * through the CLI: `dir:` (skopeo's directory format) both ways and in both
 * manifest formats, checked with skopeo and Buildah; `containers-storage:`
 * into and out of a real Buildah store (private, vfs); `pull --all-tags`;
 * and a missing `--authfile` refused for every destination.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sandbox, hasCommand, sh } from '../helpers/cli.js';
import { type TestRegistry, startRegistry } from '../helpers/registry.js';

const BUSYBOX = '/bin/busybox';
const NO_TLS = '--tls-verify=false';
const OCI = 'application/vnd.oci.image.manifest.v1+json';
const V2S2 = 'application/vnd.docker.distribution.manifest.v2+json';
const noBuildah = !hasCommand('buildah') && 'buildah not installed';

interface Manifest { mediaType?: string; config: { digest: string; mediaType: string }; layers: Array<{ digest: string }> }

function build(sb: Sandbox, name: string, file: string, content: string): string {
  writeFileSync(sb.path(file), content);
  const c = sb.ok(['from', 'scratch']);
  sb.ok(['copy', c, BUSYBOX, '/bin/busybox']);
  sb.ok(['copy', c, sb.path(file), `/${file}`]);
  return sb.ok(['commit', '--rm', c, name]);
}

function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
}

describe('dir: transport', () => {
  const sb = new Sandbox('tbah-dir-');
  const bah = `buildah --root ${sb.path('bah/root')} --runroot ${sb.path('bah/run')} --storage-driver vfs`;
  let id = '';

  before(() => {
    id = build(sb, 'app:1', 'hello.txt', 'hello from tbah\n');
  });
  after(() => {
    if (existsSync(sb.path('bah'))) sh(`${bah} rm -a >/dev/null 2>&1 || true; ${bah} rmi -a -f >/dev/null 2>&1 || true`);
    sb.cleanup();
  });

  test('push writes skopeo\'s directory format: version 1.1, manifest.json, blobs by hex digest; skopeo reads and copies it', () => {
    const d = sb.path('out');
    sb.ok(['push', '--digestfile', sb.path('digest'), 'app:1', `dir:${d}`]);
    assert.equal(readFileSync(path.join(d, 'version'), 'utf8'), 'Directory Transport Version: 1.1\n');
    const m = readManifest(d);
    assert.equal(m.mediaType, OCI);
    const hex = (x: string): string => x.slice('sha256:'.length);
    assert.deepEqual(readdirSync(d).sort(), [...m.layers.map((l) => hex(l.digest)), hex(m.config.digest), 'manifest.json', 'version'].sort());
    assert.equal(m.config.digest, `sha256:${id}`);
    const info = JSON.parse(sh(`skopeo inspect dir:${d}`)) as { Digest: string; Layers: string[] };
    assert.equal(info.Digest, readFileSync(sb.path('digest'), 'utf8'));
    assert.deepEqual(info.Layers, m.layers.map((l) => l.digest));
    sh(`skopeo copy -q dir:${d} oci:${sb.path('layout')}:copied`);
    assert.equal((JSON.parse(sh(`skopeo inspect oci:${sb.path('layout')}:copied`)) as { Digest: string }).Digest, info.Digest);
  });

  test('--format v2s2 converts the manifest to Docker schema 2; skopeo agrees', () => {
    const d = sb.path('out-v2s2');
    sb.ok(['push', '--format', 'v2s2', 'app:1', `dir:${d}`]);
    const m = readManifest(d);
    assert.equal(m.mediaType, V2S2);
    assert.equal(m.config.mediaType, 'application/vnd.docker.container.image.v1+json');
    const raw = JSON.parse(sh(`skopeo inspect --raw dir:${d}`)) as Manifest;
    assert.equal(raw.mediaType, V2S2);
    sh(`skopeo copy -q dir:${d} oci:${sb.path('layout')}:from-v2s2`);
  });

  test('pull and from read it back: unnamed, same image; from names the container dir-working-container', () => {
    const other = new Sandbox('tbah-dir-in-');
    try {
      const got = other.ok(['pull', '-q', `dir:${sb.path('out')}`]);
      assert.equal(got, id);
      assert.match(other.ok(['images', '--format', '{{.Name}}:{{.Tag}} {{.ID}}']), new RegExp(`^<none>:<none> ${id.slice(0, 12)}$`));
      const fresh = new Sandbox('tbah-dir-from-');
      try {
        const c = fresh.ok(['from', `dir:${sb.path('out-v2s2')}`]);
        assert.equal(c, 'dir-working-container');
        assert.equal(readFileSync(path.join(fresh.ok(['mount', c]), 'hello.txt'), 'utf8'), 'hello from tbah\n');
      } finally {
        fresh.cleanup();
      }
    } finally {
      other.cleanup();
    }
  });

  test('Buildah reads what tbah wrote, and tbah reads what Buildah wrote', { skip: noBuildah }, () => {
    mkdirSync(sb.path('bah'), { recursive: true });
    const c = sh(`${bah} from -q dir:${sb.path('out')}`).trim();
    assert.equal(readFileSync(path.join(sh(`${bah} mount ${c}`).trim(), 'hello.txt'), 'utf8'), 'hello from tbah\n');
    writeFileSync(sb.path('bah.txt'), 'hello from buildah\n');
    sh(`${bah} copy ${c} ${sb.path('bah.txt')} /bah.txt`);
    sh(`${bah} commit -q ${c} by-buildah`);
    for (const [fmt, mt] of [['oci', OCI], ['v2s2', V2S2]] as const) {
      const d = sb.path(`from-buildah-${fmt}`);
      sh(`${bah} push -q --format ${fmt} by-buildah dir:${d}`);
      assert.equal(readManifest(d).mediaType, mt);
      const other = new Sandbox('tbah-dir-bah-');
      try {
        const ctr = other.ok(['from', `dir:${d}`]);
        const root = other.ok(['mount', ctr]);
        assert.equal(readFileSync(path.join(root, 'bah.txt'), 'utf8'), 'hello from buildah\n');
        assert.equal(readFileSync(path.join(root, 'hello.txt'), 'utf8'), 'hello from tbah\n');
      } finally {
        other.cleanup();
      }
    }
  });

  test('an existing dir: image is replaced; a directory holding anything else is refused untouched', () => {
    const d = sb.path('out');
    const before = readdirSync(d).sort();
    build(sb, 'app:2', 'other.txt', 'a different image\n');
    sb.ok(['push', 'app:2', `dir:${d}`]);
    const after = readdirSync(d).sort();
    assert.notDeepEqual(after, before);
    const m = readManifest(d);
    assert.equal(after.length, m.layers.length + 3, 'only the new image\'s files');
    const precious = sb.path('precious');
    mkdirSync(precious);
    writeFileSync(path.join(precious, 'notes.txt'), 'keep me');
    const r = sb.run(['push', 'app:1', `dir:${precious}`]);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /is not empty and is not a dir: image/);
    assert.deepEqual(readdirSync(precious), ['notes.txt']);
  });
});

describe('containers-storage: transport (a real Buildah store)', { skip: noBuildah }, () => {
  const sb = new Sandbox('tbah-cs-');
  const root = sb.path('cs/root');
  const run = sb.path('cs/run');
  const bah = `buildah --root ${root} --runroot ${run} --storage-driver vfs`;
  const spec = `[vfs@${root}+${run}]`;
  const conf = sb.path('storage.conf');
  let bahId = '';

  before(() => {
    build(sb, 'app:1', 'hello.txt', 'hello from tbah\n');
    mkdirSync(sb.path('cs'), { recursive: true });
    writeFileSync(sb.path('b.txt'), 'made by buildah\n');
    const c = sh(`${bah} from scratch`).trim();
    sh(`${bah} copy ${c} ${BUSYBOX} /bin/busybox`);
    sh(`${bah} copy ${c} ${sb.path('b.txt')} /b.txt`);
    bahId = sh(`${bah} commit -q ${c} bimg`).trim();
    sh(`${bah} rm -a`);
    writeFileSync(conf, `[storage]\ndriver = "vfs"\ngraphroot = "${root}"\nrunroot = "${run}"\n`);
  });
  after(() => {
    sh(`${bah} rm -a >/dev/null 2>&1 || true; ${bah} rmi -a -f >/dev/null 2>&1 || true`);
    sb.cleanup();
  });

  test('pull from a named store: the image keeps its ID and its name', () => {
    const other = new Sandbox('tbah-cs-pull-');
    try {
      assert.equal(other.ok(['pull', '-q', `containers-storage:${spec}bimg`]), bahId);
      assert.match(other.ok(['images', '--format', '{{.Name}}:{{.Tag}} {{.ID}}']), new RegExp(`^localhost/bimg:latest ${bahId.slice(0, 12)}$`));
    } finally {
      other.cleanup();
    }
  });

  test('push into the store: Buildah lists and uses it', () => {
    sb.ok(['push', 'app:1', `containers-storage:${spec}from-tbah:1`]);
    assert.match(sh(`${bah} images --format '{{.Name}}:{{.Tag}}'`), /^localhost\/from-tbah:1$/m);
    const c = sh(`${bah} from -q localhost/from-tbah:1`).trim();
    assert.equal(readFileSync(path.join(sh(`${bah} mount ${c}`).trim(), 'hello.txt'), 'utf8'), 'hello from tbah\n');
    sh(`${bah} rm ${c}`);
  });

  test('the store storage.conf names: pull and push without a specification; from prefers tbah\'s own store', () => {
    const env = { CONTAINERS_STORAGE_CONF: conf };
    const other = new Sandbox('tbah-cs-conf-');
    try {
      assert.equal(other.ok(['pull', '-q', 'containers-storage:bimg'], { env }), bahId);
      // tbah has app:1 itself: from uses it, Buildah's store is not asked.
      const own = build(other, 'app:1', 'own.txt', 'tbah own\n');
      const c = other.ok(['from', 'containers-storage:app:1'], { env });
      assert.equal(JSON.parse(other.ok(['inspect', '--type', 'container', c])).FromImageID, own);
      // Not in tbah's store: from takes it from Buildah's.
      const fresh = new Sandbox('tbah-cs-from-');
      try {
        const c2 = fresh.ok(['from', 'containers-storage:bimg'], { env });
        assert.equal(c2, 'bimg-working-container');
        assert.equal(readFileSync(path.join(fresh.ok(['mount', c2]), 'b.txt'), 'utf8'), 'made by buildah\n');
      } finally {
        fresh.cleanup();
      }
      other.ok(['push', 'app:1', 'containers-storage:via-conf'], { env });
      assert.match(sh(`${bah} images --format '{{.Name}}:{{.Tag}}'`), /^localhost\/via-conf:latest$/m);
    } finally {
      other.cleanup();
    }
  });

  test('no store where storage.conf points, or an unknown image: clear refusals', () => {
    writeFileSync(sb.path('nowhere.conf'), `[storage]\ndriver = "vfs"\ngraphroot = "${sb.path('no-such-store')}"\n`);
    const env = { CONTAINERS_STORAGE_CONF: sb.path('nowhere.conf') };
    for (const args of [['pull', 'containers-storage:bimg'], ['push', 'app:1', 'containers-storage:x']]) {
      const r = sb.run(args, { env });
      assert.equal(r.status, 125);
      assert.match(r.stderr, new RegExp(`no containers-storage store at ${sb.path('no-such-store')}`));
      assert.match(r.stderr, /containers-storage:\[DRIVER@ROOT\+RUNROOT\]NAME/);
    }
    assert.equal(existsSync(sb.path('no-such-store')), false, 'never created');
    const unknown = sb.run(['pull', `containers-storage:${spec}nosuch`]);
    assert.equal(unknown.status, 125);
    assert.match(unknown.stderr, /image not known in the containers-storage store/);
  });
});

describe('pull --all-tags', () => {
  let reg: TestRegistry;
  const sb = new Sandbox('tbah-alltags-');
  before(async () => {
    reg = await startRegistry();
    build(sb, 'one:1', 'a.txt', 'one\n');
    build(sb, 'two:1', 'b.txt', 'two\n');
    for (const [img, tag] of [['one:1', 'v1'], ['two:1', 'v2'], ['one:1', 'latest']]) {
      sb.ok(['push', '-q', NO_TLS, img!, `${reg.host}/at/app:${tag}`]);
    }
  });
  after(async () => {
    await reg?.stop();
    sb.cleanup();
  });

  test('pulls every tag the registry lists and prints the first image\'s ID', async () => {
    const listed = (await (await fetch(`${reg.url}/v2/at/app/tags/list`)).json()) as { tags: string[] };
    const other = new Sandbox('tbah-alltags-in-');
    try {
      const r = await other.runAsync(['pull', '--all-tags', NO_TLS, `${reg.host}/at/app:ignored`]);
      assert.equal(r.status, 0, r.stderr);
      const ids = Object.fromEntries(other.ok(['images', '--format', '{{.Tag}} {{.ID}}']).split('\n').map((l) => l.split(' ')));
      assert.deepEqual(Object.keys(ids).sort(), ['latest', 'v1', 'v2']);
      assert.equal(r.stdout.trim().slice(0, 12), ids[listed.tags[0]!]);
      assert.equal(r.stdout.trim().split('\n').length, 1);
      assert.equal(r.stderr.match(/Trying to pull/g)?.length, 3);
    } finally {
      other.cleanup();
    }
  });

  test('is refused for local transports', () => {
    sb.ok(['push', 'one:1', `oci:${sb.path('l')}:x`]);
    sb.ok(['push', 'one:1', `dir:${sb.path('d')}`]);
    for (const [ref, t] of [[`oci:${sb.path('l')}:x`, 'oci'], [`dir:${sb.path('d')}`, 'dir'], ['docker-archive:/nonexistent.tar', 'docker-archive']]) {
      const r = sb.run(['pull', '-a', ref!]);
      assert.equal(r.status, 125);
      assert.match(r.stderr, new RegExp(`pulling all tags is not supported for ${t} transport`));
    }
  });
});

describe('--authfile that does not exist', () => {
  const sb = new Sandbox('tbah-authfile-');
  before(() => {
    build(sb, 'app:1', 'a.txt', 'a\n');
  });
  after(() => sb.cleanup());

  test('fails push, commit, pull and from for every destination and source, before anything is written', () => {
    const missing = sb.path('no', 'auth.json');
    const dests = [`oci:${sb.path('o')}`, `dir:${sb.path('d')}`, `docker-archive:${sb.path('a.tar')}`, `oci-archive:${sb.path('o.tar')}`, '127.0.0.1:9/x/app:1'];
    for (const dest of dests) {
      const r = sb.run(['push', '--authfile', missing, 'app:1', dest]);
      assert.equal(r.status, 125, dest);
      assert.match(r.stderr, /credential file is not accessible/, dest);
    }
    const c = sb.ok(['from', 'app:1']);
    for (const dest of [`oci:${sb.path('o')}`, 'committed:1']) {
      const r = sb.run(['commit', '--authfile', missing, c, dest]);
      assert.equal(r.status, 125, dest);
      assert.match(r.stderr, /credential file is not accessible/);
    }
    for (const args of [['pull', '--authfile', missing, `oci:${sb.path('o')}`], ['from', '--authfile', missing, 'app:1']]) {
      const r = sb.run(args);
      assert.equal(r.status, 125, args.join(' '));
      assert.match(r.stderr, /credential file is not accessible/);
    }
    for (const p of ['o', 'd', 'a.tar', 'o.tar']) assert.equal(existsSync(sb.path(p)), false, p);
    assert.doesNotMatch(sb.ok(['images', '--format', '{{.Name}}']), /committed/);
  });
});
