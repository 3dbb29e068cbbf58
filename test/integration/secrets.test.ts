/**
 * No secret in anything tbah writes: after a workflow with login (Basic and
 * Bearer token registries, a password, an identity token, --creds), push,
 * pull, from, run --secret (file and env) and commit, every byte of the
 * store (layers decompressed), of the registries' storage (what was pushed),
 * of inspect output, and of every stdout/stderr (errors and verbose output
 * included) is searched for the passwords, their base64 forms, the identity
 * token, any JWT, and the --secret contents. Only the auth files, where
 * `login` is meant to keep credentials, are left out.
 */
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { existsSync, mkdirSync, readFileSync, readdirSync, lstatSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type RunResult, Sandbox, hasCommand } from '../helpers/cli.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { startTokenRegistry, type TokenRegistry } from '../helpers/token-auth.js';

const P1 = 'pw-Basic-3c9e1f7a-secret';
const WRONG = 'pw-Wrong-88d1b2c4-secret';
const P2 = 'pw-Token-51a0d9e6-secret';
const IDT = 'idtok-7b2e4f60c1d94a8e-secret';
const S_FILE = 'file-secret-0f3a9c2e71b4';
const S_ENV = 'env-secret-6d81e2a05c97';
const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** Every form a secret could take on the way out. */
const NEEDLES: Array<[string, string]> = [
  ...[P1, WRONG, P2, IDT, S_FILE, S_ENV].flatMap((s): Array<[string, string]> => [[s, s], [`base64(${s})`, b64(s)], [`url(${s})`, encodeURIComponent(s)]]),
  ['base64(alice:P1)', b64(`alice:${P1}`)], ['base64(alice:WRONG)', b64(`alice:${WRONG}`)], ['base64(bob:P2)', b64(`bob:${P2}`)],
];
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\./;

const APPLETS = ['sh', 'cat', 'test', 'true'];

describe('secrets appear nowhere tbah writes', { skip: !hasCommand('runc') && 'needs runc' }, () => {
  const sb = new Sandbox('tbah-secrets-');
  let r1: TestRegistry;
  let r2: TokenRegistry;
  const outputs: Array<{ what: string; text: string }> = [];
  const auth = sb.path('auth.json');
  const idAuth = sb.path('id-auth.json');
  const env = { REGISTRY_AUTH_FILE: auth, MYSECRET: S_ENV, HOME: sb.path('home'), XDG_RUNTIME_DIR: sb.path('run'), DOCKER_CONFIG: undefined };
  // Async: the token issuer answers from this very process.
  const tbah = async (args: string[], input?: string): Promise<RunResult> => {
    const r = await sb.runAsync(args, { env, ...(input === undefined ? {} : { input }) });
    outputs.push({ what: `tbah ${args.join(' ')}`, text: r.stdout + r.stderr });
    return r;
  };
  const ok = async (args: string[], input?: string): Promise<string> => {
    const r = await tbah(args, input);
    assert.equal(r.status, 0, `tbah ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };

  before(async () => {
    mkdirSync(sb.path('home'));
    mkdirSync(sb.path('run'));
    r1 = await startRegistry({ user: { name: 'alice', password: P1 } });
    r2 = await startTokenRegistry({ users: { bob: P2 }, identityTokens: { [IDT]: 'bob' }, anonymousPull: false, leakyErrors: true });
    writeFileSync(sb.path('secret.txt'), S_FILE);
    writeFileSync(idAuth, JSON.stringify({ auths: { [r2.host]: { identitytoken: IDT } } }));
  });
  after(async () => {
    await r1?.stop();
    await r2?.stop();
    sb.cleanup();
  });

  test('a workflow with every kind of secret, then a search of every byte', async () => {
    const NO_TLS = '--tls-verify=false';
    // A base with a shell.
    const c = await ok(['from', 'scratch']);
    await ok(['copy', c, '/bin/busybox', '/bin/busybox']);
    const rootfs = await ok(['mount', c]);
    for (const a of APPLETS) symlinkSync('busybox', path.join(rootfs, 'bin', a));
    await ok(['commit', c, 'base:1']);

    // Basic auth: a refused login (with a verbose one), a login, push, pull, from.
    assert.equal((await tbah(['login', NO_TLS, '-u', 'alice', '-p', WRONG, r1.host])).status, 125);
    await ok(['login', NO_TLS, '-v', '-u', 'alice', '--password-stdin', r1.host], P1);
    await ok(['login', '--get-login', r1.host]);
    await ok(['push', NO_TLS, 'base:1', `${r1.host}/team/app:1`]);
    await ok(['pull', NO_TLS, `${r1.host}/team/app:1`]);
    await ok(['push', NO_TLS, '--creds', `alice:${P1}`, 'base:1', `${r1.host}/team/app:2`]);
    assert.equal((await tbah(['pull', NO_TLS, '--creds', `alice:${WRONG}`, `${r1.host}/team/app:2`])).status, 125);

    // Bearer tokens: a password login, then an identity token from another auth file.
    assert.equal((await tbah(['login', NO_TLS, '-u', 'bob', '-p', WRONG, r2.host])).status, 125);
    await ok(['login', NO_TLS, '-u', 'bob', '-p', P2, r2.host]);
    await ok(['push', NO_TLS, 'base:1', `${r2.host}/bob/app:1`]);
    await ok(['pull', NO_TLS, '--authfile', idAuth, `${r2.host}/bob/app:1`]);
    const c2 = await ok(['from', NO_TLS, '--authfile', idAuth, `${r2.host}/bob/app:1`]);

    // Secrets for a run: a file and an environment variable, used and not printed.
    await ok(['run', '--secret', `id=sf,src=${sb.path('secret.txt')}`, '--secret', 'id=se,env=MYSECRET', c2, '--',
      'sh', '-c', 'test -s /run/secrets/sf && test -s /run/secrets/se && cat /run/secrets/sf /run/secrets/se > /dev/null']);
    await ok(['commit', c2, 'after-run:1']);
    await ok(['inspect', c2]);
    await ok(['inspect', 'after-run:1']);
    await ok(['inspect', '--type', 'image', `${r2.host}/bob/app:1`]);
    await ok(['images', '--json']);
    await ok(['containers', '--json']);
    await ok(['push', NO_TLS, 'after-run:1', `${r1.host}/team/after:1`]);
    await ok(['push', 'after-run:1', `oci-archive:${sb.path('out.tar')}`]);
    await ok(['logout', r2.host]);

    // Everything tbah wrote or printed.
    const hits: string[] = [];
    const search = (what: string, bytes: Buffer): void => {
      for (const [name, needle] of NEEDLES) if (bytes.includes(needle)) hits.push(`${name} in ${what}`);
      if (JWT.test(bytes.toString('latin1'))) hits.push(`a JWT in ${what}`);
    };
    const walk = (dir: string, skip: Set<string>): number => {
      let n = 0;
      if (!existsSync(dir)) return 0;
      for (const name of readdirSync(dir)) {
        const p = path.join(dir, name);
        if (skip.has(p)) continue;
        const st = lstatSync(p);
        if (st.isDirectory()) n += walk(p, skip);
        else if (st.isFile()) {
          const bytes = readFileSync(p);
          search(p, bytes);
          n++;
          if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
            try { search(`${p} (gunzipped)`, gunzipSync(bytes)); } catch { /* not gzip after all */ }
          }
        }
      }
      return n;
    };
    const files = walk(sb.store, new Set())
      + walk(path.join(r1.dir, 'storage'), new Set())
      + walk(path.join(r2.dir, 'storage'), new Set())
      + walk(sb.dir, new Set([sb.store, auth, idAuth, sb.path('secret.txt')]));
    for (const o of outputs) search(`output of ${o.what}`, Buffer.from(o.text));
    assert.ok(files > 20, `searched ${files} files`);
    process.stdout.write(`# secrets: ${NEEDLES.length} needles and any JWT, ${files} files and ${outputs.length} command outputs searched\n`);
    assert.deepEqual(hits, []);
    // The search does find secrets where they are: the secret's own file, the auth file.
    search('control: secret.txt', readFileSync(sb.path('secret.txt')));
    search('control: auth.json', readFileSync(auth));
    const found: string[] = hits; // (deepEqual above narrowed the type to never[])
    assert.ok(found.includes(`${S_FILE} in control: secret.txt`) && found.includes('base64(alice:P1) in control: auth.json'), found.join('\n'));
    // The auth file holds the logins (that is its job), and only there.
    assert.ok(readFileSync(auth, 'utf8').includes(b64(`alice:${P1}`)));
  });
});
