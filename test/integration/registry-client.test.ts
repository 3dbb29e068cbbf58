import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { TbahError } from '../../src/core/errors.js';
import type { Digest } from '../../src/core/oci.js';
import { RegistryClient } from '../../src/core/registry/client.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const run = promisify(execFile);
const sha = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;

/** A one-file tar made by hand (ustar header + data + two zero blocks). */
function tinyTar(name: string, content: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(content.length.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0' + '00', 257);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const data = Buffer.alloc(Math.ceil(content.length / 512) * 512);
  data.write(content);
  return Buffer.concat([h, data, Buffer.alloc(1024)]);
}

function makeImage(tag: string) {
  const tar = tinyTar('hello.txt', `hello from ${tag}\n`);
  const layer = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: [sha(tar)] },
      history: [{ created_by: 'hand' }],
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
    }),
  );
  return { layer, config, manifest };
}

let reg: TestRegistry;
before(async () => {
  reg = await startRegistry();
});
after(async () => {
  await reg?.stop();
});

test('push by hand, read back with skopeo and the client; HEAD-skip; mount', async () => {
  const c = new RegistryClient({ registry: reg.host, tlsVerify: false, backoffMs: 10 });
  const img = makeImage('v1');
  const blobs = [img.layer, img.config];
  for (const b of blobs) {
    assert.equal(await c.uploadBlob('test/img', { digest: sha(b), size: b.length }, () => Readable.from([b])), true);
  }
  const mt = 'application/vnd.oci.image.manifest.v1+json';
  assert.equal(await c.putManifest('test/img', 'v1', img.manifest, mt), sha(img.manifest));

  const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.host}/test/img:v1`]);
  const info = JSON.parse(stdout) as { Digest: string; Layers: string[]; Architecture: string };
  assert.equal(info.Digest, sha(img.manifest));
  assert.deepEqual(info.Layers, [sha(img.layer)]);
  assert.equal(info.Architecture, 'amd64');

  const byTag = await c.getManifest('test/img', 'v1');
  assert.deepEqual(byTag, { bytes: img.manifest, mediaType: mt, digest: sha(img.manifest) });
  const byDigest = await c.getManifest('test/img', sha(img.manifest));
  assert.equal(byDigest.digest, sha(img.manifest));
  assert.deepEqual(await buffer(await c.getBlob('test/img', { digest: sha(img.layer), size: img.layer.length })), img.layer);
  assert.deepEqual(await buffer(await c.getBlob('test/img', { digest: sha(img.config), size: img.config.length })), img.config);

  // Second push: HEAD finds the blob, open() is never called.
  assert.equal(
    await c.uploadBlob('test/img', { digest: sha(img.layer), size: img.layer.length }, () => {
      throw new Error('must not open');
    }),
    false,
  );
  assert.equal(await c.hasBlob('test/img', sha(Buffer.from('absent'))), false);

  // Cross-repo mount.
  assert.equal(await c.hasBlob('other/repo', sha(img.layer)), false);
  assert.equal(await c.mountBlob('other/repo', 'test/img', sha(img.layer)), true);
  assert.equal(await c.hasBlob('other/repo', sha(img.layer)), true);

  await assert.rejects(c.getManifest('test/img', 'nope'), (e: unknown) => e instanceof TbahError && e.code === 'not-found');
});

test('a blob altered in the registry storage fails with corrupt', async () => {
  const c = new RegistryClient({ registry: reg.host, tlsVerify: false, backoffMs: 10 });
  const b = Buffer.from('the original blob content');
  const d = sha(b);
  await c.uploadBlob('test/corrupt', { digest: d, size: b.length }, () => Readable.from([b]));
  const hex = d.slice('sha256:'.length);
  await writeFile(join(reg.dir, 'storage/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data'), 'THE original blob content');
  await assert.rejects(buffer(await c.getBlob('test/corrupt', { digest: d, size: b.length })), (e: unknown) => {
    assert.ok(e instanceof TbahError);
    assert.equal(e.code, 'corrupt');
    return true;
  });
});

test('plain http with TLS verification on gives the --tls-verify=false hint', async () => {
  const c = new RegistryClient({ registry: reg.host, attempts: 1 });
  await assert.rejects(c.ping(), (e: unknown) => {
    assert.ok(e instanceof TbahError);
    assert.equal(e.code, 'network');
    assert.match(e.hint ?? '', /--tls-verify=false/);
    return true;
  });
});

test('htpasswd Basic auth: anonymous is refused with a login hint, credentials work', async () => {
  const secured = await startRegistry({ user: { name: 'alice', password: 's3cret' } });
  try {
    const anon = new RegistryClient({ registry: secured.host, tlsVerify: false });
    await assert.rejects(anon.hasBlob('a/b', sha(Buffer.from('x'))), (e: unknown) => {
      assert.ok(e instanceof TbahError);
      assert.match(e.message, /unauthorized/);
      assert.match(e.hint ?? '', /tbah login/);
      return true;
    });
    const wrong = new RegistryClient({ registry: secured.host, tlsVerify: false, credentials: { kind: 'basic', username: 'alice', password: 'nope' } });
    await assert.rejects(wrong.hasBlob('a/b', sha(Buffer.from('x'))), (e: unknown) => e instanceof TbahError && !e.message.includes('nope'));
    const ok = new RegistryClient({ registry: secured.host, tlsVerify: false, credentials: { kind: 'basic', username: 'alice', password: 's3cret' } });
    const b = Buffer.from('authed blob');
    assert.equal(await ok.uploadBlob('a/b', { digest: sha(b), size: b.length }, () => Readable.from([b])), true);
    assert.deepEqual(await buffer(await ok.getBlob('a/b', { digest: sha(b), size: b.length })), b);
  } finally {
    await secured.stop();
  }
});
