/**
 * The round trips of a push, counted at the wire (a logging proxy in front of
 * a real docker-registry): a push of what the registry already has is one
 * manifest HEAD; a refused cross-repository mount's upload session is used
 * instead of a second POST; one token covers every scope of a push; an
 * unauthorised push says push; the proxy variables are honoured as Go does.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { type IncomingMessage, type Server, createServer, request as httpRequest } from 'node:http';
import { type AddressInfo, type Socket, connect } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sandbox } from '../helpers/cli.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { type TestRegistry, startRegistry } from '../helpers/registry.js';
import { type TokenRegistry, startTokenRegistry } from '../helpers/token-auth.js';

const BUSYBOX = '/bin/busybox';
const NO_TLS = '--tls-verify=false';

function buildImage(sb: Sandbox, name: string, label: string): Promise<string> {
  return (async () => {
    const c = await sb.okAsync(['from', 'scratch']);
    await sb.okAsync(['copy', c, BUSYBOX, '/bin/busybox']);
    await sb.okAsync(['config', '--label', `v=${label}`, c]);
    return sb.okAsync(['commit', '--rm', c, name]);
  })();
}

describe('push round trips', () => {
  let reg: TestRegistry;
  let proxy: FaultProxy;
  let sb: Sandbox;

  before(async () => {
    assert.ok(existsSync(BUSYBOX), 'busybox-static must be installed');
    reg = await startRegistry();
    proxy = await startFaultProxy(reg.url);
    sb = new Sandbox('tbah-pushrt-');
    await buildImage(sb, 'app:1', 'one');
  });
  after(async () => {
    await proxy?.stop();
    await reg?.stop();
    sb?.cleanup();
  });

  test('pushing what the registry already has is one manifest HEAD, and says every blob exists', async () => {
    await sb.okAsync(['push', NO_TLS, 'app:1', `${proxy.host}/rt/app:1`]);
    proxy.log.length = 0;
    const r = await sb.runAsync(['push', NO_TLS, 'app:1', `${proxy.host}/rt/app:1`]);
    assert.equal(r.status, 0, r.stderr);
    const calls = proxy.log.map((l) => `${l.method} ${l.path}`);
    assert.deepEqual(calls, ['GET /v2/', 'HEAD /v2/rt/app/manifests/1'], calls.join('\n'));
    assert.equal(r.stderr.match(/skipped: already exists/g)?.length, 2, r.stderr);
    assert.match(r.stderr, /Writing manifest/);

    // The tag moved: the same push now sends the manifest again (blobs are HEADed, none uploaded).
    await buildImage(sb, 'app:2', 'two');
    await sb.okAsync(['push', NO_TLS, 'app:2', `${proxy.host}/rt/app:1`]);
    proxy.log.length = 0;
    await sb.okAsync(['push', NO_TLS, 'app:1', `${proxy.host}/rt/app:1`]);
    assert.equal(proxy.log.filter((l) => l.method === 'PUT' && l.path.includes('/manifests/1')).length, 1);
    assert.equal(proxy.log.filter((l) => l.method === 'PATCH').length, 0, 'every blob was there already');
  });

  test('a refused cross-repository mount (202) is uploaded into the session it opened: no second POST', async () => {
    await sb.okAsync(['push', NO_TLS, 'app:1', `${proxy.host}/src/app:1`]);
    const other = new Sandbox('tbah-pushrt-mount-');
    try {
      // Pulled from src/app: the store remembers the layer lives there.
      await other.okAsync(['pull', '-q', NO_TLS, `${proxy.host}/src/app:1`]);
      // The repository goes away, so the registry refuses to mount from it and opens an upload instead.
      rmSync(path.join(reg.dir, 'storage/docker/registry/v2/repositories/src'), { recursive: true });
      proxy.log.length = 0;
      const r = await other.runAsync(['push', NO_TLS, `${proxy.host}/src/app:1`, `${proxy.host}/dst/app:1`]);
      assert.equal(r.status, 0, r.stderr);
      const posts = proxy.log.filter((l) => l.method === 'POST');
      assert.equal(posts.length, 2, posts.map((p) => p.path).join('\n'));
      const mount = posts.find((p) => p.path.includes('mount='));
      assert.ok(mount !== undefined, 'the layer was offered for a mount');
      assert.equal(mount.status, 202);
      assert.equal(proxy.log.filter((l) => l.method === 'DELETE').length, 0, 'no session abandoned');
      assert.equal(proxy.log.filter((l) => l.method === 'PATCH').length, 2);
      const check = await other.runAsync(['pull', '-q', NO_TLS, `${reg.host}/dst/app:1`]);
      assert.equal(check.status, 0, check.stderr);
    } finally {
      other.cleanup();
    }
  });
});

describe('push tokens and errors', () => {
  let reg: TokenRegistry;
  let sb: Sandbox;
  const PW = { alice: 'alice-pw-1', bob: 'bob-pw-2' };

  before(async () => {
    reg = await startTokenRegistry({
      users: PW,
      access: (user, repo) => {
        if (user === 'alice') return ['pull', 'push'];
        if (user === 'bob' && repo.startsWith('bob/')) return ['pull', 'push'];
        return repo.startsWith('public/') ? ['pull'] : [];
      },
    });
    sb = new Sandbox('tbah-pushtok-');
    await buildImage(sb, 'app:1', 'tok');
    await sb.okAsync(['push', NO_TLS, '--creds', `alice:${PW.alice}`, 'app:1', `${reg.host}/public/app:1`]);
  });
  after(async () => {
    await reg?.stop();
    sb?.cleanup();
  });

  test('one token request covers the push and its mount sources; the layer is mounted', async () => {
    const other = new Sandbox('tbah-pushtok-mount-');
    try {
      await other.okAsync(['pull', '-q', NO_TLS, `${reg.host}/public/app:1`]);
      const before = reg.issuer.requests.length;
      const r = await other.runAsync(['push', NO_TLS, '--creds', `bob:${PW.bob}`, `${reg.host}/public/app:1`, `${reg.host}/bob/app:1`]);
      assert.equal(r.status, 0, r.stderr);
      const asked = reg.issuer.requests.slice(before);
      assert.equal(asked.length, 1, JSON.stringify(asked));
      assert.deepEqual([...asked[0]!.scopes].sort(), ['repository:bob/app:pull,push', 'repository:public/app:pull']);
      assert.match(r.stderr, /mounted from another repository/);
    } finally {
      other.cleanup();
    }
  });

  test('an unauthorised push says push, not pull', async () => {
    const anon = await sb.runAsync(['push', NO_TLS, 'app:1', `${reg.host}/public/app:2`]);
    assert.equal(anon.status, 125);
    assert.match(anon.stderr, /pushing to public\/app/);
    assert.doesNotMatch(anon.stderr, /pull/);
    const bob = await sb.runAsync(['push', NO_TLS, '--creds', `bob:${PW.bob}`, 'app:1', `${reg.host}/public/app:2`]);
    assert.equal(bob.status, 125);
    assert.match(bob.stderr, /does not allow user "bob" to push to public\/app/);
  });

  test('htpasswd: an anonymous push says push', async () => {
    const basic = await startRegistry({ user: { name: 'carol', password: 'carol-pw' } });
    try {
      const r = await sb.runAsync(['push', NO_TLS, 'app:1', `${basic.host}/c/app:1`]);
      assert.equal(r.status, 125);
      assert.match(r.stderr, /requires authentication for pushing to c\/app/);
      assert.doesNotMatch(r.stderr, /pull/);
    } finally {
      await basic.stop();
    }
  });
});

/**
 * A forward proxy as corporate networks have: absolute-URI requests for
 * http, CONNECT tunnels for https. Every target is sent to `upstream`
 * (so a made-up registry name works without DNS); it records what it saw.
 */
async function startForwardProxy(upstream: string): Promise<{ url: string; seen: string[]; auth: Array<string | undefined>; stop(): Promise<void> }> {
  const up = new URL(`http://${upstream}`);
  const seen: string[] = [];
  const auth: Array<string | undefined> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage, res) => {
    seen.push(`${req.method} ${req.url}`);
    auth.push(req.headers['proxy-authorization']);
    const target = new URL(req.url ?? '/');
    const fwd = httpRequest({ host: up.hostname, port: up.port, method: req.method, path: target.pathname + target.search, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.rawHeaders);
      r.pipe(res);
    });
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    auth.push(req.headers['proxy-authorization']);
    const s = connect(Number(up.port), up.hostname, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      s.write(head);
      s.pipe(client);
      client.pipe(s);
    });
    for (const x of [s, client]) {
      sockets.add(x);
      x.on('error', () => undefined);
      x.on('close', () => sockets.delete(x));
    }
    s.on('close', () => client.destroy());
    client.on('close', () => s.destroy());
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    auth,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('proxy variables', () => {
  let reg: TestRegistry;
  let sb: Sandbox;
  let fwd: Awaited<ReturnType<typeof startForwardProxy>>;
  const NAME = 'registry.example.invalid:5000';
  const clean = { HTTP_PROXY: undefined, HTTPS_PROXY: undefined, NO_PROXY: undefined, http_proxy: undefined, https_proxy: undefined, no_proxy: undefined };

  before(async () => {
    reg = await startRegistry();
    fwd = await startForwardProxy(reg.host);
    sb = new Sandbox('tbah-proxy-');
    await buildImage(sb, 'app:1', 'proxy');
  });
  after(async () => {
    await fwd?.stop();
    await reg?.stop();
    sb?.cleanup();
  });

  test('HTTPS_PROXY/HTTP_PROXY carry push and pull to a registry only the proxy can reach, with its credentials', async () => {
    const withAuth = fwd.url.replace('http://', 'http://pxuser:px%40pw@');
    const env = { ...clean, HTTPS_PROXY: withAuth, HTTP_PROXY: withAuth };
    const push = await sb.runAsync(['push', NO_TLS, 'app:1', `${NAME}/px/app:1`], { env });
    assert.equal(push.status, 0, push.stderr);
    // --tls-verify=false tries https first (a tunnel), then plain http through the proxy.
    assert.ok(fwd.seen.includes(`CONNECT ${NAME}`), fwd.seen.join('\n'));
    assert.ok(fwd.seen.some((s) => s.startsWith(`HEAD http://${NAME}/v2/px/app/`)), fwd.seen.join('\n'));
    assert.ok(fwd.auth.every((a) => a === `Basic ${Buffer.from('pxuser:px@pw').toString('base64')}`));
    const other = new Sandbox('tbah-proxy-pull-');
    try {
      const r = await other.runAsync(['pull', '-q', NO_TLS, `${NAME}/px/app:1`], { env });
      assert.equal(r.status, 0, r.stderr);
    } finally {
      other.cleanup();
    }
  });

  test('NO_PROXY exempts a registry; loopback never goes through a proxy', async () => {
    const dead = 'http://127.0.0.1:9'; // discard port: nothing listens
    const exempt = await sb.runAsync(['push', NO_TLS, 'app:1', `${NAME}/px/app:2`], { env: { ...clean, HTTPS_PROXY: fwd.url, HTTP_PROXY: fwd.url, NO_PROXY: 'example.invalid' } });
    assert.equal(exempt.status, 125);
    assert.match(exempt.stderr, /does not resolve/);
    const direct = await sb.runAsync(['push', NO_TLS, 'app:1', `${reg.host}/px/app:3`], { env: { ...clean, HTTPS_PROXY: dead, HTTP_PROXY: dead } });
    assert.equal(direct.status, 0, direct.stderr);
    const unreachable = await sb.runAsync(['push', NO_TLS, 'app:1', `${NAME}/px/app:4`], { env: { ...clean, HTTPS_PROXY: dead, HTTP_PROXY: dead } });
    assert.equal(unreachable.status, 125);
    assert.match(unreachable.stderr, /cannot reach proxy http:\/\/127\.0\.0\.1:9 for registry/);
    assert.match(unreachable.stderr, /NO_PROXY/);
  });
});
