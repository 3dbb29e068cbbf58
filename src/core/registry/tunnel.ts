/**
 * An https Agent that reaches its origin through an HTTP CONNECT tunnel
 * (RFC 9110 §9.3.6), as Go's transport does for an https URL and a proxy:
 * CONNECT host:port to the proxy (over TLS when the proxy URL is https),
 * then TLS to the origin inside the tunnel. Loaded only when a proxy is in use.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import * as tls from 'node:tls';
import type { ProxyChoice } from './proxy.js';
import { showProxy } from './proxy.js';

type ConnectCallback = (err: Error | null, socket?: Socket) => void;

export function tunnelAgent(proxy: ProxyChoice, tlsOpts: https.AgentOptions): https.Agent {
  const agent = new https.Agent({ keepAlive: true, ...tlsOpts });
  // Agent#createSocket accepts an asynchronous createConnection (it waits for the callback).
  (agent as unknown as { createConnection: (o: tls.ConnectionOptions & { host: string; port: number }, cb: ConnectCallback) => undefined }).createConnection = (
    o,
    cb,
  ) => {
    const target = `${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`;
    const headers: Record<string, string> = { Host: target };
    if (proxy.auth !== undefined) headers['Proxy-Authorization'] = proxy.auth;
    const mod = proxy.url.protocol === 'https:' ? https : http;
    const req = mod.request({
      host: proxy.url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: proxy.url.port || (proxy.url.protocol === 'https:' ? 443 : 80),
      method: 'CONNECT',
      path: target,
      headers,
      agent: false,
      ...(proxy.url.protocol === 'https:' ? { rejectUnauthorized: tlsOpts.rejectUnauthorized ?? true } : {}),
    });
    req.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        cb(Object.assign(new Error(`proxy ${showProxy(proxy)} refused CONNECT ${target}: HTTP ${res.statusCode}`), { code: 'ERR_TBAH_PROXY' }));
        return;
      }
      const secure = tls.connect({ ...o, socket, servername: o.servername ?? (/^[\d.]+$|:/.test(o.host) ? '' : o.host) });
      cb(null, secure);
    });
    req.once('error', (e) => cb(e));
    req.end();
    return undefined;
  };
  return agent;
}
