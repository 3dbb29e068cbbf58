import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TbahError } from '../../src/core/errors.js';
import {
  authFilePaths,
  defaultSources,
  findCredentials,
  lookupKeys,
  normaliseAuthKey,
  runCredentialHelper,
  type CredentialSources,
  type Credentials,
} from '../../src/core/registry/credentials.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** Sources over an in-memory file map; helper calls are recorded. */
function memSources(files: Record<string, string>, env: Record<string, string> = {}, helpers: Record<string, Credentials> = {}) {
  const calls: string[] = [];
  const src: CredentialSources = {
    env,
    home: '/home/u',
    readFile: async (p) => files[p],
    runHelper: async (h, server) => {
      calls.push(`${h} ${server}`);
      return helpers[h];
    },
  };
  return { src, calls };
}

test('auth file search order and the explicit file', () => {
  assert.deepEqual(authFilePaths({ env: {}, home: '/h' }), ['/h/.config/containers/auth.json', '/h/.docker/config.json']);
  assert.deepEqual(authFilePaths({ env: { XDG_RUNTIME_DIR: '/run/user/1', XDG_CONFIG_HOME: '/cfg' }, home: '/h' }), [
    '/run/user/1/containers/auth.json',
    '/cfg/containers/auth.json',
    '/h/.docker/config.json',
  ]);
  assert.deepEqual(authFilePaths({ env: { REGISTRY_AUTH_FILE: '/e.json', XDG_RUNTIME_DIR: '/r' }, home: '/h' }), ['/e.json']);
  assert.deepEqual(authFilePaths({ env: { REGISTRY_AUTH_FILE: '/e.json' }, home: '/h', authFile: '/a.json' }), ['/a.json']);
});

test('lookup keys, most specific first, and legacy key normalisation', () => {
  assert.deepEqual(lookupKeys('quay.io', 'ns/sub/repo'), ['quay.io/ns/sub/repo', 'quay.io/ns/sub', 'quay.io/ns', 'quay.io']);
  assert.equal(normaliseAuthKey('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(normaliseAuthKey('http://localhost:5000/v2/'), 'localhost:5000');
  assert.equal(normaliseAuthKey('quay.io/ns'), 'quay.io/ns');
});

test('the most specific auths key wins; identity tokens are returned as such', async () => {
  const { src } = memSources({
    '/home/u/.config/containers/auth.json': JSON.stringify({
      auths: {
        'quay.io': { auth: b64('host:hpw') },
        'quay.io/ns': { auth: b64('ns:n:pw') },
        'quay.io/tok/repo': { identitytoken: 'refresh-1' },
      },
    }),
  });
  assert.deepEqual(await findCredentials('quay.io', 'ns/repo', src), { kind: 'basic', username: 'ns', password: 'n:pw' });
  assert.deepEqual(await findCredentials('quay.io', 'other/repo', src), { kind: 'basic', username: 'host', password: 'hpw' });
  assert.deepEqual(await findCredentials('quay.io', 'tok/repo', src), { kind: 'identity-token', token: 'refresh-1' });
  assert.equal(await findCredentials('ghcr.io', 'x/y', src), undefined);
});

test('docker.io matches the legacy https://index.docker.io/v1/ key in ~/.docker/config.json', async () => {
  const { src } = memSources({
    '/home/u/.docker/config.json': JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: b64('d:p') } } }),
  });
  assert.deepEqual(await findCredentials('docker.io', 'library/busybox', src), { kind: 'basic', username: 'd', password: 'p' });
});

test('earlier files win; an explicit file hides the others', async () => {
  const files = {
    '/run/containers/auth.json': JSON.stringify({ auths: { 'r.io': { auth: b64('runtime:1') } } }),
    '/home/u/.config/containers/auth.json': JSON.stringify({ auths: { 'r.io': { auth: b64('config:2') } } }),
    '/x.json': JSON.stringify({ auths: {} }),
  };
  assert.equal(((await findCredentials('r.io', 'a', memSources(files, { XDG_RUNTIME_DIR: '/run' }).src)) as { username: string }).username, 'runtime');
  assert.equal(await findCredentials('r.io', 'a', memSources(files, { REGISTRY_AUTH_FILE: '/x.json' }).src), undefined);
});

test('credHelpers for the host, then auths, then credsStore', async () => {
  const file = JSON.stringify({
    credHelpers: { 'helped.io': 'h1' },
    credsStore: 'store',
    auths: { 'helped.io': { auth: b64('file:pw') }, 'plain.io': { auth: b64('plain:pw') } },
  });
  const helpers: Record<string, Credentials> = {
    h1: { kind: 'basic', username: 'fromhelper', password: 's' },
    store: { kind: 'basic', username: 'fromstore', password: 's' },
  };
  const { src, calls } = memSources({ '/home/u/.config/containers/auth.json': file }, {}, helpers);
  assert.equal(((await findCredentials('helped.io', 'a/b', src)) as { username: string }).username, 'fromhelper');
  assert.equal(((await findCredentials('plain.io', 'a/b', src)) as { username: string }).username, 'plain');
  assert.equal(((await findCredentials('other.io', 'a/b', src)) as { username: string }).username, 'fromstore');
  assert.equal(((await findCredentials('docker.io', 'library/x', src)) as { username: string }).username, 'fromstore');
  assert.deepEqual(calls, ['h1 helped.io', 'store other.io', 'store https://index.docker.io/v1/']);
});

test('broken files give errors that do not contain the secret', async () => {
  const bad = memSources({ '/a.json': '{"auths": {"r.io": {"auth": "c2VjcmV0LXBhc3N3b3Jk"}}' }, { REGISTRY_AUTH_FILE: '/a.json' }).src;
  await assert.rejects(findCredentials('r.io', 'x', bad), (e: unknown) => {
    assert.ok(e instanceof TbahError);
    assert.match(e.message, /\/a\.json is not valid JSON/);
    assert.doesNotMatch(e.message, /c2VjcmV0|secret/);
    return true;
  });
  const noColon = memSources({ '/a.json': JSON.stringify({ auths: { 'r.io': { auth: b64('secret-password') } } }) }, { REGISTRY_AUTH_FILE: '/a.json' }).src;
  await assert.rejects(findCredentials('r.io', 'x', noColon), (e: unknown) => {
    assert.ok(e instanceof TbahError);
    assert.equal(e.code, 'invalid-argument');
    assert.doesNotMatch(e.message, /secret-password|c2VjcmV0/);
    return true;
  });
});

test('real files and a docker-credential helper script on PATH', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tbah-creds-'));
  try {
    const bin = join(dir, 'bin');
    await mkdir(bin);
    // The helper echoes the server it was asked about so the test sees stdin reached it.
    await writeFile(
      join(bin, 'docker-credential-fake'),
      `#!/bin/sh
[ "$1" = get ] || exit 3
read server
case "$server" in
  known.io) printf '{"ServerURL":"%s","Username":"u-%s","Secret":"pw"}' "$server" "$server" ;;
  token.io) printf '{"Username":"<token>","Secret":"tok"}' ;;
  broken.io) echo "boom" >&2; exit 1 ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`,
    );
    await chmod(join(bin, 'docker-credential-fake'), 0o755);
    const authFile = join(dir, 'auth.json');
    await writeFile(authFile, JSON.stringify({ credsStore: 'fake', credHelpers: { 'missing.io': 'absent' } }));
    const env = { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}` };
    const src = { ...defaultSources(authFile), env, runHelper: (h: string, s: string) => runCredentialHelper(h, s, env) };
    assert.deepEqual(await findCredentials('known.io', 'r', src), { kind: 'basic', username: 'u-known.io', password: 'pw' });
    assert.deepEqual(await findCredentials('token.io', 'r', src), { kind: 'identity-token', token: 'tok' });
    assert.equal(await findCredentials('unknown.io', 'r', src), undefined);
    await assert.rejects(findCredentials('broken.io', 'r', src), (e: unknown) => e instanceof TbahError && e.code === 'network' && /docker-credential-fake failed for broken.io/.test(e.message));
    await assert.rejects(findCredentials('missing.io', 'r', src), (e: unknown) => e instanceof TbahError && e.code === 'not-found' && /docker-credential-absent/.test(e.message));
    // A missing auth file means anonymous.
    assert.equal(await findCredentials('known.io', 'r', defaultSources(join(dir, 'nope.json'))), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
