import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { TbahError } from '../../src/core/errors.js';
import { RegistryClient, RegistryError } from '../../src/core/registry/client.js';
import { type FaultProxy, type FaultRule, startFaultProxy } from '../helpers/fault-proxy.js';
import { OCI_MANIFEST, blob, pushTestImage, testImage } from '../helpers/image-blobs.js';
import { type TestRegistry, startRegistry } from '../helpers/registry.js';

let reg: TestRegistry;
let proxy: FaultProxy;
const img = testImage({ layerSizes: [512 * 1024] });
const layer = img.layers[0]!;

before(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.url);
  await pushTestImage(new RegistryClient({ registry: reg.host, tlsVerify: false }), 'faults/app', 'v1', img);
});
after(async () => {
  await proxy?.stop();
  await reg?.stop();
});
beforeEach(() => {
  proxy.rules.length = 0;
  proxy.log.length = 0;
});

const client = (attempts = 4): RegistryClient => new RegistryClient({ registry: proxy.host, tlsVerify: false, attempts, backoffMs: 5 });
const count = (method: string, path: string): number => proxy.log.filter((l) => l.method === method && l.path.includes(path)).length;

test('two 500s, then the manifest: success after retries', async () => {
  const c = client();
  await c.ping();
  proxy.rules.push({ method: 'GET', path: '/manifests/v1', times: 2, fault: { kind: 'status', status: 500 } });
  assert.equal((await c.getManifest('faults/app', 'v1')).digest, img.manifestDigest);
  assert.equal(count('GET', '/manifests/v1'), 3);
});

test('500 every time: a network error after the bounded attempts', async () => {
  const c = client(3);
  await c.ping();
  proxy.rules.push({ method: 'GET', path: '/manifests/v1', fault: { kind: 'status', status: 500 } });
  await assert.rejects(c.getManifest('faults/app', 'v1'), (e: unknown) => {
    assert.ok(e instanceof RegistryError);
    assert.equal(e.code, 'network');
    assert.equal(e.status, 500);
    assert.match(e.message, /manifest faults\/app:v1: .* answered HTTP 500/);
    return true;
  });
  assert.equal(count('GET', '/manifests/v1'), 3);
});

test('429 with Retry-After, then the blob: success; a persistent TOOMANYREQUESTS is reported as rate limiting', async () => {
  const c = client();
  await c.ping();
  const rule: FaultRule = { method: 'GET', path: `/blobs/${layer.digest}`, times: 1, fault: { kind: 'status', status: 429, headers: { 'retry-after': '1' } } };
  proxy.rules.push(rule);
  assert.deepEqual(await buffer(await c.getBlob('faults/app', layer)), layer.bytes);
  assert.equal(rule.hits, 1);
  assert.equal(count('GET', `/blobs/${layer.digest}`), 2);

  proxy.rules.length = 0;
  const body = JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'pull rate limit reached' }] });
  proxy.rules.push({ method: 'GET', path: '/manifests/', fault: { kind: 'status', status: 429, headers: { 'retry-after': '0' }, body } });
  await assert.rejects(c.getManifest('faults/app', 'v1'), (e: unknown) => {
    assert.ok(e instanceof TbahError);
    assert.match(e.message, /^too many requests: .* is rate-limiting pulls of faults\/app \(registry said: pull rate limit reached\)/);
    assert.match(e.hint ?? '', /wait/);
    return true;
  });
});

test('a connection cut mid-blob is resumed with a Range request; cut every time, it is a clear network error', async () => {
  const c = client();
  await c.ping();
  proxy.rules.push({ method: 'GET', path: `/blobs/${layer.digest}`, times: 1, fault: { kind: 'cut-response', afterBytes: 100_000 } });
  assert.deepEqual(await buffer(await c.getBlob('faults/app', layer)), layer.bytes);
  const gets = proxy.log.filter((l) => l.method === 'GET' && l.path.includes(layer.digest));
  assert.equal(gets.length, 2);
  assert.match(String(gets[1]!.headers['range']), /^bytes=\d+-$/);
  assert.ok(Number(/=(\d+)-/.exec(String(gets[1]!.headers['range']))![1]) > 0, 'the resumed request skips what arrived');

  proxy.rules.length = 0;
  proxy.rules.push({ method: 'GET', path: `/blobs/${layer.digest}`, fault: { kind: 'cut-response', afterBytes: 1000 } });
  await assert.rejects(
    (async () => buffer(await client(2).getBlob('faults/app', layer)))(),
    (e: unknown) => e instanceof TbahError && e.code === 'network' && e.message.includes(layer.digest) && /connection was cut/.test(e.message),
  );
});

test('corrupted bytes of the same length: a corrupt error naming the digest', async () => {
  const c = client();
  await c.ping();
  proxy.rules.push({ method: 'GET', path: `/blobs/${layer.digest}`, fault: { kind: 'corrupt' } });
  await assert.rejects(
    (async () => buffer(await c.getBlob('faults/app', layer)))(),
    (e: unknown) => e instanceof TbahError && e.code === 'corrupt' && e.message.includes(layer.digest),
  );
  assert.equal(proxy.rules[0]!.hits, 1, 'a digest mismatch is not retried');
});

test('an upload is POST, one PATCH with the whole blob, then PUT ?digest= without a body', async () => {
  const c = client();
  const b = blob(randomBytes(300_000));
  assert.equal(await c.uploadBlob('faults/upload', b, () => Readable.from([b.bytes])), true);
  const seq = proxy.log.filter((l) => l.path.includes('/faults/upload/')).map((l) => l.method);
  assert.deepEqual(seq, ['HEAD', 'POST', 'PATCH', 'PUT']);
  const patch = proxy.log.find((l) => l.method === 'PATCH')!;
  assert.equal(patch.headers['content-length'], String(b.size));
  const put = proxy.log.find((l) => l.method === 'PUT')!;
  assert.match(put.path, new RegExp(`digest=${encodeURIComponent(b.digest)}`));
  assert.equal(put.headers['content-length'], '0');
  assert.equal(await c.hasBlob('faults/upload', b.digest), true);
});

test('a PATCH cut mid-body starts over from POST and succeeds; a PATCH failing every time ends in a clear error', async () => {
  const c = client();
  await c.ping();
  const b = blob(randomBytes(400_000));
  let opened = 0;
  proxy.rules.push({ method: 'PATCH', times: 1, fault: { kind: 'cut-request', afterBytes: 64 * 1024 } });
  assert.equal(
    await c.uploadBlob('faults/retry', b, () => {
      opened++;
      return Readable.from([b.bytes.subarray(0, 200_000), b.bytes.subarray(200_000)]);
    }),
    true,
  );
  assert.equal(opened, 2, 'the blob was read again for the second session');
  assert.equal(count('POST', '/faults/retry/'), 2);
  assert.equal(count('PATCH', '/faults/retry/'), 2);
  assert.equal(count('PUT', '/faults/retry/'), 1);
  assert.deepEqual(await buffer(await c.getBlob('faults/retry', b)), b.bytes);

  proxy.rules.length = 0;
  proxy.log.length = 0;
  const b2 = blob(randomBytes(10_000));
  proxy.rules.push({ method: 'PATCH', fault: { kind: 'status', status: 503 } });
  await assert.rejects(c.uploadBlob('faults/retry', b2, () => Readable.from([b2.bytes])), (e: unknown) => {
    assert.ok(e instanceof RegistryError);
    assert.equal(e.status, 503);
    assert.match(e.message, new RegExp(`upload of ${b2.digest} to faults/retry`));
    return true;
  });
  assert.equal(count('POST', '/faults/retry/'), 4, 'bounded: one session per attempt');
});

test('registry error bodies become actionable messages: MANIFEST_UNKNOWN, BLOB_UNKNOWN, DIGEST_INVALID, a bare 404, NAME_INVALID, DENIED', async () => {
  const c = client(1);
  await assert.rejects(c.getManifest('faults/app', 'nope'), (e: unknown) => {
    assert.ok(e instanceof RegistryError);
    assert.equal(e.code, 'not-found');
    assert.equal(e.registryCode, 'MANIFEST_UNKNOWN');
    assert.equal(e.message, `manifest unknown: faults/app:nope not found on ${proxy.host}`);
    return true;
  });
  const absent = blob(Buffer.from('absent'));
  await assert.rejects(
    (async () => buffer(await c.getBlob('faults/app', absent)))(),
    (e: unknown) => e instanceof RegistryError && e.code === 'not-found' && e.registryCode === 'BLOB_UNKNOWN' && e.message.includes(absent.digest),
  );
  // Bytes that do not match the digest they are uploaded under: the registry refuses them at the PUT.
  const claimed = blob(Buffer.from('what the manifest says'));
  await assert.rejects(c.uploadBlob('faults/app', claimed, () => Readable.from([Buffer.from('what the manifest sayz')])), (e: unknown) => {
    assert.ok(e instanceof RegistryError);
    assert.equal(e.code, 'corrupt');
    assert.equal(e.registryCode, 'DIGEST_INVALID');
    assert.match(e.message, new RegExp(`^digest invalid: .* rejected ${claimed.digest} for faults/app`));
    return true;
  });
  // Distribution answers a name outside its routes with a bare 404; the message names the repository.
  await assert.rejects(c.putManifest('faults/Bad..Name', 'v1', img.manifest, OCI_MANIFEST), (e: unknown) => {
    assert.ok(e instanceof TbahError);
    assert.equal(e.code, 'not-found');
    assert.match(e.message, /faults\/Bad\.\.Name/);
    assert.match(e.hint ?? '', /repository name/);
    return true;
  });
  // Registries that check names say NAME_INVALID.
  proxy.rules.push({
    method: 'PUT',
    path: '/manifests/',
    times: 1,
    fault: { kind: 'status', status: 400, body: JSON.stringify({ errors: [{ code: 'NAME_INVALID', message: 'invalid repository name' }] }) },
  });
  await assert.rejects(c.putManifest('faults/app', 'v2', img.manifest, OCI_MANIFEST), (e: unknown) => {
    assert.ok(e instanceof RegistryError);
    assert.equal(e.code, 'invalid-reference');
    assert.match(e.message, /^name invalid: .* does not accept the repository name "faults\/app" \(registry said: invalid repository name\)$/);
    return true;
  });
  proxy.rules.push({
    method: 'GET',
    path: '/manifests/',
    fault: { kind: 'status', status: 403, body: JSON.stringify({ errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }] }) },
  });
  await assert.rejects(c.getManifest('faults/app', 'v1'), (e: unknown) => {
    assert.ok(e instanceof RegistryError);
    assert.equal(e.code, 'denied');
    assert.match(e.message, /^denied: .* does not allow to pull faults\/app \(registry said: requested access to the resource is denied\)/);
    assert.match(e.hint ?? '', /tbah login/);
    return true;
  });
});
