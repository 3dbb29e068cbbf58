import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { inspect } from 'node:util';
import { TbahError } from '../../src/core/errors.js';
import { RegistryClient } from '../../src/core/registry/client.js';
import { pushTestImage, testImage } from '../helpers/image-blobs.js';
import { type TlsRegistry, startTlsRegistry } from '../helpers/tls.js';

const USER = 'alice';
const PASSWORD = 'tls-Pa55word-xyz';
const creds = { kind: 'basic' as const, username: USER, password: PASSWORD };

let reg: TlsRegistry;
before(async () => {
  reg = await startTlsRegistry({ users: { [USER]: PASSWORD } });
});
after(async () => {
  await reg?.stop();
});

test('TLS verification on, CA unknown: a TLS error naming the host, with --cert-dir and --tls-verify hints', async () => {
  const c = new RegistryClient({ registry: reg.host, credentials: creds, attempts: 2, backoffMs: 1 });
  await assert.rejects(c.ping(), (e: unknown) => {
    assert.ok(e instanceof TbahError);
    assert.equal(e.code, 'network');
    assert.match(e.message, new RegExp(`^TLS: cannot verify the certificate of ${reg.host}`));
    assert.match(e.hint ?? '', /ca\.crt/);
    assert.match(e.hint ?? '', /--cert-dir/);
    assert.match(e.hint ?? '', /--tls-verify=false/);
    return true;
  });
});

test('certDir with ca.crt: push and pull over verified TLS with Basic auth', async () => {
  const c = new RegistryClient({ registry: reg.host, certDir: reg.ca.certDir, credentials: creds, backoffMs: 1 });
  try {
    await c.checkCredentials();
    const img = testImage({ layerSizes: [200_000] });
    await pushTestImage(c, 'tls/app', 'v1', img);
    assert.equal(c.certDir, reg.ca.certDir);
    const m = await c.getManifest('tls/app', 'v1');
    assert.equal(m.digest, img.manifestDigest);
    const layer = img.layers[0]!;
    assert.deepEqual(await buffer(await c.getBlob('tls/app', layer)), layer.bytes);
  } finally {
    await c.close();
  }
});

test('tlsVerify false: unverified https works (the registry speaks no plain http)', async () => {
  const c = new RegistryClient({ registry: reg.host, tlsVerify: false, credentials: creds, backoffMs: 1 });
  try {
    const img = testImage();
    await pushTestImage(c, 'insecure/app', 'v1', img);
    assert.equal((await c.getManifest('insecure/app', 'v1')).digest, img.manifestDigest);
  } finally {
    await c.close();
  }
});

test('wrong password over TLS: unauthorized, names the user, never the password', async () => {
  const wrong = 'not-the-Pa55word';
  const c = new RegistryClient({ registry: reg.host, certDir: reg.ca.certDir, credentials: { kind: 'basic', username: USER, password: wrong }, backoffMs: 1 });
  try {
    for (const op of [() => c.checkCredentials(), () => c.getManifest('tls/app', 'v1')]) {
      await assert.rejects(op(), (e: unknown) => {
        assert.ok(e instanceof TbahError);
        assert.equal(e.code, 'unauthorized');
        assert.match(e.message, /rejected the credentials of user "alice"/);
        assert.match(e.hint ?? '', new RegExp(`tbah login ${reg.host}`));
        for (const text of [e.message, e.hint ?? '', inspect(e, { depth: 10 }), JSON.stringify(e)]) assert.ok(!text.includes(wrong), text);
        return true;
      });
    }
  } finally {
    await c.close();
  }
});

test('an explicit cert dir that is missing, or a client cert without its key, is refused', async () => {
  const missing = new RegistryClient({ registry: reg.host, certDir: join(reg.ca.dir, 'no-such-dir') });
  await assert.rejects(missing.ping(), (e: unknown) => e instanceof TbahError && e.code === 'not-found' && /certificate directory/.test(e.message));
  const dir = await mkdtemp(join(tmpdir(), 'tbah-certdir-'));
  try {
    await writeFile(join(dir, 'client.cert'), 'x');
    const c = new RegistryClient({ registry: reg.host, certDir: dir });
    await assert.rejects(c.ping(), (e: unknown) => e instanceof TbahError && e.code === 'invalid-argument' && /client\.key/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('mutual TLS: without a client certificate a clear error, with client.cert/client.key it works', async () => {
  const mtls = await startTlsRegistry({ requireClientCert: true });
  try {
    const noCert = new RegistryClient({ registry: mtls.host, certDir: mtls.ca.certDir, attempts: 1 });
    await assert.rejects(noCert.ping(), (e: unknown) => {
      assert.ok(e instanceof TbahError);
      assert.equal(e.code, 'network');
      assert.match(e.message, /client certificate/);
      assert.match(e.hint ?? '', /client\.cert/);
      return true;
    });
    await noCert.close();
    const withCert = new RegistryClient({ registry: mtls.host, certDir: mtls.ca.clientCertDir });
    try {
      const img = testImage();
      await pushTestImage(withCert, 'mtls/app', 'v1', img);
      assert.equal((await withCert.getManifest('mtls/app', 'v1')).digest, img.manifestDigest);
    } finally {
      await withCert.close();
    }
  } finally {
    await mtls.stop();
  }
});
