import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TbahError } from '../../src/core/errors.js';
import { proxyConfigFromEnv, proxyFor, useProxy } from '../../src/core/registry/proxy.js';

const cfg = (env: Record<string, string>) => proxyConfigFromEnv(env);
const via = (env: Record<string, string>, url: string): string | undefined => proxyFor(cfg(env), new URL(url))?.url.href;

test('the variable follows the scheme of the request; upper case wins; CGI ignores HTTP_PROXY', () => {
  const env = { HTTPS_PROXY: 'http://s:1', HTTP_PROXY: 'http://p:2' };
  assert.equal(via(env, 'https://reg.example/v2/'), 'http://s:1/');
  assert.equal(via(env, 'http://reg.example/v2/'), 'http://p:2/');
  assert.equal(via({ https_proxy: 'http://low:1', HTTPS_PROXY: 'http://up:1' }, 'https://reg.example/'), 'http://up:1/');
  assert.equal(via({ https_proxy: 'http://low:1' }, 'https://reg.example/'), 'http://low:1/');
  assert.equal(via({ HTTP_PROXY: 'http://p:2', REQUEST_METHOD: 'GET' }, 'http://reg.example/'), undefined);
  assert.equal(via({ HTTP_PROXY: 'http://p:2' }, 'https://reg.example/'), undefined, 'HTTP_PROXY is not for https');
});

test('a proxy without a scheme is http://; user info becomes Proxy-Authorization; socks is refused clearly', () => {
  assert.equal(via({ HTTPS_PROXY: 'proxy.corp:3128' }, 'https://reg.example/'), 'http://proxy.corp:3128/');
  const p = proxyFor(cfg({ HTTPS_PROXY: 'http://u%3Ax:p%40w@proxy:8080' }), new URL('https://reg.example/'));
  assert.equal(p?.auth, `Basic ${Buffer.from('u:x:p@w').toString('base64')}`);
  assert.throws(() => via({ HTTPS_PROXY: 'socks5://proxy:1080' }, 'https://reg.example/'), (e: unknown) => e instanceof TbahError && e.code === 'unsupported' && /socks5/.test(e.message));
});

test('loopback and localhost are never proxied', () => {
  for (const h of ['localhost', '127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) assert.equal(useProxy('', h, '5000'), false, h);
  assert.equal(useProxy('', '10.0.0.1', '5000'), true);
  assert.equal(via({ HTTPS_PROXY: 'http://p:1' }, 'https://[::1]:5000/'), undefined);
});

test('NO_PROXY: *, domains with and without a leading dot, ports, IPs and CIDR ranges, as Go matches them', () => {
  assert.equal(useProxy('*', 'reg.example', '443'), false);
  assert.equal(useProxy('example.com', 'example.com', '443'), false);
  assert.equal(useProxy('example.com', 'reg.example.com', '443'), false, 'a domain covers its subdomains');
  assert.equal(useProxy('.example.com', 'example.com', '443'), true, 'a leading dot: subdomains only');
  assert.equal(useProxy('.example.com', 'reg.example.com', '443'), false);
  assert.equal(useProxy('*.example.com', 'reg.example.com', '443'), false);
  assert.equal(useProxy('example.com', 'notexample.com', '443'), true);
  assert.equal(useProxy('reg.example:5000', 'reg.example', '5000'), false);
  assert.equal(useProxy('reg.example:5000', 'reg.example', '443'), true);
  assert.equal(useProxy(' other.example , REG.EXAMPLE ', 'reg.example', '443'), false, 'entries are trimmed and case-insensitive');
  assert.equal(useProxy('10.1.2.3', '10.1.2.3', '5000'), false);
  assert.equal(useProxy('10.1.2.3:5000', '10.1.2.3', '443'), true);
  assert.equal(useProxy('10.0.0.0/8', '10.200.0.1', '443'), false);
  assert.equal(useProxy('10.0.0.0/8', '11.0.0.1', '443'), true);
  assert.equal(useProxy('fd00::/8', 'fd12::1', '443'), false);
  assert.equal(useProxy('10.0.0.0/8', 'ten.example', '443'), true, 'a range matches addresses only');
});
