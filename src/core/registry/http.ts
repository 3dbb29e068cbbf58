/**
 * HTTP/1.1 for the registry client on `node:http`/`node:https`: keep-alive
 * agents, request bodies streamed with `pipe` (backpressure, no copies),
 * responses handed back as Node streams, redirects followed for requests that
 * can be replayed, an idle timeout, and the proxy variables as Go's
 * `http.ProxyFromEnvironment` reads them (see proxy.ts).
 *
 * Why not the global `fetch`: its first call loads undici (~0.26 s here), and
 * a `Readable.toWeb` request body copies every chunk (peak RSS grew with the
 * layer). `node:http` loads in a few ms and streams in constant memory.
 */
import type { Agent as HttpAgent, ClientRequest, IncomingHttpHeaders, IncomingMessage, RequestOptions } from 'node:http';
import { open } from 'node:fs/promises';
import type { SecureContext } from 'node:tls';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { type ProxyChoice, type ProxyConfig, proxyFor } from './proxy.js';
import * as nodeHttp from 'node:http';
import * as nodeHttps from 'node:https';
import { createSecureContext } from 'node:tls';

/** What a TLS connection needs beyond Node's defaults. */
export interface TlsSettings {
  /** false: certificates are not verified (`--tls-verify=false`). */
  verify: boolean;
  /** CA certificates (PEM) replacing Node's roots (the caller adds the roots when it wants them); [] when not verifying. */
  ca?: string[];
  /** A client certificate pair (PEM). */
  cert?: string;
  key?: string;
}

/**
 * A file sent as a request body through two reused buffers: each is refilled
 * only once the socket has taken its bytes, so memory stays constant however
 * large the file (a piped stream allocates a buffer per chunk and leaves them
 * to the garbage collector: tens of MiB in flight on a fast link).
 */
export interface FileBody {
  file: string;
  /** The file must be exactly this long (it is the Content-Length). */
  size: number;
  /** Called with the bytes sent so far, after each chunk. */
  onBytes?: (sent: number) => void;
}

export type RequestBody = Buffer | Readable | FileBody;

export function isFileBody(b: unknown): b is FileBody {
  return typeof b === 'object' && b !== null && typeof (b as FileBody).file === 'string' && typeof (b as FileBody).size === 'number';
}

export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  /** A stream is piped (sent once: never replayed on a redirect); give Content-Length with it. */
  body?: RequestBody;
}

/** A response whose body is a Node stream: read it, `discard()` it, or `destroy()` it. */
export interface HttpResponse {
  status: number;
  ok: boolean;
  /** The URL that answered (after redirects). */
  url: URL;
  /** First value of a header (names are case-insensitive). */
  header(name: string): string | undefined;
  body: Readable;
  /** Drain the rest (small bodies) so the connection is reused. */
  discard(): void;
  /** Close the connection instead of reading the rest (large bodies). */
  destroy(): void;
}

/** The socket may sit idle this long (no bytes either way) before the request fails; undici's default. */
const IDLE_TIMEOUT_MS = 300_000;
const MAX_REDIRECTS = 10;

/** An error thrown by this module with a code the registry error classifier knows. */
function codedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

type HttpModule = typeof nodeHttp;
type HttpsModule = typeof nodeHttps;

export class HttpClient {
  private http: Promise<{ mod: HttpModule; agent: HttpAgent }> | undefined;
  private https: Promise<{ mod: HttpsModule; agent: HttpAgent }> | undefined;
  private readonly tls: TlsSettings;
  private readonly proxy: ProxyConfig;
  private readonly agents: HttpAgent[] = [];
  private readonly tunnels = new Map<string, Promise<{ mod: HttpsModule; agent: HttpAgent }>>();

  constructor(opts: { tls: TlsSettings; proxy: ProxyConfig }) {
    this.tls = opts.tls;
    this.proxy = opts.proxy;
  }

  /**
   * Send a request; resolves when the response headers arrive. Redirects are
   * followed for bodies that can be sent again (none, a Buffer, a file); the
   * Authorization header is dropped when a redirect leaves the origin.
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    let url = req.url;
    let method = req.method;
    let headers = { ...req.headers };
    let body = req.body;
    for (let hops = 0; ; hops++) {
      const res = await this.once(method, url, headers, body);
      const location = res.headers['location'];
      const replayable = body === undefined || Buffer.isBuffer(body) || isFileBody(body);
      if (!isRedirect(res.statusCode ?? 0) || location === undefined || !replayable || hops >= MAX_REDIRECTS) return wrap(res, url);
      res.resume();
      const next = new URL(location, url);
      if (next.origin !== url.origin) headers = withoutHeader(headers, 'authorization');
      if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')) {
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        body = undefined;
        headers = withoutHeader(withoutHeader(headers, 'content-length'), 'content-type');
      }
      url = next;
    }
  }

  /** Free idle connections (they never hold the process open either way). */
  close(): void {
    for (const a of this.agents.splice(0)) a.destroy();
    this.http = undefined;
    this.https = undefined;
    this.tunnels.clear();
  }

  private async once(method: string, url: URL, headers: Record<string, string>, body: RequestBody | undefined): Promise<IncomingMessage> {
    const proxy = proxyFor(this.proxy, url);
    const opts: RequestOptions = { method, headers: { ...headers }, timeout: IDLE_TIMEOUT_MS };
    const h = opts.headers as Record<string, string>;
    if (body === undefined && method !== 'GET' && method !== 'HEAD' && !hasHeader(h, 'content-length')) h['Content-Length'] = '0';
    if (Buffer.isBuffer(body)) h['Content-Length'] = String(body.length);
    if (isFileBody(body)) h['Content-Length'] = String(body.size);
    const stream = body !== undefined && !Buffer.isBuffer(body) && !isFileBody(body) ? body : undefined;
    let send: (o: RequestOptions) => ClientRequest;
    if (url.protocol === 'https:') {
      const { mod, agent } = await this.httpsStack(proxy);
      opts.agent = agent;
      send = (o) => mod.request(url, o);
    } else if (proxy !== undefined) {
      // Plain http through a proxy: the absolute URL goes to the proxy (RFC 9112 §3.2.2), over TLS for an https:// proxy.
      const viaTls = proxy.url.protocol === 'https:';
      const { mod, agent } = viaTls ? await this.httpsStack(undefined) : await this.httpStack();
      opts.agent = agent;
      h['Host'] = url.host;
      if (proxy.auth !== undefined) h['Proxy-Authorization'] = proxy.auth;
      const target = url.toString();
      const host = proxy.url.hostname.replace(/^\[(.*)\]$/, '$1');
      send = (o) => mod.request({ ...o, host, port: proxy.url.port || (viaTls ? 443 : 80), path: target });
    } else {
      const { mod, agent } = await this.httpStack();
      opts.agent = agent;
      send = (o) => mod.request(url, o);
    }
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(opts);
      let settled = false;
      const fail = (e: Error): void => {
        if (settled) return;
        settled = true;
        stream?.destroy();
        reject(e);
      };
      req.on('timeout', () => req.destroy(codedError('ETIMEDOUT', `no data from ${url.host} for ${IDLE_TIMEOUT_MS / 1000} s`)));
      req.on('error', fail);
      let sent = false;
      req.on('finish', () => {
        sent = true;
      });
      req.on('response', (res) => {
        settled = true;
        if (body !== undefined && !Buffer.isBuffer(body) && !sent) {
          // An answer before the whole body went out (an early error): stop reading the
          // source, and drop the connection once the answer is read (it cannot be reused).
          stream?.destroy();
          res.once('close', () => req.destroy());
        }
        resolve(res);
      });
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else if (isFileBody(body)) sendFile(req, body).catch((e: Error) => req.destroy(e));
      else {
        const declared = Number(headers['Content-Length'] ?? headers['content-length']);
        const src = Number.isSafeInteger(declared) ? body.pipe(new LengthCheck(declared)) : body;
        const abort = (e: Error): void => {
          req.destroy(e);
        };
        body.on('error', abort);
        if (src !== body) src.on('error', abort);
        src.pipe(req);
      }
    });
  }

  private httpStack(): Promise<{ mod: HttpModule; agent: HttpAgent }> {
    // The bundle loads node:http only when this first runs (bin/tbah.js stand-ins for built-ins).
    this.http ??= Promise.resolve(nodeHttp).then((mod) => {
      const agent = new mod.Agent({ keepAlive: true });
      this.agents.push(agent);
      return { mod, agent };
    });
    return this.http;
  }

  private async httpsStack(proxy: ProxyChoice | undefined): Promise<{ mod: HttpsModule; agent: HttpAgent }> {
    if (proxy !== undefined) {
      // One tunnelling agent per proxy keeps its sockets apart from direct ones.
      const key = proxy.url.href;
      let t = this.tunnels.get(key);
      if (t === undefined) {
        t = (async () => {
          const mod = nodeHttps;
          const { tunnelAgent } = await import('./tunnel.js');
          const agent = tunnelAgent(proxy, await this.tlsOptions());
          this.agents.push(agent);
          return { mod, agent };
        })();
        this.tunnels.set(key, t);
      }
      return t;
    }
    this.https ??= (async () => {
      const mod = nodeHttps;
      const agent = new mod.Agent({ keepAlive: true, ...(await this.tlsOptions()) });
      this.agents.push(agent);
      return { mod, agent };
    })();
    return this.https;
  }

  /** Agent TLS options; a custom CA set or client pair is turned into one SecureContext, not one per connection. */
  private async tlsOptions(): Promise<{ rejectUnauthorized: boolean; secureContext?: SecureContext }> {
    const t = this.tls;
    const base = { rejectUnauthorized: t.verify };
    if (t.ca === undefined && t.cert === undefined) return base;
    return {
      ...base,
      secureContext: createSecureContext({
        ...(t.ca !== undefined ? { ca: t.ca } : {}),
        ...(t.cert !== undefined && t.key !== undefined ? { cert: t.cert, key: t.key } : {}),
      }),
    };
  }
}

function isRedirect(s: number): boolean {
  return s === 301 || s === 302 || s === 303 || s === 307 || s === 308;
}

function hasHeader(h: Record<string, string>, name: string): boolean {
  return Object.keys(h).some((k) => k.toLowerCase() === name);
}

function withoutHeader(h: Record<string, string>, name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(h).filter(([k]) => k.toLowerCase() !== name));
}

function firstHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function wrap(res: IncomingMessage, url: URL): HttpResponse {
  const status = res.statusCode ?? 0;
  return {
    status,
    ok: status >= 200 && status < 300,
    url,
    header: (name) => firstHeader(res.headers, name),
    body: res,
    discard: () => {
      res.on('error', () => {});
      res.resume();
    },
    destroy: () => {
      res.on('error', () => {});
      res.destroy();
    },
  };
}

/**
 * Fails a streamed body that is longer or shorter than its Content-Length
 * (node:http would send it anyway and leave the server to notice).
 */
class LengthCheck extends Transform {
  private seen = 0;
  constructor(private readonly expected: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.expected) cb(this.mismatch());
    else cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    cb(this.seen === this.expected ? undefined : this.mismatch());
  }
  private mismatch(): Error {
    return codedError('ERR_TBAH_BODY_LENGTH', `request body is ${this.seen > this.expected ? 'longer' : `${this.seen} bytes, shorter`} than its Content-Length ${this.expected}`);
  }
}

/** Bytes per buffer of a file body; two are in use. */
const FILE_CHUNK = 256 * 1024;

/**
 * Write a file into a request through two buffers used in turn: a buffer is
 * read into again only after the socket took its previous bytes (the write
 * callback), which is both the backpressure and the memory bound.
 */
async function sendFile(req: ClientRequest, body: FileBody): Promise<void> {
  const fh = await open(body.file, 'r');
  try {
    const actual = (await fh.stat()).size;
    if (actual !== body.size) {
      throw codedError('ERR_TBAH_BODY_LENGTH', `${body.file} is ${actual} bytes, not the ${body.size} its Content-Length says`);
    }
    const bufs = [Buffer.allocUnsafeSlow(Math.min(FILE_CHUNK, body.size)), Buffer.allocUnsafeSlow(Math.min(FILE_CHUNK, body.size))];
    const written: Array<Promise<void> | undefined> = [undefined, undefined];
    let pos = 0;
    for (let i = 0; pos < body.size; i ^= 1) {
      await written[i];
      if (req.destroyed) return;
      const { bytesRead } = await fh.read(bufs[i]!, 0, Math.min(FILE_CHUNK, body.size - pos), pos);
      if (bytesRead === 0) throw codedError('ERR_TBAH_BODY_LENGTH', `${body.file} ended after ${pos} of ${body.size} bytes`);
      pos += bytesRead;
      const chunk = bufs[i]!.subarray(0, bytesRead);
      written[i] = new Promise<void>((resolve, reject) => {
        req.write(chunk, (err) => (err ? reject(err) : resolve()));
      });
      // A write that fails is reported through the request's own 'error'; this keeps it from being unhandled.
      written[i]!.catch(() => undefined);
      body.onBytes?.(pos);
    }
    await Promise.all(written);
    req.end();
  } finally {
    await fh.close();
  }
}

/** Read a whole (small) body; more than `max` bytes is an error. */
export async function readBody(res: HttpResponse, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res.body as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > max) {
      res.destroy();
      return undefined;
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}
