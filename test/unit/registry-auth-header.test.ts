import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findChallenge, parseWwwAuthenticate } from '../../src/core/registry/auth-header.js';

test('a single Bearer challenge as Docker Hub sends it', () => {
  const h = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"';
  assert.deepEqual(parseWwwAuthenticate(h), [
    {
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' },
    },
  ]);
});

test('several challenges in one header, schemes and names case-folded', () => {
  const h = 'Basic Realm="x", BEARER realm="https://a/t",service="a", scope="repository:n/r:pull,push"';
  const got = parseWwwAuthenticate(h);
  assert.equal(got.length, 2);
  assert.deepEqual(got[0], { scheme: 'basic', params: { realm: 'x' } });
  // The comma inside the quoted scope does not split anything.
  assert.deepEqual(got[1], { scheme: 'bearer', params: { realm: 'https://a/t', service: 'a', scope: 'repository:n/r:pull,push' } });
  assert.equal(findChallenge(got, 'Bearer')?.params['service'], 'a');
  assert.equal(findChallenge(got, 'digest'), undefined);
});

test('quoted-string escapes, token values and spaces around =', () => {
  const got = parseWwwAuthenticate('Bearer realm = "a \\"quoted\\" \\\\ realm", error=invalid_token');
  assert.deepEqual(got, [{ scheme: 'bearer', params: { realm: 'a "quoted" \\ realm', error: 'invalid_token' } }]);
});

test('token68 challenges and empty list elements', () => {
  const got = parseWwwAuthenticate(', Negotiate abc/d+e==,  , Basic realm="r",Custom');
  assert.deepEqual(got, [
    { scheme: 'negotiate', params: {}, token68: 'abc/d+e==' },
    { scheme: 'basic', params: { realm: 'r' } },
    { scheme: 'custom', params: {} },
  ]);
});

test('an unterminated quote takes the rest of the header and junk does not loop', () => {
  assert.deepEqual(parseWwwAuthenticate('Basic realm="abc, def'), [{ scheme: 'basic', params: { realm: 'abc, def' } }]);
  assert.deepEqual(parseWwwAuthenticate(''), []);
  assert.deepEqual(parseWwwAuthenticate('@@@ Basic'), [{ scheme: 'basic', params: {} }]);
});
