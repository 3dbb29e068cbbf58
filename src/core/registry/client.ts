/**
 * A Docker Registry HTTP API v2 / OCI distribution client on Node's global
 * fetch: ping, Bearer/Basic auth from challenges, manifests, verified blob
 * reads, HEAD-skip/mount/monolithic uploads, retries for transient failures.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { TbahError } from '../errors.js';
import { type Descriptor, type Digest, MediaType, isDigest, sha256Digest } from '../oci.js';
import { VerifyingStream } from '../store/blobs.js';
import { type AuthChallenge, findChallenge, parseWwwAuthenticate } from './auth-header.js';
import type { Credentials } from './credentials.js';

export interface RegistryClientOptions {
  /** `host[:port]` as in a reference's domain (`docker.io` is mapped to its API host). */
  registry: string;
  /** false: plain http is allowed (tried after https fails). */
  tlsVerify?: boolean;
  credentials?: Credentials;
  /** Attempts for transient failures (5xx, 429, connection errors); default 4. */
  attempts?: number;
  /** Base backoff in ms, doubled each retry; default 250. */
  backoffMs?: number;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

export const MANIFEST_ACCEPT = [
  MediaType.ociManifest,
  MediaType.ociIndex,
  MediaType.dockerManifest,
  MediaType.dockerManifestList,
].join(', ');

/** Manifests are small; refuse anything absurd rather than buffer it. */
const MANIFEST_MAX = 4 * 1024 * 1024;

interface RequestSpec {
  method: string;
  /** Path after the host, e.g. `/v2/ns/repo/manifests/tag`, or an absolute URL (upload locations). */
  path: string;
  headers?: Record<string, string>;
  /** Made anew per attempt, so streamed bodies can be retried. */
  body?: () => Buffer | Readable;
  /** The token scope this request needs (`repository:ns/repo:pull`). */
  scope: string;
  /** What the request is about, for error messages. */
  what: string;
}

export class RegistryClient {
  readonly registry: string;
  private readonly apiHost: string;
  private readonly tlsVerify: boolean;
  private readonly credentials: Credentials | undefined;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private scheme: 'https' | 'http' | undefined;
  private challenge: AuthChallenge | undefined;
  private readonly tokens = new Map<string, string>();

  constructor(opts: RegistryClientOptions) {
    this.registry = opts.registry;
    this.apiHost = opts.registry === 'docker.io' ? 'registry-1.docker.io' : opts.registry;
    this.tlsVerify = opts.tlsVerify ?? true;
    this.credentials = opts.credentials;
    this.attempts = Math.max(1, opts.attempts ?? 4);
    this.backoffMs = opts.backoffMs ?? 250;
  }

  /** GET /v2/: finds the scheme (https, or http when TLS is off) and the auth challenge. */
  async ping(): Promise<void> {
    if (this.scheme !== undefined) return;
    const schemes: Array<'https' | 'http'> = this.tlsVerify ? ['https'] : ['https', 'http'];
    let lastErr: unknown;
    for (const scheme of schemes) {
      try {
        const res = await this.withRetries(`${scheme}://${this.apiHost}/v2/`, () =>
          fetch(`${scheme}://${this.apiHost}/v2/`, { method: 'GET', redirect: 'follow' }),
        );
        await res.body?.cancel();
        if (res.status !== 200 && res.status !== 401) {
          throw new TbahError('network', `registry ${this.registry} answered ${res.status} to /v2/`, {
            hint: 'is this a container registry?',
          });
        }
        this.scheme = scheme;
        const h = res.headers.get('www-authenticate');
        if (res.status === 401 && h !== null) this.challenge = preferred(parseWwwAuthenticate(h));
        return;
      } catch (e) {
        if (e instanceof TbahError && e.code !== 'network') throw e;
        lastErr = e;
      }
    }
    throw new TbahError('network', `cannot reach registry ${this.registry}: ${errText(lastErr)}`, {
      hint: this.tlsVerify ? 'if the registry speaks plain http or has a self-signed certificate, use --tls-verify=false' : 'check the address and that the registry is running',
      cause: lastErr,
    });
  }

  /**
   * Prove the credentials work (for `tbah login`): Basic is tried on `/v2/`,
   * Bearer by asking the token server for a token with no scope. A registry
   * that asks for no authentication accepts anything.
   */
  async checkCredentials(): Promise<void> {
    await this.ping();
    const ch = this.challenge;
    if (ch === undefined) return;
    if (ch.scheme === 'bearer') {
      await this.fetchToken(ch, '');
      return;
    }
    const c = this.credentials;
    const headers: Record<string, string> = {};
    if (c?.kind === 'basic') headers['Authorization'] = basicHeader(c.username, c.password);
    const res = await this.withRetries('login', () => fetch(`${this.base()}/v2/`, { headers }));
    await res.body?.cancel();
    if (!res.ok) throw this.statusError(res.status, 'login');
  }

  /** Fetch a manifest by tag or digest. By digest, the bytes are verified. */
  async getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    const res = await this.request({
      method: 'GET',
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { Accept: MANIFEST_ACCEPT },
      scope: `repository:${repository}:pull`,
      what: `manifest ${repository}:${reference}`,
    });
    const bytes = await readLimited(res, MANIFEST_MAX, `manifest ${repository}:${reference}`);
    const digest = sha256Digest(bytes);
    if (isDigest(reference) && digest !== reference) {
      throw new TbahError('corrupt', `manifest ${repository}@${reference} from ${this.registry} has digest ${digest}`, {
        hint: 'the registry or a proxy altered the manifest',
      });
    }
    const header = res.headers.get('content-type')?.split(';')[0]?.trim();
    return { bytes, mediaType: mediaTypeOf(bytes, header), digest };
  }

  /** A stream of the blob, verified against the descriptor's digest and size as it flows. */
  async getBlob(repository: string, desc: Pick<Descriptor, 'digest' | 'size'>): Promise<Readable> {
    const res = await this.request({
      method: 'GET',
      path: `/v2/${repository}/blobs/${desc.digest}`,
      scope: `repository:${repository}:pull`,
      what: `blob ${desc.digest} in ${repository}`,
    });
    if (res.body === null) throw new TbahError('network', `blob ${desc.digest} in ${repository}: empty response`);
    const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
    const verify = new VerifyingStream(desc.digest, desc.size, `blob ${desc.digest} from ${this.registry}/${repository}`);
    body.on('error', (e) => verify.destroy(new TbahError('network', `reading blob ${desc.digest}: ${errText(e)}`, { cause: e })));
    return body.pipe(verify);
  }

  /** HEAD the blob: true when the repository already has it. */
  async hasBlob(repository: string, digest: Digest): Promise<boolean> {
    try {
      const res = await this.request({
        method: 'HEAD',
        path: `/v2/${repository}/blobs/${digest}`,
        scope: `repository:${repository}:pull`,
        what: `blob ${digest} in ${repository}`,
      });
      await res.body?.cancel();
      return true;
    } catch (e) {
      if (e instanceof TbahError && e.code === 'not-found') return false;
      throw e;
    }
  }

  /**
   * Mount a blob from another repository of the same registry. False when the
   * registry declined (it then opened an upload session, which we abandon).
   */
  async mountBlob(repository: string, from: string, digest: Digest): Promise<boolean> {
    const res = await this.request({
      method: 'POST',
      path: `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
      scope: `repository:${repository}:pull,push repository:${from}:pull`,
      what: `mount of ${digest} from ${from} into ${repository}`,
    });
    await res.body?.cancel();
    if (res.status === 201) return true;
    const location = res.headers.get('location');
    if (location !== null) await this.abandonUpload(repository, location);
    return false;
  }

  /**
   * Upload a blob unless the repository has it. `open` is called per attempt.
   * Returns whether bytes were sent.
   */
  async uploadBlob(repository: string, desc: Pick<Descriptor, 'digest' | 'size'>, open: () => Readable): Promise<boolean> {
    if (await this.hasBlob(repository, desc.digest)) return false;
    const scope = `repository:${repository}:pull,push`;
    const start = await this.request({
      method: 'POST',
      path: `/v2/${repository}/blobs/uploads/`,
      scope,
      what: `upload of ${desc.digest} to ${repository}`,
    });
    await start.body?.cancel();
    const location = start.headers.get('location');
    if (location === null) throw new TbahError('network', `registry ${this.registry} started an upload without a Location`);
    const url = new URL(location, this.base());
    url.searchParams.set('digest', desc.digest);
    const res = await this.request({
      method: 'PUT',
      path: url.toString(),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(desc.size) },
      body: open,
      scope,
      what: `upload of ${desc.digest} to ${repository}`,
    });
    await res.body?.cancel();
    return true;
  }

  /** PUT a manifest under a tag (or digest). Returns the digest of the bytes. */
  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<Digest> {
    const res = await this.request({
      method: 'PUT',
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { 'Content-Type': mediaType },
      body: () => bytes,
      scope: `repository:${repository}:pull,push`,
      what: `manifest ${repository}:${reference}`,
    });
    await res.body?.cancel();
    return sha256Digest(bytes);
  }

  private async abandonUpload(repository: string, location: string): Promise<void> {
    try {
      const res = await this.request({
        method: 'DELETE',
        path: new URL(location, this.base()).toString(),
        scope: `repository:${repository}:pull,push`,
        what: 'upload cancel',
      });
      await res.body?.cancel();
    } catch {
      // Registries expire abandoned uploads on their own.
    }
  }

  private base(): string {
    return `${this.scheme ?? 'https'}://${this.apiHost}`;
  }

  /** One request with auth (a 401 fetches a token once and retries) and retries. */
  private async request(spec: RequestSpec): Promise<Response> {
    await this.ping();
    const url = /^https?:\/\//.test(spec.path) ? spec.path : `${this.base()}${spec.path}`;
    let authRetried = false;
    while (true) {
      const auth = await this.authorization(spec.scope, false);
      const res = await this.withRetries(spec.what, () => {
        const headers: Record<string, string> = { ...spec.headers };
        if (auth !== undefined) headers['Authorization'] = auth;
        const init: RequestInit & { duplex?: 'half' } = { method: spec.method, headers, redirect: 'follow' };
        if (spec.body !== undefined) {
          const b = spec.body();
          if (Buffer.isBuffer(b)) init.body = b;
          else {
            init.body = Readable.toWeb(b) as unknown as ReadableStream<Uint8Array>;
            init.duplex = 'half'; // required by fetch for a streamed request body
          }
        }
        return fetch(url, init);
      });
      if (res.status === 401 && !authRetried) {
        const h = res.headers.get('www-authenticate');
        await res.body?.cancel();
        if (h !== null) this.challenge = preferred(parseWwwAuthenticate(h)) ?? this.challenge;
        this.tokens.delete(spec.scope);
        authRetried = true;
        if ((await this.authorization(spec.scope, true)) !== undefined) continue;
        throw this.statusError(401, spec.what);
      }
      if (res.ok || (res.status >= 300 && res.status < 400)) return res;
      await res.body?.cancel();
      throw this.statusError(res.status, spec.what);
    }
  }

  /** The Authorization header for a scope, fetching a Bearer token if needed. */
  private async authorization(scope: string, refresh: boolean): Promise<string | undefined> {
    const ch = this.challenge;
    if (ch === undefined) return undefined;
    if (ch.scheme === 'basic') {
      const c = this.credentials;
      return c?.kind === 'basic' ? basicHeader(c.username, c.password) : undefined;
    }
    if (ch.scheme !== 'bearer') return undefined;
    const cached = this.tokens.get(scope);
    if (cached !== undefined && !refresh) return `Bearer ${cached}`;
    const token = await this.fetchToken(ch, scope);
    this.tokens.set(scope, token);
    return `Bearer ${token}`;
  }

  private async fetchToken(ch: AuthChallenge, scope: string): Promise<string> {
    const realm = ch.params['realm'];
    if (realm === undefined) throw new TbahError('network', `registry ${this.registry} sent a Bearer challenge without a realm`);
    const url = new URL(realm);
    if (ch.params['service'] !== undefined) url.searchParams.set('service', ch.params['service']);
    for (const s of scope.split(' ')) if (s !== '') url.searchParams.append('scope', s);
    const c = this.credentials;
    let res: Response;
    if (c?.kind === 'identity-token') {
      // OAuth2 refresh-token grant, as Docker does with identity tokens.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: c.token, client_id: 'tbah' });
      if (scope !== '') form.set('scope', scope);
      if (ch.params['service'] !== undefined) form.set('service', ch.params['service']);
      res = await this.withRetries('token', () => fetch(realm, { method: 'POST', body: form }));
    } else {
      const headers: Record<string, string> = {};
      if (c?.kind === 'basic') headers['Authorization'] = basicHeader(c.username, c.password);
      res = await this.withRetries('token', () => fetch(url, { headers }));
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw this.statusError(res.status === 400 ? 401 : res.status, `token for ${scope}`);
    }
    const body = (await res.json()) as { token?: unknown; access_token?: unknown };
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (token === undefined) throw new TbahError('network', `token server ${url.host} returned no token`);
    return token;
  }

  /** Retry 5xx, 429 (honouring Retry-After) and connection errors; nothing else. */
  private async withRetries(what: string, attempt: () => Promise<Response>): Promise<Response> {
    for (let i = 1; ; i++) {
      let res: Response | undefined;
      let err: unknown;
      try {
        res = await attempt();
      } catch (e) {
        err = e;
      }
      const transient = res === undefined ? isTransientError(err) : res.status >= 500 || res.status === 429;
      if (!transient || i >= this.attempts) {
        if (res !== undefined) return res;
        throw new TbahError('network', `${what} on ${this.registry}: ${errText(err)}`, {
          hint: tlsHint(err, this.tlsVerify),
          cause: err,
        });
      }
      let wait = this.backoffMs * 2 ** (i - 1);
      const ra = res?.headers.get('retry-after');
      if (ra !== null && ra !== undefined && /^\d+$/.test(ra)) wait = Math.min(Number(ra) * 1000, 60_000);
      await res?.body?.cancel();
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  private statusError(status: number, what: string): TbahError {
    if (status === 401 || status === 403) {
      return new TbahError('network', `${what}: ${status === 401 ? 'unauthorized' : 'access denied'} by ${this.registry}`, {
        hint: `log in with \`tbah login ${this.registry}\` or check the repository name`,
      });
    }
    if (status === 404) return new TbahError('not-found', `${what}: not found on ${this.registry}`, { hint: 'check the repository name and tag' });
    return new TbahError('network', `${what}: ${this.registry} answered HTTP ${status}`);
  }
}

/** Bearer beats Basic: a registry offering both wants tokens. */
function preferred(chs: AuthChallenge[]): AuthChallenge | undefined {
  return findChallenge(chs, 'bearer') ?? findChallenge(chs, 'basic');
}

function basicHeader(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

/** Content-Type when given and meaningful, else the document's own mediaType field. */
function mediaTypeOf(bytes: Buffer, header: string | undefined): string {
  if (header !== undefined && header !== '' && header !== 'application/json' && header !== 'text/plain') return header;
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown; manifests?: unknown };
    if (typeof doc.mediaType === 'string') return doc.mediaType;
    return Array.isArray(doc.manifests) ? MediaType.ociIndex : MediaType.ociManifest;
  } catch {
    throw new TbahError('corrupt', 'manifest from registry is not JSON');
  }
}

async function readLimited(res: Response, max: number, what: string): Promise<Buffer> {
  const len = Number(res.headers.get('content-length') ?? '0');
  if (len > max) {
    await res.body?.cancel();
    throw new TbahError('unsupported', `${what} is ${len} bytes, more than the ${max} allowed`);
  }
  const buf = Buffer.from(await res.arrayBuffer());
  if (buf.length > max) throw new TbahError('unsupported', `${what} is more than ${max} bytes`);
  return buf;
}

function causeCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && typeof cur === 'object' && cur !== null; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function isTransientError(e: unknown): boolean {
  const code = causeCode(e);
  return code === 'ECONNRESET' || code === 'ECONNREFUSED' || code === 'ETIMEDOUT' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'EAI_AGAIN';
}

function tlsHint(e: unknown, tlsVerify: boolean): string {
  const code = causeCode(e) ?? '';
  const tls = /^ERR_SSL|CERT|^DEPTH_ZERO|SELF_SIGNED|^ERR_TLS/.test(code) || /ssl|tls|certificate/i.test(errText(e));
  if (tls && tlsVerify) return 'the registry may speak plain http or use an untrusted certificate: try --tls-verify=false';
  return 'check the registry address and your network';
}

function errText(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    return cause instanceof Error ? `${e.message} (${cause.message})` : e.message;
  }
  return String(e);
}
