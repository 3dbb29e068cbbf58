import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TbahError } from '../../src/core/errors.js';
import { sha256Digest } from '../../src/core/oci.js';
import { RegistryClient } from '../../src/core/registry/client.js';

/** A fake registry with a Bearer token server, flaky endpoints and a request log. */
const log: string[] = [];
const tokenRequests: Array<{ scope: string[]; service: string | null; auth: string | undefined }> = [];
const manifest = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}');
let flaky = 0;
let server: Server;
let host = '';

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', `http://${host}`);
  log.push(`${req.method} ${url.pathname}`);
  if (url.pathname === '/token') {
    tokenRequests.push({ scope: url.searchParams.getAll('scope'), service: url.searchParams.get('service'), auth: req.headers.authorization });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ token: `tok:${url.searchParams.getAll('scope').join(' ')}` }));
    return;
  }
  const challenge = (scope: string): void => {
    res.statusCode = 401;
    res.setHeader('www-authenticate', `Basic realm="x", Bearer realm="http://${host}/token",service="fake",scope="${scope}"`);
    res.end();
  };
  if (url.pathname === '/v2/') return challenge('');
  const m = /^\/v2\/(.+)\/manifests\/(.+)$/.exec(url.pathname);
  if (m !== null) {
    const [, repo, ref] = m;
    if (req.headers.authorization !== `Bearer tok:repository:${repo}:pull`) return challenge(`repository:${repo}:pull`);
    if (repo === 'flaky/repo' && flaky++ < 2) {
      res.statusCode = flaky === 1 ? 503 : 429;
      if (flaky === 2) res.setHeader('retry-after', '0');
      res.end();
      return;
    }
    if (repo === 'always/500') {
      res.statusCode = 500;
      res.end();
      return;
    }
    if (ref === 'missing') {
      res.statusCode = 404;
      res.end();
      return;
    }
    assert.match(req.headers.accept ?? '', /application\/vnd\.oci\.image\.index\.v1\+json/);
    res.setHeader('content-type', 'application/vnd.docker.distribution.manifest.v2+json');
    res.end(ref.startsWith('sha256:') && ref !== sha256Digest(manifest) ? Buffer.from('{"tampered":true}') : manifest);
    return;
  }
  res.statusCode = 404;
  res.end();
}

before(async () => {
  server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

test('Bearer challenge → token per scope with Basic credentials, cached', async () => {
  log.length = 0;
  tokenRequests.length = 0;
  const c = new RegistryClient({ registry: host, tlsVerify: false, credentials: { kind: 'basic', username: 'u', password: 'p' }, backoffMs: 1 });
  const got = await c.getManifest('ns/repo', 'latest');
  assert.deepEqual(got, { bytes: manifest, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: sha256Digest(manifest) });
  await c.getManifest('ns/repo', 'latest');
  assert.equal(tokenRequests.length, 1, 'the token is cached for the scope');
  assert.deepEqual(tokenRequests[0], { scope: ['repository:ns/repo:pull'], service: 'fake', auth: `Basic ${Buffer.from('u:p').toString('base64')}` });
  await c.getManifest('ns/other', 'latest');
  assert.equal(tokenRequests.length, 2, 'a new scope needs a new token');
});

test('anonymous token; 503 and 429 (Retry-After) are retried; 404 and exhausted 500 are not retried further', async () => {
  tokenRequests.length = 0;
  const c = new RegistryClient({ registry: host, tlsVerify: false, attempts: 3, backoffMs: 1 });
  flaky = 0;
  log.length = 0;
  assert.equal((await c.getManifest('flaky/repo', 'v')).digest, sha256Digest(manifest));
  assert.equal(log.filter((l) => l === 'GET /v2/flaky/repo/manifests/v').length, 3);
  assert.equal(tokenRequests[0]?.auth, undefined);

  await c.getManifest('ns/repo', 'latest'); // warm the token so the 404 below is one request
  log.length = 0;
  await assert.rejects(c.getManifest('ns/repo', 'missing'), (e: unknown) => e instanceof TbahError && e.code === 'not-found');
  assert.equal(log.length, 1);

  await c.getManifest('always/500', 'x').catch(() => undefined); // token
  log.length = 0;
  await assert.rejects(c.getManifest('always/500', 'x'), (e: unknown) => e instanceof TbahError && e.code === 'network' && /HTTP 500/.test(e.message));
  assert.equal(log.length, 3);
});

test('a manifest pulled by digest is verified', async () => {
  const c = new RegistryClient({ registry: host, tlsVerify: false, backoffMs: 1 });
  assert.equal((await c.getManifest('ns/repo', sha256Digest(manifest))).digest, sha256Digest(manifest));
  const other = sha256Digest('something else');
  await assert.rejects(c.getManifest('ns/repo', other), (e: unknown) => e instanceof TbahError && e.code === 'corrupt');
});

test('connection refused is retried then reported as network with a hint', async () => {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  const c = new RegistryClient({ registry: `127.0.0.1:${port}`, tlsVerify: false, attempts: 2, backoffMs: 1 });
  await assert.rejects(c.ping(), (e: unknown) => e instanceof TbahError && e.code === 'network' && /cannot reach registry/.test(e.message));
});
