/**
 * Hostile layers and manifests (scripts/gen-hostile-fixtures.mjs), delivered
 * as `oci:`, `oci-archive:`, `docker-archive:` and from a real registry that
 * serves them as planted (a compromised registry: lies are not filtered by
 * its upload checks). `tbah from` of each must either refuse with one line
 * (exit 125, no stack trace, no container, no leftovers) or contain it (the
 * canary directory outside the store untouched); the store passes the health
 * check after each. The gzip bomb runs against a store on a small tmpfs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { type RunResult, Sandbox, removeTestDir, repoRoot, treeFingerprint } from '../helpers/cli.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { checkStore, storeWorksInProcess } from '../helpers/store-check.js';

interface Fixture { name: string; expect: 'refuse' | 'contain' | 'either'; why: string; inside?: string; transports: string[] }

type Generate = (out: string, canary: string, opts?: { bombMiB?: number }) => Fixture[];
const { generate } = (await import(pathToFileURL(path.join(repoRoot, 'scripts', 'gen-hostile-fixtures.mjs')).href)) as { generate: Generate };

const sb = new Sandbox('tbah-hostile-');
const canary = sb.path('canary');
const fx = sb.path('fx');
let fixtures: Fixture[] = [];
let reg: TestRegistry;
let canaryPrint = '';
/** Tally for docs/reliability.md: outcome per transport. */
const tally: Record<string, { refused: number; contained: number }> = {};

function canaryState(): string {
  return `${treeFingerprint(canary)} nlink=${statSync(path.join(canary, 'secret')).nlink} ${statSync(canary).mtimeMs}`;
}

/**
 * Plant an OCI layout's blobs and manifest in the registry's storage as they
 * are, so the registry serves lies it would refuse on upload.
 */
function plant(storage: string, repo: string, tag: string, layout: string): void {
  const v2 = path.join(storage, 'docker', 'registry', 'v2');
  const repoDir = path.join(v2, 'repositories', repo);
  const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  for (const hex of readdirSync(path.join(layout, 'blobs', 'sha256'))) {
    const dataDir = path.join(v2, 'blobs', 'sha256', hex.slice(0, 2), hex);
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(path.join(dataDir, 'data'), readFileSync(path.join(layout, 'blobs', 'sha256', hex)));
    mkdirSync(path.join(repoDir, '_layers', 'sha256', hex), { recursive: true });
    writeFileSync(path.join(repoDir, '_layers', 'sha256', hex, 'link'), `sha256:${hex}`);
  }
  const m = index.manifests[0]!.digest;
  const hex = m.slice(7);
  for (const d of [path.join(repoDir, '_manifests', 'revisions', 'sha256', hex), path.join(repoDir, '_manifests', 'tags', tag, 'current'), path.join(repoDir, '_manifests', 'tags', tag, 'index', 'sha256', hex)]) {
    mkdirSync(d, { recursive: true });
    writeFileSync(path.join(d, 'link'), m);
  }
}

function refFor(f: Fixture, transport: string): string[] {
  switch (transport) {
    case 'oci': return [`oci:${path.join(fx, 'oci', f.name)}`];
    case 'oci-archive': return [`oci-archive:${path.join(fx, 'oci-archive', `${f.name}.tar`)}`];
    case 'docker-archive': return [`docker-archive:${path.join(fx, 'docker-archive', `${f.name}.tar`)}`];
    default: return ['--tls-verify=false', `${reg.host}/hostile/${f.name}:x`];
  }
}

/** No stack trace, no internal error; a failure is `tbah: …` plus at most a `hint:` line. */
function assertCleanFailure(r: RunResult, what: string): void {
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at |node:internal|Unhandled/, `${what}: ${r.stderr}`);
  if (r.status !== 0) {
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('warning:'));
    assert.match(lines[0] ?? '', /^tbah: \S/, `${what}: ${r.stderr}`);
    assert.ok(lines.length === 1 || (lines.length === 2 && lines[1]!.startsWith('hint: ')), `${what}: one error line and a hint, got:\n${r.stderr}`);
  }
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  }));
}

async function runCase(f: Fixture, t: string, store: string): Promise<void> {
  const what = `${f.name} via ${t} (${f.why})`;
  const r = await sb.runAsync(['from', '-q', ...refFor(f, t)], { env: { TBAH_ROOT: store } });
  assertCleanFailure(r, what);
  assert.ok(r.status === 0 || r.status === 125, `${what}: exit ${r.status}`);
  if (f.expect === 'refuse') assert.equal(r.status, 125, `${what}: must be refused\n${r.stderr}`);
  if (f.expect === 'contain') assert.equal(r.status, 0, `${what}: must be contained\n${r.stderr}`);
  assert.equal(canaryState(), canaryPrint, `${what}: the canary outside the store changed`);
  const h = await checkStore(store);
  assert.deepEqual(h.problems, [], `${what}: store problems`);
  assert.deepEqual(h.leftovers, [], `${what}: leftovers`);
  const c = (tally[t] ??= { refused: 0, contained: 0 });
  if (r.status === 125) {
    c.refused++;
    assert.equal(h.containers, 0, `${what}: a refused from leaves no container`);
  } else {
    c.contained++;
    assert.equal(h.containers, 1);
    if (f.inside !== undefined) {
      const rootfs = (await sb.okAsync(['mount', r.stdout.trim()], { env: { TBAH_ROOT: store } })).trim();
      assert.ok(lstatSync(path.join(rootfs, f.inside), { throwIfNoEntry: false }) !== undefined, `${what}: ${f.inside} inside the container`);
    }
  }
  removeTestDir(store); // overlay containers are live mounts
}

before(async () => {
  mkdirSync(path.join(canary, 'sub'), { recursive: true });
  writeFileSync(path.join(canary, 'secret'), 'do not touch\n');
  writeFileSync(path.join(canary, 'sub', 'file'), 'nor this\n');
  fixtures = generate(fx, canary);
  canaryPrint = canaryState();
  reg = await startRegistry();
  for (const f of fixtures) if (f.transports.includes('registry')) plant(path.join(reg.dir, 'storage'), `hostile/${f.name}`, 'x', path.join(fx, 'oci', f.name));
});
after(async () => {
  await reg?.stop();
  sb.cleanup();
  const lines = Object.entries(tally).map(([t, c]) => `${t}: ${c.refused} refused, ${c.contained} contained`);
  process.stdout.write(`# hostile inputs: ${lines.join('; ')}\n`);
});

describe('hostile images are refused or contained', () => {
  test('every fixture, every transport it can be said in', async () => {
    const cases = fixtures.flatMap((f) => f.transports.map((t) => ({ f, t })));
    const failures: string[] = [];
    // Three at a time: each case is mostly a process start-up.
    await mapLimit(cases, 3, async ({ f, t }, n) => {
      try {
        await runCase(f, t, sb.path(`store-${n}`));
      } catch (err) {
        failures.push((err as Error).message);
      }
    });
    assert.deepEqual(failures, []);
    assert.equal(canaryState(), canaryPrint, 'the canary outside the store changed');
    // Nothing landed next to the canary either (an escaping write could aim at its parent).
    assert.deepEqual(readdirSync(sb.dir).filter((x) => x.startsWith('evil')), []);
  });

  test('absolute paths and symlinks to the canary land inside the container', async () => {
    const f = fixtures.find((x) => x.name === 'symlink-write-across-layers')!;
    const store = sb.path('store-sym');
    const ctr = (await sb.okAsync(['from', '-q', ...refFor(f, 'oci')], { env: { TBAH_ROOT: store } })).trim();
    const rootfs = sb.ok(['mount', ctr], { env: { TBAH_ROOT: store } });
    // `esc` points at the canary's absolute path. The dir driver applies the next layer onto the
    // tree, following `esc` inside the root: rootfs/<canary path>/evil-sym2. The overlay driver
    // unpacks each layer alone (as containers/storage does), so the file's parent is a new
    // directory `esc` that hides the link. Either way it is inside the container.
    const c = canary.replace(/^\/+/, '');
    const followed = path.join(rootfs, c, 'evil-sym2');
    const shadowed = path.join(rootfs, 'esc', 'evil-sym2');
    const landed = lstatSync(followed, { throwIfNoEntry: false }) ? followed : shadowed;
    assert.equal(readFileSync(landed, 'utf8'), 'x\n');
    removeTestDir(store); // overlay containers are live mounts
  });
});

describe('a gzip bomb on a small store', () => {
  const mnt = sb.path('tmpfs-store');
  let mounted = false;
  before(() => {
    mkdirSync(mnt);
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tbah-bomb', mnt], { encoding: 'utf8' });
    mounted = r.status === 0;
  });
  after(() => {
    if (mounted) spawnSync('umount', [mnt]);
  });

  test('512 MiB of zeros in 526 KiB: refused with "no space left" naming the store, nothing left, store works', async (t) => {
    if (!mounted) {
      t.skip('cannot mount a tmpfs here');
      return;
    }
    const bombs = generate(sb.path('fx-bomb'), canary, { bombMiB: 512 }).filter((f) => f.name === 'gzip-bomb');
    const f = bombs[0]!;
    const blobBytes = readdirSync(path.join(sb.path('fx-bomb'), 'oci', f.name, 'blobs', 'sha256'))
      .reduce((s, n) => s + statSync(path.join(sb.path('fx-bomb'), 'oci', f.name, 'blobs', 'sha256', n)).size, 0);
    assert.ok(blobBytes < 2 << 20, `the bomb is small (${blobBytes} bytes)`);
    plant(path.join(reg.dir, 'storage'), 'hostile/gzip-bomb', 'x', path.join(sb.path('fx-bomb'), 'oci', f.name));
    for (const [i, ref] of [[`oci:${path.join(sb.path('fx-bomb'), 'oci', f.name)}`], [`oci-archive:${path.join(sb.path('fx-bomb'), 'oci-archive', `${f.name}.tar`)}`], ['--tls-verify=false', `${reg.host}/hostile/gzip-bomb:x`]].entries()) {
      const store = path.join(mnt, `s${i}`);
      const r = await sb.runAsync(['from', '-q', ...ref], { env: { TBAH_ROOT: store } });
      assertCleanFailure(r, `bomb via ${ref.join(' ')}`);
      assert.equal(r.status, 125);
      assert.match(r.stderr, new RegExp(`^tbah: no space left on device writing the store ${store}\\nhint: free space`), r.stderr);
      const h = await checkStore(store);
      assert.deepEqual(h.problems, []);
      assert.deepEqual(h.leftovers, []);
      assert.equal(h.containers, 0);
      // The space is given back: the store holds only the small blobs.
      const used = Number(spawnSync('du', ['-sb', store], { encoding: 'utf8' }).stdout.split('\t')[0]);
      assert.ok(used < 4 << 20, `store uses ${used} bytes after the refusal`);
      assert.deepEqual(await storeWorksInProcess(store, 'localhost/after-bomb:1'), []);
      removeTestDir(store); // overlay containers are live mounts
      (tally[`bomb:${i === 0 ? 'oci' : i === 1 ? 'oci-archive' : 'registry'}`] ??= { refused: 0, contained: 0 }).refused++;
    }
    assert.equal(canaryState(), canaryPrint);
  });
});
