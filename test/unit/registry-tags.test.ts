import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TbahError } from '../../src/core/errors.js';
import { RegistryClient } from '../../src/core/registry/client.js';

/** A registry whose tag list comes in pages of two, linked as the distribution spec says. */
const TAGS = ['v3', 'v1', 'latest', 'v2', 'edge'];
let server: Server;
let host = '';

before(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v2/') return void res.end('{}');
    if (url.pathname === '/v2/team/app/tags/list') {
      const last = url.searchParams.get('last');
      const from = last === null ? 0 : TAGS.indexOf(last) + 1;
      const page = TAGS.slice(from, from + 2);
      if (from + 2 < TAGS.length) res.setHeader('link', `</v2/team/app/tags/list?n=2&last=${page.at(-1)}>; rel="next"`);
      res.setHeader('content-type', 'application/json');
      return void res.end(JSON.stringify({ name: 'team/app', tags: page }));
    }
    res.statusCode = 404;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

test('listTags follows Link pages and keeps the registry\'s order', async () => {
  const c = new RegistryClient({ registry: host, tlsVerify: false, backoffMs: 1 });
  assert.deepEqual(await c.listTags('team/app'), TAGS);
  await assert.rejects(c.listTags('no/such'), (e: unknown) => e instanceof TbahError && e.code === 'not-found' && /repository no\/such not found/.test(e.message));
  await c.close();
});
