import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { classifyTransportError } from '../../src/core/registry/errors.js';
import { HttpClient, readBody } from '../../src/core/registry/http.js';

const seen: Array<{ path: string; auth: string | undefined; length: number; contentLength: string | undefined }> = [];
let server: Server;
let other: Server;
let base = '';
let otherBase = '';
const dir = mkdtempSync(join(tmpdir(), 'tbah-http-'));

function handler(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/early') {
    // Answers before reading the body, as a registry refusing an upload does.
    res.statusCode = 401;
    res.end('no');
    return;
  }
  let length = 0;
  req.on('data', (c: Buffer) => (length += c.length));
  req.on('end', () => {
    seen.push({ path: url.pathname, auth: req.headers.authorization, length, contentLength: req.headers['content-length'] });
    if (url.pathname === '/hop-same') {
      res.writeHead(307, { location: '/final' });
      res.end();
    } else if (url.pathname === '/hop-other') {
      res.writeHead(307, { location: `${otherBase}/final` });
      res.end();
    } else res.end(`ok ${length}`);
  });
}

before(async () => {
  server = createServer(handler);
  other = createServer(handler);
  for (const s of [server, other]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  otherBase = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
});
after(async () => {
  for (const s of [server, other]) await new Promise<void>((r) => s.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

const client = (): HttpClient => new HttpClient({ tls: { verify: true }, proxy: { http: undefined, https: undefined, noProxy: '' } });

test('redirects are followed; Authorization goes only to the same origin', async () => {
  const c = client();
  seen.length = 0;
  const same = await c.request({ method: 'GET', url: new URL(`${base}/hop-same`), headers: { Authorization: 'Bearer t' } });
  assert.equal((await readBody(same, 100))?.toString(), 'ok 0');
  assert.deepEqual(seen.map((s) => [s.path, s.auth]), [['/hop-same', 'Bearer t'], ['/final', 'Bearer t']]);
  seen.length = 0;
  const cross = await c.request({ method: 'GET', url: new URL(`${base}/hop-other`), headers: { Authorization: 'Bearer t' } });
  assert.equal(cross.url.origin, otherBase);
  cross.discard();
  assert.deepEqual(seen.map((s) => [s.path, s.auth]), [['/hop-other', 'Bearer t'], ['/final', undefined]]);
  c.close();
});

test('a file body is sent whole with its Content-Length; a file of another size is refused before sending', async () => {
  const c = client();
  const bytes = randomBytes(700_000);
  const file = join(dir, 'blob');
  writeFileSync(file, bytes);
  const progress: number[] = [];
  seen.length = 0;
  const res = await c.request({ method: 'PATCH', url: new URL(`${base}/up`), body: { file, size: bytes.length, onBytes: (n) => progress.push(n) } });
  assert.equal((await readBody(res, 100))?.toString(), `ok ${bytes.length}`);
  assert.equal(seen[0]?.contentLength, String(bytes.length));
  assert.equal(progress.at(-1), bytes.length);
  await assert.rejects(c.request({ method: 'PATCH', url: new URL(`${base}/up`), body: { file, size: bytes.length + 1 } }), (e: unknown) => classifyTransportError(e) === 'length');
  c.close();
});

test('a streamed body longer or shorter than its Content-Length fails as a length error', async () => {
  const c = client();
  for (const n of [10, 30]) {
    await assert.rejects(
      c.request({ method: 'PATCH', url: new URL(`${base}/up`), headers: { 'Content-Length': '20' }, body: Readable.from([Buffer.alloc(n)]) }),
      (e: unknown) => classifyTransportError(e) === 'length',
    );
  }
  c.close();
});

test('an answer before the body is sent resolves the request and stops reading the source', async () => {
  const c = client();
  let pulled = 0;
  const endless = new Readable({
    read() {
      pulled++;
      this.push(Buffer.alloc(64 * 1024));
    },
  });
  const res = await c.request({ method: 'PATCH', url: new URL(`${base}/early`), headers: { 'Content-Length': String(1 << 30) }, body: endless });
  assert.equal(res.status, 401);
  res.discard();
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(endless.destroyed, 'the source is closed');
  assert.ok(pulled < 1000, `read ${pulled} chunks of a 1 GiB body`);
  c.close();
});

test('a file body uploads in constant memory (no buffer per chunk)', async () => {
  // The receiver runs in its own process so that only the sender's buffers are counted here.
  const sink: ChildProcess = spawn(process.execPath, ['-e', `
    require('http').createServer((q, s) => { q.resume(); q.on('end', () => s.end('done')); })
      .listen(0, '127.0.0.1', function () { process.stdout.write(String(this.address().port) + '\\n'); });
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<string>((resolve) => sink.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
    const size = 96 * 1024 * 1024;
    const file = join(dir, 'big');
    writeFileSync(file, Buffer.alloc(size, 7));
    const c = client();
    const start = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const res = await c.request({
      method: 'PUT',
      url: new URL(`http://127.0.0.1:${port}/big`),
      body: { file, size, onBytes: () => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - start)) },
    });
    assert.equal((await readBody(res, 100))?.toString(), 'done');
    assert.ok(peak < 4 * 1024 * 1024, `array buffers grew by ${peak} bytes while sending ${size}`);
    c.close();
    rmSync(file);
  } finally {
    sink.kill();
  }
});
