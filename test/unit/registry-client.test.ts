import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TbahError } from '../../src/core/errors.js';
import { sha256Digest } from '../../src/core/oci.js';
import { RegistryClient } from '../../src/core/registry/client.js';
import {
  type RegistryError,
  type RequestContext,
  classifyTransportError,
  isTransientTransport,
  parseDistributionErrors,
  statusError,
  transportError,
} from '../../src/core/registry/errors.js';
import { defaultCertDirs } from '../../src/core/registry/tls.js';

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

// --- Pure parts: error bodies, status → error mapping, transport classification, cert dirs.

test('distribution error bodies are parsed tolerantly', () => {
  assert.deepEqual(parseDistributionErrors('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}'), [
    { code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: 'x' } },
  ]);
  assert.deepEqual(parseDistributionErrors('{"errors":[{"code":"denied"},{"nocode":1},"junk"]}'), [{ code: 'DENIED' }]);
  assert.deepEqual(parseDistributionErrors('404 page not found'), []);
  assert.deepEqual(parseDistributionErrors('{"details":"incorrect username or password"}'), []);
});

const ctx = (over: Partial<RequestContext> = {}): RequestContext => ({ registry: 'reg.example:5000', action: 'pull', kind: 'manifest', repository: 'team/app', reference: '1', ...over });
const err = (status: number, code: string | undefined, c: RequestContext, extra: { authenticated?: boolean; rejectedCredentials?: boolean; message?: string } = {}) =>
  statusError({
    status,
    errors: code === undefined ? [] : [{ code, ...(extra.message === undefined ? {} : { message: extra.message }) }],
    ctx: c,
    authenticated: extra.authenticated ?? false,
    ...(extra.rejectedCredentials === undefined ? {} : { rejectedCredentials: extra.rejectedCredentials }),
    user: 'alice',
    redact: (s) => s.split('hunter22').join('[redacted]'),
  });

test('each distribution error code maps to one actionable message and error code', () => {
  const cases: Array<[RegistryError, string, RegExp]> = [
    [err(404, 'MANIFEST_UNKNOWN', ctx()), 'not-found', /^manifest unknown: team\/app:1 not found on reg\.example:5000$/],
    [err(404, 'MANIFEST_UNKNOWN', ctx({ reference: `sha256:${'a'.repeat(64)}` })), 'not-found', /team\/app@sha256:a{64} not found/],
    [err(404, 'NAME_UNKNOWN', ctx()), 'not-found', /^name unknown: repository team\/app not found on reg\.example:5000$/],
    [err(400, 'NAME_INVALID', ctx()), 'invalid-reference', /^name invalid: reg\.example:5000 does not accept the repository name "team\/app"$/],
    [err(404, 'BLOB_UNKNOWN', ctx({ kind: 'blob', digest: 'sha256:abc' })), 'not-found', /^blob unknown: sha256:abc not found in team\/app/],
    [err(400, 'DIGEST_INVALID', ctx({ kind: 'upload', action: 'push', digest: 'sha256:abc' })), 'corrupt', /^digest invalid: .* rejected sha256:abc for team\/app/],
    [err(429, 'TOOMANYREQUESTS', ctx()), 'network', /^too many requests: reg\.example:5000 is rate-limiting pulls of team\/app$/],
    [err(403, 'DENIED', ctx({ action: 'push' }), { authenticated: true }), 'denied', /^denied: reg\.example:5000 does not allow user "alice" to push to team\/app$/],
    [err(401, 'UNAUTHORIZED', ctx()), 'unauthorized', /^unauthorized: reg\.example:5000 requires authentication for pulling team\/app$/],
    [err(401, undefined, ctx({ kind: 'token' }), { authenticated: true, rejectedCredentials: true }), 'unauthorized', /^unauthorized: reg\.example:5000 rejected the credentials of user "alice"$/],
    [err(401, undefined, ctx({ action: 'push' }), { authenticated: true }), 'denied', /does not allow user "alice" to push to team\/app/],
    [err(502, undefined, ctx()), 'network', /^manifest team\/app:1: reg\.example:5000 answered HTTP 502$/],
  ];
  for (const [e, code, re] of cases) {
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
  }
  assert.match(err(401, 'UNAUTHORIZED', ctx()).hint ?? '', /tbah login reg\.example:5000/);
  assert.equal(err(429, 'TOOMANYREQUESTS', ctx()).transient, true);
  assert.equal(err(503, undefined, ctx()).transient, true);
  assert.equal(err(404, 'MANIFEST_UNKNOWN', ctx()).transient, false);
});

test('registry-supplied text is redacted, flattened and bounded', () => {
  const e = err(401, 'UNAUTHORIZED', ctx({ kind: 'token' }), { authenticated: true, rejectedCredentials: true, message: 'bad password hunter22\nfor alice' });
  assert.ok(!e.message.includes('hunter22'));
  assert.match(e.message, /registry said: bad password \[redacted\] for alice/);
  assert.ok(err(500, 'X', ctx(), { message: 'y'.repeat(5000) }).message.length < 400);
});

test('transport errors are classified from the fetch error chain', () => {
  const fetchErr = (code: string, message = code): Error => new TypeError('fetch failed', { cause: Object.assign(new Error(message), { code }) });
  assert.equal(classifyTransportError(fetchErr('ERR_SSL_WRONG_VERSION_NUMBER')), 'plain-http');
  assert.equal(classifyTransportError(fetchErr('UNABLE_TO_VERIFY_LEAF_SIGNATURE')), 'tls-untrusted');
  assert.equal(classifyTransportError(fetchErr('SELF_SIGNED_CERT_IN_CHAIN')), 'tls-untrusted');
  assert.equal(classifyTransportError(fetchErr('ERR_TLS_CERT_ALTNAME_INVALID')), 'tls-name');
  assert.equal(classifyTransportError(fetchErr('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'sslv3 alert bad certificate')), 'tls-client-cert');
  assert.equal(classifyTransportError(fetchErr('ECONNREFUSED')), 'refused');
  assert.equal(classifyTransportError(fetchErr('ENOTFOUND')), 'dns');
  assert.equal(classifyTransportError(fetchErr('UND_ERR_SOCKET', 'other side closed')), 'reset');
  assert.equal(classifyTransportError(fetchErr('UND_ERR_REQ_CONTENT_LENGTH_MISMATCH')), 'length');
  assert.equal(isTransientTransport(fetchErr('ECONNRESET')), true);
  assert.equal(isTransientTransport(fetchErr('UNABLE_TO_VERIFY_LEAF_SIGNATURE')), false);
  const e = transportError({
    error: fetchErr('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'),
    ctx: ctx({ kind: 'ping' }),
    host: 'reg.example:5000',
    tlsVerify: true,
    certDir: undefined,
    https: true,
    clientCert: false,
    redact: (s) => s,
  });
  assert.equal(e.message, 'TLS: cannot verify the certificate of reg.example:5000: unable to verify the first certificate');
  assert.match(e.hint ?? '', /\/etc\/containers\/certs\.d\/reg\.example:5000\//);
  assert.match(e.hint ?? '', /--tls-verify=false/);
});

test('cert dirs are searched as containers/image does: per-user (rootless only), then /etc/containers, then /etc/docker', () => {
  assert.deepEqual(defaultCertDirs('reg:5000', { HOME: '/home/u' }, 1000), [
    '/home/u/.config/containers/certs.d/reg:5000',
    '/etc/containers/certs.d/reg:5000',
    '/etc/docker/certs.d/reg:5000',
  ]);
  assert.deepEqual(defaultCertDirs('reg:5000', { XDG_CONFIG_HOME: '/x' }, 1000)[0], '/x/containers/certs.d/reg:5000');
  assert.deepEqual(defaultCertDirs('reg', {}, 0), ['/etc/containers/certs.d/reg', '/etc/docker/certs.d/reg']);
});

test('docker.io is reached through registry-1.docker.io', () => {
  assert.equal(new RegistryClient({ registry: 'docker.io' }).host, 'registry-1.docker.io');
  assert.equal(new RegistryClient({ registry: 'quay.io' }).host, 'quay.io');
});
