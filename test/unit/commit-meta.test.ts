/** The pure part of commit: history, written config, manifest annotations, --add-file specs (Buildah's rules). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE_DIGEST_ANNOTATION, BASE_NAME_ANNOTATION, CREATED_ANNOTATION, IDENTITY_LABEL,
  commitHistory, defaultCreatedBy, manifestAnnotations, outputConfig, parseAddFile, wantIdentityLabel,
} from '../../src/core/commit-meta.js';
import type { ImageConfig } from '../../src/core/oci.js';

const base = [{ created: '2020-01-01T00:00:00Z', created_by: '/bin/sh' }];
const pending = [{ created: '2024-01-01T00:00:00Z', created_by: '/bin/sh -c #(nop) ENV A=1', empty_layer: true }];
const own = { created: '2025-01-01T00:00:00Z', created_by: '/bin/sh' };

test('history: base, --add-history entries, the commit\'s own, then extra layers; FROM on the first new entry', () => {
  const h = commitHistory({ base, squash: false, pending, own, extra: [{ created: 'x', created_by: 'ADD' }], fromComment: 'FROM localhost/b:1' });
  assert.deepEqual(h.map((e) => [e.created_by, e.comment]), [
    ['/bin/sh', undefined], ['/bin/sh -c #(nop) ENV A=1', 'FROM localhost/b:1'], ['/bin/sh', undefined], ['ADD', undefined]]);
  const commented = commitHistory({ base, squash: false, pending: [], own: { ...own, comment: 'mine' }, extra: [], fromComment: 'FROM b' });
  assert.equal(commented.at(-1)!.comment, 'mine FROM b');
});

test('history: --squash keeps only this commit\'s entries; a fixed time stamps every new entry', () => {
  const h = commitHistory({ base, squash: true, pending, own, extra: [], fixedCreated: '1970-01-01T00:00:00Z' });
  assert.equal(h.length, 2);
  assert.deepEqual(h.map((e) => e.created), ['1970-01-01T00:00:00Z', '2025-01-01T00:00:00Z'], 'own keeps the created it was given');
  assert.ok(h[0]!.empty_layer);
});

test('created_by: --created-by, else the image\'s shell, else /bin/sh', () => {
  const cfg = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } } as ImageConfig;
  assert.equal(defaultCreatedBy(undefined, cfg), '/bin/sh');
  assert.equal(defaultCreatedBy(undefined, { ...cfg, config: { Shell: ['/bin/bash', '-c'] } }), '/bin/bash -c');
  assert.equal(defaultCreatedBy('make', cfg), 'make');
});

test('written config: identity label, --unsetenv; the input is untouched', () => {
  const cfg = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: { Env: ['A=1', 'B=2=3', 'C'] } } as ImageConfig;
  const out = outputConfig(cfg, { identityLabel: { version: '9.9' }, unsetEnv: ['B', 'C'] });
  assert.deepEqual(out.config, { Env: ['A=1'], Labels: { [IDENTITY_LABEL]: '9.9' } });
  assert.deepEqual(cfg.config!.Env, ['A=1', 'B=2=3', 'C']);
  assert.equal(outputConfig(cfg, { unsetEnv: ['A', 'B', 'C'] }).config!.Env, undefined);
  assert.equal(wantIdentityLabel(undefined, false), true);
  assert.equal(wantIdentityLabel(undefined, true), false);
  assert.equal(wantIdentityLabel(true, true), true);
  assert.equal(wantIdentityLabel(false, false), false);
});

test('annotations: own and base, created, then --unsetannotation, then --annotation', () => {
  const p = { own: { mine: '1' }, base: { name: 'localhost/b:1', digest: 'sha256:d' }, created: 'T' };
  assert.deepEqual(manifestAnnotations(p), { mine: '1', [BASE_NAME_ANNOTATION]: 'localhost/b:1', [BASE_DIGEST_ANNOTATION]: 'sha256:d', [CREATED_ANNOTATION]: 'T' });
  assert.deepEqual(manifestAnnotations({ ...p, unset: [BASE_NAME_ANNOTATION, CREATED_ANNOTATION, 'mine'], set: ['k=v=w', 'e'] }), { [BASE_DIGEST_ANNOTATION]: 'sha256:d', k: 'v=w', e: '' });
  assert.deepEqual(manifestAnnotations({ ...p, unsetBefore: [BASE_DIGEST_ANNOTATION] }), { mine: '1', [BASE_NAME_ANNOTATION]: 'localhost/b:1', [CREATED_ANNOTATION]: 'T' });
  assert.equal(manifestAnnotations({ own: { [BASE_NAME_ANNOTATION]: 'set-by-user' }, base: { name: 'x' } })[BASE_NAME_ANNOTATION], 'set-by-user');
  assert.throws(() => manifestAnnotations({ own: {}, set: ['=v'] }), /key is empty/);
});

test('--add-file SRC[:DEST]', () => {
  assert.deepEqual(parseAddFile('./LICENSE:/usr/share/doc/LICENSE'), { source: './LICENSE', dest: '/usr/share/doc/LICENSE' });
  assert.deepEqual(parseAddFile('/etc/motd'), { source: '/etc/motd', dest: '/etc/motd' });
  assert.deepEqual(parseAddFile('a:rel/../b/./c'), { source: 'a', dest: '/b/c' });
  assert.throws(() => parseAddFile(':x'), /SOURCE\[:DESTINATION\]/);
  assert.throws(() => parseAddFile('a:/'), /must name a file/);
});
