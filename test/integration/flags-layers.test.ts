/**
 * The flags that add layers of their own to a commit, with the rootfs driver
 * in use (scripts/test.mjs runs this file with both): `copy --link` (current
 * Buildah: the copy is staged, not in the rootfs, and becomes an independent
 * layer at the next commit) and `commit --add-file` (a layer after the
 * container's, or folded into a squashed one). tbah's containers continue on
 * the committed image, so afterwards the container shows that content too and
 * the next commit does not carry it again. Layers are read with `tar tv`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sandbox } from '../helpers/cli.js';

interface History { created?: string; created_by?: string; comment?: string; empty_layer?: boolean }
interface Inspect { OCIv1: { created?: string; history?: History[] }; Manifest: string; ContainerID?: string }

const root = process.getuid?.() === 0;

/** `tar tv` of each layer of an image, via an OCI layout: per layer, `TYPE MODE UID/GID NAME` (dirs without the trailing /). */
function layers(sb: Sandbox, image: string): string[][] {
  const dir = sb.path(`layout-${Math.random().toString(36).slice(2)}`);
  sb.ok(['push', image, `oci:${dir}:x`]);
  const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const m = JSON.parse(readFileSync(path.join(dir, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { digest: string; mediaType: string }[] };
  return m.layers.map((l) => {
    const flags = l.mediaType.endsWith('+gzip') ? '-tvzf' : l.mediaType.endsWith('+zstd') ? '--zstd -tvf' : '-tvf';
    const out = spawnSync('sh', ['-c', `tar --numeric-owner ${flags} "${path.join(dir, 'blobs', 'sha256', l.digest.slice(7))}"`], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    return out.stdout.trim().split('\n').filter((x) => x !== '').map((line) => {
      const f = line.split(/\s+/);
      return `${f[0]} ${f[1]} ${f.slice(5).join(' ').replace(/\/$/, '')}`;
    });
  });
}

describe('commit layers of their own: copy --link and --add-file', { skip: !root && 'needs root (runs commands)' }, () => {
  const sb = new Sandbox('tbah-flaglayers-');
  const inspect = (what: string, type = 'image'): Inspect => JSON.parse(sb.ok(['inspect', '--type', type, what])) as Inspect;
  before(() => {
    const c = sb.ok(['from', 'scratch']);
    sb.ok(['copy', c, '/bin/busybox', '/bin/busybox']);
    const mnt = sb.ok(['mount', c]);
    for (const a of ['sh', 'cat', 'ls', 'touch', 'stat']) symlinkSync('busybox', path.join(mnt, 'bin', a));
    sb.ok(['commit', '--rm', c, 'base:1']);
    writeFileSync(sb.path('f.txt'), 'linked\n');
    writeFileSync(sb.path('add.txt'), 'added\n');
  });
  after(() => sb.cleanup());

  test('copy --link: staged, not in the rootfs; its own layer at the next commit; then part of the container', () => {
    const c = sb.ok(['from', 'base:1']);
    const digest = sb.ok(['copy', '--link', '--chown', '5:6', '--chmod', '0700', c, sb.path('f.txt'), '/usr/lf']);
    assert.notEqual(sb.run(['run', c, '--', 'ls', '/usr/lf']).status, 0, 'a run does not see it');
    sb.ok(['run', c, '--', 'touch', '/ran']);
    const sq = sb.run(['commit', '--squash', c]);
    assert.equal(sq.status, 125, 'a pending --link copy cannot be squashed (as Buildah)');
    assert.match(sq.stderr, /copy --link/);
    sb.ok(['commit', c, 'linked:1']);
    const ls = layers(sb, 'linked:1');
    assert.equal(ls.length, 3, 'base, the container\'s changes, the linked copy');
    assert.deepEqual(ls[1], ['-rw-r--r-- 0/0 ran']);
    assert.deepEqual(ls[2]!.map((l) => l.split(' ').slice(1).join(' ')), ['5/6 usr', '5/6 usr/lf'], 'made directories follow --chown');
    assert.match(ls[2]![1]!, /^-rwx------ /);
    const h = inspect('linked:1').OCIv1.history!;
    assert.equal(h.at(-1)!.created_by, `/bin/sh -c #(nop) COPY --link file:${digest} in /usr/lf `);
    assert.ok(!h.at(-1)!.empty_layer);
    // The container continues on the committed image, linked copy included; it is carried once.
    assert.equal(sb.ok(['run', c, '--', 'cat', '/usr/lf']), 'linked');
    assert.deepEqual(readdirSync(sb.path('store', 'containers', inspect(c, 'container').ContainerID!)).filter((n) => n.startsWith('link-')), [], 'the staging directory is gone');
    sb.ok(['run', c, '--', 'touch', '/later']);
    sb.ok(['commit', c, 'linked:2']);
    const ls2 = layers(sb, 'linked:2');
    assert.equal(ls2.length, 4);
    assert.deepEqual(ls2[3], ['-rw-r--r-- 0/0 later']);
    sb.ok(['commit', '--squash', c, 'linked:sq']);
  });

  test('commit --add-file: a layer after the container\'s (0644, 0:0, the commit\'s time); the container shows it after', () => {
    const c = sb.ok(['from', 'base:1']);
    sb.ok(['run', c, '--', 'touch', '/changed']);
    sb.ok(['commit', '--timestamp', '1000', '--add-file', `${sb.path('add.txt')}:/etc/app/add.txt`, '--add-file', sb.path('f.txt'), c, 'added:1']);
    const ls = layers(sb, 'added:1');
    assert.equal(ls.length, 3);
    assert.deepEqual(ls[1], ['-rw-r--r-- 0/0 changed']);
    assert.deepEqual(ls[2], ['-rw-r--r-- 0/0 etc/app/add.txt', `-rw-r--r-- 0/0 ${sb.path('f.txt').slice(1)}`]);
    const h = inspect('added:1').OCIv1.history!;
    assert.match(h.at(-1)!.created_by!, /^\/bin\/sh -c #\(nop\) ADD dir:[a-f0-9]{64} in \/$/);
    assert.equal(h.at(-1)!.created, '1970-01-01T00:16:40Z');
    const out = spawnSync('sh', ['-c', `tar --full-time -tvf ${sb.path('store', 'blobs', 'sha256', (JSON.parse(inspect('added:1').Manifest) as { layers: { digest: string }[] }).layers[2]!.digest.slice(7))}`], { encoding: 'utf8' }).stdout;
    assert.match(out, /1970-01-01 00:16:40 etc\/app\/add.txt/);
    assert.equal(sb.ok(['run', c, '--', 'cat', '/etc/app/add.txt']), 'added');
    sb.ok(['run', c, '--', 'touch', '/after']);
    sb.ok(['commit', c, 'added:2']);
    const ls2 = layers(sb, 'added:2');
    assert.deepEqual(ls2.at(-1), ['-rw-r--r-- 0/0 after'], 'the added files are not carried again');
    // A missing source changes nothing.
    const before = sb.ok(['images', '-q']).split('\n').length;
    assert.equal(sb.run(['commit', '--add-file', sb.path('nope'), c, 'added:3']).status, 125);
    assert.equal(sb.run(['commit', '--add-file', sb.dir, c, 'added:3']).status, 125, 'a directory is no file');
    assert.equal(sb.ok(['images', '-q']).split('\n').length, before);
  });

  test('commit --add-file --squash: folded into the one layer, one history entry; the container shows it after', () => {
    const c = sb.ok(['from', 'base:1']);
    sb.ok(['run', c, '--', 'touch', '/s']);
    sb.ok(['commit', '--squash', '--add-file', `${sb.path('add.txt')}:/etc/add.txt`, c, 'sq:1']);
    const ls = layers(sb, 'sq:1');
    assert.equal(ls.length, 1);
    assert.ok(ls[0]!.includes('-rw-r--r-- 0/0 etc/add.txt') && ls[0]!.includes('-rw-r--r-- 0/0 s') && ls[0]!.some((l) => l.endsWith(' bin/busybox')));
    assert.equal(inspect('sq:1').OCIv1.history!.length, 1);
    assert.equal(sb.ok(['run', c, '--', 'cat', '/etc/add.txt']), 'added');
    sb.ok(['run', c, '--', 'touch', '/t']);
    sb.ok(['commit', c, 'sq:2']);
    assert.deepEqual(layers(sb, 'sq:2').at(-1), ['-rw-r--r-- 0/0 t'], 'nothing but the new change');
    assert.ok(!existsSync(sb.path('nope')));
  });
});
