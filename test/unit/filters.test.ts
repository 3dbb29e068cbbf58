import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  type FilterImage, applyImageFilters, isChildOf, matchContainer, matchLabel, parseContainerFilter, parseImageFilters, referenceCandidates,
} from '../../src/core/ops/filters.js';
import { TbahError } from '../../src/core/errors.js';

const h = (created: string, by = '/bin/sh', empty = false) => ({ created, created_by: by, ...(empty ? { empty_layer: true } : {}) });

// base ← child (one more layer and history entry); an unnamed leaf; an unnamed parent of `named`.
const base: FilterImage = { id: 'sha256:' + 'a'.repeat(64), names: ['localhost/bb:1'], created: '2026-01-01T00:00:01Z', labels: { a: 'b', 'org.x': '1' }, diffIds: ['sha256:l1'], history: [h('2026-01-01T00:00:01Z')], inUse: false };
const child: FilterImage = { id: 'sha256:' + 'b'.repeat(64), names: ['localhost/bbd:1', 'docker.io/library/busybox:latest'], created: '2026-01-01T00:00:02Z', labels: { a: 'c' }, diffIds: ['sha256:l1', 'sha256:l2'], history: [h('2026-01-01T00:00:01Z'), h('2026-01-01T00:00:02Z')], inUse: true };
const leaf: FilterImage = { id: 'sha256:' + 'c'.repeat(64), names: [], created: '2026-01-01T00:00:03Z', labels: {}, diffIds: ['sha256:l9'], history: [h('2026-01-01T00:00:03Z')], inUse: false };
const mid: FilterImage = { id: 'sha256:' + 'd'.repeat(64), names: [], created: '2026-01-01T00:00:04Z', labels: {}, diffIds: ['sha256:m1'], history: [h('2026-01-01T00:00:04Z')], inUse: false };
const named: FilterImage = { id: 'sha256:' + 'e'.repeat(64), names: ['localhost/app:2'], created: '2026-01-01T00:00:05Z', labels: { stage: 'prod' }, diffIds: ['sha256:m1'], history: [h('2026-01-01T00:00:04Z'), h('2026-01-01T00:00:05Z', '/bin/sh', true)], inUse: false };
const ALL = [base, child, leaf, mid, named];

const lookup = (ref: string): FilterImage | undefined => ALL.find((i) => i.names.some((n) => n.endsWith(`/${ref}`)) || i.id === ref);
const run = (...specs: string[]): string[] => applyImageFilters(ALL, parseImageFilters(specs, lookup)).map((i) => i.names[0] ?? i.id.slice(7, 8));

const fails = (specs: string[], message: string): void => {
  assert.throws(() => parseImageFilters(specs, lookup), (e: unknown) => e instanceof TbahError && e.message === message);
};

describe('image filters (libimage semantics)', () => {
  it('parent and child: all the parent\'s layers and at most one more, history plus one entry', () => {
    assert.ok(isChildOf(child, base));
    assert.ok(isChildOf(named, mid)); // an empty-layer step on top: same layers
    assert.ok(!isChildOf(base, child));
    assert.ok(!isChildOf(leaf, base));
  });

  it('dangling: no name and no child; intermediate: no name but a child', () => {
    assert.deepEqual(run('dangling=true'), ['c']);
    assert.deepEqual(run('dangling=false'), ['localhost/bb:1', 'localhost/bbd:1', 'd', 'localhost/app:2']);
    assert.deepEqual(run('intermediate=true'), ['d']);
    assert.deepEqual(run('dangling!=true'), run('dangling=false'));
  });

  it('reference matches the name and its shorter forms with path.Match', () => {
    assert.deepEqual(run('reference=bb'), ['localhost/bb:1']);
    assert.deepEqual(run('reference=bb*'), ['localhost/bb:1', 'localhost/bbd:1']);
    assert.deepEqual(run('reference=localhost/bb:*'), ['localhost/bb:1']);
    assert.deepEqual(run('reference=busybox'), ['localhost/bbd:1']);
    assert.deepEqual(run('reference=library/busybox:latest'), ['localhost/bbd:1']);
    assert.deepEqual(run('reference=[bad'), []); // a bad pattern matches nothing, as libimage
    assert.deepEqual(referenceCandidates('docker.io/library/busybox:latest'),
      ['docker.io/library/busybox:latest', 'library/busybox', 'busybox:latest', 'docker.io/library/busybox', 'library/busybox:latest', 'busybox']);
  });

  it('label=KEY and label=KEY=VALUE; the same key ORs, different keys AND', () => {
    assert.deepEqual(run('label=a'), ['localhost/bb:1', 'localhost/bbd:1']);
    assert.deepEqual(run('label=a=b'), ['localhost/bb:1']);
    assert.deepEqual(run('label=a=b', 'label=stage=prod'), ['localhost/bb:1', 'localhost/app:2']);
    assert.deepEqual(run('label=a', 'reference=bbd'), ['localhost/bbd:1']);
    assert.ok(matchLabel('org.*', { 'org.x': '1' }));
    assert.ok(!matchLabel('zz', { a: 'b' }));
  });

  it('before and since (after) compare creation times with the named image', () => {
    assert.deepEqual(run('before=bbd:1'), ['localhost/bb:1']);
    assert.deepEqual(run('since=app:2'), []);
    assert.deepEqual(run('after=bbd:1'), ['c', 'd', 'localhost/app:2']);
    assert.deepEqual(run('since=bbd:1', 'before=app:2'), ['c', 'd']);
  });

  it('id is the full ID; containers=true|false', () => {
    assert.deepEqual(run(`id=${'c'.repeat(64)}`), ['c']);
    assert.deepEqual(run('id=ccc'), []);
    assert.deepEqual(run('containers=true'), ['localhost/bbd:1']);
  });

  it('bad filters fail with Buildah\'s words', () => {
    // Recorded from `buildah images --filter …` (1.28.2).
    fails(['nofilter'], 'invalid image filter "nofilter": must be in the format "filter=value or filter!=value"');
    fails(['bogus=1'], 'unsupported image filter "bogus"');
    fails(['dangling=maybe'], 'non-boolean value "dangling" for maybe filter: strconv.ParseBool: parsing "maybe": invalid syntax');
    fails(['dangling=true', 'dangling=false'], 'specifying "dangling" filter more than once with different values is not supported');
    fails(['before=nosuch'], 'could not find local image for filter filter "before"="nosuch": nosuch: image not known');
  });
});

describe('container filters (cmd/buildah/containers.go)', () => {
  const c = { id: 'c2d041f873c8d361', name: 'bb-working-container', imageId: '26a00ee4d517', imageName: 'localhost/bb:1' };
  it('id is a prefix, name a substring, ancestor an image ID prefix or name suffix', () => {
    assert.ok(matchContainer(c, parseContainerFilter('id=c2d0')));
    assert.ok(!matchContainer(c, parseContainerFilter('id=2d0')));
    assert.ok(matchContainer(c, parseContainerFilter('name=working')));
    assert.ok(matchContainer(c, parseContainerFilter('ancestor=26a0')));
    assert.ok(matchContainer(c, parseContainerFilter('ancestor=bb')));
    assert.ok(matchContainer(c, parseContainerFilter('ancestor=bb:1')));
    assert.ok(!matchContainer(c, parseContainerFilter('ancestor=bb:2')));
    assert.ok(matchContainer(c, parseContainerFilter('name=bb,ancestor=bb')));
    assert.ok(!matchContainer(c, parseContainerFilter('name=bb,ancestor=zz')));
    assert.ok(matchContainer({ id: 'x', name: 'working-container', imageId: '', imageName: 'scratch' }, parseContainerFilter('ancestor=scratch')));
  });
  it('bad filters fail with Buildah\'s words', () => {
    assert.throws(() => parseContainerFilter('bogus'), /^TbahError: parsing filter: incorrect filter value "bogus", should be of form filter=value$/);
    assert.throws(() => parseContainerFilter('foo=1'), /^TbahError: parsing filter: invalid filter "foo"$/);
  });
});
