/**
 * A Docker Registry HTTP API v2 / OCI distribution client on node:http(s)
 * (registry/http.ts): ping, Bearer/Basic auth from challenges (one token for
 * all the scopes a push needs), manifests, verified blob reads that resume
 * after a cut connection, HEAD-skip/mount/POST-PATCH-PUT uploads (a refused
 * mount's upload session is used, not a second POST), retries for transient
 * failures, TLS from containers-certs.d directories, the proxy variables, and
 * errors built from the registry's JSON error body.
 */
import { Readable } from 'node:stream';
import { TbahError } from '../errors.js';
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
import { type FileBody, HttpClient, type HttpResponse, type RequestBody, readBody } from './http.js';
import { proxyConfigFromEnv, proxyFor, showProxy } from './proxy.js';
import { type TlsMaterial, defaultCertDirs, firstExistingDir, loadCertDir, tlsSettings } from './tls.js';
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
  /** Environment for the proxy variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY); default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** What a cross-repository mount did: mounted, or refused (with the upload session the registry opened instead, if any). */
export type MountResult = { mounted: true } | { mounted: false; location?: string };

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
/** Token responses are small JSON documents. */
const TOKEN_MAX = 1024 * 1024;
/** Longest wait a Retry-After may impose. */
const RETRY_AFTER_MAX_MS = 60_000;

interface RequestSpec {
  method: string;
  /** Path after the host, e.g. `/v2/ns/repo/manifests/tag`, or an absolute URL (upload locations). */
  path: string;
  headers?: Record<string, string>;
  /** Made anew per attempt, so streamed bodies can be retried. */
  body?: () => RequestBody;
  /** The token scope this request needs (`repository:ns/repo:pull`). */
  scope: string;
  /** What the request is about, for error messages. */
  ctx: RequestContext;
  /** Retry transient failures of this very request (default true; false when a retry must start over elsewhere). */
  retry?: boolean;
  /** Statuses returned to the caller instead of thrown (404 for HEAD). */
  accept?: number[];
}

interface SendInit {
  method: string;
  headers?: Record<string, string>;
  body?: RequestBody;
}

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
  private http: HttpClient | undefined;
  private material: TlsMaterial | undefined;
  private readonly env: Readonly<Record<string, string | undefined>>;
  /** Repositories a push may mount from, per destination repository: asked for in the push's token. */
  private readonly mountSources = new Map<string, Set<string>>();
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
    this.env = opts.env ?? process.env;
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

  /** Release the connection pool (idle sockets never hold the process open anyway). */
  async close(): Promise<void> {
    const http = this.http;
    this.http = undefined;
    this.transport = undefined;
    this.scheme = undefined; // the next request pings again and rebuilds the transport
    http?.close();
  }

  /**
   * Declare the repositories a push to `repository` may mount blobs from, so
   * that one token covers the whole push (`repository:DEST:pull,push` and
   * `repository:SRC:pull` for each), as containers/image asks for it.
   */
  addMountSources(repository: string, sources: Iterable<string>): void {
    let set = this.mountSources.get(repository);
    if (set === undefined) this.mountSources.set(repository, (set = new Set()));
    for (const s of sources) if (s !== repository) set.add(s);
  }

  /** The scope of every request of a push to `repository`. */
  private pushScope(repository: string): string {
    const sources = [...(this.mountSources.get(repository) ?? [])].sort();
    return [`repository:${repository}:pull,push`, ...sources.map((s) => `repository:${s}:pull`)].join(' ');
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
    const res = await this.send(`${this.base()}/v2/`, () => ({ method: 'GET', headers }), ctx, true);
    if (!res.ok) throw await this.failure(res, ctx);
    res.discard();
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
    const header = res.header('content-type')?.split(';')[0]?.trim();
    return { bytes, mediaType: mediaTypeOf(bytes, header), digest };
  }

  /**
   * A stream of the blob, verified against the descriptor's digest and size
   * as it flows (a mismatch is a `corrupt` error naming the digest). A
   * connection cut mid-blob is resumed with a Range request, up to
   * `attempts` times. `verify: false` is for callers that verify the bytes
   * themselves (the store's import does), to hash them once, not twice.
   */
  async getBlob(repository: string, desc: Pick<Descriptor, 'digest' | 'size'>, opts: { verify?: boolean } = {}): Promise<Readable> {
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
    const body = Readable.from(this.blobChunks(spec, first, desc.size), { objectMode: false });
    if (opts.verify === false) return body;
    const verify = new VerifyingStream(desc.digest, desc.size, `blob ${desc.digest} from ${this.registry}/${repository}`);
    body.on('error', (e) => verify.destroy(e));
    // A consumer that stops early must also stop the download.
    verify.on('close', () => body.destroy());
    verify.on('error', keep); // an early mismatch waits for the consumer instead of crashing (util/streams)
    return body.pipe(verify);
  }

  /** The repository's tags, in the registry's order, following `Link: <…>; rel="next"` pages. */
  async listTags(repository: string): Promise<string[]> {
    const ctx: RequestContext = { registry: this.registry, action: 'pull', kind: 'tags', repository };
    const tags: string[] = [];
    let path: string | undefined = `/v2/${repository}/tags/list`;
    for (let pages = 0; path !== undefined && pages < 1000; pages++) {
      const res = await this.request({ method: 'GET', path, scope: `repository:${repository}:pull`, ctx });
      let doc: { tags?: unknown };
      try {
        doc = JSON.parse((await readLimited(res, MANIFEST_MAX, describe(ctx))).toString('utf8')) as typeof doc;
      } catch (e) {
        if (e instanceof RegistryError) throw e;
        throw new RegistryError('corrupt', `${describe(ctx)} from ${this.registry} is not JSON`);
      }
      if (Array.isArray(doc.tags)) for (const t of doc.tags) if (typeof t === 'string') tags.push(t);
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.header('link') ?? '')?.[1];
      path = next === undefined ? undefined : new URL(next, res.url).toString();
    }
    return tags;
  }

  /** HEAD the blob: true when the repository already has it. */
  async hasBlob(repository: string, digest: Digest): Promise<boolean> {
    return this.headBlob(repository, digest, `repository:${repository}:pull`, 'pull');
  }

  /** HEAD the blob as part of a push (push scope, and a push's wording in errors). */
  async hasBlobForPush(repository: string, digest: Digest): Promise<boolean> {
    return this.headBlob(repository, digest, this.pushScope(repository), 'push');
  }

  /**
   * Mount a blob from another repository of the same registry. False when
   * the registry declined (it then opened an upload session, which is
   * abandoned) or the credentials may not read `from`.
   */
  async mountBlob(repository: string, from: string, digest: Digest): Promise<boolean> {
    const r = await this.tryMount(repository, from, digest);
    if (!r.mounted && r.location !== undefined) await this.abandonUpload(repository, r.location);
    return r.mounted;
  }

  /**
   * Ask for a cross-repository mount. A registry that declines answers
   * `202 Accepted` with an upload session: its Location is returned so the
   * upload can use it instead of opening another (as go-containerregistry does).
   */
  async tryMount(repository: string, from: string, digest: Digest): Promise<MountResult> {
    this.addMountSources(repository, [from]);
    const ctx: RequestContext = { registry: this.registry, action: 'push', kind: 'mount', repository, digest };
    let res: HttpResponse;
    try {
      res = await this.request({
        method: 'POST',
        path: `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
        scope: this.pushScope(repository),
        ctx,
      });
    } catch (e) {
      // No read access to `from` (Distribution answers 401 insufficient_scope): upload instead.
      if (e instanceof RegistryError && (e.code === 'unauthorized' || e.code === 'denied')) return { mounted: false };
      throw e;
    }
    res.discard();
    if (res.status === 201) return { mounted: true };
    const location = res.header('location');
    return res.status === 202 && location !== undefined ? { mounted: false, location } : { mounted: false };
  }

  /**
   * Upload a blob unless the repository has it, as containers/image does:
   * POST opens a session, one PATCH streams the whole blob, PUT `?digest=`
   * (no body) commits it. A failed PATCH or PUT starts over from POST, up to
   * `attempts` times; `open` is called per attempt (a FileBody is sent in
   * constant memory). Returns whether bytes were sent.
   * `opts.known`: the caller HEADed the blob already (skip the HEAD);
   * `opts.location`: an upload session already open (a refused mount's) for the first attempt.
   */
  async uploadBlob(
    repository: string, desc: Pick<Descriptor, 'digest' | 'size'>, open: () => Readable | FileBody,
    opts: { known?: boolean; location?: string } = {},
  ): Promise<boolean> {
    const scope = this.pushScope(repository);
    if (opts.known !== true && (await this.headBlob(repository, desc.digest, scope, 'push'))) return false;
    const ctx: RequestContext = { registry: this.registry, action: 'push', kind: 'upload', repository, digest: desc.digest };
    let given = opts.location;
    for (let attempt = 1; ; attempt++) {
      let location = given;
      given = undefined;
      if (location === undefined) {
        const start = await this.request({ method: 'POST', path: `/v2/${repository}/blobs/uploads/`, scope, ctx });
        start.discard();
        location = start.header('location');
        if (location === undefined) throw new RegistryError('network', `${this.registry} opened an upload to ${repository} without a Location header`);
      }
      let current = location;
      let body: Readable | FileBody | undefined;
      try {
        const patched = await this.request({
          method: 'PATCH',
          path: new URL(location, this.base()).toString(),
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(desc.size) },
          body: () => (body = open()),
          scope,
          ctx,
          retry: false,
        });
        patched.discard();
        current = patched.header('location') ?? location;
        const url = new URL(current, this.base());
        url.searchParams.set('digest', desc.digest);
        const put = await this.request({
          method: 'PUT',
          path: url.toString(),
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': '0' },
          scope,
          ctx,
          retry: false,
        });
        put.discard();
        return true;
      } catch (e) {
        // A cut PATCH may leave the source open.
        if (body instanceof Readable) body.destroy();
        const again = e instanceof RegistryError && e.transient && attempt < this.attempts;
        if (!again) throw e;
        await this.abandonUpload(repository, current);
        await sleep(this.backoff(attempt));
      }
    }
  }

  /** HEAD a manifest: its digest when the repository has `reference`, else undefined. */
  async manifestDigest(repository: string, reference: string, action: 'pull' | 'push' = 'pull'): Promise<Digest | undefined> {
    const res = await this.request({
      method: 'HEAD',
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { Accept: MANIFEST_ACCEPT },
      scope: action === 'push' ? this.pushScope(repository) : `repository:${repository}:pull`,
      ctx: { registry: this.registry, action, kind: 'manifest', repository, reference },
      accept: [404],
    });
    res.discard();
    if (res.status === 404) return undefined;
    const d = res.header('docker-content-digest');
    return d !== undefined && isDigest(d) ? d : undefined;
  }

  /** PUT a manifest under a tag (or digest). Returns the digest of the bytes. */
  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<Digest> {
    const res = await this.request({
      method: 'PUT',
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { 'Content-Type': mediaType },
      body: () => bytes,
      scope: this.pushScope(repository),
      ctx: { registry: this.registry, action: 'push', kind: 'manifest', repository, reference },
    });
    res.discard();
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
    res.discard();
    return res.status !== 404;
  }

  /** The blob's bytes from `first`, re-requesting the rest with Range when the connection is cut. */
  private async *blobChunks(spec: RequestSpec, first: HttpResponse, size: number): AsyncGenerator<Buffer> {
    let res = first;
    let received = 0;
    let skip = 0;
    for (let resumes = 0; ; ) {
      try {
        for await (const c of res.body as AsyncIterable<Buffer>) {
          let chunk = c;
          if (skip > 0) {
            const n = Math.min(skip, chunk.length);
            skip -= n;
            chunk = chunk.subarray(n);
            if (chunk.length === 0) continue;
          }
          received += chunk.length;
          yield chunk;
        }
        // An end before Content-Length is a cut connection too, however the stream reported it.
        if ((res.body as { complete?: boolean }).complete !== false) return;
        throw Object.assign(new Error('the connection closed before the whole blob arrived'), { code: 'ECONNRESET' });
      } catch (e) {
        const err = e instanceof RegistryError ? e : this.transportFailure(e, spec.ctx, this.base());
        if (!err.transient || resumes >= this.attempts - 1 || received >= size) throw err;
        resumes++;
      } finally {
        if (!res.body.readableEnded) res.destroy();
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
        scope: this.pushScope(repository),
        ctx: { registry: this.registry, action: 'push', kind: 'upload', repository },
        retry: false,
      });
      res.discard();
    } catch {
      // Registries expire abandoned uploads on their own.
    }
  }

  private base(): string {
    return `${this.scheme ?? 'https'}://${this.apiHost}`;
  }

  /** Find the cert directory and build the HTTP client with its TLS settings and the proxy variables. */
  private async ensureTransport(): Promise<void> {
    this.transport ??= (async () => {
      const explicit = this.certDirOption !== undefined;
      const dir = this.certDirOption ?? (await firstExistingDir(defaultCertDirs(this.apiHost)));
      this.material = dir === undefined ? undefined : await loadCertDir(dir, explicit);
      this.http = new HttpClient({ tls: await tlsSettings(this.material, this.tlsVerify), proxy: proxyConfigFromEnv(this.env) });
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
        let res: HttpResponse;
        try {
          res = await this.rawSend(`${scheme}://${this.apiHost}/v2/`, { method: 'GET' });
        } catch (e) {
          failures.push(this.transportFailure(e, ctx, `${scheme}://${this.apiHost}/v2/`));
          continue; // with verification off, plain http is next
        }
        if (res.status === 200 || res.status === 401) {
          res.discard();
          this.scheme = scheme;
          const h = res.header('www-authenticate');
          if (res.status === 401 && h !== undefined) this.challenge = preferred(parseWwwAuthenticate(h));
          return;
        }
        if (res.status >= 500 || res.status === 429) {
          failures.push(await this.failure(res, ctx));
          break;
        }
        res.discard();
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

  /** One HTTP exchange, no retries. */
  private async rawSend(url: string, init: SendInit): Promise<HttpResponse> {
    await this.ensureTransport();
    return this.http!.request({ method: init.method, url: new URL(url), ...(init.headers ? { headers: init.headers } : {}), ...(init.body ? { body: init.body } : {}) });
  }

  /** With retries of 5xx, 429 (honouring Retry-After) and connection errors; errors become RegistryErrors. */
  private async send(url: string, init: () => SendInit, ctx: RequestContext, retry: boolean): Promise<HttpResponse> {
    const attempts = retry ? this.attempts : 1;
    for (let i = 1; ; i++) {
      let res: HttpResponse | undefined;
      let err: unknown;
      try {
        res = await this.rawSend(url, init());
      } catch (e) {
        err = e;
      }
      const transient = res === undefined ? isTransientTransport(err) : res.status >= 500 || res.status === 429;
      if (!transient || i >= attempts) {
        if (res !== undefined) return res;
        throw this.transportFailure(err, ctx, url);
      }
      const wait = retryAfterMs(res?.header('retry-after')) ?? this.backoff(i);
      res?.discard();
      await sleep(wait);
    }
  }

  /** One request with auth (a 401 fetches a fresh token once and tries again) and retries. */
  private async request(spec: RequestSpec): Promise<HttpResponse> {
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
          return { method: spec.method, headers, ...(spec.body !== undefined ? { body: spec.body() } : {}) };
        },
        spec.ctx,
        spec.retry ?? true,
      );
      if (res.status === 401 && !authRetried) {
        const h = res.header('www-authenticate');
        if (h !== undefined) this.challenge = preferred(parseWwwAuthenticate(h)) ?? this.challenge;
        const ch = this.challenge;
        // Bearer: a fresh token may carry the scope. Basic: only worth it if credentials were not sent yet.
        const retry = ch?.scheme === 'bearer' || (ch?.scheme === 'basic' && auth === undefined && this.credentials?.kind === 'basic');
        if (retry) {
          res.discard();
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
  private async failure(res: HttpResponse, ctx: RequestContext, status = res.status): Promise<RegistryError> {
    const errors = await readDistributionErrors(res.body);
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

  /** A request that threw (no HTTP answer) for `url` as a RegistryError. */
  private transportFailure(e: unknown, ctx: RequestContext, url: string): RegistryError {
    if (e instanceof RegistryError) return e;
    if (e instanceof TbahError) throw e; // a bad proxy variable, say: already actionable
    const u = new URL(url);
    const proxy = this.proxyOf(u);
    return transportError({
      ...(proxy === undefined ? {} : { proxy }),
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

  /** The proxy a request to `u` goes through, for messages (never its credentials). */
  private proxyOf(u: URL): string | undefined {
    try {
      const p = proxyFor(proxyConfigFromEnv(this.env), u);
      return p === undefined ? undefined : showProxy(p);
    } catch {
      return undefined;
    }
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
    let res: HttpResponse;
    if (c?.kind === 'identity-token') {
      // OAuth2 refresh-token grant, as Docker does with identity tokens.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: c.token, client_id: 'tbah' });
      if (scope !== '') form.set('scope', scope);
      if (ch.params['service'] !== undefined) form.set('service', ch.params['service']);
      const body = Buffer.from(form.toString());
      const headers = { 'Content-Type': 'application/x-www-form-urlencoded;charset=UTF-8' };
      res = await this.send(realm, () => ({ method: 'POST', headers, body }), tctx, true);
    } else {
      const headers: Record<string, string> = {};
      if (c?.kind === 'basic') headers['Authorization'] = basicHeader(c.username, c.password);
      res = await this.send(url.toString(), () => ({ method: 'GET', headers }), tctx, true);
    }
    if (!res.ok) {
      // Token servers answer 400/401/403 to bad credentials; all mean "not these credentials".
      throw await this.failure(res, tctx, res.status === 400 || res.status === 403 ? 401 : res.status);
    }
    let body: { token?: unknown; access_token?: unknown };
    try {
      const bytes = await readBody(res, TOKEN_MAX);
      if (bytes === undefined) throw new Error('too large');
      body = JSON.parse(bytes.toString('utf8')) as typeof body;
      if (typeof body !== 'object' || body === null) throw new Error('not an object');
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
function retryAfterMs(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
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

async function readLimited(res: HttpResponse, max: number, what: string): Promise<Buffer> {
  const len = Number(res.header('content-length') ?? '0');
  if (len > max) {
    res.destroy();
    throw new RegistryError('unsupported', `${what} is ${len} bytes, more than the ${max} allowed`);
  }
  const buf = await readBody(res, max);
  if (buf === undefined) throw new RegistryError('unsupported', `${what} is more than ${max} bytes`);
  return buf;
}
