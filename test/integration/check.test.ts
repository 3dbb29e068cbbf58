/**
 * `tbah check [--repair]` and `tbah prune [--dry-run]` through the CLI: a clean
 * store is clean; every kind of leftover an interrupted command can leave is
 * found, and --repair removes exactly those; damage is reported, never
 * "repaired" away; prune gives back what nothing uses and nothing else.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sandbox, sh } from '../helpers/cli.js';

const isRoot = process.getuid?.() === 0;

describe('tbah check', () => {
  const sb = new Sandbox('tbah-check-');
  let ctr = '';
  before(() => {
    ctr = sb.ok(['from', 'scratch']);
    sb.ok(['copy', ctr, '/bin/busybox', '/bin/busybox']);
    sb.ok(['commit', ctr, 'bb:1']);
  });
  after(() => sb.cleanup());

  test('a healthy store: exit 0 and one summary line', () => {
    const r = sb.run(['check']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^checked \d+ blobs, 1 images, 1 containers, \d+ unpacked layers: no problems\n$/);
  });

  test('every leftover of an interrupted command is found; --repair removes exactly those; the store then works', () => {
    const s = sb.store;
    const cdir = path.join(s, 'containers', sb.ok(['inspect', '--format', '{{.ContainerID}}', ctr]));
    const planted: string[] = [
      path.join(s, 'tmp', 'blob-deadbeef'),
      path.join(s, '.tmp-index.json-0123456789ab'),
      path.join(s, 'layer-meta', '.tmp-sha256-x.json-1'),
      path.join(s, 'layer-meta', `sha256-${'e'.repeat(64)}.json`),
      path.join(cdir, '.tmp-state.json-abcdef'),
    ];
    for (const f of planted) writeFileSync(f, '{}');
    const dirs = [path.join(s, 'containers', `.new-${'a'.repeat(64)}`), path.join(s, 'containers', `.tmp-${'b'.repeat(8)}.del`)];
    for (const d of dirs) mkdirSync(path.join(d, 'x'), { recursive: true });
    const driver = sb.ok(['inspect', '--format', '{{.Driver}}', ctr]);
    const stale = driver === 'overlay' ? path.join(cdir, 'upper-99') : path.join(cdir, 'snapshot-1-2.json');
    if (driver === 'overlay') mkdirSync(stale); else writeFileSync(stale, '{}');
    const lockFile = path.join(s, 'locks', `container-${'c'.repeat(64)}.lock`);
    writeFileSync(lockFile, '');

    const r = sb.run(['check']);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n');
    const all = [...planted, ...dirs, stale, lockFile];
    for (const p of all) assert.ok(lines.some((l) => l.startsWith(`leftover: ${path.relative(s, p)}: `)), `${p} not reported:\n${r.stdout}`);
    assert.equal(lines.length, all.length + 1, r.stdout);
    assert.match(r.stderr, /tbah check --repair/);

    const fixed = sb.run(['check', '--repair']);
    assert.equal(fixed.status, 0, fixed.stdout + fixed.stderr);
    assert.equal(fixed.stdout.trim().split('\n').filter((l) => l.startsWith('repaired: ')).length, all.length);
    for (const p of all) assert.ok(!existsSync(p), `${p} still there`);
    assert.match(sb.ok(['check']), /no problems$/);
    // Nothing that was not a leftover went: the container and the image still work.
    sb.ok(['copy', ctr, '/etc/hostname', '/h']);
    sb.ok(['commit', ctr, 'bb:2']);
    sb.ok(['push', 'bb:2', `oci:${sb.path('out')}`]);
  });

  test('a killed run\'s mount points are found and --repair removes them as the next run would', { skip: isRoot ? false : 'needs root' }, () => {
    const c = sb.ok(['from', 'bb:1']);
    const id = sb.ok(['inspect', '--format', '{{.ContainerID}}', c]);
    const mnt = sb.ok(['mount', c]);
    mkdirSync(path.join(mnt, 'proc'));
    writeFileSync(path.join(sb.store, 'containers', id, 'run-journal.json'), JSON.stringify({ version: 1, created: ['/proc'] }));
    sb.ok(['umount', c]);
    const r = sb.run(['check']);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /leftover: containers\/[a-f0-9]{64}\/run-journal\.json: a killed `run` left/);
    sb.ok(['check', '--repair']);
    assert.ok(!existsSync(path.join(sb.ok(['mount', c]), 'proc')), 'the mount point is gone');
    sb.ok(['rm', c]);
  });

  test('damage is reported with what to do, and --repair leaves it (it is content, not a leftover)', () => {
    const other = new Sandbox('tbah-check-dmg-');
    try {
      const c = other.ok(['from', 'scratch']);
      other.ok(['copy', c, '/etc/hostname', '/h']);
      other.ok(['commit', '--rm', c, 'victim']);
      const m = JSON.parse(other.ok(['inspect', '--type', 'image', '--format', '{{.Manifest}}', 'victim'])) as { layers: { digest: string }[] };
      const layer = path.join(other.store, 'blobs', 'sha256', m.layers[0]!.digest.slice(7));
      const bytes = readFileSync(layer);
      bytes[bytes.length >> 1] ^= 0xff;
      writeFileSync(layer, bytes);
      // An unused blob that does not match its name is garbage, not damage.
      const junk = path.join(other.store, 'blobs', 'sha256', 'f'.repeat(64));
      writeFileSync(junk, 'not what the name says');
      const r = other.run(['check']);
      assert.equal(r.status, 1);
      assert.match(r.stdout, new RegExp(`damaged: blobs/sha256/${m.layers[0]!.digest.slice(7)}: does not match its digest .*tbah rmi`));
      assert.match(r.stdout, /leftover: blobs\/sha256\/f{64}: does not match its digest, and nothing uses it/);
      const rep = other.run(['check', '--repair']);
      assert.equal(rep.status, 1, 'damage remains');
      assert.ok(existsSync(layer), 'a used blob is never deleted');
      assert.ok(!existsSync(junk));
      // A missing layer blob names the image and the fix.
      rmSync(layer);
      const g = other.run(['check']);
      assert.match(g.stdout, /damaged: image localhost\/victim:latest: its layer 1 sha256:[a-f0-9]{64} is missing \(remove it with `tbah rmi localhost\/victim:latest`/);
    } finally {
      other.cleanup();
    }
  });

  test('a mount inside the store that no container owns is found and --repair unmounts it', { skip: isRoot ? false : 'needs root' }, () => {
    const m = path.join(sb.store, 'tmp', 'stray-mount');
    mkdirSync(m, { recursive: true });
    sh(`mount -t tmpfs tmpfs ${m}`);
    try {
      const r = sb.run(['check']);
      assert.match(r.stdout, /leftover: tmp\/stray-mount: a mount no container owns/);
      sb.ok(['check', '--repair']);
      assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(m));
    } finally {
      sh(`umount ${m} 2>/dev/null || true`);
    }
  });
});

describe('tbah prune', () => {
  const sb = new Sandbox('tbah-prune-');
  after(() => sb.cleanup());

  test('--dry-run lists unreferenced blobs, unused caches and leftovers; prune removes exactly those', () => {
    const c = sb.ok(['from', 'scratch']);
    sb.ok(['copy', c, '/bin/busybox', '/bin/busybox']);
    sb.ok(['commit', c, 'keep']);
    // An unreferenced but valid blob (a GC that found the store busy would leave such).
    const data = Buffer.from('orphan blob');
    const hex = createHash('sha256').update(data).digest('hex');
    writeFileSync(path.join(sb.store, 'blobs', 'sha256', hex), data);
    // A cache directory no run holds.
    mkdirSync(path.join(sb.store, 'cache', 'k'.repeat(32), 'sub'), { recursive: true });
    writeFileSync(path.join(sb.store, 'cache', 'k'.repeat(32), 'sub', 'f'), 'cached');
    writeFileSync(path.join(sb.store, 'tmp', 'blob-left'), 'x');

    const dry = sb.ok(['prune', '--dry-run']);
    assert.match(dry, new RegExp(`would remove blob blobs/sha256/${hex} \\(11 B\\)`));
    assert.match(dry, /would remove cache cache\/k{32} \(6 B\)/);
    assert.match(dry, /would remove leftover tmp\/blob-left/);
    assert.match(dry, /would free .* \(3 items\)$/);
    assert.ok(existsSync(path.join(sb.store, 'blobs', 'sha256', hex)), 'dry run removes nothing');

    const done = sb.ok(['prune']);
    assert.match(done, /freed .* \(3 items\)$/);
    assert.ok(!existsSync(path.join(sb.store, 'blobs', 'sha256', hex)));
    assert.deepEqual(readdirSync(path.join(sb.store, 'cache')), []);
    // What is used stays: the image and the container still work.
    assert.match(sb.ok(['check']), /no problems$/);
    sb.ok(['push', 'keep', `oci:${sb.path('o')}`]);
    // The push made the gzip copy of the layer (kept: the layer is) and a manifest for it (garbage once written out).
    const again = sb.ok(['prune']);
    assert.match(again, /^removed blob blobs\/sha256\/[a-f0-9]{64} \(\d+ B\)\nfreed .* \(1 item\)$/);
    sb.ok(['push', 'keep', `oci:${sb.path('o2')}`]);
    sb.ok(['copy', c, '/etc/hostname', '/h']);
    sb.ok(['commit', c, 'keep2']);
    assert.match(sb.ok(['check']), /no problems$/);
  });
});
