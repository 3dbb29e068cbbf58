import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { inspect, promisify } from 'node:util';
import { TbahError } from '../../src/core/errors.js';
import { RegistryClient } from '../../src/core/registry/client.js';
import type { Credentials } from '../../src/core/registry/credentials.js';
import { blob, pushTestImage, testImage } from '../helpers/image-blobs.js';
import { type TokenRegistry, startTokenRegistry } from '../helpers/token-auth.js';

const run = promisify(execFile);

/**
 * Policy: anonymous may pull public/*; alice may pull and push everywhere;
 * bob may push bob/* and pull bob/* and public/*.
 */
const PASSWORDS = { alice: 'alice-Secret-1', bob: 'bob-Secret-2' };
const IDENTITY_TOKEN = 'refresh-token-for-alice-0123456789';

let reg: TokenRegistry;
before(async () => {
  reg = await startTokenRegistry({
    users: PASSWORDS,
    identityTokens: { [IDENTITY_TOKEN]: 'alice' },
    leakyErrors: true,
    access: (user, repo) => {
      if (user === 'alice') return ['pull', 'push'];
      if (user === 'bob' && repo.startsWith('bob/')) return ['pull', 'push'];
      return repo.startsWith('public/') ? ['pull'] : [];
    },
  });
});
after(async () => {
  await reg?.stop();
});

const client = (credentials?: Credentials): RegistryClient =>
  new RegistryClient({ registry: reg.host, tlsVerify: false, backoffMs: 1, ...(credentials === undefined ? {} : { credentials }) });
const basic = (username: 'alice' | 'bob', password = PASSWORDS[username]): Credentials => ({ kind: 'basic', username, password });

const publicImage = testImage({ layerSizes: [100_000] });

test('push with credentials, then anonymous pull where the policy allows it', async () => {
  const alice = client(basic('alice'));
  await alice.checkCredentials();
  await pushTestImage(alice, 'public/app', 'v1', publicImage);
  assert.ok(reg.issuer.requests.some((r) => r.user === 'alice' && r.granted.includes('repository:public/app:pull,push')));

  const anon = client();
  const m = await anon.getManifest('public/app', 'v1');
  assert.equal(m.digest, publicImage.manifestDigest);
  const layer = publicImage.layers[0]!;
  assert.deepEqual(await buffer(await anon.getBlob('public/app', layer)), layer.bytes);
  assert.ok(reg.issuer.requests.some((r) => r.user === undefined && r.granted.includes('repository:public/app:pull')));
});

test('anonymous pull of a private repository and anonymous push: unauthorized with a login hint', async () => {
  await pushTestImage(client(basic('alice')), 'alice/private', 'v1', testImage());
  const anon = client();
  await assert.rejects(anon.getManifest('alice/private', 'v1'), (e: unknown) => {
    assert.ok(e instanceof TbahError);
    assert.equal(e.code, 'unauthorized');
    assert.match(e.message, new RegExp(`^unauthorized: ${reg.host} requires authentication for pulling alice/private`));
    assert.match(e.hint ?? '', new RegExp(`tbah login ${reg.host}`));
    return true;
  });
  const b = blob(Buffer.from('anonymous push'));
  await assert.rejects(
    anon.uploadBlob('public/app', b, () => Readable.from([b.bytes])),
    (e: unknown) => e instanceof TbahError && e.code === 'unauthorized' && /for pushing to public\/app/.test(e.message),
  );
});

test('a wrong password: unauthorized naming the user; the secret never appears, even when the server echoes it', async () => {
  const wrong = 'wrong-Password-echoed-back';
  const c = client(basic('alice', wrong));
  for (const op of [() => c.checkCredentials(), () => c.getManifest('public/app', 'v1')]) {
    await assert.rejects(op(), (e: unknown) => {
      assert.ok(e instanceof TbahError);
      assert.equal(e.code, 'unauthorized');
      assert.match(e.message, /rejected the credentials of user "alice"/);
      assert.match(e.message, /\[redacted\]/, 'the issuer echoed the password; the client must have removed it');
      for (const text of [e.message, e.hint ?? '', inspect(e, { depth: 10 }), JSON.stringify(e)]) assert.ok(!text.includes(wrong), text);
      return true;
    });
  }
  assert.ok(reg.issuer.requests.some((r) => r.status === 401), 'the issuer refused the credentials');
});

test('push without permission: denied, naming the user and the repository', async () => {
  const bob = client(basic('bob'));
  const b = blob(Buffer.from('bob tries alice'));
  await assert.rejects(bob.uploadBlob('alice/private', b, () => Readable.from([b.bytes])), (e: unknown) => {
    assert.ok(e instanceof TbahError);
    assert.equal(e.code, 'denied');
    assert.match(e.message, /does not allow user "bob" to push to alice\/private/);
    return true;
  });
});

test('cross-repository mount asks for both scopes; without read access to the source it falls back to an upload', async () => {
  const bob = client(basic('bob'));
  const layer = publicImage.layers[0]!;
  assert.equal(await bob.mountBlob('bob/app', 'public/app', layer.digest), true);
  assert.ok(
    reg.issuer.requests.some((r) => r.user === 'bob' && r.scopes.includes('repository:bob/app:pull,push') && r.scopes.includes('repository:public/app:pull')),
    'one token request carries the target and the source scope',
  );
  assert.equal(await bob.hasBlob('bob/app', layer.digest), true);

  const secret = testImage();
  await pushTestImage(client(basic('alice')), 'alice/private', 'v2', secret);
  const hidden = secret.layers[0]!;
  assert.equal(await bob.mountBlob('bob/app', 'alice/private', hidden.digest), false, 'bob may not read alice/private');
  assert.equal(await bob.uploadBlob('bob/app', hidden, () => Readable.from([hidden.bytes])), true);
  assert.equal(await bob.hasBlob('bob/app', hidden.digest), true);
});

test('an identity token (OAuth2 refresh token) is exchanged for access tokens', async () => {
  const c = client({ kind: 'identity-token', token: IDENTITY_TOKEN });
  await c.checkCredentials();
  await pushTestImage(c, 'alice/via-identity-token', 'v1', testImage());
  assert.ok(reg.issuer.requests.some((r) => r.method === 'POST' && r.user === 'alice' && r.granted.includes('repository:alice/via-identity-token:pull,push')));
  const bad = client({ kind: 'identity-token', token: 'not-a-valid-refresh-token' });
  await assert.rejects(bad.checkCredentials(), (e: unknown) => e instanceof TbahError && e.code === 'unauthorized' && !e.message.includes('not-a-valid-refresh-token'));
});

test('token auth behind verified TLS (startTokenRegistry with tls)', async () => {
  const secure = await startTokenRegistry({ users: { carol: 'carol-Secret-3' }, anonymousPull: false, tls: true });
  try {
    const c = new RegistryClient({ registry: secure.host, certDir: secure.ca!.certDir, credentials: { kind: 'basic', username: 'carol', password: 'carol-Secret-3' } });
    const img = testImage();
    await pushTestImage(c, 'carol/app', 'v1', img);
    assert.equal((await c.getManifest('carol/app', 'v1')).digest, img.manifestDigest);
    await c.close();
    // containers/image agrees: skopeo gets through the same token flow and TLS setup.
    const { stdout } = await run('skopeo', ['inspect', '--cert-dir', secure.ca!.certDir, '--creds', 'carol:carol-Secret-3', `docker://${secure.host}/carol/app:v1`]);
    assert.equal((JSON.parse(stdout) as { Digest: string }).Digest, img.manifestDigest);
    const anon = new RegistryClient({ registry: secure.host, certDir: secure.ca!.certDir });
    await assert.rejects(anon.getManifest('carol/app', 'v1'), (e: unknown) => e instanceof TbahError && e.code === 'unauthorized');
    await anon.close();
  } finally {
    await secure.stop();
  }
});
