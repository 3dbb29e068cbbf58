/**
 * The CLI against the harder registries: TLS with a test CA (and Basic auth),
 * the Bearer token flow with `login`, and a fault-injecting proxy. Each
 * failure must be one clear error and leave the store unchanged.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sandbox, sh, treeFingerprint } from '../helpers/cli.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { type TestRegistry, startRegistry } from '../helpers/registry.js';
import { type TlsRegistry, startTlsRegistry } from '../helpers/tls.js';
import { type TokenRegistry, startTokenRegistry } from '../helpers/token-auth.js';

const BUSYBOX = '/bin/busybox';

function buildBase(sb: Sandbox, name: string): string {
  const c = sb.ok(['from', 'scratch']);
  sb.ok(['copy', c, BUSYBOX, '/bin/busybox']);
  symlinkSync('busybox', path.join(sb.ok(['mount', c]), 'bin', 'sh'));
  return sb.ok(['commit', '--rm', c, name]);
}

/** An environment with no auth files of the host's. */
function isolated(sb: Sandbox): Record<string, string | undefined> {
  mkdirSync(sb.path('run'), { recursive: true, mode: 0o700 });
  return { HOME: sb.dir, XDG_RUNTIME_DIR: sb.path('run'), XDG_CONFIG_HOME: sb.path('config'), REGISTRY_AUTH_FILE: undefined, DOCKER_CONFIG: undefined };
}

describe('CLI over TLS with a private CA and Basic auth', () => {
  const users = { builder: 'Tls-Pa55word' };
  let reg: TlsRegistry;
  let sb: Sandbox;
  let id: string;

  before(async () => {
    reg = await startTlsRegistry({ users });
    sb = new Sandbox('tbah-tlscli-');
    id = buildBase(sb, 'app:1');
  });
  after(async () => {
    await reg?.stop();
    sb?.cleanup();
  });

  test('verification on and an unknown CA: a TLS error with a hint, nothing stored', () => {
    const fp = treeFingerprint(sb.store);
    const r = sb.run(['push', '--creds', `builder:${users.builder}`, 'app:1', `${reg.host}/team/app:1`], { env: isolated(sb) });
    assert.equal(r.status, 125);
    assert.match(r.stderr, /certificate/i);
    assert.match(r.stderr, /--cert-dir|--tls-verify=false/);
    assert.doesNotMatch(r.stderr, /Tls-Pa55word/);
    assert.equal(r.stderr.trim().split('\n').length, 2, `one error line and one hint line:\n${r.stderr}`);
    assert.equal(treeFingerprint(sb.store), fp);
  });

  test('--cert-dir with ca.crt: push and pull; --tls-verify=false: unverified https works too', () => {
    const env = isolated(sb);
    sb.ok(['push', '-q', '--cert-dir', reg.ca.certDir, '--creds', `builder:${users.builder}`, 'app:1', `${reg.host}/team/app:1`], { env });
    const other = new Sandbox('tbah-tlscli-pull-');
    try {
      assert.equal(other.ok(['pull', '-q', '--cert-dir', reg.ca.certDir, '--creds', `builder:${users.builder}`, `${reg.host}/team/app:1`], { env }), id);
      const c = other.ok(['from', '-q', '--pull=always', '--tls-verify=false', '--creds', `builder:${users.builder}`, `${reg.host}/team/app:1`], { env });
      assert.ok(existsSync(path.join(other.ok(['mount', c]), 'bin', 'busybox')));
      // login over TLS with the CA, then pull with the stored credentials.
      const login = other.run(['login', '--cert-dir', reg.ca.certDir, '--username', 'builder', '--password-stdin', reg.host], { env, input: users.builder });
      assert.equal(login.status, 0, login.stderr);
      assert.match(login.stdout, /Login Succeeded!/);
      assert.equal(other.ok(['pull', '-q', '--cert-dir', reg.ca.certDir, `${reg.host}/team/app:1`], { env }), id);
    } finally {
      other.cleanup();
    }
  });
});

describe('CLI with Bearer token auth (docker-registry `auth: token` and a JWT issuer)', () => {
  const users = { alice: 'Alice-Pa55', bob: 'Bob-Pa55' };
  let reg: TokenRegistry;
  let sb: Sandbox;
  let id: string;

  before(async () => {
    reg = await startTokenRegistry({
      users,
      anonymousPull: false,
      access: (user, repo) => (user === 'alice' ? ['pull', 'push'] : user === 'bob' && repo.startsWith('alice/') ? ['pull'] : []),
    });
    sb = new Sandbox('tbah-tokencli-');
    id = buildBase(sb, 'app:1');
  });
  after(async () => {
    await reg?.stop();
    sb?.cleanup();
  });

  test('login, push, and a pull by another user with read access; a push without rights is denied', async () => {
    const env = isolated(sb);
    const login = await sb.runAsync(['login', '--tls-verify=false', '-u', 'alice', '--password-stdin', reg.host], { env, input: users.alice });
    assert.equal(login.status, 0, login.stderr);
    await sb.okAsync(['push', '-q', '--tls-verify=false', 'app:1', `${reg.host}/alice/app:1`], { env });
    const other = new Sandbox('tbah-tokencli-bob-');
    try {
      const benv = isolated(other);
      assert.equal(await other.okAsync(['pull', '-q', '--tls-verify=false', '--creds', `bob:${users.bob}`, `${reg.host}/alice/app:1`], { env: benv }), id);
      const push = await other.runAsync(['push', '--tls-verify=false', '--creds', `bob:${users.bob}`, `${reg.host}/alice/app:1`, `${reg.host}/alice/app:2`], { env: benv });
      assert.equal(push.status, 125);
      assert.match(push.stderr, /denied|unauthorized/i);
      const anon = await other.runAsync(['pull', '--tls-verify=false', `${reg.host}/alice/app:1`], { env: benv });
      assert.equal(anon.status, 125);
      assert.match(anon.stderr, /tbah login/);
      const wrong = await other.runAsync(['login', '--tls-verify=false', '-u', 'bob', '-p', 'Wrong-Bob-9', reg.host], { env: benv });
      assert.equal(wrong.status, 125);
      assert.doesNotMatch(wrong.stdout + wrong.stderr, /Wrong-Bob-9/);
    } finally {
      other.cleanup();
    }
    assert.ok(reg.issuer.requests.some((r) => r.user === 'alice' && r.scopes.some((s) => s.includes('push'))), 'push went through the token flow');
  });
});

describe('CLI through a fault-injecting proxy', () => {
  let reg: TestRegistry;
  let proxy: FaultProxy;
  let sb: Sandbox;
  let id: string;
  let layer: string;

  before(async () => {
    reg = await startRegistry();
    proxy = await startFaultProxy(reg.url);
    sb = new Sandbox('tbah-faultcli-');
    id = buildBase(sb, 'app:1');
    sb.ok(['push', '-q', '--tls-verify=false', 'app:1', `${reg.host}/f/app:1`]);
    // The layer as the registry holds it (gzipped at push; the store keeps it as a tar).
    const m = JSON.parse(sh(`skopeo inspect --raw --tls-verify=false docker://${reg.host}/f/app:1`)) as { layers: Array<{ digest: string }> };
    layer = m.layers[0]!.digest;
  });
  after(async () => {
    await proxy?.stop();
    await reg?.stop();
    sb?.cleanup();
  });

  const pullVia = (other: Sandbox) => other.runAsync(['pull', '-q', '--tls-verify=false', `${proxy.host}/f/app:1`]);

  test('two 500s on the layer, then success', async () => {
    proxy.rules.length = 0;
    proxy.rules.push({ method: 'GET', path: `/blobs/${layer}`, times: 2, fault: { kind: 'status', status: 500 } });
    const other = new Sandbox('tbah-faultcli-500-');
    try {
      const r = await pullVia(other);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), id);
    } finally {
      other.cleanup();
    }
  });

  test('a 429 with Retry-After on the manifest is waited out', async () => {
    proxy.rules.length = 0;
    proxy.rules.push({ method: 'GET', path: /\/manifests\//, times: 1, fault: { kind: 'status', status: 429, headers: { 'retry-after': '1' } } });
    const other = new Sandbox('tbah-faultcli-429-');
    try {
      const r = await pullVia(other);
      assert.equal(r.status, 0, r.stderr);
    } finally {
      other.cleanup();
    }
  });

  test('a connection cut mid-layer is resumed', async () => {
    proxy.rules.length = 0;
    proxy.rules.push({ method: 'GET', path: `/blobs/${layer}`, times: 1, fault: { kind: 'cut-response', afterBytes: 100_000 } });
    const other = new Sandbox('tbah-faultcli-cut-');
    try {
      const r = await pullVia(other);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(await other.okAsync(['images', '-q']), id.slice(0, 12));
    } finally {
      other.cleanup();
    }
  });

  test('corrupted layer bytes: a clear error naming the digest; the store is unchanged', async () => {
    proxy.rules.length = 0;
    proxy.rules.push({ method: 'GET', path: `/blobs/${layer}`, fault: { kind: 'corrupt' } });
    const other = new Sandbox('tbah-faultcli-corrupt-');
    try {
      await other.okAsync(['images']);
      const fp = treeFingerprint(other.store);
      const r = await pullVia(other);
      assert.equal(r.status, 125);
      assert.match(r.stderr, new RegExp(layer.slice(7, 19)));
      assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('tbah:')).length, 1);
      assert.equal(treeFingerprint(other.store), fp, 'nothing stored');
    } finally {
      other.cleanup();
    }
  });

  test('500s on every upload: push fails with a clear error and the tag is never written', async () => {
    proxy.rules.length = 0;
    proxy.rules.push({ method: 'POST', path: /\/blobs\/uploads\//, fault: { kind: 'status', status: 500 } });
    const c = await sb.okAsync(['from', 'app:1']);
    await sb.okAsync(['config', '--label', 'new=1', c]);
    await sb.okAsync(['copy', c, BUSYBOX, '/bin/busybox2']);
    await sb.okAsync(['commit', '--rm', c, 'app:2']);
    const r = await sb.runAsync(['push', '-q', '--tls-verify=false', 'app:2', `${proxy.host}/f/app:2`]);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /500|server error/i);
    proxy.rules.length = 0;
    const probe = await sb.runAsync(['inspect', '--tls-verify=false', `docker://${reg.host}/f/app:2`]);
    assert.equal(probe.status, 125);
    assert.match(probe.stderr, /f\/app:2/);
  });
});
