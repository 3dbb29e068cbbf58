/**
 * A fault-injecting HTTP proxy on 127.0.0.1 in front of a registry (or any
 * HTTP server). Requests pass through unchanged — the Host header too, so a
 * registry's Location headers point back at the proxy — unless a rule
 * matches. Rules are tried in order; the first that matches and has faults
 * left applies, then counts down.
 *
 *   const reg = await startRegistry();
 *   const proxy = await startFaultProxy(reg.url, [
 *     { method: 'GET', path: /\/manifests\//, times: 2, fault: { kind: 'status', status: 500 } },
 *     { path: '/blobs/sha256:', fault: { kind: 'status', status: 429, headers: { 'retry-after': '1' } } },
 *     { method: 'GET', path: '/blobs/', times: 1, fault: { kind: 'cut-response', afterBytes: 1000 } },
 *     { method: 'PATCH', times: 1, fault: { kind: 'cut-request', afterBytes: 4096 } },
 *     { method: 'GET', path: '/blobs/', fault: { kind: 'corrupt' } },
 *   ]);
 *   // talk to proxy.host (plain http) instead of reg.host
 *   proxy.rules.length = 0;       // rules are a live array: change them between steps
 *   proxy.log                     // every request: method, path, headers, status, fault
 *   await proxy.stop();
 *
 * Faults:
 * - `status`: answer at once with that status (and headers, body), upstream never sees it;
 * - `cut-response`: forward, pass `afterBytes` of the response body, then destroy the connection;
 * - `cut-request`: forward while reading the request body, destroy both connections after `afterBytes`;
 * - `corrupt`: forward, but flip one byte of the response body (at `offset`, default the middle):
 *   same length, different digest.
 */
import { type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse, createServer, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';

export type Fault =
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'cut-response'; afterBytes: number }
  | { kind: 'cut-request'; afterBytes: number }
  | { kind: 'corrupt'; offset?: number };

export interface FaultRule {
  /** HTTP method to match (any when absent). */
  method?: string;
  /** Substring of, or RegExp tested against, the path with query (any when absent). */
  path?: string | RegExp;
  /** Faults to inject before the rule lets requests pass; default unlimited. */
  times?: number;
  fault: Fault;
  /** How many requests this rule has faulted (kept up to date by the proxy). */
  hits?: number;
}

export interface FaultLogEntry {
  method: string;
  path: string;
  /** The request's headers as the client sent them. */
  headers: IncomingHttpHeaders;
  /** The status the client saw, when it saw one. */
  status?: number;
  /** The fault kind injected, if any. */
  fault?: Fault['kind'];
}

export interface FaultProxy {
  /** `127.0.0.1:PORT` */
  host: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Live: add, remove or replace rules at any time. */
  rules: FaultRule[];
  log: FaultLogEntry[];
  stop(): Promise<void>;
}

function matches(rule: FaultRule, method: string, path: string): boolean {
  if ((rule.hits ?? 0) >= (rule.times ?? Infinity)) return false;
  if (rule.method !== undefined && rule.method.toUpperCase() !== method) return false;
  if (rule.path === undefined) return true;
  return typeof rule.path === 'string' ? path.includes(rule.path) : rule.path.test(path);
}

export async function startFaultProxy(upstream: string, rules: FaultRule[] = []): Promise<FaultProxy> {
  const up = new URL(upstream);
  const send = up.protocol === 'https:' ? httpsRequest : httpRequest;
  const log: FaultLogEntry[] = [];
  const proxy: Omit<FaultProxy, 'host' | 'url' | 'stop'> = { rules, log };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const entry: FaultLogEntry = { method, path, headers: req.headers };
    log.push(entry);
    const rule = proxy.rules.find((r) => matches(r, method, path));
    const fault = rule?.fault;
    if (rule !== undefined && fault !== undefined) {
      rule.hits = (rule.hits ?? 0) + 1;
      entry.fault = fault.kind;
    }

    if (fault?.kind === 'status') {
      // Drain the request first, so a client streaming a body sees the answer, not a reset.
      req.resume();
      req.once('end', () => {
        entry.status = fault.status;
        res.writeHead(fault.status, { ...(fault.body === undefined ? {} : { 'content-type': 'application/json' }), ...fault.headers });
        res.end(fault.body ?? '');
      });
      return;
    }

    const upReq = send(
      {
        host: up.hostname,
        port: up.port,
        method,
        path,
        headers: req.headers,
        ...(up.protocol === 'https:' ? { rejectUnauthorized: false, servername: up.hostname } : {}),
      },
      (upRes) => {
        const status = upRes.statusCode ?? 502;
        entry.status = status;
        res.writeHead(status, upRes.rawHeaders);
        if (method === 'HEAD' || (fault?.kind !== 'cut-response' && fault?.kind !== 'corrupt')) {
          upRes.pipe(res);
          return;
        }
        const length = Number(upRes.headers['content-length'] ?? '0');
        const flipAt = fault.kind === 'corrupt' ? (fault.offset ?? Math.floor(length / 2)) : -1;
        let passed = 0;
        upRes.on('data', (chunk: Buffer) => {
          if (fault.kind === 'cut-response') {
            const room = fault.afterBytes - passed;
            if (room <= 0) return;
            res.write(chunk.subarray(0, room));
            passed += Math.min(room, chunk.length);
            if (passed >= fault.afterBytes) {
              upRes.destroy();
              // Let the bytes out, then cut without a proper end.
              setImmediate(() => res.socket?.destroy());
            }
            return;
          }
          let out = chunk;
          if (flipAt >= passed && flipAt < passed + chunk.length) {
            out = Buffer.from(chunk);
            out[flipAt - passed] = out[flipAt - passed]! ^ 0xff;
          }
          passed += chunk.length;
          res.write(out);
        });
        upRes.on('end', () => {
          if (fault.kind !== 'cut-response') res.end();
        });
      },
    );
    upReq.on('error', () => {
      if (!res.headersSent) {
        entry.status = 502;
        res.writeHead(502);
        res.end();
      } else res.socket?.destroy();
    });

    if (fault?.kind === 'cut-request') {
      let got = 0;
      req.on('data', (chunk: Buffer) => {
        if (got >= fault.afterBytes) return;
        const room = fault.afterBytes - got;
        upReq.write(chunk.subarray(0, room));
        got += Math.min(room, chunk.length);
        if (got >= fault.afterBytes) {
          upReq.destroy();
          req.socket.destroy();
        }
      });
      req.on('end', () => {
        if (got < fault.afterBytes) upReq.end();
      });
      return;
    }
    req.pipe(upReq);
  };

  const server: Server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const host = `127.0.0.1:${port}`;
  return Object.assign(proxy, {
    host,
    url: `http://${host}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  });
}
