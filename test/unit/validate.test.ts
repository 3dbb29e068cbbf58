/**
 * Tests for the independent image validator (test/helpers/validate.ts). Fixtures
 * are assembled by hand here — GNU tar for layer contents, zlib for gzip, digests
 * computed in the test — then corrupted one fault at a time.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { validateDockerArchive, validateOciArchive, validateOciLayout } from '../helpers/validate.js';

const OCI = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};
const DOCKER = {
  manifest: 'application/vnd.docker.distribution.manifest.v2+json',
  config: 'application/vnd.docker.container.image.v1+json',
  layerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
};
const REF = 'org.opencontainers.image.ref.name';
const LONG = `deep/${'a'.repeat(120)}.txt`; // > 100 bytes: needs a GNU long name or a PAX path

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hex = (d: string) => d.slice('sha256:'.length);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

let tmp: string;
let rootfs: string;
let gnuTar: Buffer; // GNU-format layer (long name via 'L' records)
let paxTar: Buffer; // PAX-format layer (long name via 'x' records)
let n = 0;
const fresh = () => {
  const d = path.join(tmp, `case-${++n}`);
  mkdirSync(d);
  return d;
};

function tarOf(dir: string, format: 'gnu' | 'pax'): Buffer {
  return execFileSync('tar', ['-cf', '-', `--format=${format}`, '--sort=name', '--numeric-owner', '--owner=0', '--group=0',
    '--mtime=@0', '-C', dir, 'etc', 'hello.txt', 'deep', 'link'], { maxBuffer: 16 << 20 });
}
/** What GNU tar itself lists for a tar: the reference for `entries`. */
function gnuList(tar: Buffer): string[] {
  return execFileSync('tar', ['-tf', '-'], { input: tar }).toString('utf8').split('\n').filter(Boolean);
}

before(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'tbah-validate-test-'));
  rootfs = path.join(tmp, 'rootfs');
  mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
  mkdirSync(path.join(rootfs, 'deep'));
  writeFileSync(path.join(rootfs, 'etc', 'os-release'), 'ID=fixture\n');
  writeFileSync(path.join(rootfs, 'hello.txt'), 'hello\n');
  writeFileSync(path.join(rootfs, LONG), 'long\n');
  symlinkSync('hello.txt', path.join(rootfs, 'link'));
  gnuTar = tarOf(rootfs, 'gnu');
  paxTar = tarOf(rootfs, 'pax');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

// ------------------------------------------------------------ OCI layout fixture

interface LayerInput { tar: Buffer; blob?: Buffer; mediaType?: string }
interface Built { dir: string; manifestDigest: string; configDigest: string; layerDigests: string[]; diffIds: string[] }
interface Edits {
  config?: (c: any) => void;
  manifest?: (m: any) => void;
  index?: (i: any) => void;
  manifestMediaType?: string;
  configMediaType?: string;
}

function writeBlob(dir: string, data: Buffer | string): { digest: string; size: number } {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  const digest = sha256(buf);
  mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(path.join(dir, 'blobs', 'sha256', hex(digest)), buf);
  return { digest, size: buf.length };
}

/** Write one image into `dir` (adding to an existing index if present); edits apply before digests are taken. */
function buildOci(dir: string, layers: LayerInput[] = [{ tar: gnuTar }], edits: Edits = {}, ref?: string): Built {
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const diffIds = layers.map((l) => sha256(l.tar));
  const layerDescs = layers.map((l) => {
    const blob = l.blob ?? gzipSync(l.tar);
    return { mediaType: l.mediaType ?? OCI.layerGzip, ...writeBlob(dir, blob) };
  });
  const config: any = {
    created: '1970-01-01T00:00:00Z', architecture: 'amd64', os: 'linux',
    config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: [...layers.map(() => ({ created_by: 'COPY . /' })), { created_by: 'CMD', empty_layer: true }],
  };
  edits.config?.(config);
  const cfg = writeBlob(dir, JSON.stringify(config));
  const manifestMediaType = edits.manifestMediaType ?? OCI.manifest;
  const manifest: any = {
    schemaVersion: 2, mediaType: manifestMediaType,
    config: { mediaType: edits.configMediaType ?? OCI.config, ...cfg },
    layers: layerDescs,
  };
  edits.manifest?.(manifest);
  const man = writeBlob(dir, JSON.stringify(manifest));
  const indexFile = path.join(dir, 'index.json');
  let index: any;
  try {
    index = JSON.parse(readFileSync(indexFile, 'utf8'));
  } catch {
    index = { schemaVersion: 2, mediaType: OCI.index, manifests: [] };
  }
  index.manifests.push({ mediaType: manifestMediaType, ...man, ...(ref ? { annotations: { [REF]: ref } } : {}) });
  edits.index?.(index);
  writeFileSync(indexFile, JSON.stringify(index));
  return { dir, manifestDigest: man.digest, configDigest: cfg.digest, layerDigests: layerDescs.map((l) => l.digest), diffIds };
}

const blobPath = (dir: string, digest: string) => path.join(dir, 'blobs', 'sha256', hex(digest));

describe('validateOciLayout', () => {
  it('accepts a hand-built image and reports digests, sizes and tar entries', async () => {
    const b = buildOci(fresh());
    const img = await validateOciLayout(b.dir);
    assert.equal(img.manifestDigest, b.manifestDigest);
    assert.equal(img.configDigest, b.configDigest);
    assert.equal(img.config.os, 'linux');
    assert.equal(img.manifest.layers.length, 1);
    assert.equal(img.layers.length, 1);
    const [l] = img.layers;
    assert.equal(l!.digest, b.layerDigests[0]);
    assert.equal(l!.diffId, sha256(gnuTar));
    assert.equal(l!.size, gzipSync(gnuTar).length);
    assert.equal(l!.mediaType, OCI.layerGzip);
    assert.deepEqual(l!.entries, gnuList(gnuTar));
    assert.ok(l!.entries.includes(LONG), 'GNU long name is resolved');
    assert.ok(l!.entries.includes('etc/os-release'));
  });

  it('lists PAX-format layers exactly as GNU tar does', async () => {
    const b = buildOci(fresh(), [{ tar: paxTar }]);
    const img = await validateOciLayout(b.dir);
    assert.deepEqual(img.layers[0]!.entries, gnuList(paxTar));
    assert.ok(img.layers[0]!.entries.includes(LONG));
  });

  it('accepts uncompressed and multi-layer images; history empty_layer entries are not counted', async () => {
    const second = execFileSync('tar', ['-cf', '-', '-C', rootfs, 'hello.txt']);
    const b = buildOci(fresh(), [{ tar: gnuTar, blob: gnuTar, mediaType: OCI.layer }, { tar: second }]);
    const img = await validateOciLayout(b.dir);
    assert.equal(img.layers[0]!.digest, img.layers[0]!.diffId, 'uncompressed: digest is the diff_id');
    assert.deepEqual(img.layers[1]!.entries, ['hello.txt']);
    assert.equal(img.config.history.length, 3);
  });

  it('checks zstd layers with the zstd CLI', { skip: !has('zstd') && 'zstd not installed' }, async () => {
    const blob = execFileSync('zstd', ['-q', '-c'], { input: gnuTar });
    const b = buildOci(fresh(), [{ tar: gnuTar, blob, mediaType: OCI.layerZstd }]);
    const img = await validateOciLayout(b.dir);
    assert.equal(img.layers[0]!.diffId, sha256(gnuTar));
    assert.deepEqual(img.layers[0]!.entries, gnuList(gnuTar));
  });

  it('selects by ref name and refuses ambiguity', async () => {
    const dir = fresh();
    const v1 = buildOci(dir, [{ tar: gnuTar }], {}, 'v1');
    const v2 = buildOci(dir, [{ tar: paxTar }], {}, 'v2');
    assert.equal((await validateOciLayout(dir, 'v1')).manifestDigest, v1.manifestDigest);
    assert.equal((await validateOciLayout(dir, 'v2')).manifestDigest, v2.manifestDigest);
    await assert.rejects(validateOciLayout(dir), /index\.json holds 2 manifests; expected exactly one \(or pass a ref\)/);
    await assert.rejects(validateOciLayout(dir, 'v3'), /no index\.json entry has org\.opencontainers\.image\.ref\.name="v3" \(present: \["v1","v2"\]\)/);
  });

  it('flipped byte in a layer blob: digest mismatch', async () => {
    const b = buildOci(fresh());
    const p = blobPath(b.dir, b.layerDigests[0]!);
    const buf = readFileSync(p);
    buf[buf.length >> 1]! ^= 0xff;
    writeFileSync(p, buf);
    await assert.rejects(validateOciLayout(b.dir),
      new RegExp(`layer 0 \\(${b.layerDigests[0]}\\): blob content hashes to sha256:[0-9a-f]{64}, not the descriptor digest`));
  });

  it('flipped byte in the config blob: digest mismatch names the config', async () => {
    const b = buildOci(fresh());
    const p = blobPath(b.dir, b.configDigest);
    writeFileSync(p, readFileSync(p, 'utf8').replace('amd64', 'arm64'));
    await assert.rejects(validateOciLayout(b.dir), new RegExp(`config ${b.configDigest}: blob content hashes to sha256:`));
  });

  it('descriptor size differs from the blob: size mismatch', async () => {
    const size = gzipSync(gnuTar).length;
    const b = buildOci(fresh(), undefined, { manifest: (m) => (m.layers[0].size += 1) });
    await assert.rejects(validateOciLayout(b.dir), new RegExp(`layer 0 \\(sha256:[0-9a-f]+\\): blob is ${size} bytes but the descriptor says ${size + 1}`));
  });

  it('manifest size in index.json is wrong', async () => {
    const b = buildOci(fresh(), undefined, { index: (i) => (i.manifests[0].size = 3) });
    await assert.rejects(validateOciLayout(b.dir), new RegExp(`manifest ${b.manifestDigest}: blob is \\d+ bytes but the descriptor says 3`));
  });

  it('wrong diff_id in the config', async () => {
    const bogus = sha256('not the layer');
    const b = buildOci(fresh(), undefined, { config: (c) => (c.rootfs.diff_ids[0] = bogus) });
    await assert.rejects(validateOciLayout(b.dir),
      new RegExp(`layer 0 \\(sha256:[0-9a-f]+\\): uncompressed tar hashes to ${sha256(gnuTar)} but config rootfs\\.diff_ids\\[0\\] is ${bogus}`));
  });

  it('missing blobs: layer, config, manifest', async () => {
    for (const which of ['layer', 'config', 'manifest'] as const) {
      const b = buildOci(fresh());
      const d = which === 'layer' ? b.layerDigests[0]! : which === 'config' ? b.configDigest : b.manifestDigest;
      unlinkSync(blobPath(b.dir, d));
      await assert.rejects(validateOciLayout(b.dir), new RegExp(`${esc(d)}\\)?: blob missing at blobs/sha256/${hex(d)}`), which);
    }
  });

  it('history count differs from the layer count', async () => {
    const b = buildOci(fresh(), undefined, { config: (c) => c.history.push({ created_by: 'RUN true' }) });
    await assert.rejects(validateOciLayout(b.dir), /history has 2 entries without empty_layer but the image has 1 layers/);
  });

  it('config structure: diff_ids count, rootfs.type, architecture/os', async () => {
    const cases: [Edits['config'], RegExp][] = [
      [(c) => c.rootfs.diff_ids.push(sha256('x')), /rootfs\.diff_ids has 2 entries but the image has 1 layers/],
      [(c) => (c.rootfs.type = 'tar'), /rootfs\.type is "tar", expected "layers"/],
      [(c) => delete c.architecture, /: architecture is missing or empty/],
      [(c) => (c.os = ''), /: os is missing or empty/],
      [(c) => (c.rootfs.diff_ids[0] = 'md5:abc'), /rootfs\.diff_ids\[0\] "md5:abc" is not a sha256 digest/],
    ];
    for (const [edit, re] of cases) {
      const b = buildOci(fresh(), undefined, { config: edit });
      await assert.rejects(validateOciLayout(b.dir), re);
    }
  });

  it('layout files: oci-layout version, index schemaVersion and mediaType', async () => {
    let b = buildOci(fresh());
    writeFileSync(path.join(b.dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
    await assert.rejects(validateOciLayout(b.dir), /oci-layout is \{"imageLayoutVersion":"2\.0\.0"\}, expected \{"imageLayoutVersion":"1\.0\.0"\}/);
    b = buildOci(fresh());
    unlinkSync(path.join(b.dir, 'oci-layout'));
    await assert.rejects(validateOciLayout(b.dir), /oci-layout: missing or unreadable \(ENOENT\)/);
    b = buildOci(fresh(), undefined, { index: (i) => (i.schemaVersion = 1) });
    await assert.rejects(validateOciLayout(b.dir), /index\.json schemaVersion is 1, expected 2/);
    b = buildOci(fresh(), undefined, { index: (i) => (i.mediaType = DOCKER.manifest) });
    await assert.rejects(validateOciLayout(b.dir), /index\.json mediaType is "application\/vnd\.docker\.distribution\.manifest\.v2\+json", expected application\/vnd\.oci\.image\.index\.v1\+json/);
    b = buildOci(fresh(), undefined, { index: (i) => (i.manifests[0].digest = 'sha256:XYZ') });
    await assert.rejects(validateOciLayout(b.dir), /index\.json manifests\[0\] digest "sha256:XYZ" is not a valid sha256\/sha512 digest/);
  });

  it('media types must belong to one family', async () => {
    let b = buildOci(fresh(), undefined, { configMediaType: DOCKER.config });
    await assert.rejects(validateOciLayout(b.dir), /config mediaType application\/vnd\.docker\.container\.image\.v1\+json does not belong with manifest type application\/vnd\.oci\.image\.manifest\.v1\+json/);
    b = buildOci(fresh(), [{ tar: gnuTar, mediaType: DOCKER.layerGzip }]);
    await assert.rejects(validateOciLayout(b.dir), /layers\[0\] mediaType application\/vnd\.docker\.image\.rootfs\.diff\.tar\.gzip does not belong with manifest type application\/vnd\.oci/);
    b = buildOci(fresh(), [{ tar: gnuTar, mediaType: OCI.layerGzip }], { manifestMediaType: DOCKER.manifest, configMediaType: DOCKER.config });
    await assert.rejects(validateOciLayout(b.dir), /layers\[0\] mediaType application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip does not belong with manifest type application\/vnd\.docker/);
    b = buildOci(fresh(), undefined, { manifest: (m) => (m.mediaType = DOCKER.manifest) });
    await assert.rejects(validateOciLayout(b.dir), /mediaType "application\/vnd\.docker\.distribution\.manifest\.v2\+json" differs from the index descriptor's application\/vnd\.oci\.image\.manifest\.v1\+json/);
    // A consistent Docker schema2 image inside an OCI layout is fine.
    b = buildOci(fresh(), [{ tar: gnuTar, mediaType: DOCKER.layerGzip }], { manifestMediaType: DOCKER.manifest, configMediaType: DOCKER.config });
    assert.equal((await validateOciLayout(b.dir)).layers[0]!.diffId, sha256(gnuTar));
  });

  it('blob content that does not match the layer media type', async () => {
    let b = buildOci(fresh(), [{ tar: gnuTar, blob: gnuTar, mediaType: OCI.layerGzip }]);
    await assert.rejects(validateOciLayout(b.dir), /layer 0 \(sha256:[0-9a-f]+\): cannot gunzip the blob: /);
    b = buildOci(fresh(), [{ tar: gnuTar, mediaType: OCI.layer }]);
    await assert.rejects(validateOciLayout(b.dir), /media type says uncompressed tar but the blob starts with gzip\/zstd magic/);
  });

  it('broken tar inside a layer: missing end marker, bad header checksum, truncation', async () => {
    let end = gnuTar.length;
    while (end >= 512 && gnuTar.subarray(end - 512, end).every((x) => x === 0)) end -= 512;
    const noEnd = gnuTar.subarray(0, end);
    let b = buildOci(fresh(), [{ tar: noEnd }]);
    await assert.rejects(validateOciLayout(b.dir), /tar stream ends without the end-of-archive marker \(two zero blocks\) after \d+ entries/);

    const badSum = Buffer.from(gnuTar);
    badSum[0]! ^= 0x01; // first header's name byte
    b = buildOci(fresh(), [{ tar: badSum }]);
    await assert.rejects(validateOciLayout(b.dir), /tar record ending at offset 512 \(after entry "\(none\)"\): checksum \d+ does not match computed \d+/);

    b = buildOci(fresh(), [{ tar: gnuTar.subarray(0, 512 + 100) }]); // first header + part of its data
    await assert.rejects(validateOciLayout(b.dir), /tar stream is truncated/);
  });
});

describe('validateOciArchive', () => {
  it('validates a tar of a layout and names the archive in errors', async () => {
    const b = buildOci(fresh(), undefined, {}, 'latest');
    const archive = path.join(tmp, `img-${n}.tar`);
    execFileSync('tar', ['-cf', archive, '-C', b.dir, '.']);
    const img = await validateOciArchive(archive, 'latest');
    assert.equal(img.manifestDigest, b.manifestDigest);
    assert.deepEqual(img.layers[0]!.entries, gnuList(gnuTar));

    unlinkSync(blobPath(b.dir, b.configDigest));
    const broken = path.join(tmp, `broken-${n}.tar`);
    execFileSync('tar', ['-cf', broken, '-C', b.dir, '.']);
    await assert.rejects(validateOciArchive(broken), new RegExp(`^Error: oci-archive ${esc(broken)}: config ${b.configDigest}: blob missing`));
  });

  it('rejects a file that is not a tar', async () => {
    const f = path.join(fresh(), 'junk.tar');
    writeFileSync(f, 'definitely not a tar archive, just text that goes on'.repeat(20));
    await assert.rejects(validateOciArchive(f), new RegExp(`oci-archive ${esc(f)}: GNU tar cannot extract it`));
  });
});

// ------------------------------------------------------------ docker-archive fixture

interface DockerEdits {
  config?: (c: any) => void;
  entry?: (e: any) => void;
  repositories?: any;
  layerFile?: (dir: string, rel: string) => void;
}

/** A `docker save`-style archive: <config-hex>.json, <id>/layer.tar, manifest.json, repositories. */
function buildDockerArchive(edits: DockerEdits = {}, tags = ['example.com/demo:1.0']): { file: string; configDigest: string } {
  const dir = fresh();
  const layerId = hex(sha256(gnuTar)); // any id does; docker uses a v1 chain id
  mkdirSync(path.join(dir, layerId));
  writeFileSync(path.join(dir, layerId, 'layer.tar'), gnuTar);
  writeFileSync(path.join(dir, layerId, 'VERSION'), '1.0');
  const config: any = {
    architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: [sha256(gnuTar)] },
    history: [{ created_by: 'COPY . /' }],
  };
  edits.config?.(config);
  const cfgBuf = Buffer.from(JSON.stringify(config));
  const configDigest = sha256(cfgBuf);
  writeFileSync(path.join(dir, `${hex(configDigest)}.json`), cfgBuf);
  const entry: any = { Config: `${hex(configDigest)}.json`, RepoTags: tags, Layers: [`${layerId}/layer.tar`] };
  edits.entry?.(entry);
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify([entry]));
  const repos = edits.repositories ?? { 'example.com/demo': { '1.0': layerId } };
  if (repos !== null) writeFileSync(path.join(dir, 'repositories'), JSON.stringify(repos));
  edits.layerFile?.(dir, `${layerId}/layer.tar`);
  const file = `${dir}.tar`;
  execFileSync('tar', ['-cf', file, '-C', dir, ...readdirSync(dir).sort()]);
  return { file, configDigest };
}

describe('validateDockerArchive', () => {
  it('accepts a hand-built docker-archive, with or without a tag', async () => {
    const { file, configDigest } = buildDockerArchive();
    for (const img of [await validateDockerArchive(file, 'example.com/demo:1.0'), await validateDockerArchive(file)]) {
      assert.equal(img.configDigest, configDigest);
      assert.equal(img.manifestDigest, '');
      assert.deepEqual(img.manifest.RepoTags, ['example.com/demo:1.0']);
      assert.equal(img.layers.length, 1);
      assert.equal(img.layers[0]!.diffId, sha256(gnuTar));
      assert.equal(img.layers[0]!.digest, sha256(gnuTar));
      assert.equal(img.layers[0]!.size, gnuTar.length);
      assert.deepEqual(img.layers[0]!.entries, gnuList(gnuTar));
    }
  });

  it('matches docker.io short names both ways', async () => {
    const { file } = buildDockerArchive({ repositories: { busybox: { latest: 'x' } } }, ['busybox:latest']);
    assert.equal((await validateDockerArchive(file, 'docker.io/library/busybox:latest')).layers.length, 1);
  });

  it('layer content differs from the diff_id', async () => {
    const other = execFileSync('tar', ['-cf', '-', '-C', rootfs, 'hello.txt']);
    const { file } = buildDockerArchive({ layerFile: (d, rel) => writeFileSync(path.join(d, rel), other) });
    await assert.rejects(validateDockerArchive(file),
      new RegExp(`layer 0 \\([0-9a-f]{64}/layer\\.tar\\) hashes to ${sha256(other)} but config rootfs\\.diff_ids\\[0\\] is ${sha256(gnuTar)}`));
  });

  it('config file content does not match its name', async () => {
    const { file } = buildDockerArchive({ entry: (e) => (e.Config = `${'0'.repeat(64)}.json`), layerFile: (d) => {
      const real = readdirSync(d).find((f) => f.endsWith('.json') && f !== 'manifest.json')!;
      writeFileSync(path.join(d, `${'0'.repeat(64)}.json`), readFileSync(path.join(d, real)));
    } });
    await assert.rejects(validateDockerArchive(file), new RegExp(`Config ${'0'.repeat(64)}\\.json hashes to sha256:[0-9a-f]{64}, which does not match its name`));
    const bad = buildDockerArchive({ entry: (e) => (e.Config = 'config.json') });
    await assert.rejects(validateDockerArchive(bad.file), /Config: config\.json is missing from the archive/);
  });

  it('requested tag missing from RepoTags; RepoTags null', async () => {
    const { file } = buildDockerArchive();
    await assert.rejects(validateDockerArchive(file, 'example.com/demo:2.0'),
      /no manifest\.json entry has RepoTags containing "example\.com\/demo:2\.0" \(RepoTags: \["example\.com\/demo:1\.0"\]\)/);
    const untagged = buildDockerArchive({ entry: (e) => (e.RepoTags = null), repositories: null });
    await assert.rejects(validateDockerArchive(untagged.file, 'example.com/demo:1.0'), /RepoTags: \[\]/);
    assert.equal((await validateDockerArchive(untagged.file)).layers.length, 1);
  });

  it('repositories must list the requested tag', async () => {
    const { file } = buildDockerArchive({ repositories: { 'example.com/demo': { other: 'x' } } });
    await assert.rejects(validateDockerArchive(file, 'example.com/demo:1.0'), /repositories does not list example\.com\/demo with tag 1\.0/);
  });

  it('compressed layer, missing layer, escaping path, history mismatch', async () => {
    let a = buildDockerArchive({ layerFile: (d, rel) => writeFileSync(path.join(d, rel), gzipSync(gnuTar)) });
    await assert.rejects(validateDockerArchive(a.file), /layer 0 \([0-9a-f]{64}\/layer\.tar\) is compressed \(gzip\/zstd magic\); docker-archive layers must be uncompressed/);
    a = buildDockerArchive({ layerFile: (d, rel) => unlinkSync(path.join(d, rel)) });
    await assert.rejects(validateDockerArchive(a.file), /layer 0 \([0-9a-f]{64}\/layer\.tar\): [0-9a-f]{64}\/layer\.tar is missing from the archive/);
    a = buildDockerArchive({ entry: (e) => (e.Layers = ['../etc/passwd']) });
    await assert.rejects(validateDockerArchive(a.file), /path "\.\.\/etc\/passwd" leaves the archive/);
    a = buildDockerArchive({ config: (c) => (c.history = []) });
    await assert.rejects(validateDockerArchive(a.file), /history has 0 entries without empty_layer but the image has 1 layers/);
  });
});

// ------------------------------------------------------------ cross-check with skopeo, when installed

describe('agreement with skopeo', { skip: !has('skopeo') && 'skopeo not installed' }, () => {
  const skopeo = (...args: string[]) => execFileSync('skopeo', ['--insecure-policy', ...args], { encoding: 'utf8' });

  it('skopeo reads our good fixture and its conversions validate', async () => {
    const b = buildOci(fresh(), [{ tar: gnuTar }, { tar: paxTar }], {}, 'v1');
    const inspected = JSON.parse(skopeo('inspect', `oci:${b.dir}:v1`));
    assert.equal(inspected.Digest, b.manifestDigest);
    assert.deepEqual(inspected.Layers, b.layerDigests);

    const dockerFile = path.join(tmp, 'skopeo-docker.tar');
    skopeo('copy', '-q', `oci:${b.dir}:v1`, `docker-archive:${dockerFile}:example.com/demo:1.0`);
    const d = await validateDockerArchive(dockerFile, 'example.com/demo:1.0');
    assert.deepEqual(d.layers.map((l) => l.diffId), b.diffIds);
    assert.deepEqual(d.layers[1]!.entries, gnuList(paxTar));

    const ociFile = path.join(tmp, 'skopeo-oci.tar');
    skopeo('copy', '-q', `docker-archive:${dockerFile}`, `oci-archive:${ociFile}:again`);
    const o = await validateOciArchive(ociFile, 'again');
    assert.deepEqual(o.layers.map((l) => l.diffId), b.diffIds);
  });

  it('what we reject as corrupt, skopeo also rejects', async () => {
    const b = buildOci(fresh(), undefined, {}, 'v1');
    const p = blobPath(b.dir, b.layerDigests[0]!);
    const buf = readFileSync(p);
    buf[buf.length >> 1]! ^= 0xff;
    writeFileSync(p, buf);
    await assert.rejects(validateOciLayout(b.dir, 'v1'), /blob content hashes to/);
    const r = spawnSync('skopeo', ['--insecure-policy', 'copy', '-q', `oci:${b.dir}:v1`, `dir:${path.join(tmp, 'skopeo-dir')}`], { encoding: 'utf8' });
    assert.notEqual(r.status, 0, 'skopeo copy of a corrupt blob must fail');
  });
});
