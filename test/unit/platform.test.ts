/** Platform normalisation as containers/image (libimage + containerd), measured against Buildah 1.28 where they agree. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizePlatform, platformMatches } from '../../src/core/platform.js';

test('architecture aliases and variants', () => {
  const n = (architecture?: string, variant?: string, os?: string) => normalizePlatform({ ...(architecture ? { architecture } : {}), ...(variant ? { variant } : {}), ...(os ? { os } : {}) });
  assert.deepEqual(n('aarch64'), { architecture: 'arm64' });
  assert.deepEqual(n('x86_64'), { architecture: 'amd64' });
  assert.deepEqual(n('x86-64', 'v1'), { architecture: 'amd64' });
  assert.deepEqual(n('armhf'), { architecture: 'arm', variant: 'v7' });
  assert.deepEqual(n('armel'), { architecture: 'arm', variant: 'v6' });
  assert.deepEqual(n('arm'), { architecture: 'arm', variant: 'v7' });
  assert.deepEqual(n('arm', '6'), { architecture: 'arm', variant: 'v6' });
  assert.deepEqual(n('arm', 'v5'), { architecture: 'arm', variant: 'v5' });
  assert.deepEqual(n('i386', 'v7'), { architecture: '386' });
  assert.deepEqual(n('arm64', 'v8'), { architecture: 'arm64', variant: 'v8' }, 'a v8 the user gives stays (libimage)');
  assert.deepEqual(n('ARM64'), { architecture: 'arm64' });
  assert.deepEqual(n(undefined, undefined, 'LINUX'), { os: 'linux' });
  assert.deepEqual(n('mips64le'), { architecture: 'mips64le' });
});

test('an image matches what was asked for', () => {
  const img = { os: 'linux', architecture: 'amd64' };
  assert.ok(platformMatches(img, { architecture: 'x86_64' }));
  assert.ok(!platformMatches(img, { architecture: 'arm64' }));
  assert.ok(platformMatches(img, { os: 'linux' }));
  assert.ok(platformMatches({ os: 'linux', architecture: 'arm' }, { architecture: 'arm', variant: 'v6' }), 'an image without a variant fits');
  assert.ok(!platformMatches({ os: 'linux', architecture: 'arm', variant: 'v7' }, { architecture: 'arm', variant: 'v6' }));
});
