import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TbahError } from '../../src/core/errors.js';
import { parseLoginTarget } from '../../src/core/ops/login.js';
import {
  authFilePaths,
  defaultSources,
  findCredentials,
  lookupKeys,
  normaliseAuthKey,
  primaryAuthFile,
  removeAllCredentials,
  removeCredentials,
  runCredentialHelper,
  storeCredentials,
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
  // Without XDG_RUNTIME_DIR the primary file is /run/containers/UID/auth.json, as containers/image has it.
  assert.deepEqual(authFilePaths({ env: {}, home: '/h', uid: 1000 }), [
    '/run/containers/1000/auth.json',
    '/h/.config/containers/auth.json',
    '/h/.docker/config.json',
  ]);
  assert.deepEqual(authFilePaths({ env: { XDG_RUNTIME_DIR: '/run/user/1', XDG_CONFIG_HOME: '/cfg', DOCKER_CONFIG: '/dc' }, home: '/h' }), [
    '/run/user/1/containers/auth.json',
    '/cfg/containers/auth.json',
    '/dc/config.json',
  ]);
  assert.deepEqual(authFilePaths({ env: { REGISTRY_AUTH_FILE: '/e.json', XDG_RUNTIME_DIR: '/r' }, home: '/h' }), ['/e.json']);
  assert.deepEqual(authFilePaths({ env: { REGISTRY_AUTH_FILE: '/e.json' }, home: '/h', authFile: '/a.json' }), ['/a.json']);
  // An empty REGISTRY_AUTH_FILE is unset.
  assert.equal(authFilePaths({ env: { REGISTRY_AUTH_FILE: '', XDG_RUNTIME_DIR: '/r' }, home: '/h' })[0], '/r/containers/auth.json');
});

test('the primary file (the one login writes) is the first one the lookup reads', () => {
  for (const env of [{}, { XDG_RUNTIME_DIR: '/run/user/7' }, { REGISTRY_AUTH_FILE: '/e.json' }]) {
    assert.equal(primaryAuthFile({ env, uid: 7 }).path, authFilePaths({ env, home: '/h', uid: 7 })[0]);
  }
  assert.deepEqual(primaryAuthFile({ env: {}, uid: 7 }), { path: '/run/containers/7/auth.json', explicit: false });
  assert.deepEqual(primaryAuthFile({ env: { XDG_RUNTIME_DIR: '/x' }, authFile: '/a' }), { path: '/a', explicit: true });
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


/** A temp dir with XDG_RUNTIME_DIR inside it, and sources for reading back what was written. */
async function tempEnv(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(join(tmpdir(), 'tbah-creds-w-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const run = join(dir, 'run');
  await mkdir(run);
  const env: Record<string, string | undefined> = { ...process.env, XDG_RUNTIME_DIR: run, REGISTRY_AUTH_FILE: undefined, DOCKER_CONFIG: undefined };
  const read: CredentialSources = { ...defaultSources(), env, home: join(dir, 'home'), runHelper: (h, s) => runCredentialHelper(h, s, env) };
  return { dir, env, file: join(run, 'containers', 'auth.json'), read };
}

test('store: 0600 file in a 0700 dir, found again by the lookup, per-repository keys apart', async (t) => {
  const { dir, env, file, read } = await tempEnv(t);
  assert.equal(await storeCredentials('r.io:5000', 'r.io:5000', 'alice', 'pa:ss', { env }), file);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'run', 'containers'))).mode & 0o777, 0o700);
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { auths: { 'r.io:5000': { auth: b64('alice:pa:ss') } } });
  assert.deepEqual(await findCredentials('r.io:5000', 'any/repo', read), { kind: 'basic', username: 'alice', password: 'pa:ss' });
  await storeCredentials('r.io:5000/team/app', 'r.io:5000', 'bob', 'b', { env });
  assert.equal(((await findCredentials('r.io:5000', 'team/app', read)) as { username: string }).username, 'bob');
  assert.equal(((await findCredentials('r.io:5000', 'team/other', read)) as { username: string }).username, 'alice');
  // Nothing but the file is left in the directory (the temp file was renamed).
  assert.deepEqual(await readdir(join(dir, 'run', 'containers')), ['auth.json']);
});

test('store keeps every other key and field; the entry for the key is replaced whole', async (t) => {
  const { env, file, read } = await tempEnv(t);
  await mkdir(join(file, '..'), { recursive: true });
  const before = {
    auths: {
      'r.io': { identitytoken: 'old-refresh', email: 'x@y' },
      'other.io': { auth: b64('o:p'), email: 'o@p' },
    },
    credHelpers: { 'gcr.io': 'gcloud' },
    psFormat: 'table {{.ID}}',
    HttpHeaders: { 'User-Agent': 'x' },
  };
  await writeFile(file, JSON.stringify(before), { mode: 0o644 });
  await storeCredentials('r.io', 'r.io', 'new', 'pw', { env });
  const after = JSON.parse(await readFile(file, 'utf8')) as typeof before;
  assert.deepEqual(after, { ...before, auths: { 'r.io': { auth: b64('new:pw') }, 'other.io': before.auths['other.io'] } });
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  // The old identity token no longer shadows the new password.
  assert.deepEqual(await findCredentials('r.io', 'a', read), { kind: 'basic', username: 'new', password: 'pw' });
});

test('store refuses a broken file without touching it, and a missing XDG_RUNTIME_DIR', async (t) => {
  const { dir, env, file } = await tempEnv(t);
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, '{"auths": {"r.io": {"auth": "c2VjcmV0"}}');
  await assert.rejects(storeCredentials('r.io', 'r.io', 'u', 'secret-pw', { env }), (e: unknown) => {
    assert.ok(e instanceof TbahError);
    assert.match(e.message, /is not valid JSON/);
    assert.doesNotMatch(e.message + (e.hint ?? ''), /secret|c2VjcmV0/);
    return true;
  });
  assert.equal(await readFile(file, 'utf8'), '{"auths": {"r.io": {"auth": "c2VjcmV0"}}');
  const gone = { ...env, XDG_RUNTIME_DIR: join(dir, 'nope') };
  await assert.rejects(storeCredentials('r.io', 'r.io', 'u', 'p', { env: gone }), /XDG_RUNTIME_DIR does not exist/);
  assert.deepEqual((await readdir(dir)).sort(), ['run']);
});

test('a symlinked auth file is updated where it points, the link stays', async (t) => {
  const { dir, env } = await tempEnv(t);
  const real = join(dir, 'dotfiles-auth.json');
  await writeFile(real, JSON.stringify({ auths: {} }));
  const link = join(dir, 'link.json');
  await symlink(real, link);
  await storeCredentials('r.io', 'r.io', 'u', 'p', { env, authFile: link });
  assert.ok((await lstat(link)).isSymbolicLink());
  assert.equal(await readlink(link), real);
  assert.deepEqual(JSON.parse(await readFile(real, 'utf8')), { auths: { 'r.io': { auth: b64('u:p') } } });
});

test('remove: the exact key, else a legacy key that normalises to it; false when absent', async (t) => {
  const { dir, env, file } = await tempEnv(t);
  assert.equal(await removeCredentials('r.io', 'r.io', { env }), false);
  assert.deepEqual(await readdir(join(dir, 'run')), [], 'a logout with no file creates nothing');
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, JSON.stringify({ auths: { 'r.io': { auth: b64('a:b') }, 'https://q.io/v1/': { auth: b64('c:d') }, 'z.io': {} }, keep: 1 }));
  assert.equal(await removeCredentials('r.io', 'r.io', { env }), true);
  assert.equal(await removeCredentials('q.io', 'q.io', { env }), true);
  assert.equal(await removeCredentials('q.io', 'q.io', { env }), false);
  assert.equal(await removeCredentials('r.io/ns', 'r.io', { env }), false);
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { auths: { 'z.io': {} }, keep: 1 });
  await removeAllCredentials({ env });
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { auths: {}, keep: 1 });
});

/**
 * A docker-credential helper as a shell script: a test double of an external
 * program (no real helper is packaged for Debian here). It keeps one file per
 * server in $HELPER_DB, holding exactly the JSON `store` was given.
 */
const FILE_HELPER = `#!/bin/sh
db="$HELPER_DB"
keyof() { printf %s "$1" | tr -c 'A-Za-z0-9.' '_'; }
case "$1" in
  store)
    input=$(cat)
    server=$(printf %s "$input" | sed -n 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/p')
    printf %s "$input" > "$db/$(keyof "$server")" ;;
  get)
    read -r server
    if [ -f "$db/$(keyof "$server")" ]; then cat "$db/$(keyof "$server")"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  erase)
    read -r server
    if [ -f "$db/$(keyof "$server")" ]; then rm "$db/$(keyof "$server")"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  *) exit 3 ;;
esac
`;

test('credHelpers and credsStore: whole-registry keys are stored and erased through the helper', async (t) => {
  const { dir, env, file, read } = await tempEnv(t);
  const bin = join(dir, 'bin');
  const db = join(dir, 'db');
  await mkdir(bin);
  await mkdir(db);
  await writeFile(join(bin, 'docker-credential-filedb'), FILE_HELPER, { mode: 0o755 });
  Object.assign(env, { PATH: `${bin}:${process.env['PATH'] ?? ''}`, HELPER_DB: db });
  await mkdir(join(file, '..'), { recursive: true });
  const config = { credHelpers: { 'h.io': 'filedb', 'absent.io': 'notinstalled' }, credsStore: 'filedb', auths: { 's.io': { auth: b64('stale:plain') } } };
  await writeFile(file, JSON.stringify(config));

  assert.equal(await storeCredentials('h.io', 'h.io', 'hu', 'h-secret', { env }), 'credential helper: filedb');
  assert.equal(await storeCredentials('s.io', 's.io', 'su', 's-secret', { env }), 'credential helper: filedb');
  assert.equal(await storeCredentials('docker.io', 'docker.io', 'du', 'd-secret', { env }), 'credential helper: filedb');
  // A per-repository key has no place in a helper: it goes to the file.
  assert.equal(await storeCredentials('h.io/ns/repo', 'h.io', 'ru', 'r-secret', { env }), file);
  const text = await readFile(file, 'utf8');
  for (const secret of ['h-secret', 's-secret', 'd-secret', 'stale:plain', b64('stale:plain')]) assert.ok(!text.includes(secret), secret);
  const doc = JSON.parse(text) as typeof config;
  assert.deepEqual(doc.auths, { 's.io': {}, 'h.io': {}, 'docker.io': {}, 'h.io/ns/repo': { auth: b64('ru:r-secret') } });
  assert.deepEqual(doc.credHelpers, config.credHelpers);
  assert.deepEqual((await readdir(db)).sort(), ['h.io', 'https___index.docker.io_v1_', 's.io']);
  assert.deepEqual(JSON.parse(await readFile(join(db, 'h.io'), 'utf8')), { ServerURL: 'h.io', Username: 'hu', Secret: 'h-secret' });

  // What was stored is what the lookup finds.
  assert.deepEqual(await findCredentials('h.io', 'x/y', read), { kind: 'basic', username: 'hu', password: 'h-secret' });
  assert.deepEqual(await findCredentials('s.io', 'x/y', read), { kind: 'basic', username: 'su', password: 's-secret' });
  assert.deepEqual(await findCredentials('docker.io', 'library/x', read), { kind: 'basic', username: 'du', password: 'd-secret' });

  assert.equal(await removeCredentials('h.io', 'h.io', { env }), true);
  assert.deepEqual((await readdir(db)).sort(), ['https___index.docker.io_v1_', 's.io']);
  // --all erases what the helpers hold, skips the helper that is not installed, keeps the configuration.
  await removeAllCredentials({ env });
  assert.deepEqual(await readdir(db), []);
  const left = JSON.parse(await readFile(file, 'utf8')) as typeof config;
  assert.deepEqual(left, { ...config, auths: {} });
});

test('a helper that fails to store is an error that names no secret', async (t) => {
  const { dir, env, file } = await tempEnv(t);
  const bin = join(dir, 'bin');
  await mkdir(bin);
  await writeFile(join(bin, 'docker-credential-broken'), '#!/bin/sh\ncat\nexit 1\n', { mode: 0o755 });
  env['PATH'] = `${bin}:${process.env['PATH'] ?? ''}`;
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, JSON.stringify({ credsStore: 'broken' }));
  await assert.rejects(storeCredentials('b.io', 'b.io', 'u', 'the-secret', { env }), (e: unknown) => {
    assert.ok(e instanceof TbahError);
    assert.match(e.message, /docker-credential-broken could not store credentials for b\.io/);
    assert.doesNotMatch(e.message + (e.hint ?? ''), /the-secret/);
    return true;
  });
  assert.equal(await readFile(file, 'utf8'), JSON.stringify({ credsStore: 'broken' }));
});

test('login targets as Buildah parses them', () => {
  assert.deepEqual(parseLoginTarget('127.0.0.1:5000'), { key: '127.0.0.1:5000', registry: '127.0.0.1:5000' });
  assert.deepEqual(parseLoginTarget('https://quay.io/v2/'), { key: 'quay.io', registry: 'quay.io' });
  assert.deepEqual(parseLoginTarget('http://localhost:5000'), { key: 'localhost:5000', registry: 'localhost:5000' });
  assert.deepEqual(parseLoginTarget('quay.io/team/app'), { key: 'quay.io/team/app', registry: 'quay.io' });
  // Kept as typed: docker.io/x must not become docker.io/library/x.
  assert.deepEqual(parseLoginTarget('docker.io/x'), { key: 'docker.io/x', registry: 'docker.io' });
  assert.throws(() => parseLoginTarget('quay.io/team/app:1'), /cannot contain a tag or digest/);
  assert.throws(() => parseLoginTarget('team/app'), /team is not a registry host/);
  assert.throws(() => parseLoginTarget('quay.io/Team'), /lowercase/);
  assert.throws(() => parseLoginTarget(''), /not a registry/);
});
