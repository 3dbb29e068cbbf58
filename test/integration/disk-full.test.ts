/**
 * A store on a small tmpfs: when it is full, `pull`, `from`, `copy`, `commit`
 * and `push oci:` fail with one line naming the store (or the layout being
 * written), leave nothing half-written (store health check: no problems, no
 * leftovers; the container as it was), and work again once space is freed.
 * A read-only store gives a clear error for every write and still lists.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type RunResult, Sandbox } from '../helpers/cli.js';
import { checkStore } from '../helpers/store-check.js';

const sb = new Sandbox('tbah-diskfull-');
const mnt = sb.path('mnt');
const store = path.join(mnt, 'store');
const layout = sb.path('layout');
let mounted = false;
let ctr = '';

const inStore = (args: string[]): RunResult => sb.run(args, { env: { TBAH_ROOT: store } });
const okInStore = (args: string[]): string => sb.ok(args, { env: { TBAH_ROOT: store } });

function avail(): number {
  const r = spawnSync('df', ['--output=avail', '-B1', mnt], { encoding: 'utf8' });
  return Number(r.stdout.trim().split('\n').pop());
}

/** Fill the file system so that about `leave` bytes stay free. */
function fill(leave: number): void {
  rmSync(path.join(mnt, 'filler'), { force: true });
  const n = avail() - leave;
  if (n > 0) spawnSync('fallocate', ['-l', String(n), path.join(mnt, 'filler')]);
}
const unfill = (): void => rmSync(path.join(mnt, 'filler'), { force: true });

/** What a commit would see of a rootfs: names, sizes, modes, contents. */
function rootfsState(root: string): string {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const n of readdirSync(d).sort()) {
      const p = path.join(d, n);
      const st = lstatSync(p);
      out.push(`${rel}/${n} ${st.mode} ${st.size}`);
      if (st.isDirectory()) walk(p, `${rel}/${n}`);
    }
  };
  walk(root, '');
  return out.join('\n');
}

async function assertWhole(what: string): Promise<void> {
  const h = await checkStore(store);
  assert.deepEqual(h.problems, [], `${what}: store problems`);
  assert.deepEqual(h.leftovers, [], `${what}: half-written leftovers`);
}

function assertNoSpace(r: RunResult, what: string, target = `the store ${store}`): void {
  assert.equal(r.status, 125, `${what}: ${r.stderr}`);
  assert.equal(r.stderr, `tbah: no space left on device writing ${target}\nhint: free space${target.startsWith('the store') ? ' (`tbah rmi`, `tbah rm`, or elsewhere)' : ''} on that file system, then run the command again\n`, what);
}

before(() => {
  // Two images made on the ordinary disk: a 6 MB one that will not fit, a tiny one that does.
  writeFileSync(sb.path('big'), randomBytes(6_000_000));
  writeFileSync(sb.path('mid'), randomBytes(1_500_000));
  writeFileSync(sb.path('small'), 'small\n');
  for (const [name, file] of [['big', 'big'], ['small', 'small']]) {
    const c = sb.ok(['from', 'scratch']);
    sb.ok(['copy', c, file, `/${file}`]);
    sb.ok(['commit', '--rm', c, `${name}:1`]);
    sb.ok(['push', `${name}:1`, `oci:${layout}:${name}`]);
  }
  mkdirSync(mnt);
  mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tbah-diskfull', mnt]).status === 0;
  if (!mounted) return;
  okInStore(['pull', '-q', `oci:${layout}:small`]);
  ctr = okInStore(['from', 'small']);
});
after(() => {
  if (mounted) spawnSync('umount', [mnt]);
  sb.cleanup();
});

describe('a full store', { skip: process.getuid?.() !== 0 && 'needs root for mount' }, () => {
  test('pull, from, copy, commit and push oci: fail in one line, leave nothing, and work once space is freed', async (t) => {
    if (!mounted) {
      t.skip('cannot mount a tmpfs here');
      return;
    }
    const index = readFileSync(path.join(store, 'index.json'), 'utf8');
    const rootfs = okInStore(['mount', ctr]);
    const before = rootfsState(rootfs);

    fill(2_000_000);
    assertNoSpace(inStore(['pull', '-q', `oci:${layout}:big`]), 'pull');
    await assertWhole('pull');
    assert.equal(readFileSync(path.join(store, 'index.json'), 'utf8'), index, 'pull: no image appears');

    assertNoSpace(inStore(['from', '-q', `oci:${layout}:big`]), 'from');
    await assertWhole('from');
    assert.equal(okInStore(['containers', '-q', '--notruncate']).split('\n').length, 1, 'from: no container appears');

    assertNoSpace(inStore(['copy', ctr, sb.path('big'), '/big']), 'copy');
    await assertWhole('copy');
    assert.equal(rootfsState(rootfs), before, 'copy: the container is as it was');

    // A change that fits in the rootfs, but whose layer does not fit beside it.
    unfill();
    okInStore(['copy', ctr, sb.path('mid'), '/mid']);
    fill(500_000);
    assertNoSpace(inStore(['commit', ctr, 'mid:1']), 'commit');
    await assertWhole('commit');
    assert.equal(readFileSync(path.join(store, 'index.json'), 'utf8'), index, 'commit: no image appears');

    // push oci: onto the full file system names the layout, and leaves no half blob there.
    unfill();
    okInStore(['pull', '-q', `oci:${layout}:big`]);
    fill(2_000_000);
    const out = path.join(mnt, 'out');
    assertNoSpace(inStore(['push', 'big', `oci:${out}:x`]), 'push oci:', `the OCI layout ${out}`);
    assert.equal(existsSync(path.join(out, 'index.json')), false, 'push: no index.json names a partial image');
    assert.deepEqual(spawnSync('find', [out, '-name', '.tmp-*'], { encoding: 'utf8' }).stdout, '', 'push: no temp files');
    await assertWhole('push');

    // Space freed: every one of them works.
    unfill();
    okInStore(['from', '-q', `oci:${layout}:big`]);
    okInStore(['copy', ctr, sb.path('big'), '/big']);
    okInStore(['commit', ctr, 'mid:1']);
    okInStore(['push', 'big', `oci:${out}:x`]);
    assert.ok(existsSync(path.join(out, 'index.json')));
    await assertWhole('after freeing space');
  });

  test('a read-only store: every write says so in one line, reads still work', async (t) => {
    if (!mounted) {
      t.skip('cannot mount a tmpfs here');
      return;
    }
    unfill();
    // Overlay containers hold their upper directories open for writing: unmount them first.
    okInStore(['umount', '--all']);
    const ro = spawnSync('mount', ['-o', 'remount,ro', mnt], { encoding: 'utf8' });
    assert.equal(ro.status, 0, `remount read-only: ${ro.stderr} (${spawnSync('grep', [mnt, '/proc/self/mountinfo'], { encoding: 'utf8' }).stdout})`);
    try {
      const roError = `tbah: read-only file system writing the store ${store}\nhint: remount it read-write, or choose a path on a writable file system\n`;
      for (const args of [['from', 'scratch'], ['copy', ctr, sb.path('small'), '/x'], ['commit', ctr, 'ro:1'], ['pull', '-q', `oci:${layout}:small`], ['rm', ctr], ['rmi', '--force', 'big'], ['tag', 'big', 'ro:2'], ['config', '--env', 'A=1', ctr]]) {
        const r = inStore(args);
        assert.equal(r.status, 125, `${args[0]}: ${r.stderr}`);
        assert.equal(r.stderr, roError, args[0]);
      }
      assert.match(okInStore(['images']), /localhost\/big/);
      assert.match(okInStore(['containers']), /small/);
    } finally {
      spawnSync('mount', ['-o', 'remount,rw', mnt]);
    }
    await assertWhole('read-only');
    okInStore(['config', '--env', 'A=1', ctr]);
  });
});
