/**
 * `tbah login` / `tbah logout` against a real docker-registry with htpasswd
 * Basic auth on 127.0.0.1, with skopeo reading (and writing) the same auth
 * files. Every output of every command is kept and checked for secrets.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type RunResult, Sandbox, tbahBin } from '../helpers/cli.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const USER = 'alice';
const PASSWORD = 'pw-Correct-7f3a9e';
const WRONG = 'pw-Wrong-19c2d4';
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const SECRETS = [PASSWORD, WRONG, b64(`${USER}:${PASSWORD}`), b64(`${USER}:${WRONG}`)];

/** Every stdout/stderr seen in this file, for the final no-secrets check. */
const outputs: Array<{ what: string; text: string }> = [];
function keep(what: string, r: { stdout: string; stderr: string }): void {
  outputs.push({ what, text: r.stdout + r.stderr });
}

let reg: TestRegistry;
const sb = new Sandbox('tbah-login-');
/** A private environment: no auth file of the machine's user can leak in, none is left behind. */
const env: Record<string, string | undefined> = {
  HOME: sb.path('home'),
  XDG_RUNTIME_DIR: sb.path('run'),
  XDG_CONFIG_HOME: sb.path('config'),
  REGISTRY_AUTH_FILE: undefined,
  DOCKER_CONFIG: undefined,
};
const defaultFile = sb.path('run', 'containers', 'auth.json');

function tbah(args: string[], opts: { input?: string; env?: Record<string, string | undefined> } = {}): RunResult {
  const r = sb.run(args, { env: { ...env, ...opts.env }, ...(opts.input === undefined ? {} : { input: opts.input }) });
  keep(`tbah ${args.join(' ')}`, r);
  return r;
}

function skopeo(args: string[], opts: { input?: string; env?: Record<string, string | undefined> } = {}): RunResult {
  const e: Record<string, string | undefined> = { ...process.env, ...env, ...opts.env };
  for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
  const r = spawnSync('skopeo', args, { env: e as NodeJS.ProcessEnv, encoding: 'utf8', input: opts.input ?? '' });
  const res = { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  keep(`skopeo ${args.join(' ')}`, res);
  return res;
}

// The registry speaks plain HTTP.
const NO_TLS = '--tls-verify=false';

before(async () => {
  reg = await startRegistry({ user: { name: USER, password: PASSWORD } });
  for (const d of ['home', 'run', 'config']) mkdirSync(sb.path(d), { recursive: true });
  // An image to push: built with tbah, written as an OCI layout for skopeo.
  writeFileSync(sb.path('hello.txt'), 'hello\n');
  const c = sb.ok(['from', 'scratch']);
  sb.ok(['copy', c, 'hello.txt', '/hello.txt']);
  sb.ok(['commit', '--rm', c, 'app:1']);
  sb.ok(['push', 'app:1', `oci:${sb.path('layout')}:app`]);
});
after(async () => {
  await reg?.stop();
  sb.cleanup();
});

describe('login and logout with the default auth file', () => {
  test('a wrong password is refused before anything is written', () => {
    const r = tbah(['login', NO_TLS, '-u', USER, '-p', WRONG, reg.host]);
    assert.equal(r.status, 125);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`logging into ${reg.host}: invalid username/password \\(unauthorized`));
    assert.match(r.stderr, /nothing was written/);
    assert.equal(existsSync(sb.path('run', 'containers')), false, 'not even the directory');
  });

  test('--password-stdin logs in: 0600 file in a 0700 dir under $XDG_RUNTIME_DIR', () => {
    const r = tbah(['login', NO_TLS, '-v', '--username', USER, '--password-stdin', reg.host], { input: `${PASSWORD}\n` });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `Used: ${defaultFile}\nLogin Succeeded!\n`);
    assert.equal(statSync(defaultFile).mode & 0o777, 0o600);
    assert.equal(statSync(sb.path('run', 'containers')).mode & 0o777, 0o700);
    assert.deepEqual(JSON.parse(readFileSync(defaultFile, 'utf8')), { auths: { [reg.host]: { auth: b64(`${USER}:${PASSWORD}`) } } });
  });

  test('skopeo pushes and inspects with what login wrote (its default file is the same one)', () => {
    const ref = `docker://${reg.host}/team/app:1`;
    // Without credentials the registry refuses.
    const anon = skopeo(['inspect', '--tls-verify=false', '--authfile', sb.path('empty.json'), ref], {});
    assert.notEqual(anon.status, 0);
    // skopeo finds ${XDG_RUNTIME_DIR}/containers/auth.json by itself, as tbah wrote it.
    const cp = skopeo(['copy', '--dest-tls-verify=false', `oci:${sb.path('layout')}:app`, ref]);
    assert.equal(cp.status, 0, cp.stderr);
    const ins = skopeo(['inspect', '--tls-verify=false', '--authfile', defaultFile, ref]);
    assert.equal(ins.status, 0, ins.stderr);
    assert.match((JSON.parse(ins.stdout) as { Digest: string }).Digest, /^sha256:[0-9a-f]{64}$/);
  });

  test('--get-login prints the user; login with valid credentials on file changes nothing', () => {
    const g = tbah(['login', '--get-login', reg.host]);
    assert.equal(g.status, 0, g.stderr);
    assert.equal(g.stdout, `${USER}\n`);
    const bytes = readFileSync(defaultFile);
    const again = tbah(['login', NO_TLS, reg.host]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, `Existing credentials are valid. Already logged in to ${reg.host}\n`);
    assert.ok(readFileSync(defaultFile).equals(bytes));
  });

  test('no username or password on a non-terminal stdin is an error, not a hang', () => {
    const r = tbah(['login', NO_TLS, '-u', USER, reg.host]);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /no password given and stdin is not a terminal/);
    const both = tbah(['login', NO_TLS, '-u', USER, '-p', PASSWORD, '--password-stdin', reg.host], { input: PASSWORD });
    assert.equal(both.status, 125);
    assert.match(both.stderr, /can't specify both --password-stdin and --password/);
    const noUser = tbah(['login', NO_TLS, '--password-stdin', reg.host], { input: PASSWORD });
    assert.equal(noUser.status, 125);
    assert.match(noUser.stderr, /must provide --username with --password-stdin/);
  });

  test('logout removes the entry; a second logout and --get-login say "not logged into"', () => {
    const r = tbah(['logout', reg.host]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `Removed login credentials for ${reg.host}\n`);
    assert.deepEqual(JSON.parse(readFileSync(defaultFile, 'utf8')), { auths: {} });
    const twice = tbah(['logout', reg.host]);
    assert.equal(twice.status, 125);
    assert.equal(twice.stdout, '');
    assert.match(twice.stderr, new RegExp(`^tbah: not logged into ${reg.host}\n`));
    const g = tbah(['login', '--get-login', reg.host]);
    assert.equal(g.status, 125);
    assert.match(g.stderr, new RegExp(`not logged into ${reg.host}`));
    // And the registry refuses skopeo again.
    assert.notEqual(skopeo(['inspect', '--tls-verify=false', `docker://${reg.host}/team/app:1`]).status, 0);
  });

  test('a URL argument is cut to host:port, as Buildah does', () => {
    const r = tbah(['login', NO_TLS, '-u', USER, '-p', PASSWORD, `http://${reg.host}/v2/`]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(Object.keys((JSON.parse(readFileSync(defaultFile, 'utf8')) as { auths: object }).auths), [reg.host]);
    assert.equal(tbah(['logout', `https://${reg.host}/anything`]).stdout, `Removed login credentials for ${reg.host}\n`);
  });
});

describe('--authfile and REGISTRY_AUTH_FILE', () => {
  const file = sb.path('mine', 'config.json');
  // A Docker config.json with fields tbah does not use: all must survive.
  const original = {
    auths: { 'other.example:5000': { auth: b64('o:p'), email: 'o@example.com' } },
    credHelpers: { 'gcr.io': 'gcloud' },
    psFormat: 'table {{.ID}}',
    HttpHeaders: { 'User-Agent': 'test' },
  };

  test('a wrong password leaves the file byte for byte; the right one keeps every other field', () => {
    mkdirSync(sb.path('mine'), { recursive: true });
    writeFileSync(file, JSON.stringify(original, null, 1));
    const bytes = readFileSync(file);
    const bad = tbah(['login', NO_TLS, '--authfile', file, '-u', USER, '--password-stdin', reg.host], { input: WRONG });
    assert.equal(bad.status, 125);
    assert.match(bad.stderr, /invalid username\/password/);
    assert.ok(readFileSync(file).equals(bytes), 'unchanged');

    const ok = tbah(['login', NO_TLS, '--authfile', file, '-u', USER, '-p', PASSWORD, reg.host]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, 'Login Succeeded!\n');
    const doc = JSON.parse(readFileSync(file, 'utf8')) as typeof original;
    assert.deepEqual(doc, { ...original, auths: { ...original.auths, [reg.host]: { auth: b64(`${USER}:${PASSWORD}`) } } });
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(sb.path('mine')), ['config.json'], 'no temp file left');
    const ins = skopeo(['inspect', '--tls-verify=false', '--authfile', file, `docker://${reg.host}/team/app:1`]);
    assert.equal(ins.status, 0, ins.stderr);
  });

  test('REGISTRY_AUTH_FILE is used like --authfile; a per-repository key is its own entry', () => {
    const e = { REGISTRY_AUTH_FILE: file };
    const r = tbah(['login', NO_TLS, '-u', USER, '-p', PASSWORD, `${reg.host}/team/app`], { env: e });
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { auths: Record<string, unknown> };
    assert.deepEqual(doc.auths[`${reg.host}/team/app`], { auth: b64(`${USER}:${PASSWORD}`) });
    assert.equal(tbah(['login', '--get-login', `${reg.host}/team/app`], { env: e }).stdout, `${USER}\n`);
    assert.equal(tbah(['logout', `${reg.host}/team/app`], { env: e }).stdout, `Removed login credentials for ${reg.host}/team/app\n`);
    const tagged = tbah(['login', NO_TLS, '-u', USER, '-p', PASSWORD, `${reg.host}/team/app:1`], { env: e });
    assert.equal(tagged.status, 125);
    assert.match(tagged.stderr, /cannot contain a tag or digest/);
  });

  test('logout --all empties auths and keeps the rest; a missing --authfile is an error', () => {
    const r = tbah(['logout', '--authfile', file, '--all']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'Removed login credentials for all registries\n');
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { ...original, auths: {} });
    const missing = tbah(['logout', '--authfile', sb.path('nope.json'), reg.host]);
    assert.equal(missing.status, 125);
    assert.match(missing.stderr, /credential file .*nope\.json is not accessible/);
  });

  test('what skopeo login writes, tbah reads and removes', () => {
    const f = sb.path('skopeo-auth.json');
    const s = skopeo(['login', '--tls-verify=false', '--authfile', f, '-u', USER, '--password-stdin', reg.host], { input: PASSWORD });
    assert.equal(s.status, 0, s.stderr);
    assert.equal(tbah(['login', '--get-login', '--authfile', f, reg.host]).stdout, `${USER}\n`);
    assert.equal(tbah(['logout', '--authfile', f, reg.host]).status, 0);
    assert.notEqual(skopeo(['login', '--get-login', '--authfile', f, reg.host]).status, 0);
  });
});

/**
 * A docker-credential helper as a shell script: a test double of an external
 * program (no real helper is packaged for Debian). It keeps one file per
 * server in $HELPER_DB holding exactly the JSON `store` was given.
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

describe('credential helpers named in the auth file', () => {
  const file = sb.path('helper-auth.json');
  const db = sb.path('helper-db');
  const helperEnv = () => ({ PATH: `${sb.path('helper-bin')}:${process.env['PATH'] ?? ''}`, HELPER_DB: db });
  before(() => {
    mkdirSync(sb.path('helper-bin'), { recursive: true });
    mkdirSync(db, { recursive: true });
    writeFileSync(sb.path('helper-bin', 'docker-credential-filedb'), FILE_HELPER, { mode: 0o755 });
  });

  for (const kind of ['credHelpers', 'credsStore'] as const) {
    test(`${kind}: the secret goes to the helper, the file keeps only an empty entry`, () => {
      const config = kind === 'credHelpers' ? { credHelpers: { [reg.host]: 'filedb' } } : { credsStore: 'filedb' };
      writeFileSync(file, JSON.stringify(config));
      const r = tbah(['login', NO_TLS, '-v', '--authfile', file, '-u', USER, '-p', PASSWORD, reg.host], { env: helperEnv() });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'Used: credential helper: filedb\nLogin Succeeded!\n');
      const text = readFileSync(file, 'utf8');
      for (const s of SECRETS) assert.ok(!text.includes(s), 'no secret in the file');
      assert.deepEqual(JSON.parse(text), { ...config, auths: { [reg.host]: {} } });
      assert.deepEqual(JSON.parse(readFileSync(`${db}/${reg.host.replace(':', '_')}`, 'utf8')), { ServerURL: reg.host, Username: USER, Secret: PASSWORD });
      assert.equal(tbah(['login', '--get-login', '--authfile', file, reg.host], { env: helperEnv() }).stdout, `${USER}\n`);
      if (kind === 'credHelpers') {
        // containers/image (skopeo) asks the same helper.
        const ins = skopeo(['inspect', '--tls-verify=false', '--authfile', file, `docker://${reg.host}/team/app:1`], { env: helperEnv() });
        assert.equal(ins.status, 0, ins.stderr);
      }
      const out = tbah(['logout', '--authfile', file, reg.host], { env: helperEnv() });
      assert.equal(out.status, 0, out.stderr);
      assert.deepEqual(readdirSync(db), [], 'erased from the helper');
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { ...config, auths: {} });
    });
  }
});

/** Drives a command on a pseudo-terminal (python3's pty), answering each prompt only once it is shown. */
const PTY_DRIVER = `
import json, os, pty, sys, select
pairs = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
seen = b''
def read_some():
    global seen
    r, _, _ = select.select([fd], [], [], 60)
    if not r:
        return b''
    try:
        data = os.read(fd, 4096)
    except OSError:
        data = b''
    seen += data
    return data
pos = 0
for prompt, answer in pairs:
    p = prompt.encode()
    while p not in seen[pos:]:
        if not read_some():
            break
    if p not in seen[pos:]:
        break
    pos = seen.index(p, pos) + len(p)
    os.write(fd, answer.encode())
while read_some():
    pass
_, status = os.waitpid(pid, 0)
print(json.dumps({'status': os.waitstatus_to_exitcode(status), 'output': seen.decode('utf8', 'replace')}))
`;

function onTerminal(args: string[], answers: Array<[string, string]>): { status: number; output: string } {
  writeFileSync(sb.path('pty_driver.py'), PTY_DRIVER);
  const e: Record<string, string | undefined> = { ...process.env, TBAH_ROOT: sb.store, NO_COLOR: '1', ...env };
  for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
  const r = spawnSync('python3', [sb.path('pty_driver.py'), JSON.stringify(answers), process.execPath, tbahBin, ...args], { env: e as NodeJS.ProcessEnv, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { status: number; output: string };
  keep(`(terminal) tbah ${args.join(' ')}`, { stdout: res.output, stderr: r.stderr });
  return res;
}

describe('on a terminal', () => {
  test('asks for the username and, without echo, the password', () => {
    const r = onTerminal(['login', NO_TLS, reg.host], [['Username: ', `${USER}\r`], ['Password: ', `${PASSWORD}\r`]]);
    assert.equal(r.status, 0, r.output);
    // The terminal shows the typed username (echo on) and never the password.
    assert.match(r.output, new RegExp(`Username: ${USER}\\r\\nPassword: \\r\\nLogin Succeeded!`));
    assert.deepEqual(JSON.parse(readFileSync(defaultFile, 'utf8')), { auths: { [reg.host]: { auth: b64(`${USER}:${PASSWORD}`) } } });
  });

  test('an empty username answer takes the one on file; a wrong typed password is refused', () => {
    const r = onTerminal(['login', NO_TLS, '-p', PASSWORD, reg.host], [[`Username (${USER}): `, '\r']]);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /Login Succeeded!/);
    const bytes = readFileSync(defaultFile);
    const bad = onTerminal(['login', NO_TLS, '-u', USER, reg.host], [['Password: ', `${WRONG}\r`]]);
    assert.equal(bad.status, 125);
    assert.match(bad.output, /invalid username\/password/);
    assert.ok(readFileSync(defaultFile).equals(bytes));
    assert.equal(tbah(['logout', reg.host]).status, 0);
  });
});

describe('--compat-auth-file (a Docker config.json)', () => {
  const compat = sb.path('docker', 'config.json');

  test('login writes Docker\'s format there and nowhere else; tbah and skopeo (as DOCKER_CONFIG) use it', () => {
    const before = existsSync(defaultFile) ? readFileSync(defaultFile, 'utf8') : undefined;
    const r = tbah(['login', NO_TLS, '--compat-auth-file', compat, '-u', USER, '--password-stdin', reg.host], { input: PASSWORD });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'Login Succeeded!\n');
    assert.deepEqual(JSON.parse(readFileSync(compat, 'utf8')), { auths: { [reg.host]: { auth: b64(`${USER}:${PASSWORD}`) } } });
    assert.equal(statSync(compat).mode & 0o777, 0o600);
    assert.equal(existsSync(defaultFile) ? readFileSync(defaultFile, 'utf8') : undefined, before, 'the containers auth file is untouched');
    assert.equal(tbah(['login', '--get-login', '--compat-auth-file', compat, reg.host]).stdout, `${USER}\n`);
    const push = tbah(['push', '-q', NO_TLS, '--authfile', compat, 'app:1', `${reg.host}/compat/app:1`]);
    assert.equal(push.status, 0, push.stderr);
    const sk = skopeo(['inspect', NO_TLS, `docker://${reg.host}/compat/app:1`], { env: { DOCKER_CONFIG: sb.path('docker') } });
    assert.equal(sk.status, 0, sk.stderr);
  });

  test('with --authfile too, or with a per-repository key, login refuses and writes nothing', () => {
    const bytes = readFileSync(compat);
    const both = tbah(['login', NO_TLS, '--authfile', sb.path('other.json'), '--compat-auth-file', compat, '-u', USER, '-p', PASSWORD, reg.host]);
    assert.equal(both.status, 125);
    assert.match(both.stderr, /--authfile and --compat-auth-file cannot be used simultaneously/);
    assert.equal(existsSync(sb.path('other.json')), false);
    const ns = tbah(['login', NO_TLS, '--compat-auth-file', compat, '-u', USER, '-p', PASSWORD, `${reg.host}/team/app`]);
    assert.equal(ns.status, 125);
    assert.match(ns.stderr, /Docker-compatible format with namespaced key/);
    assert.ok(readFileSync(compat).equals(bytes));
    const lo = tbah(['logout', '--authfile', sb.path('other.json'), '--compat-auth-file', compat, reg.host]);
    assert.equal(lo.status, 125);
    assert.match(lo.stderr, /cannot be used simultaneously/);
  });

  test('logout edits that file; a missing one is an error', () => {
    const r = tbah(['logout', '--compat-auth-file', compat, reg.host]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `Removed login credentials for ${reg.host}\n`);
    assert.deepEqual(JSON.parse(readFileSync(compat, 'utf8')), { auths: {} });
    const missing = tbah(['logout', '--compat-auth-file', sb.path('nope', 'config.json'), reg.host]);
    assert.equal(missing.status, 125);
    assert.match(missing.stderr, /credential file .* is not accessible/);
  });
});

test('no command ever printed a password or an encoded credential', () => {
  assert.ok(outputs.length > 30, `${outputs.length} outputs were checked`);
  for (const o of outputs) for (const s of SECRETS) assert.ok(!o.text.includes(s), `${o.what} printed a secret`);
});
