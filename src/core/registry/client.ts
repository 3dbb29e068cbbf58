/**
 * A Docker Registry HTTP API v2 / OCI distribution client on Node's global
 * fetch: ping, Bearer/Basic auth from challenges, manifests, verified blob
 * reads that resume after a cut connection, HEAD-skip/mount/POST-PATCH-PUT
 * uploads, retries for transient failures, TLS from containers-certs.d
 * directories, and errors built from the registry's JSON error body.
 */
import { Readable } from 'node:stream';
import { type Descriptor, type Digest, MediaType, isDigest, sha256Digest } from '../oci.js';
import { VerifyingStream } from '../util/hashing.js';
import { type AuthChallenge, findChallenge, parseWwwAuthenticate } from './auth-header.js';
import type { Credentials } from './credentials.js';
import {
  RegistryError,
  type RequestContext,
  classifyTransportError,
  describe,
  isTransientTransport,
  readDistributionErrors,
  statusError,
  transportError,
} from './errors.js';
import { type TlsDispatcher, type TlsMaterial, defaultCertDirs, firstExistingDir, loadCertDir, makeDispatcher } from './tls.js';
import { keep } from '../util/streams.js';

export { RegistryError } from './errors.js';

export interface RegistryClientOptions {
  /** `host[:port]` as in a reference's domain (`docker.io` is mapped to its API host). */
  registry: string;
  /**
   * true (default): https only, certificates verified. false: https without
   * certificate verification, and plain http when https fails.
   */
  tlsVerify?: boolean;
  /**
   * A containers-certs.d(5) directory: `*.crt` are CA certificates added to
   * the default roots, `NAME.cert` + `NAME.key` a client certificate. Without
   * it the first existing of `~/.config/containers/certs.d/HOST` (rootless
   * only), `/etc/containers/certs.d/HOST` and `/etc/docker/certs.d/HOST` is used.
   */
  certDir?: string;
  credentials?: Credentials;
  /** Attempts for transient failures (5xx, 429, connection errors, a failed upload); default 4. */
  attempts?: number;
  /** Base backoff in ms, doubled each retry; default 250. A 429's Retry-After (≤ 60 s) wins. */
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
/** Longest wait a Retry-After may impose. */
const RETRY_AFTER_MAX_MS = 60_000;

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
  ctx: RequestContext;
  /** Retry transient failures of this very request (default true; false when a retry must start over elsewhere). */
  retry?: boolean;
  /** Statuses returned to the caller instead of thrown (404 for HEAD). */
  accept?: number[];
}

type FetchInit = Omit<RequestInit, 'dispatcher'> & { duplex?: 'half'; dispatcher?: object };

export class RegistryClient {
  readonly registry: string;
  private readonly apiHost: string;
  private readonly tlsVerify: boolean;
  private readonly certDirOption: string | undefined;
  private readonly credentials: Credentials | undefined;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private scheme: 'https' | 'http' | undefined;
  private pinging: Promise<void> | undefined;
  private transport: Promise<void> | undefined;
  private tls: TlsDispatcher | undefined;
  private material: TlsMaterial | undefined;
  private challenge: AuthChallenge | undefined;
  private readonly tokens = new Map<string, Promise<string>>();
  /** Everything that must never be shown: the password or identity token, and each Bearer token. */
  private readonly secrets = new Set<string>();

  constructor(opts: RegistryClientOptions) {
    this.registry = opts.registry;
    this.apiHost = opts.registry === 'docker.io' ? 'registry-1.docker.io' : opts.registry;
    this.tlsVerify = opts.tlsVerify ?? true;
    this.certDirOption = opts.certDir;
    this.credentials = opts.credentials;
    this.attempts = Math.max(1, opts.attempts ?? 4);
    this.backoffMs = opts.backoffMs ?? 250;
    const c = opts.credentials;
    if (c?.kind === 'basic' && c.password !== '') this.secrets.add(c.password);
    if (c?.kind === 'identity-token' && c.token !== '') this.secrets.add(c.token);
  }

  /** The host requests go to (`registry-1.docker.io` for `docker.io`). */
  get host(): string {
    return this.apiHost;
  }

  /** The certificate directory in use once the client has connected (undefined: none). */
  get certDir(): string | undefined {
    return this.material?.dir;
  }

  /** Release the connection pool of a custom TLS setup (idle sockets never hold the process open). */
  async close(): Promise<void> {
    const tls = this.tls;
    this.tls = undefined;
    this.transport = undefined;
    this.scheme = undefined; // the next request pings again and rebuilds the transport
    await tls?.close();
  }

  /** GET /v2/: finds the scheme (https, or http when TLS verification is off) and the auth challenge. */
  async ping(): Promise<void> {
    if (this.scheme !== undefined) return;
    this.pinging ??= this.doPing().finally(() => {
      this.pinging = undefined;
    });
    return this.pinging;
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
    const ctx: RequestContext = { registry: this.registry, action: 'login', kind: 'ping' };
    if (ch.scheme === 'bearer') {
      await this.fetchToken(ch, '', ctx);
      return;
    }
    const headers: Record<string, string> = {};
    const c = this.credentials;
    if (c?.kind === 'basic') headers['Authorization'] = basicHeader(c.username, c.password);
    const res = await this.send(`${this.base()}/v2/`, () => ({ headers }), ctx, true);
    if (!res.ok) throw await this.failure(res, ctx);
    await res.body?.cancel();
  }

  /** Fetch a manifest by tag or digest. By digest, the bytes are verified. */
  async getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    const ctx: RequestContext = { registry: this.registry, action: 'pull', kind: 'manifest', repository, reference };
    const res = await this.request({
      method: 'GET',
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { Accept: MANIFEST_ACCEPT },
      scope: `repository:${repository}:pull`,
      ctx,
    });
    let bytes: Buffer;
    try {
      bytes = await readLimited(res, MANIFEST_MAX, describe(ctx));
    } catch (e) {
      throw e instanceof RegistryError ? e : this.transportFailure(e, ctx, this.base());
    }
    const digest = sha256Digest(bytes);
    if (isDigest(reference) && digest !== reference) {
      throw new RegistryError('corrupt', `manifest ${repository}@${reference} from ${this.registry} has digest ${digest}`, {
        hint: 'the registry or a proxy altered the manifest',
      });
    }
    const header = res.headers.get('content-type')?.split(';')[0]?.trim();
    return { bytes, mediaType: mediaTypeOf(bytes, header), digest };
  }

  /**
   * A stream of the blob, verified against the descriptor's digest and size
   * as it flows (a mismatch is a `corrupt` error naming the digest). A
   * connection cut mid-blob is resumed with a Range request, up to
   * `attempts` times.
   */
  async getBlob(repository: string, desc: Pick<Descriptor, 'digest' | 'size'>): Promise<Readable> {
    const ctx: RequestContext = { registry: this.registry, action: 'pull', kind: 'blob', repository, digest: desc.digest };
    const spec: RequestSpec = {
      method: 'GET',
      path: `/v2/${repository}/blobs/${desc.digest}`,
      // A transparently decompressed body would not match its digest.
      headers: { 'Accept-Encoding': 'identity' },
      scope: `repository:${repository}:pull`,
      ctx,
    };
    const first = await this.request(spec);
    const verify = new VerifyingStream(desc.digest, desc.size, `blob ${desc.digest} from ${this.registry}/${repository}`);
    const body = Readable.from(this.blobChunks(spec, first, desc.size), { objectMode: false });
    body.on('error', (e) => verify.destroy(e));
    // A consumer that stops early must also stop the download.
    verify.on('close', () => body.destroy());
    verify.on('error', keep); // an early mismatch waits for the consumer instead of crashing (util/streams)
    return body.pipe(verify);
  }

  /** HEAD the blob: true when the repository already has it. */
  async hasBlob(repository: string, digest: Digest): Promise<boolean> {
    return this.headBlob(repository, digest, `repository:${repository}:pull`, 'pull');
  }

  /**
   * Mount a blob from another repository of the same registry. False when
   * the registry declined (it then opened an upload session, which is
   * abandoned) or the credentials may not read `from`.
   */
  async mountBlob(repository: string, from: string, digest: Digest): Promise<boolean> {
    const ctx: RequestContext = { registry: this.registry, action: 'push', kind: 'mount', repository, digest };
    let res: Response;
    try {
      res = await this.request({
        method: 'POST',
        path: `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
        scope: `repository:${repository}:pull,push repository:${from}:pull`,
        ctx,
      });
    } catch (e) {
      // No read access to `from` (Distribution answers 401 insufficient_scope): upload instead.
      if (e instanceof RegistryError && (e.code === 'unauthorized' || e.code === 'denied')) return false;
      throw e;
    }
    await res.body?.cancel();
    if (res.status === 201) return true;
    const location = res.headers.get('location');
    if (location !== null) await this.abandonUpload(repository, location);
    return false;
  }

  /**
   * Upload a blob unless the repository has it, as containers/image does:
   * POST opens a session, one PATCH streams the whole blob, PUT `?digest=`
   * (no body) commits it. A failed PATCH or PUT starts over from POST, up to
   * `attempts` times; `open` is called per attempt. Returns whether bytes were sent.
   */
  async uploadBlob(repository: string, desc: Pick<Descriptor, 'digest' | 'size'>, open: () => Readable): Promise<boolean> {
    const scope = `repository:${repository}:pull,push`;
    if (await this.headBlob(repository, desc.digest, scope, 'push')) return false;
    const ctx: RequestContext = { registry: this.registry, action: 'push', kind: 'upload', repository, digest: desc.digest };
    const opened: Readable[] = [];
    const openTracked = (): Readable => {
      const s = open();
      opened.push(s);
      return s;
    };
    for (let attempt = 1; ; attempt++) {
      const start = await this.request({ method: 'POST', path: `/v2/${repository}/blobs/uploads/`, scope, ctx });
      await start.body?.cancel();
      const location = start.headers.get('location');
      if (location === null) throw new RegistryError('network', `${this.registry} opened an upload to ${repository} without a Location header`);
      let current = location;
      try {
        const patched = await this.request({
          method: 'PATCH',
          path: new URL(location, this.base()).toString(),
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(desc.size) },
          body: openTracked,
          scope,
          ctx,
          retry: false,
        });
        await patched.body?.cancel();
        current = patched.headers.get('location') ?? location;
        const url = new URL(current, this.base());
        url.searchParams.set('digest', desc.digest);
        const put = await this.request({
          method: 'PUT',
          path: url.toString(),
          // No body and no Content-Length header: fetch sends `Content-Length: 0` itself (and undici 7 refuses a second one).
          headers: { 'Content-Type': 'application/octet-stream' },
          scope,
          ctx,
          retry: false,
        });
        await put.body?.cancel();
        return true;
      } catch (e) {
        // A cut PATCH may leave the source open.
        for (const s of opened.splice(0)) s.destroy();
        const again = e instanceof RegistryError && e.transient && attempt < this.attempts;
        if (!again) throw e;
        await this.abandonUpload(repository, current);
        await sleep(this.backoff(attempt));
      }
    }
  }

  /** PUT a manifest under a tag (or digest). Returns the digest of the bytes. */
  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<Digest> {
    const res = await this.request({
      method: 'PUT',
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { 'Content-Type': mediaType },
      body: () => bytes,
      scope: `repository:${repository}:pull,push`,
      ctx: { registry: this.registry, action: 'push', kind: 'manifest', repository, reference },
    });
    await res.body?.cancel();
    return sha256Digest(bytes);
  }

  private async headBlob(repository: string, digest: Digest, scope: string, action: 'pull' | 'push'): Promise<boolean> {
    const res = await this.request({
      method: 'HEAD',
      path: `/v2/${repository}/blobs/${digest}`,
      scope,
      ctx: { registry: this.registry, action, kind: 'blob', repository, digest },
      accept: [404],
    });
    await res.body?.cancel();
    return res.status !== 404;
  }

  /** The blob's bytes from `first`, re-requesting the rest with Range when the connection is cut. */
  private async *blobChunks(spec: RequestSpec, first: Response, size: number): AsyncGenerator<Buffer> {
    let res = first;
    let received = 0;
    let skip = 0;
    for (let resumes = 0; ; ) {
      if (res.body === null) throw new RegistryError('network', `${describe(spec.ctx)}: ${this.registry} sent no body`);
      const reader = res.body.getReader();
      try {
        while (true) {
          const { done, value } = await reader.read();
          if (done) return;
          let chunk = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
          if (skip > 0) {
            const n = Math.min(skip, chunk.length);
            skip -= n;
            chunk = chunk.subarray(n);
            if (chunk.length === 0) continue;
          }
          received += chunk.length;
          yield chunk;
        }
      } catch (e) {
        const err = e instanceof RegistryError ? e : this.transportFailure(e, spec.ctx, this.base());
        if (!err.transient || resumes >= this.attempts - 1 || received >= size) throw err;
        resumes++;
      } finally {
        reader.releaseLock();
        await res.body.cancel().catch(() => undefined);
      }
      await sleep(this.backoff(resumes));
      res = await this.request({ ...spec, headers: { ...spec.headers, Range: `bytes=${received}-` } });
      // A registry that ignores Range sends it all again: drop what we have.
      if (res.status !== 206) skip = received;
    }
  }

  private async abandonUpload(repository: string, location: string): Promise<void> {
    try {
      const res = await this.request({
        method: 'DELETE',
        path: new URL(location, this.base()).toString(),
        scope: `repository:${repository}:pull,push`,
        ctx: { registry: this.registry, action: 'push', kind: 'upload', repository },
        retry: false,
      });
      await res.body?.cancel();
    } catch {
      // Registries expire abandoned uploads on their own.
    }
  }

  private base(): string {
    return `${this.scheme ?? 'https'}://${this.apiHost}`;
  }

  /** Find the cert directory and, when TLS needs more than Node's defaults, make the undici Agent. */
  private async ensureTransport(): Promise<void> {
    this.transport ??= (async () => {
      const explicit = this.certDirOption !== undefined;
      const dir = this.certDirOption ?? (await firstExistingDir(defaultCertDirs(this.apiHost)));
      this.material = dir === undefined ? undefined : await loadCertDir(dir, explicit);
      this.tls = await makeDispatcher(this.material, this.tlsVerify);
    })().catch((e: unknown) => {
      this.transport = undefined;
      throw e;
    });
    await this.transport;
  }

  private async doPing(): Promise<void> {
    await this.ensureTransport();
    const ctx: RequestContext = { registry: this.registry, action: 'pull', kind: 'ping' };
    const schemes: Array<'https' | 'http'> = this.tlsVerify ? ['https'] : ['https', 'http'];
    for (let attempt = 1; ; attempt++) {
      const failures: RegistryError[] = [];
      for (const scheme of schemes) {
        let res: Response;
        try {
          res = await this.rawFetch(`${scheme}://${this.apiHost}/v2/`, { method: 'GET' });
        } catch (e) {
          failures.push(this.transportFailure(e, ctx, `${scheme}://${this.apiHost}/v2/`));
          continue; // with verification off, plain http is next
        }
        if (res.status === 200 || res.status === 401) {
          await res.body?.cancel();
          this.scheme = scheme;
          const h = res.headers.get('www-authenticate');
          if (res.status === 401 && h !== null) this.challenge = preferred(parseWwwAuthenticate(h));
          return;
        }
        if (res.status >= 500 || res.status === 429) {
          failures.push(await this.failure(res, ctx));
          break;
        }
        await res.body?.cancel();
        throw new RegistryError('network', `${this.apiHost} answered HTTP ${res.status} to ${scheme}://${this.apiHost}/v2/: not a container registry`, {
          status: res.status,
          hint: 'check the registry address (the host and port of its API)',
        });
      }
      // Report the https failure when it was about TLS itself; otherwise the last one.
      const tlsFailure = failures.find((f) => f.cause !== undefined && /^tls/.test(classifyTransportError(f.cause)));
      const err = tlsFailure ?? failures[failures.length - 1]!;
      if (!err.transient || attempt >= this.attempts) throw err;
      await sleep(this.backoff(attempt));
    }
  }

  /** One fetch with the TLS dispatcher, if any. */
  private rawFetch(url: string | URL, init: FetchInit): Promise<Response> {
    const full: FetchInit = { redirect: 'follow', ...init };
    if (this.tls !== undefined) full.dispatcher = this.tls.dispatcher;
    return fetch(url, full as RequestInit);
  }

  /** fetch with retries of 5xx, 429 (honouring Retry-After) and connection errors; errors become RegistryErrors. */
  private async send(url: string, init: () => FetchInit, ctx: RequestContext, retry: boolean): Promise<Response> {
    const attempts = retry ? this.attempts : 1;
    for (let i = 1; ; i++) {
      let res: Response | undefined;
      let err: unknown;
      try {
        res = await this.rawFetch(url, init());
      } catch (e) {
        err = e;
      }
      const transient = res === undefined ? isTransientTransport(err) : res.status >= 500 || res.status === 429;
      if (!transient || i >= attempts) {
        if (res !== undefined) return res;
        throw this.transportFailure(err, ctx, url);
      }
      const wait = retryAfterMs(res?.headers.get('retry-after') ?? null) ?? this.backoff(i);
      await res?.body?.cancel();
      await sleep(wait);
    }
  }

  /** One request with auth (a 401 fetches a fresh token once and tries again) and retries. */
  private async request(spec: RequestSpec): Promise<Response> {
    await this.ping();
    const url = /^https?:\/\//.test(spec.path) ? spec.path : `${this.base()}${spec.path}`;
    let authRetried = false;
    while (true) {
      const auth = await this.authorization(spec.scope, false, spec.ctx);
      const res = await this.send(
        url,
        () => {
          const headers: Record<string, string> = { ...spec.headers };
          if (auth !== undefined) headers['Authorization'] = auth;
          const init: FetchInit = { method: spec.method, headers };
          if (spec.body !== undefined) {
            const b = spec.body();
            if (Buffer.isBuffer(b)) init.body = b;
            else {
              init.body = Readable.toWeb(b) as unknown as ReadableStream<Uint8Array>;
              init.duplex = 'half'; // required by fetch for a streamed request body
            }
          }
          return init;
        },
        spec.ctx,
        spec.retry ?? true,
      );
      if (res.status === 401 && !authRetried) {
        const h = res.headers.get('www-authenticate');
        if (h !== null) this.challenge = preferred(parseWwwAuthenticate(h)) ?? this.challenge;
        const ch = this.challenge;
        // Bearer: a fresh token may carry the scope. Basic: only worth it if credentials were not sent yet.
        const retry = ch?.scheme === 'bearer' || (ch?.scheme === 'basic' && auth === undefined && this.credentials?.kind === 'basic');
        if (retry) {
          await res.body?.cancel();
          this.tokens.delete(spec.scope);
          authRetried = true;
          await this.authorization(spec.scope, true, spec.ctx);
          continue;
        }
      }
      if (res.ok || (res.status >= 300 && res.status < 400) || spec.accept?.includes(res.status)) return res;
      throw await this.failure(res, spec.ctx);
    }
  }

  /**
   * A failed response as a RegistryError, from its status and JSON error body.
   * `status` overrides the response's (token servers say 400/403 for bad credentials).
   */
  private async failure(res: Response, ctx: RequestContext, status = res.status): Promise<RegistryError> {
    const errors = await readDistributionErrors(res);
    const c = this.credentials;
    const authenticated = c !== undefined && this.challenge !== undefined;
    // A 401 to Basic credentials, or from the token server, is about the credentials themselves;
    // a 401 to a fresh Bearer token means the account lacks the scope.
    const rejected = authenticated && (this.challenge?.scheme === 'basic' || ctx.kind === 'token');
    return statusError({
      status,
      errors,
      ctx,
      authenticated,
      rejectedCredentials: rejected,
      ...(c?.kind === 'basic' ? { user: c.username } : {}),
      redact: (s) => this.redact(s),
    });
  }

  /** A fetch that threw (no HTTP answer) for `url` as a RegistryError. */
  private transportFailure(e: unknown, ctx: RequestContext, url: string): RegistryError {
    if (e instanceof RegistryError) return e;
    const u = new URL(url);
    return transportError({
      error: e,
      ctx,
      host: u.host,
      tlsVerify: this.tlsVerify,
      certDir: this.material?.dir ?? this.certDirOption,
      https: u.protocol === 'https:',
      clientCert: this.material?.client !== undefined,
      redact: (s) => this.redact(s),
    });
  }

  /** Remove every known secret from text that came from elsewhere. */
  private redact(s: string): string {
    let out = s;
    for (const secret of this.secrets) if (secret.length >= 4) out = out.split(secret).join('[redacted]');
    return out;
  }

  /** The Authorization header for a scope, fetching a Bearer token if needed. */
  private async authorization(scope: string, refresh: boolean, ctx: RequestContext): Promise<string | undefined> {
    const ch = this.challenge;
    if (ch === undefined) return undefined;
    if (ch.scheme === 'basic') {
      const c = this.credentials;
      return c?.kind === 'basic' ? basicHeader(c.username, c.password) : undefined;
    }
    if (ch.scheme !== 'bearer') return undefined;
    let token = refresh ? undefined : this.tokens.get(scope);
    if (token === undefined) {
      token = this.fetchToken(ch, scope, ctx);
      this.tokens.set(scope, token);
      const mine = token;
      mine.catch(() => {
        if (this.tokens.get(scope) === mine) this.tokens.delete(scope);
      });
    }
    return `Bearer ${await token}`;
  }

  private async fetchToken(ch: AuthChallenge, scope: string, ctx: RequestContext): Promise<string> {
    const realm = ch.params['realm'];
    if (realm === undefined || !/^https?:\/\//i.test(realm)) {
      throw new RegistryError('network', `${this.registry} sent a Bearer challenge without a usable realm`, { hint: 'the registry is misconfigured' });
    }
    const tctx: RequestContext = { ...ctx, kind: 'token' };
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
      res = await this.send(realm, () => ({ method: 'POST', body: form }), tctx, true);
    } else {
      const headers: Record<string, string> = {};
      if (c?.kind === 'basic') headers['Authorization'] = basicHeader(c.username, c.password);
      res = await this.send(url.toString(), () => ({ headers }), tctx, true);
    }
    if (!res.ok) {
      // Token servers answer 400/401/403 to bad credentials; all mean "not these credentials".
      throw await this.failure(res, tctx, res.status === 400 || res.status === 403 ? 401 : res.status);
    }
    let body: { token?: unknown; access_token?: unknown };
    try {
      body = (await res.json()) as typeof body;
    } catch {
      throw new RegistryError('network', `token server ${url.host} for ${this.registry} answered something that is not JSON`);
    }
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (token === undefined || token === '') throw new RegistryError('network', `token server ${url.host} for ${this.registry} returned no token`);
    this.secrets.add(token);
    return token;
  }

  private backoff(attempt: number): number {
    return this.backoffMs * 2 ** (attempt - 1);
  }
}

/** Bearer beats Basic: a registry offering both wants tokens. */
function preferred(chs: AuthChallenge[]): AuthChallenge | undefined {
  return findChallenge(chs, 'bearer') ?? findChallenge(chs, 'basic');
}

function basicHeader(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

/** Retry-After as delay-seconds or an HTTP-date, capped; undefined when absent or unreadable. */
function retryAfterMs(v: string | null): number | undefined {
  if (v === null) return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Math.min(Number(s) * 1000, RETRY_AFTER_MAX_MS);
  const t = Date.parse(s);
  if (Number.isNaN(t)) return undefined;
  return Math.min(Math.max(0, t - Date.now()), RETRY_AFTER_MAX_MS);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Content-Type when given and meaningful, else the document's own mediaType field. */
function mediaTypeOf(bytes: Buffer, header: string | undefined): string {
  if (header !== undefined && header !== '' && header !== 'application/json' && header !== 'text/plain') return header;
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown; manifests?: unknown };
    if (typeof doc.mediaType === 'string') return doc.mediaType;
    return Array.isArray(doc.manifests) ? MediaType.ociIndex : MediaType.ociManifest;
  } catch {
    throw new RegistryError('corrupt', 'manifest from registry is not JSON');
  }
}

async function readLimited(res: Response, max: number, what: string): Promise<Buffer> {
  const len = Number(res.headers.get('content-length') ?? '0');
  if (len > max) {
    await res.body?.cancel();
    throw new RegistryError('unsupported', `${what} is ${len} bytes, more than the ${max} allowed`);
  }
  const buf = Buffer.from(await res.arrayBuffer());
  if (buf.length > max) throw new RegistryError('unsupported', `${what} is more than ${max} bytes`);
  return buf;
}
