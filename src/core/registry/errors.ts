/**
 * Registry failures turned into errors a user can act on: the distribution
 * spec's JSON error body (`{"errors":[{"code":"MANIFEST_UNKNOWN",...}]}`) and
 * the transport's failures (refused, DNS, TLS) each get one line saying what
 * was wrong and a hint saying what to do. Registry-supplied text passes
 * through `redact` so a secret echoed back can never reach a message.
 */
import { type ErrorCode, TbahError } from '../errors.js';

/** What a request was for; error messages are built from it. */
export interface RequestContext {
  /** The registry as the user named it (`docker.io`, `127.0.0.1:5000`). */
  registry: string;
  /** `pull` for reads, `push` for writes, `login` for credential checks. */
  action: 'pull' | 'push' | 'login';
  /** What was asked for. */
  kind: 'ping' | 'manifest' | 'blob' | 'upload' | 'mount' | 'token' | 'tags';
  repository?: string;
  /** Tag or digest of a manifest. */
  reference?: string;
  /** Digest of a blob. */
  digest?: string;
}

/** One entry of the distribution spec's error body. */
export interface DistributionError {
  code: string;
  message?: string;
  detail?: unknown;
}

/**
 * A registry or transport failure. `status` is the HTTP status (absent for
 * transport errors), `registryCode` the first distribution error code, and
 * `transient` whether trying again may help (5xx, 429, connection errors).
 */
export class RegistryError extends TbahError {
  readonly status: number | undefined;
  readonly registryCode: string | undefined;
  readonly transient: boolean;
  constructor(
    code: ErrorCode,
    message: string,
    opts: { hint?: string; cause?: unknown; status?: number; registryCode?: string; transient?: boolean } = {},
  ) {
    super(code, message, { ...(opts.hint === undefined ? {} : { hint: opts.hint }), ...(opts.cause === undefined ? {} : { cause: opts.cause }) });
    this.status = opts.status;
    this.registryCode = opts.registryCode;
    this.transient = opts.transient ?? false;
  }
}

/** Error bodies are small; anything bigger is not one. */
const ERROR_BODY_MAX = 64 * 1024;

/** The distribution errors in a failed response's body; [] when there is none or it is not JSON. */
export async function readDistributionErrors(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<DistributionError[]> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += chunk.length;
      if (size > ERROR_BODY_MAX) break;
      chunks.push(chunk);
    }
  } catch {
    return [];
  } finally {
    body.destroy();
  }
  return parseDistributionErrors(Buffer.concat(chunks).toString('utf8'));
}

export function parseDistributionErrors(text: string): DistributionError[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return [];
  }
  const list = typeof doc === 'object' && doc !== null ? (doc as { errors?: unknown }).errors : undefined;
  if (!Array.isArray(list)) return [];
  const out: DistributionError[] = [];
  for (const e of list) {
    if (typeof e !== 'object' || e === null || typeof (e as { code?: unknown }).code !== 'string') continue;
    const { code, message, detail } = e as { code: string; message?: unknown; detail?: unknown };
    out.push({ code: code.toUpperCase(), ...(typeof message === 'string' ? { message } : {}), ...(detail === undefined ? {} : { detail }) });
  }
  return out;
}

/** `team/app:1` or `team/app@sha256:…` */
function refText(ctx: RequestContext): string {
  const repo = ctx.repository ?? '?';
  if (ctx.reference === undefined) return repo;
  return /^[a-z0-9]+:[a-f0-9]{32,}$/.test(ctx.reference) ? `${repo}@${ctx.reference}` : `${repo}:${ctx.reference}`;
}

/** The subject of the request in a few words, for generic messages. */
export function describe(ctx: RequestContext): string {
  switch (ctx.kind) {
    case 'ping':
      return `${ctx.registry}/v2/`;
    case 'manifest':
      return `manifest ${refText(ctx)}`;
    case 'blob':
      return `blob ${ctx.digest ?? '?'} in ${ctx.repository ?? '?'}`;
    case 'upload':
      return `upload of ${ctx.digest ?? 'a blob'} to ${ctx.repository ?? '?'}`;
    case 'mount':
      return `mount of ${ctx.digest ?? 'a blob'} into ${ctx.repository ?? '?'}`;
    case 'token':
      return `token for ${ctx.repository ?? ctx.registry}`;
    case 'tags':
      return `tag list of ${ctx.repository ?? '?'}`;
  }
}

/** Registry text shown to the user: one line, bounded, secrets removed. */
function registryText(e: DistributionError | undefined, redact: (s: string) => string): string {
  if (e === undefined) return '';
  let s = e.message ?? '';
  if (typeof e.detail === 'string' && e.detail !== '' && !s.includes(e.detail)) s += `: ${e.detail}`;
  s = redact(s.replace(/\s+/g, ' ').trim());
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

export interface StatusErrorInput {
  status: number;
  errors: DistributionError[];
  ctx: RequestContext;
  /** Credentials were sent (Basic, or a token obtained with credentials). */
  authenticated: boolean;
  /** A 401 here means the credentials themselves were refused (Basic, or the token server). */
  rejectedCredentials?: boolean;
  /** Who, for messages: a user name, never a secret. */
  user?: string;
  redact: (s: string) => string;
}

/** A failed HTTP status (with the registry's error body) as one actionable error. */
export function statusError(inp: StatusErrorInput): RegistryError {
  const { status, errors, ctx, redact } = inp;
  const first = errors[0];
  const code = first?.code ?? '';
  const said = registryText(first, redact);
  const saidSuffix = said === '' ? '' : ` (registry said: ${said})`;
  const reg = ctx.registry;
  const repo = ctx.repository ?? '?';
  const base = { status, ...(code === '' ? {} : { registryCode: code }) };
  const mk = (c: ErrorCode, message: string, hint?: string, transient = false): RegistryError =>
    new RegistryError(c, message, { ...base, ...(hint === undefined ? {} : { hint }), transient });
  const nameHint = 'check the repository name: lower-case letters, digits and separators (. _ - /)';
  const loginHint = `log in with \`tbah login ${reg}\` (or pass --creds)`;

  switch (code) {
    case 'MANIFEST_UNKNOWN':
      return mk('not-found', `manifest unknown: ${refText(ctx)} not found on ${reg}`, 'check the tag (tags are case-sensitive) and the repository name');
    case 'NAME_UNKNOWN':
      return mk('not-found', `name unknown: repository ${repo} not found on ${reg}`, 'check the repository name; Docker Hub images without a namespace live under library/');
    case 'NAME_INVALID':
      return mk('invalid-reference', `name invalid: ${reg} does not accept the repository name "${repo}"${saidSuffix}`, 'repository names are lower-case path components of [a-z0-9._-]');
    case 'TAG_INVALID':
      return mk('invalid-reference', `tag invalid: ${reg} does not accept the tag of ${refText(ctx)}${saidSuffix}`);
    case 'BLOB_UNKNOWN':
      return mk('not-found', `blob unknown: ${ctx.digest ?? said} not found in ${repo} on ${reg}`, 'the image on the registry is incomplete; push it again');
    case 'MANIFEST_BLOB_UNKNOWN':
      return mk('not-found', `manifest blob unknown: ${reg} is missing a blob the manifest ${refText(ctx)} references${saidSuffix}`, 'push the image again so its layers are uploaded first');
    case 'DIGEST_INVALID':
      if (ctx.kind === 'manifest') {
        return mk('invalid-argument', `manifest invalid: ${reg} rejected the manifest for ${refText(ctx)}${saidSuffix}`, 'the registry may not support this manifest type; try --format docker or --format oci');
      }
      return mk(
        'corrupt',
        `digest invalid: ${reg} rejected ${ctx.digest ?? 'the content'} for ${repo}: the bytes do not match the digest${saidSuffix}`,
        'the local blob is corrupt or changed while uploading; check the image (a proxy may alter data)',
      );
    case 'SIZE_INVALID':
      return mk('corrupt', `size invalid: ${reg} rejected ${ctx.digest ?? 'the content'} for ${repo}: the length does not match${saidSuffix}`);
    case 'MANIFEST_INVALID':
    case 'MANIFEST_UNVERIFIED':
      return mk('invalid-argument', `manifest invalid: ${reg} rejected the manifest for ${refText(ctx)}${saidSuffix}`, 'the registry may not support this manifest type; try --format docker or --format oci');
    case 'UNSUPPORTED':
      return mk('unsupported', `unsupported: ${reg} does not support the ${describe(ctx)}${saidSuffix}`);
    case 'TOOMANYREQUESTS':
      return mk('network', `too many requests: ${reg} is rate-limiting ${ctx.action === 'push' ? 'pushes to' : 'pulls of'} ${repo}${saidSuffix}`, 'wait and try again; on Docker Hub, logging in raises the limit', true);
    case 'BLOB_UPLOAD_UNKNOWN':
    case 'BLOB_UPLOAD_INVALID':
      return mk('network', `upload invalid: ${reg} lost or rejected the upload session for ${ctx.digest ?? 'a blob'} to ${repo}${saidSuffix}`, undefined, true);
    case 'DENIED':
      return denied();
    case 'UNAUTHORIZED':
      return unauthorized();
  }
  if (status === 401) return unauthorized();
  if (status === 403) return denied();
  if (status === 404) {
    // Distribution answers 404 with no error body when the name does not fit its routes.
    if (ctx.action === 'push') return mk('not-found', `${describe(ctx)}: ${reg} answered 404 Not Found${saidSuffix}`, nameHint);
    if (ctx.kind === 'manifest') return mk('not-found', `manifest unknown: ${refText(ctx)} not found on ${reg}`, 'check the repository name and the tag');
    if (ctx.kind === 'blob') return mk('not-found', `blob unknown: ${ctx.digest ?? '?'} not found in ${repo} on ${reg}`);
    return mk('not-found', `${describe(ctx)}: not found on ${reg}${saidSuffix}`, 'check the repository name');
  }
  if (status === 429) return mk('network', `too many requests: ${reg} is rate-limiting ${describe(ctx)}`, 'wait and try again; on Docker Hub, logging in raises the limit', true);
  const codeText = code === '' ? '' : ` ${code}`;
  return mk('network', `${describe(ctx)}: ${reg} answered HTTP ${status}${codeText}${saidSuffix}`, status >= 500 ? 'the registry failed; try again later' : undefined, status >= 500);

  function unauthorized(): RegistryError {
    if (inp.rejectedCredentials === true || (inp.authenticated && ctx.action === 'login')) {
      const who = inp.user === undefined ? 'the credentials' : `the credentials of user "${inp.user}"`;
      return mk('unauthorized', `unauthorized: ${reg} rejected ${who}${saidSuffix}`, `check the user name and password; \`tbah login ${reg}\` replaces stored credentials`);
    }
    if (inp.authenticated) {
      // Credentials were good enough for a token but not for this: a permission problem.
      return denied();
    }
    const what = ctx.action === 'push' ? `pushing to ${repo}` : ctx.repository === undefined ? 'access' : `pulling ${repo}`;
    return mk(
      'unauthorized',
      `unauthorized: ${reg} requires authentication for ${what}${saidSuffix}`,
      `${loginHint}${ctx.action === 'pull' ? '; the repository may also not exist' : ''}`,
    );
  }

  function denied(): RegistryError {
    const who = inp.user === undefined ? '' : ` user "${inp.user}"`;
    const act = ctx.action === 'login' || ctx.repository === undefined ? 'access it' : ctx.action === 'push' ? `push to ${repo}` : `pull ${repo}`;
    return mk(
      'denied',
      `denied: ${reg} does not allow${who} to ${act}${saidSuffix}`,
      inp.authenticated ? 'check the repository name and that this account has access to it' : loginHint,
    );
  }
}

/** The innermost `code` of an error chain (fetch wraps the socket error in `cause`). */
export function causeCode(e: unknown): string | undefined {
  let cur: unknown = e;
  let found: string | undefined;
  for (let i = 0; i < 5 && typeof cur === 'object' && cur !== null; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') found = code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return found;
}

/** The innermost message of an error chain. */
export function causeMessage(e: unknown): string {
  let cur: unknown = e;
  let msg = String(e);
  for (let i = 0; i < 5 && typeof cur === 'object' && cur !== null; i++) {
    if (cur instanceof Error && cur.message !== '') msg = cur.message;
    cur = (cur as { cause?: unknown }).cause;
  }
  return msg;
}

export type TransportFailure = 'length' | 'proxy' | 'plain-http' | 'tls-untrusted' | 'tls-name' | 'tls-client-cert' | 'tls' | 'refused' | 'dns' | 'timeout' | 'reset' | 'other';

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REVOKED',
  'INVALID_CA',
]);

export function classifyTransportError(e: unknown): TransportFailure {
  const code = causeCode(e) ?? '';
  const msg = causeMessage(e);
  if (code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH' || code === 'ERR_TBAH_BODY_LENGTH') return 'length';
  if (code === 'ERR_TBAH_PROXY') return 'proxy';
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || /wrong version number|packet length too long|http request/i.test(msg)) return 'plain-http';
  if (UNTRUSTED.has(code)) return 'tls-untrusted';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'tls-name';
  if (/CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA/i.test(code) || /certificate required|bad certificate/i.test(msg)) return 'tls-client-cert';
  if (/^ERR_SSL|^ERR_TLS|^UND_ERR_SSL/.test(code) || /ssl|tls|certificate/i.test(msg)) return 'tls';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'dns';
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'ECONNABORTED') return 'reset';
  return 'other';
}

/** Connection failures worth another attempt (a TLS failure never is). */
export function isTransientTransport(e: unknown): boolean {
  const k = classifyTransportError(e);
  return k === 'refused' || k === 'timeout' || k === 'reset' || causeCode(e) === 'EAI_AGAIN';
}

export interface TransportErrorInput {
  error: unknown;
  ctx: RequestContext;
  /** The host the request went to (the registry's API host, or a token realm's host). */
  host: string;
  tlsVerify: boolean;
  /** The cert directory in use, if any. */
  certDir: string | undefined;
  /** The request was https. */
  https: boolean;
  /** A client certificate was offered. */
  clientCert: boolean;
  /** The proxy the request went through (`http://host:port`, no credentials), if any. */
  proxy?: string;
  redact: (s: string) => string;
}

/** A failed connection (no HTTP answer) as one actionable error. */
export function transportError(inp: TransportErrorInput): RegistryError {
  const { error, ctx, host } = inp;
  const kind = classifyTransportError(error);
  const detail = inp.redact(causeMessage(error).replace(/\s+/g, ' ').replace(/^[0-9A-F]+:error:[0-9A-F]+:SSL routines:([^:]+):([^:]+):.*$/, '$2'));
  const transient = isTransientTransport(error);
  const mk = (message: string, hint: string): RegistryError => new RegistryError('network', message, { hint, cause: error, transient });
  const certDirHint = inp.certDir ?? `/etc/containers/certs.d/${host}/`;
  if (inp.proxy !== undefined && (kind === 'refused' || kind === 'dns' || kind === 'timeout')) {
    const why = kind === 'refused' ? 'connection refused' : kind === 'dns' ? 'the host name does not resolve' : 'timed out';
    return mk(`cannot reach proxy ${inp.proxy} for registry ${host}: ${why}`, 'check HTTPS_PROXY/HTTP_PROXY, or exempt the registry with NO_PROXY');
  }
  switch (kind) {
    case 'length':
      return new RegistryError('corrupt', `${describe(ctx)}: the data read is not the size the descriptor declares`, {
        hint: 'the local blob is corrupt or changed while uploading',
        cause: error,
      });
    case 'proxy':
      return mk(`${describe(ctx)} on ${ctx.registry}: ${detail}`, 'check HTTPS_PROXY/HTTP_PROXY, or exempt the registry with NO_PROXY');
    case 'plain-http':
      return mk(`${host} answered plain HTTP to an HTTPS request`, `for a registry without TLS use --tls-verify=false`);
    case 'tls-untrusted':
      return mk(
        `TLS: cannot verify the certificate of ${host}: ${detail}`,
        `put the registry's CA certificate as ca.crt in ${certDirHint} (or pass --cert-dir DIR), or skip verification with --tls-verify=false`,
      );
    case 'tls-name':
      return mk(`TLS: the certificate of ${host} is not valid for that name: ${detail}`, 'use the host name the certificate was issued for, or --tls-verify=false');
    case 'tls-client-cert':
      return mk(
        `TLS: ${host} refused the connection: it wants a client certificate it trusts (${detail})`,
        `put client.cert and client.key in ${certDirHint} (or pass --cert-dir DIR)`,
      );
    case 'tls':
      return mk(`TLS handshake with ${host} failed: ${detail}`, `check --cert-dir (${certDirHint}); --tls-verify=false skips verification`);
    case 'refused':
      return mk(`cannot reach registry ${host}: connection refused`, 'check the address and port, and that the registry is running');
    case 'dns':
      return mk(`cannot reach registry ${host}: the host name does not resolve`, 'check the registry name and your DNS');
    case 'timeout':
      return mk(`cannot reach registry ${host}: timed out`, 'check the address and your network (a proxy or firewall may be in the way)');
    case 'reset':
      if (inp.https && !inp.clientCert && ctx.kind === 'ping') {
        // TLS 1.3 servers that want a client certificate just close the connection after the handshake.
        return mk(
          `${host} closed the TLS connection without answering: it may require a client certificate`,
          `put client.cert and client.key in ${certDirHint} (or pass --cert-dir DIR); if the network is just flaky, try again`,
        );
      }
      return mk(`${describe(ctx)} on ${ctx.registry}: the connection was cut (${detail})`, 'try again; if it persists check the network or proxy between you and the registry');
    case 'other':
      return mk(`${describe(ctx)} on ${ctx.registry} failed: ${detail}`, 'check the registry address and your network');
  }
}
