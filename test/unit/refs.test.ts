import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TbahError } from '../../src/core/errors.js';
import type { Digest } from '../../src/core/oci.js';
import {
  type ImageRef,
  containerNamePrefix,
  familiarName,
  formatDockerReference,
  formatImageRef,
  isImageIdPrefix,
  localCandidates,
  parseDockerReference,
  parseImageRef,
  parseLocalName,
  repositoryOf,
} from '../../src/core/refs.js';

const HEX = 'a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';
const DIGEST = `sha256:${HEX}` as Digest;

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TbahError, `expected TbahError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    assert.ok(err.hint && err.hint.length > 0, 'error carries a hint');
    return true;
  });
}

describe('parseDockerReference: normalisation', () => {
  // input → full form, as `docker pull` / containers/image ParseNormalizedNamed + TagNameOnly give it
  const cases: [string, string][] = [
    ['alpine', 'docker.io/library/alpine:latest'],
    ['alpine:3.19', 'docker.io/library/alpine:3.19'],
    ['library/alpine', 'docker.io/library/alpine:latest'],
    ['docker.io/alpine', 'docker.io/library/alpine:latest'],
    ['docker.io/library/alpine', 'docker.io/library/alpine:latest'],
    ['index.docker.io/library/alpine', 'docker.io/library/alpine:latest'],
    ['index.docker.io/alpine:edge', 'docker.io/library/alpine:edge'],
    ['user/app', 'docker.io/user/app:latest'],
    ['user/team/app:v1', 'docker.io/user/team/app:v1'],
    ['127.0.0.1:5000/busybox', '127.0.0.1:5000/busybox:latest'],
    ['localhost/x:1', 'localhost/x:1'],
    ['localhost:5000/a/b', 'localhost:5000/a/b:latest'],
    ['quay.io/podman/stable', 'quay.io/podman/stable:latest'],
    ['Quay.IO/x/y', 'Quay.IO/x/y:latest'], // hostnames may have capitals
    ['[::1]:5000/img', '[::1]:5000/img:latest'],
    [`host:5000/a/b:tag@${DIGEST}`, `host:5000/a/b:tag@${DIGEST}`],
    [`busybox@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`],
    ['my_app', 'docker.io/library/my_app:latest'],
    ['my__app', 'docker.io/library/my__app:latest'],
    ['my---app', 'docker.io/library/my---app:latest'],
    ['my.app/x', 'my.app/x:latest'], // a '.' in the first component makes it a registry host
    ['localhost:5000', 'docker.io/library/localhost:5000'], // no '/': the ':' starts a tag
    ['docker.io', 'docker.io/library/docker.io:latest'],
    ['a:_tag', 'docker.io/library/a:_tag'],
    [`a:${'t'.repeat(128)}`, `docker.io/library/a:${'t'.repeat(128)}`],
  ];
  for (const [input, want] of cases) {
    it(`${input} → ${want}`, () => {
      assert.equal(formatDockerReference(parseDockerReference(input)), want);
    });
  }

  it('splits into domain, path, tag, digest', () => {
    assert.deepEqual(parseDockerReference(`host:5000/a/b:tag@${DIGEST}`), { domain: 'host:5000', path: 'a/b', tag: 'tag', digest: DIGEST });
    assert.deepEqual(parseDockerReference('alpine'), { domain: 'docker.io', path: 'library/alpine', tag: 'latest' });
    assert.deepEqual(parseDockerReference(`alpine@${DIGEST}`), { domain: 'docker.io', path: 'library/alpine', digest: DIGEST });
  });
});

describe('parseDockerReference: errors', () => {
  const cases: [string, RegExp][] = [
    ['', /empty/],
    ['Alpine', /must be lowercase/],
    ['docker.io/Library/alpine', /must be lowercase/],
    ['localhost:5000/MyApp:1', /must be lowercase/],
    ['Foo/bar', /must be lowercase/], // no '.', ':' or localhost: not a host, so a repository path
    [`a:${'t'.repeat(129)}`, /invalid tag/],
    ['a:.tag', /invalid tag/],
    ['a:-tag', /invalid tag/],
    ['a:', /invalid tag/],
    ['a:b:c', /invalid tag/],
    ['a@sha256:abc', /invalid digest/],
    [`a@sha256:${HEX.toUpperCase()}`, /invalid digest/],
    [`a@md5:${HEX}`, /invalid digest/],
    ['-a', /invalid repository name/],
    ['a-', /invalid repository name/],
    ['a..b', /invalid repository name/],
    ['a//b', /invalid repository name/],
    ['a/', /invalid repository name/],
    ['a b', /invalid repository name/],
    ['localhost/', /invalid repository name/],
    ['host:port/x', /invalid registry host/],
    ['foo_bar.com/x', /invalid registry host/],
    ['-host.com/x', /invalid registry host/],
    [HEX, /64-byte hexadecimal/],
    [`example.com/${'a'.repeat(244)}`, /255 characters/],
  ];
  for (const [input, msg] of cases) {
    it(`rejects ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)}`, () => {
      throwsCode(() => parseDockerReference(input), 'invalid-reference', msg);
    });
  }
  it('names the input in the message', () => {
    throwsCode(() => parseDockerReference('Alpine:1'), 'invalid-reference', /"Alpine:1"/);
  });
  it('accepts a name of exactly 255 characters', () => {
    const name = `example.com/${'a'.repeat(243)}`;
    assert.equal(name.length, 255);
    assert.equal(repositoryOf(parseDockerReference(name)), name);
  });
});

describe('familiarName and repositoryOf', () => {
  const cases: [string, string, string][] = [
    ['alpine', 'alpine:latest', 'docker.io/library/alpine'],
    ['user/app:1', 'user/app:1', 'docker.io/user/app'],
    ['library/a/b', 'library/a/b:latest', 'docker.io/library/a/b'],
    ['localhost/x:1', 'localhost/x:1', 'localhost/x'],
    ['quay.io/library/x', 'quay.io/library/x:latest', 'quay.io/library/x'],
    [`busybox@${DIGEST}`, `busybox@${DIGEST}`, 'docker.io/library/busybox'],
  ];
  for (const [input, familiar, repo] of cases) {
    it(`${input} → ${familiar}, ${repo}`, () => {
      const r = parseDockerReference(input);
      assert.equal(familiarName(r), familiar);
      assert.equal(repositoryOf(r), repo);
    });
  }
});

describe('parseLocalName', () => {
  const cases: [string, string][] = [
    ['busybox', 'localhost/busybox:latest'],
    ['busybox:1', 'localhost/busybox:1'],
    ['a/b', 'localhost/a/b:latest'],
    ['library/busybox', 'localhost/library/busybox:latest'],
    ['localhost/x:2', 'localhost/x:2'],
    ['quay.io/x/y', 'quay.io/x/y:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['127.0.0.1:5000/busybox:1', '127.0.0.1:5000/busybox:1'],
    [`img@${DIGEST}`, `localhost/img@${DIGEST}`],
  ];
  for (const [input, want] of cases) {
    it(`${input} → ${want}`, () => {
      assert.equal(formatDockerReference(parseLocalName(input)), want);
    });
  }
  it('rejects uppercase, as buildah commit does', () => {
    throwsCode(() => parseLocalName('MyImage'), 'invalid-reference', /must be lowercase/);
  });
  it('rejects an ID and an empty name', () => {
    throwsCode(() => parseLocalName(HEX), 'invalid-reference', /64-byte/);
    throwsCode(() => parseLocalName(''), 'invalid-reference', /empty/);
  });
});

describe('localCandidates', () => {
  const cases: [string, string[]][] = [
    ['busybox:1', ['localhost/busybox:1', 'docker.io/library/busybox:1']],
    ['busybox', ['localhost/busybox:latest', 'docker.io/library/busybox:latest']],
    ['a/b', ['localhost/a/b:latest', 'docker.io/a/b:latest']],
    ['localhost/busybox:1', ['localhost/busybox:1']],
    ['docker.io/busybox', ['docker.io/library/busybox:latest']],
    ['quay.io/x/y:2', ['quay.io/x/y:2']],
    ['127.0.0.1:5000/busybox', ['127.0.0.1:5000/busybox:latest']],
    [HEX, []],
    [DIGEST, []],
    ['sha256:abc', []],
    ['abc123', ['localhost/abc123:latest', 'docker.io/library/abc123:latest']], // could be a name or an ID prefix
  ];
  for (const [input, want] of cases) {
    it(`${input.length > 30 ? `${input.slice(0, 30)}…` : input} → [${want.join(', ')}]`, () => {
      assert.deepEqual(localCandidates(input), want);
    });
  }
  it('throws for an invalid name', () => {
    throwsCode(() => localCandidates('Busybox'), 'invalid-reference', /lowercase/);
  });
});

describe('isImageIdPrefix', () => {
  const yes = ['abc', 'a3ed95caeb02', HEX, DIGEST, 'sha256:abc', '012'];
  const no = ['ab', '', 'ABC', 'abcg', `${HEX}0`, 'sha256:', 'sha256:ab', 'sha512:abc', 'busybox', ' abc'];
  for (const s of yes) it(`accepts ${JSON.stringify(s.slice(0, 20))}`, () => assert.equal(isImageIdPrefix(s), true));
  for (const s of no) it(`refuses ${JSON.stringify(s.slice(0, 20))}`, () => assert.equal(isImageIdPrefix(s), false));
});

describe('parseImageRef: transports', () => {
  const alpine = { domain: 'docker.io', path: 'library/alpine', tag: 'latest' };
  const cases: [string, 'store' | 'docker', ImageRef][] = [
    // registry
    ['docker://alpine', 'store', { transport: 'docker', ref: alpine }],
    ['docker://localhost:5000/a/b:1', 'store', { transport: 'docker', ref: { domain: 'localhost:5000', path: 'a/b', tag: '1' } }],
    [`docker://quay.io/x@${DIGEST}`, 'docker', { transport: 'docker', ref: { domain: 'quay.io', path: 'x', digest: DIGEST } }],
    // bare names: store or registry depending on context
    ['alpine', 'docker', { transport: 'docker', ref: alpine }],
    ['alpine', 'store', { transport: 'store', name: 'alpine' }],
    ['busybox:1', 'store', { transport: 'store', name: 'busybox:1' }],
    ['localhost:5000/x', 'store', { transport: 'store', name: 'localhost:5000/x' }],
    ['localhost:5000/x', 'docker', { transport: 'docker', ref: { domain: 'localhost:5000', path: 'x', tag: 'latest' } }],
    ['127.0.0.1:5000/busybox:1', 'docker', { transport: 'docker', ref: { domain: '127.0.0.1:5000', path: 'busybox', tag: '1' } }],
    ['docker:dind', 'store', { transport: 'store', name: 'docker:dind' }], // `docker:` without // is the image "docker"
    ['docker:dind', 'docker', { transport: 'docker', ref: { domain: 'docker.io', path: 'library/docker', tag: 'dind' } }],
    ['scratch', 'store', { transport: 'store', name: 'scratch' }],
    // IDs are store names
    ['a3ed95caeb02', 'store', { transport: 'store', name: 'a3ed95caeb02' }],
    [HEX, 'store', { transport: 'store', name: HEX }],
    [DIGEST, 'store', { transport: 'store', name: DIGEST }],
    // containers-storage: a containers/storage store (Buildah's, Podman's), optionally named by [driver@root+runroot:options]
    ['containers-storage:busybox:1', 'docker', { transport: 'containers-storage', name: 'busybox:1' }],
    ['containers-storage:[overlay@/var/lib/x+/run/x]busybox', 'store', {
      transport: 'containers-storage', name: 'busybox', store: { spec: 'overlay@/var/lib/x+/run/x', driver: 'overlay', root: '/var/lib/x', runRoot: '/run/x' },
    }],
    ['containers-storage:[/var/lib/x]quay.io/a/b:1', 'store', { transport: 'containers-storage', name: 'quay.io/a/b:1', store: { spec: '/var/lib/x', root: '/var/lib/x' } }],
    ['containers-storage:[vfs@/r:mountopt=x]app', 'store', { transport: 'containers-storage', name: 'app', store: { spec: 'vfs@/r:mountopt=x', driver: 'vfs', root: '/r' } }],
    [`containers-storage:${HEX}`, 'store', { transport: 'containers-storage', name: HEX }],
    // dir: skopeo's directory format; the rest is the path, colons and all
    ['dir:/tmp/x', 'store', { transport: 'dir', path: '/tmp/x' }],
    ['dir:rel/a:b', 'docker', { transport: 'dir', path: 'rel/a:b' }],
    // oci layouts: containers/image splits at the first ':'
    ['oci:/tmp/layout', 'store', { transport: 'oci', path: '/tmp/layout' }],
    ['oci:/tmp/layout:', 'store', { transport: 'oci', path: '/tmp/layout' }],
    ['oci:/tmp/layout:v1.0', 'docker', { transport: 'oci', path: '/tmp/layout', ref: 'v1.0' }],
    ['oci:rel/dir:foo.com/name:tag', 'store', { transport: 'oci', path: 'rel/dir', ref: 'foo.com/name:tag' }],
    ['oci:/l:Mixed-Case_Ref', 'store', { transport: 'oci', path: '/l', ref: 'Mixed-Case_Ref' }],
    ['oci-archive:/tmp/img.tar', 'store', { transport: 'oci-archive', path: '/tmp/img.tar' }],
    ['oci-archive:/tmp/img.tar:latest', 'docker', { transport: 'oci-archive', path: '/tmp/img.tar', ref: 'latest' }],
    // docker save archives
    ['docker-archive:/f.tar', 'store', { transport: 'docker-archive', path: '/f.tar' }],
    ['docker-archive:/f.tar:busybox:1', 'store', { transport: 'docker-archive', path: '/f.tar', ref: { domain: 'docker.io', path: 'library/busybox', tag: '1' } }],
    ['docker-archive:/f.tar:localhost/x', 'docker', { transport: 'docker-archive', path: '/f.tar', ref: { domain: 'localhost', path: 'x', tag: 'latest' } }],
    ['docker-archive:/f.tar:@0', 'store', { transport: 'docker-archive', path: '/f.tar', index: 0 }],
    ['docker-archive:/f.tar:@12', 'store', { transport: 'docker-archive', path: '/f.tar', index: 12 }],
  ];
  for (const [input, def, want] of cases) {
    it(`${input.length > 50 ? `${input.slice(0, 50)}…` : input} (${def})`, () => {
      assert.deepEqual(parseImageRef(input, def), want);
    });
  }
});

describe('parseImageRef: errors', () => {
  const cases: [string, 'store' | 'docker', string, RegExp][] = [
    ['', 'store', 'invalid-reference', /empty/],
    ['dir:', 'docker', 'invalid-reference', /dir: needs a path/],
    ['docker-daemon:busybox:latest', 'store', 'unsupported', /docker-daemon: transport/],
    ['foo:/some/path', 'store', 'invalid-reference', /unknown transport "foo"/],
    ['foo:bar/baz', 'docker', 'invalid-reference', /unknown transport "foo"/],
    ['docker:/x', 'store', 'invalid-reference', /docker:\/\//],
    ['docker:', 'docker', 'invalid-reference', /docker:\/\//],
    ['docker://', 'store', 'invalid-reference', /empty/],
    ['docker://Alpine', 'store', 'invalid-reference', /must be lowercase/],
    ['Alpine', 'store', 'invalid-reference', /must be lowercase/],
    ['Alpine', 'docker', 'invalid-reference', /must be lowercase/],
    ['alpine:', 'store', 'invalid-reference', /invalid tag/],
    [HEX, 'docker', 'invalid-reference', /64-byte/],
    ['oci:', 'store', 'invalid-reference', /needs a path/],
    ['oci::ref', 'store', 'invalid-reference', /needs a path/],
    ['oci:/l:bad ref', 'store', 'invalid-reference', /invalid oci ref/],
    ['oci:/l:-x', 'store', 'invalid-reference', /invalid oci ref/],
    ['oci:/l:@0', 'store', 'unsupported', /index/],
    ['oci-archive:', 'store', 'invalid-reference', /needs a path/],
    ['docker-archive:', 'store', 'invalid-reference', /needs a path/],
    ['docker-archive:/f.tar:', 'store', 'invalid-reference', /empty/],
    ['docker-archive:/f.tar:Busybox', 'store', 'invalid-reference', /lowercase/],
    [`docker-archive:/f.tar:busybox@${DIGEST}`, 'store', 'invalid-reference', /digest/],
    ['docker-archive:/f.tar:@-1', 'store', 'invalid-reference', /source index/],
    ['docker-archive:/f.tar:@x', 'store', 'invalid-reference', /source index/],
    ['docker-archive:/f.tar:@', 'store', 'invalid-reference', /source index/],
    ['containers-storage:[overlay@/var/lib/x', 'store', 'invalid-reference', /no closing \]/],
    ['containers-storage:[overlay@rel/x]busybox', 'store', 'invalid-reference', /not absolute/],
    ['containers-storage:[@/x]busybox', 'store', 'invalid-reference', /driver and a root/],
    ['containers-storage:[/x]', 'store', 'invalid-reference', /needs an image name/],
    ['containers-storage:Busybox', 'store', 'invalid-reference', /lowercase/],
  ];
  for (const [input, def, code, msg] of cases) {
    it(`${JSON.stringify(input)} (${def}) → ${code}`, () => {
      throwsCode(() => parseImageRef(input, def), code, msg);
    });
  }
});

describe('formatImageRef', () => {
  const cases: [string, string][] = [
    ['docker://alpine', 'docker://docker.io/library/alpine:latest'],
    ['busybox:1', 'busybox:1'],
    ['oci:/tmp/l', 'oci:/tmp/l'],
    ['oci:/tmp/l:v1', 'oci:/tmp/l:v1'],
    ['oci-archive:/a.tar:x.io/n:t', 'oci-archive:/a.tar:x.io/n:t'],
    ['docker-archive:/f.tar', 'docker-archive:/f.tar'],
    ['docker-archive:/f.tar:busybox:1', 'docker-archive:/f.tar:docker.io/library/busybox:1'],
    ['docker-archive:/f.tar:@3', 'docker-archive:/f.tar:@3'],
    ['dir:/d', 'dir:/d'],
    ['containers-storage:app:1', 'containers-storage:app:1'],
    ['containers-storage:[vfs@/r+/run]app', 'containers-storage:[vfs@/r+/run]app'],
  ];
  for (const [input, want] of cases) {
    it(`${input} → ${want}, and parses back to the same value`, () => {
      const r = parseImageRef(input, 'store');
      const s = formatImageRef(r);
      assert.equal(s, want);
      assert.deepEqual(parseImageRef(s, 'store'), r);
    });
  }
});

describe('containerNamePrefix', () => {
  const cases: [ImageRef | string, string][] = [
    ['busybox', 'busybox'],
    ['busybox:1', 'busybox'],
    ['docker.io/library/busybox:latest', 'busybox'],
    ['localhost/busybox:1', 'busybox'],
    ['quay.io/a/b/c:2', 'c'],
    // tbah's departure: Buildah gives '127.0.0.1' here (it cuts at the first ':' before splitting on '/')
    ['127.0.0.1:5000/busybox:latest', 'busybox'],
    ['localhost:5000/busybox', 'busybox'],
    [`busybox@${DIGEST}`, 'busybox'],
    [`docker.io/library/busybox:1@${DIGEST}`, 'busybox'],
    ['docker://127.0.0.1:5000/team/app:v2', 'app'],
    [HEX, HEX.slice(0, 12)],
    [DIGEST, HEX.slice(0, 12)],
    ['a3ed95caeb02', 'a3ed95caeb02'],
    ['oci-archive:/tmp/img.tar', 'oci-archive'],
    ['oci:/tmp/layout', 'oci'],
    ['oci:/tmp/layout:foo.com/name:tag', 'name'],
    ['oci-archive:/tmp/img.tar:myimg', 'myimg'],
    ['docker-archive:/f.tar', 'docker-archive'],
    ['docker-archive:/f.tar:@1', 'docker-archive'],
    ['docker-archive:/f.tar:x.io/team/web:1', 'web'],
    // Buildah: an unnamed dir: image gives dir-working-container; containers-storage: the image's name
    ['dir:/tmp/d', 'dir'],
    ['containers-storage:[vfs@/r]quay.io/x/app:1', 'app'],
    [`containers-storage:${HEX}`, HEX.slice(0, 12)],
    ['scratch', ''],
    [{ transport: 'store', name: 'scratch' }, ''],
    [{ transport: 'docker', ref: { domain: 'h:5000', path: 'a/busybox', tag: '1' } }, 'busybox'],
    [{ transport: 'oci', path: '/x', ref: 'v1.0' }, 'v1.0'],
  ];
  for (const [input, want] of cases) {
    const label = typeof input === 'string' ? input : JSON.stringify(input);
    it(`${label.length > 50 ? `${label.slice(0, 50)}…` : label} → ${JSON.stringify(want)}`, () => {
      assert.equal(containerNamePrefix(input), want);
    });
  }
  it('never throws, even for a name it cannot parse', () => {
    assert.equal(containerNamePrefix('Some/Odd:Name'), 'Odd');
  });
});
