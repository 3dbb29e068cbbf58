/**
 * Which proxy a registry request goes through, as Go's
 * `http.ProxyFromEnvironment` decides for Buildah (golang.org/x/net/http/httpproxy):
 * `HTTPS_PROXY`/`https_proxy` for https URLs, `HTTP_PROXY`/`http_proxy` for
 * http (upper case first; `HTTP_PROXY` is ignored under CGI, `REQUEST_METHOD`
 * set); never for `localhost` or a loopback address; `NO_PROXY`/`no_proxy`
 * lists exceptions: `*`, host names (`example.com` also matches its
 * subdomains, `.example.com` only them), IP addresses and CIDR ranges, each
 * optionally with `:port`. A proxy URL without a scheme is `http://`. Pure:
 * no I/O (the tunnel lives in tunnel.ts, loaded only when a proxy is used).
 */
import { BlockList, isIP } from 'node:net';
import { TbahError } from '../errors.js';

export interface ProxyConfig {
  http: string | undefined;
  https: string | undefined;
  noProxy: string;
}

/** A proxy to use for one request. */
export interface ProxyChoice {
  url: URL;
  /** `Basic …` from the proxy URL's user info, for Proxy-Authorization. */
  auth?: string;
}

export function proxyConfigFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): ProxyConfig {
  const any = (...names: string[]): string | undefined => {
    for (const n of names) {
      const v = env[n];
      if (v !== undefined && v !== '') return v;
    }
    return undefined;
  };
  const cgi = env['REQUEST_METHOD'] !== undefined && env['REQUEST_METHOD'] !== '';
  return {
    http: cgi ? undefined : any('HTTP_PROXY', 'http_proxy'),
    https: any('HTTPS_PROXY', 'https_proxy'),
    noProxy: any('NO_PROXY', 'no_proxy') ?? '',
  };
}

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' };

/** The proxy for `target`, or undefined for a direct connection. */
export function proxyFor(cfg: ProxyConfig, target: URL): ProxyChoice | undefined {
  const raw = target.protocol === 'https:' ? cfg.https : target.protocol === 'http:' ? cfg.http : undefined;
  if (raw === undefined) return undefined;
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const port = target.port || DEFAULT_PORTS[target.protocol] || '';
  if (!useProxy(cfg.noProxy, host, port)) return undefined;
  return parseProxy(raw, target.protocol === 'https:' ? 'HTTPS_PROXY' : 'HTTP_PROXY');
}

function parseProxy(raw: string, variable: string): ProxyChoice {
  let url: URL | undefined;
  try {
    url = new URL(raw);
    if (url.host === '') url = undefined;
  } catch {
    url = undefined;
  }
  // Go retries without a scheme as http://; so does `new URL('host:3128')`, which would read `host:` as a scheme.
  if (url === undefined || !/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    try {
      url = new URL(`http://${raw}`);
    } catch {
      throw new TbahError('invalid-argument', `${variable} is not a proxy URL`, { hint: `write ${variable}=http://HOST:PORT` });
    }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TbahError('unsupported', `${variable}: ${url.protocol.slice(0, -1)} proxies are not supported`, {
      hint: 'use an http:// or https:// proxy, or exempt the registry with NO_PROXY',
    });
  }
  const choice: ProxyChoice = { url };
  if (url.username !== '' || url.password !== '') {
    const cred = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    choice.auth = `Basic ${Buffer.from(cred).toString('base64')}`;
  }
  return choice;
}

function isLoopback(host: string): boolean {
  const v = isIP(host);
  if (v === 4) return host.startsWith('127.');
  if (v === 6) {
    const l = new BlockList();
    l.addAddress('::1', 'ipv6');
    l.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');
    return l.check(host, 'ipv6');
  }
  return false;
}

/** httpproxy's useProxy: false for loopback and for what NO_PROXY lists. */
export function useProxy(noProxy: string, host: string, port: string): boolean {
  if (host === 'localhost' || isLoopback(host)) return false;
  const ipKind = isIP(host);
  for (const entry0 of noProxy.split(',')) {
    const entry = entry0.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return false;
    const slash = entry.indexOf('/');
    if (slash >= 0) {
      const [net, bits] = [entry.slice(0, slash), Number(entry.slice(slash + 1))];
      const kind = isIP(net);
      if (ipKind !== 0 && kind === ipKind && Number.isInteger(bits)) {
        const l = new BlockList();
        try {
          l.addSubnet(net, bits, kind === 4 ? 'ipv4' : 'ipv6');
          if (l.check(host, kind === 4 ? 'ipv4' : 'ipv6')) return false;
        } catch {
          // an invalid range matches nothing, as in Go
        }
      }
      continue;
    }
    const { h: eHost, p: ePort } = splitHostPort(entry);
    if (isIP(eHost) !== 0) {
      if (ipKind !== 0 && sameIp(eHost, host) && (ePort === '' || ePort === port)) return false;
      continue;
    }
    let suffix = eHost.startsWith('*.') ? eHost.slice(1) : eHost;
    let matchHost = false;
    if (!suffix.startsWith('.')) {
      matchHost = true;
      suffix = `.${suffix}`;
    }
    if ((host.endsWith(suffix) || (matchHost && host === suffix.slice(1))) && (ePort === '' || ePort === port)) return false;
  }
  return true;
}

/** `host:port`, `[v6]:port`, a bare v6 address or a bare host. */
function splitHostPort(s: string): { h: string; p: string } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) return { h: v6[1]!, p: v6[2] ?? '' };
  if (isIP(s) === 6) return { h: s, p: '' };
  const m = /^(.*):(\d+)$/.exec(s);
  return m ? { h: m[1]!, p: m[2]! } : { h: s, p: '' };
}

function sameIp(a: string, b: string): boolean {
  const kind = isIP(a);
  if (kind !== isIP(b)) return false;
  const l = new BlockList();
  l.addAddress(a, kind === 4 ? 'ipv4' : 'ipv6');
  return l.check(b, kind === 4 ? 'ipv4' : 'ipv6');
}

/** The proxy URL without its user info, for messages. */
export function showProxy(p: ProxyChoice): string {
  return `${p.url.protocol}//${p.url.host}`;
}
