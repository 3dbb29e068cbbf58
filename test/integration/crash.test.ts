/**
 * kill -9 at random points of from, pull, copy, commit, push, rm and rmi
 * never leaves a broken store. A kill only counts when it landed: the
 * process was still running and died of SIGKILL (its exit status says so);
 * one that finished first is a miss and the next delay is drawn shorter.
 * Every landed kill is followed by two health checks — an independent one
 * written against the on-disk format (test/helpers/store-check: every blob
 * re-hashed, everything index.json reaches present and consistent, every
 * container state parses and names existing blobs) and `tbah check --repair`
 * (no damage; what it repairs is only leftovers) — and a from + commit in the
 * same store. At least 100 landed kills, bounded to under 3 minutes.
 * Then: a corrupt blob in the store is refused, never used.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sandbox, tbahBin } from '../helpers/cli.js';
import { checkStore, storeWorksInProcess } from '../helpers/store-check.js';
import { checkStore as tbahCheck } from '../../src/core/ops/check.js';
import { Store } from '../../src/core/store/store.js';

const WANT_LANDED = 105;
const BUDGET_MS = 165_000;

interface Attempt { landed: boolean; ms: number; code: number | null }

/** Run tbah; SIGKILL it after `killAt` ms if it is still running. */
function attempt(sb: Sandbox, args: string[], killAt: number): Promise<Attempt> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [tbahBin, ...args], { cwd: sb.dir, env: { ...process.env, TBAH_ROOT: sb.store }, stdio: 'ignore' });
    let sent = false;
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) {
        sent = true;
        child.kill('SIGKILL');
      }
    }, killAt);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ landed: sent && signal === 'SIGKILL', ms: Date.now() - t0, code });
    });
  });
}

interface Op {
  name: string;
  /** Unkilled set-up so the operation has work to do; returns its arguments. */
  prepare(n: number): Promise<string[]>;
  /** After the attempt, whatever happened: put things in a known state. */
  settle?(n: number): Promise<unknown>;
  /** Current estimate of how long it runs (ms), refined by unkilled runs. */
  estimate: number;
  landed: number;
  missed: number;
}

/** Set-up and clean-up go through the library in this process: only the attempts pay a process start. */
async function library(root: string) {
  const { Store } = await import('../../src/core/store/store.js');
  const { createContainer } = await import('../../src/core/ops/from.js');
  const { copyIntoContainer } = await import('../../src/core/ops/copy.js');
  const { commitContainer } = await import('../../src/core/ops/commit.js');
  const { removeContainer, removeImages } = await import('../../src/core/ops/manage.js');
  const store = await Store.open({ root });
  const quiet = <T>(p: Promise<T>): Promise<T | undefined> => p.catch(() => undefined);
  return {
    from: async (image: string, name?: string) => (await createContainer(store, { image, ...(name ? { name } : {}) })).id,
    copy: (container: string, src: string, dest: string) => copyIntoContainer(store, { container, sources: [src], dest }),
    commit: (container: string, image: string, rm = false) => commitContainer(store, { container, image, rm }),
    rm: (spec: string) => quiet(removeContainer(store, spec)),
    rmi: (spec: string) => quiet(removeImages(store, [spec])),
  };
}

describe('crash safety: kill -9 anywhere', () => {
  // On tmpfs when there is one: a SIGKILL is a process crash, which tmpfs sees exactly as a disk
  // does (the page cache outlives the process); it only makes the ~400 runs cheaper.
  const tmp = process.env.TMPDIR;
  if (statSync('/dev/shm', { throwIfNoEntry: false })?.isDirectory()) process.env.TMPDIR = '/dev/shm';
  const sb = new Sandbox('tbah-crash-');
  if (tmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = tmp;
  const layout = sb.path('layout');
  const ops: Op[] = [];
  let base = '';

  before(async () => {
    mkdirSync(sb.path('big'));
    for (let i = 0; i < 8; i++) writeFileSync(sb.path('big', `f${i}`), randomBytes(1 << 19));
    mkdirSync(sb.path('add'));
    for (let i = 0; i < 4; i++) writeFileSync(sb.path('add', `g${i}`), randomBytes(1 << 19));
    writeFileSync(sb.path('tiny'), 'tiny\n');
    const c = sb.ok(['from', 'scratch']);
    sb.ok(['copy', c, 'big', '/big']);
    base = sb.ok(['commit', '--rm', c, 'base:1']);
    sb.ok(['push', 'base:1', `oci:${layout}:pulled`]);
    const work = sb.ok(['from', '--name', 'work', 'base:1']);
    const lib = await library(sb.store);
    const ctrName = (n: number): string => `victim-${n}`;
    ops.push(
      { name: 'from', estimate: 800, landed: 0, missed: 0, prepare: async (n) => ['from', '--name', ctrName(n), 'base:1'], settle: (n) => lib.rm(ctrName(n)) },
      {
        name: 'pull', estimate: 800, landed: 0, missed: 0,
        prepare: async () => { await lib.rmi('localhost/pulled:latest'); return ['pull', '-q', `oci:${layout}:pulled`]; },
      },
      { name: 'copy', estimate: 500, landed: 0, missed: 0, prepare: async (n) => ['copy', work, 'add', `/copied-${n}`] },
      {
        name: 'commit', estimate: 1200, landed: 0, missed: 0,
        prepare: async (n) => { await lib.copy(work, sb.path('tiny'), `/tiny-${n}`); return ['commit', work, `committed:${n}`]; },
        settle: (n) => lib.rmi(`committed:${n}`),
      },
      { name: 'push', estimate: 600, landed: 0, missed: 0, prepare: async (n) => ['push', 'base:1', `oci-archive:${sb.path(`pushed-${n % 3}.tar`)}`] },
      {
        name: 'rm', estimate: 400, landed: 0, missed: 0,
        prepare: async (n) => { await lib.from('base:1', ctrName(n)); return ['rm', ctrName(n)]; },
        settle: (n) => lib.rm(ctrName(n)),
      },
      {
        name: 'rmi', estimate: 400, landed: 0, missed: 0,
        prepare: async (n) => {
          const c2 = await lib.from('base:1');
          await lib.copy(c2, sb.path('add'), '/x');
          await lib.commit(c2, `doomed:${n}`, true);
          return ['rmi', `doomed:${n}`];
        },
        settle: (n) => lib.rmi(`doomed:${n}`),
      },
    );
  });
  after(() => sb.cleanup());

  test('at least 100 SIGKILLs that landed mid-operation, each followed by a health check', async () => {
    const t0 = Date.now();
    let n = 0;
    let landed = 0;
    let works = 0;
    let repaired = 0;
    while (landed < WANT_LANDED && Date.now() - t0 < BUDGET_MS) {
      const op = ops[n % ops.length]!;
      const args = await op.prepare(n);
      // Anywhere from start-up to the end: uniform over the run as last measured.
      const killAt = 20 + Math.floor(Math.random() * op.estimate);
      const a = await attempt(sb, args, killAt);
      if (a.landed) {
        op.landed++;
        landed++;
        const h = await checkStore(sb.store);
        assert.deepEqual(h.problems, [], `after ${op.name} killed at ${killAt} ms`);
        // tbah check: nothing damaged; what a kill leaves is a leftover, and --repair removes it.
        const t = await tbahCheck(await Store.open({ root: sb.store }), { repair: true });
        assert.deepEqual(t.problems.map((p) => `${p.kind}: ${p.where}: ${p.message}`), [], `tbah check after ${op.name} killed at ${killAt} ms`);
        repaired += t.repaired;
        // The store still works: a from and a commit.
        assert.deepEqual(await storeWorksInProcess(sb.store, `localhost/health:${n}`), [], `after ${op.name} killed at ${killAt} ms`);
        works++;
      } else {
        op.missed++;
        assert.equal(a.code, 0, `${op.name} (not killed) failed`);
        op.estimate = Math.max(50, Math.round(0.5 * op.estimate + 0.5 * a.ms));
      }
      await op.settle?.(n);
      n++;
    }
    const summary = ops.map((o) => `${o.name} ${o.landed}/${o.landed + o.missed}`).join(', ');
    process.stdout.write(`# crash: ${landed} kills landed mid-operation in ${n} attempts (${summary}); ${works} health checks + tbah check + from/commit; tbah check --repair removed ${repaired} leftovers; ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    assert.ok(landed >= 100, `only ${landed} kills landed in the time budget (${summary})`);
    for (const o of ops) assert.ok(o.landed >= 5, `${o.name}: only ${o.landed} kills landed`);

    // The base image came through intact, and a later collection sweeps every leftover.
    assert.match(sb.ok(['images', '-q', '--no-trunc']), new RegExp(base));
    const c = sb.ok(['from', 'scratch']);
    sb.ok(['rm', c]);
    const h = await checkStore(sb.store);
    assert.deepEqual(h.problems, []);
    // tbah check --repair after every kill left nothing behind.
    assert.deepEqual(h.leftovers, [], 'nothing the kills left remains');
    assert.deepEqual(readdirSync(path.join(sb.store, 'containers')).filter((x) => x.startsWith('.')), []);
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
