/**
 * Bearer token auth as Docker Hub, GHCR or Harbor do it, on 127.0.0.1: a
 * small token issuer (node:http) and a docker-registry configured with
 * `auth: token:` that trusts it. The issuer checks Basic credentials (or an
 * OAuth2 refresh token / password grant), grants the requested scopes that
 * the policy allows, and signs an ES256 JWT whose `x5c` header carries its
 * certificate, which is the registry's `rootcertbundle`.
 *
 *   const reg = await startTokenRegistry({
 *     users: { alice: 'pw', bob: 'pw2' },
 *     anonymousPull: false,                       // default true
 *     access: (user, repo) => user === 'alice' || repo.startsWith(`${user}/`) ? ['pull', 'push'] : [],
 *   });
 *   // reg.host; reg.issuer.requests lists every token request (user, scopes, granted, status)
 *   await reg.stop();
 *
 * Without `access`: anonymous gets pull (when anonymousPull), users get pull
 * and push everywhere. A refused login answers 401 with a distribution error
 * body; `leakyErrors: true` makes that body echo the submitted password, to
 * prove clients never show what a server echoes.
 */
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey, randomUUID, sign } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type TestRegistry, startRegistry } from './registry.js';
import { type TestCa, makeTestCa } from './tls.js';

export type TokenAction = 'pull' | 'push' | 'delete' | '*';

export interface TokenIssuerOptions {
  /** User name → password. */
  users?: Record<string, string>;
  /** Anonymous (no credentials) may pull everything; default true. Ignored when `access` is given. */
  anonymousPull?: boolean;
  /** Actions `user` (undefined: anonymous) may do on `repository`; overrides the defaults. */
  access?: (user: string | undefined, repository: string) => TokenAction[];
  /** OAuth2 refresh tokens (Docker's identity tokens) → user name. */
  identityTokens?: Record<string, string>;
  /** Echo the submitted credentials in 401 bodies (a hostile server, for redaction tests). */
  leakyErrors?: boolean;
  /** Token lifetime in seconds; default 300. */
  expiresIn?: number;
}

export interface TokenRequest {
  method: string;
  /** The authenticated user; undefined for anonymous or refused. */
  user: string | undefined;
  scopes: string[];
  /** `repository:NAME:ACTIONS` for what was granted. */
  granted: string[];
  status: number;
}

export interface TokenIssuer {
  /** `http://127.0.0.1:PORT/token` */
  realm: string;
  service: string;
  issuer: string;
  /** PEM file with the signing certificate (the registry's rootcertbundle). */
  rootCertBundle: string;
  requests: TokenRequest[];
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

function parseScope(s: string): { type: string; name: string; actions: string[] } | undefined {
  const first = s.indexOf(':');
  const last = s.lastIndexOf(':');
  if (first < 0 || last <= first) return undefined;
  return { type: s.slice(0, first), name: s.slice(first + 1, last), actions: s.slice(last + 1).split(',').filter((a) => a !== '') };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startTokenIssuer(opts: TokenIssuerOptions = {}): Promise<TokenIssuer> {
  const dir = await mkdtemp(join(tmpdir(), 'tbah-token-'));
  try {
    await promisify(execFile)(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'signer.key', '-out', 'signer.crt', '-days', '2', '-subj', '/CN=tbah test token signer', '-addext', 'basicConstraints=critical,CA:TRUE'],
      { cwd: dir },
    );
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`openssl failed: ${(e as { stderr?: string }).stderr ?? String(e)}`);
  }
  const key = createPrivateKey(await readFile(join(dir, 'signer.key')));
  const certDer = new X509Certificate(await readFile(join(dir, 'signer.crt'))).raw;
  const service = 'tbah-test-registry';
  const issuerName = 'tbah-test-issuer';
  const users = opts.users ?? {};
  const lifetime = opts.expiresIn ?? 300;
  const requests: TokenRequest[] = [];
  const policy =
    opts.access ?? ((user: string | undefined): TokenAction[] => (user !== undefined ? ['pull', 'push'] : opts.anonymousPull === false ? [] : ['pull']));

  const mint = (user: string | undefined, scopes: string[]): { token: string; granted: string[] } => {
    const access: Array<{ type: string; name: string; actions: string[] }> = [];
    const granted: string[] = [];
    for (const s of scopes) {
      const p = parseScope(s);
      if (p === undefined || p.type !== 'repository') continue;
      const allowed = policy(user, p.name);
      const actions = allowed.includes('*') ? p.actions : p.actions.filter((a) => allowed.includes(a as TokenAction));
      access.push({ type: 'repository', name: p.name, actions });
      if (actions.length > 0) granted.push(`repository:${p.name}:${actions.join(',')}`);
    }
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] };
    const claims = { iss: issuerName, sub: user ?? '', aud: service, exp: now + lifetime, nbf: now - 10, iat: now, jti: randomUUID(), access };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    // JOSE wants ECDSA signatures as raw r||s, not DER.
    const sig = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
    return { token: `${signingInput}.${b64url(sig)}`, granted };
  };

  const refuse = (res: ServerResponse, rec: TokenRequest, secret: string): void => {
    rec.status = 401;
    res.statusCode = 401;
    res.setHeader('content-type', 'application/json');
    res.setHeader('www-authenticate', `Basic realm="${issuerName}"`);
    const message = opts.leakyErrors === true ? `incorrect username or password: ${secret}` : 'incorrect username or password';
    res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message, detail: opts.leakyErrors === true ? secret : undefined }] }));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://issuer');
    if (url.pathname !== '/token') {
      res.statusCode = 404;
      res.end();
      return;
    }
    const rec: TokenRequest = { method: req.method ?? 'GET', user: undefined, scopes: [], granted: [], status: 200 };
    requests.push(rec);
    let params = url.searchParams;
    if (req.method === 'POST') params = new URLSearchParams(await readBody(req));
    rec.scopes = params.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
    if (params.get('service') !== service) {
      rec.status = 400;
      res.statusCode = 400;
      res.end(JSON.stringify({ errors: [{ code: 'INVALID_REQUEST', message: 'unknown service' }] }));
      return;
    }
    let user: string | undefined;
    if (req.method === 'POST') {
      const grant = params.get('grant_type');
      if (grant === 'refresh_token') {
        const rt = params.get('refresh_token') ?? '';
        user = opts.identityTokens?.[rt];
        if (user === undefined) return refuse(res, rec, rt);
      } else if (grant === 'password') {
        const u = params.get('username') ?? '';
        const p = params.get('password') ?? '';
        if (users[u] === undefined || users[u] !== p) return refuse(res, rec, p);
        user = u;
      } else {
        rec.status = 400;
        res.statusCode = 400;
        res.end(JSON.stringify({ errors: [{ code: 'UNSUPPORTED_GRANT', message: 'unsupported grant_type' }] }));
        return;
      }
    } else {
      const h = req.headers.authorization;
      if (h !== undefined) {
        const m = /^Basic\s+(.+)$/i.exec(h);
        const decoded = m === null ? '' : Buffer.from(m[1]!, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        const u = colon < 0 ? decoded : decoded.slice(0, colon);
        const p = colon < 0 ? '' : decoded.slice(colon + 1);
        if (users[u] === undefined || users[u] !== p) return refuse(res, rec, p);
        user = u;
      }
    }
    rec.user = user;
    const { token, granted } = mint(user, rec.scopes);
    rec.granted = granted;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ token, access_token: token, expires_in: lifetime, issued_at: new Date().toISOString() }));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      res.statusCode = 500;
      res.end(String(e));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const onExit = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('exit', onExit);
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer: issuerName,
    rootCertBundle: join(dir, 'signer.crt'),
    requests,
    stop: async () => {
      process.removeListener('exit', onExit);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface TokenRegistry extends TestRegistry {
  issuer: TokenIssuer;
  /** Set when started with `tls: true`. */
  ca?: TestCa;
}

/** docker-registry with Bearer token auth against a fresh issuer (https with a test CA when `tls`). */
export async function startTokenRegistry(opts: TokenIssuerOptions & { tls?: boolean } = {}): Promise<TokenRegistry> {
  const issuer = await startTokenIssuer(opts);
  let ca: TestCa | undefined;
  let reg: TestRegistry;
  try {
    if (opts.tls === true) ca = await makeTestCa();
    reg = await startRegistry({
      token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, rootCertBundle: issuer.rootCertBundle },
      ...(ca === undefined ? {} : { tls: { cert: ca.serverCert, key: ca.serverKey } }),
    });
  } catch (e) {
    await issuer.stop();
    await ca?.cleanup();
    throw e;
  }
  return {
    ...reg,
    issuer,
    ...(ca === undefined ? {} : { ca }),
    stop: async () => {
      await reg.stop();
      await issuer.stop();
      await ca?.cleanup();
    },
  };
}
