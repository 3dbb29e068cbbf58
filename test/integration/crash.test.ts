/** kill -9 in the middle of a commit or a from leaves a store that works, and the leftovers are swept. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox, sh, tbahBin } from '../helpers/cli.js';
import { validateOciLayout } from '../helpers/validate.js';

/** Runs tbah and kills it after `ms`; true when the kill landed (the process was still running). */
function killedAfter(sb: Sandbox, args: string[], ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [tbahBin, ...args], { cwd: sb.dir, env: { ...process.env, TBAH_ROOT: sb.store }, stdio: 'ignore' });
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (_code, signal) => { clearTimeout(t); resolve(signal === 'SIGKILL'); });
  });
}

describe('crash safety', () => {
  const sb = new Sandbox();
  let ctr = '';
  before(() => {
    mkdirSync(sb.path('big'));
    for (let i = 0; i < 64; i++) writeFileSync(sb.path('big', `f${i}`), randomBytes(1 << 20));
    ctr = sb.ok(['from', 'scratch']);
    sb.ok(['copy', ctr, 'big', '/big']);
  });
  after(() => sb.cleanup());

  test('commits killed at several points never leave a broken store', async () => {
    for (const ms of [150, 300, 500, 800]) {
      await killedAfter(sb, ['commit', ctr, 'big:1'], ms);
      // Whatever happened, every command still works and what is listed is whole.
      sb.ok(['containers']);
      for (const line of sb.ok(['images', '--format', '{{.Name}}:{{.Tag}}']).split('\n').filter(Boolean)) {
        sb.ok(['push', line, `oci:${sb.path('check')}:c`]);
        await validateOciLayout(sb.path('check'), 'c');
      }
    }
    const id = sb.ok(['commit', ctr, 'big:1']);
    sb.ok(['push', 'big:1', `oci:${sb.path('final')}:f`]);
    const v = await validateOciLayout(sb.path('final'), 'f');
    assert.equal(v.configDigest, `sha256:${id}`);
  });

  test('a from killed half-way leaves no visible container, and its leftovers are swept', async () => {
    // From an archive, so the layer must be unpacked (the overlay driver has big:1's layer already).
    sb.ok(['push', 'big:1', `oci-archive:${sb.path('big.tar')}`]);
    sb.ok(['rmi', 'big:1']);
    const before = sb.ok(['containers', '--quiet']);
    // Kill earlier and earlier until the kill lands mid-way (a fast machine may finish first).
    let landed = false;
    for (const ms of [250, 150, 100, 60, 30]) {
      landed = await killedAfter(sb, ['from', `oci-archive:${sb.path('big.tar')}`], ms);
      if (landed) break;
      for (const c of sb.ok(['containers', '--quiet']).split('\n')) if (c !== '' && !before.split('\n').includes(c)) sb.ok(['rm', c]);
    }
    assert.ok(landed, 'no kill landed while from was running');
    assert.equal(sb.ok(['containers', '--quiet']), before);
    // A later garbage collection (rm/rmi) sweeps temp files and half-made containers.
    const c = sb.ok(['from', 'scratch']);
    sb.ok(['rm', c]);
    assert.deepEqual(readdirSync(path.join(sb.store, 'tmp')), []);
    assert.deepEqual(readdirSync(path.join(sb.store, 'containers')).filter((n) => n.startsWith('.')), []);
    assert.equal(sh(`find ${sb.store} -name '.tmp-*'`).trim(), '');
    await sleep(1);
  });
});

describe('corrupt store content is refused, never used', () => {
  const sb = new Sandbox();
  after(() => sb.cleanup());

  test('a flipped byte in a layer blob makes from fail with exit 125 and a clear message', async () => {
    const { readFileSync, writeFileSync: wf } = await import('node:fs');
    const c = sb.ok(['from', 'scratch']);
    wf(sb.path('payload'), randomBytes(3 << 20));
    sb.ok(['copy', c, 'payload', '/payload']);
    sb.ok(['commit', '--rm', c, 'victim:1']);
    const layer = (JSON.parse(sb.ok(['inspect', '--format', '{{.Manifest}}', 'victim:1'])) as { layers: { digest: string }[] }).layers[0]!.digest;
    const file = path.join(sb.store, 'blobs', 'sha256', layer.slice(7));
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1] ^= 0xff;
    wf(file, bytes);
    // Every read of the blob checks it: a from that unpacks it (the dir driver; the overlay
    // driver already holds this layer unpacked from the commit) and a push.
    const r = sb.run(['from', '--storage-driver', 'dir', 'victim:1']);
    assert.equal(r.status, 125, r.stderr);
    assert.match(r.stderr, /^tbah: .*(does not match its content|could not be decompressed)/);
    assert.equal(sb.ok(['containers', '--quiet']), '');
    const p = sb.run(['push', 'victim:1', `oci-archive:${sb.path('victim.tar')}`]);
    assert.equal(p.status, 125, p.stderr);
    assert.match(p.stderr, /does not match its content/);
  });
});
