/**
 * tbah installs as a package the way a user installs it: from a clone's path
 * (`npm install /path/to/clone`, where npm runs the clone's `prepare`, which
 * must install the build tools and build), and from `npm pack`'s tarball. Each
 * install is then used for real: the library imported and an image committed,
 * the `tbah` bin run on that store, and (tarball) a TypeScript file
 * type-checked against the shipped declarations.
 *
 * The clone is this working tree's tracked and unignored files, copied (so
 * uncommitted work is tested too), without node_modules, build/ or dist/.
 * npm is told to prefer its cache; the npm registry is the only network used.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from '../helpers/cli.js';

/** The environment of a user's shell: none of the npm_* variables of the `npm test` that runs us. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD') env[k] = v;
  return { ...env, NO_COLOR: '1', ...extra };
}

function run(cmd: string, args: string[], cwd: string, env = userEnv()): string {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

const NPM_FLAGS = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

/** A project of a user: package.json with "type": "module", nothing else. */
function newProject(dir: string): string {
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: path.basename(dir), version: '1.0.0', private: true, type: 'module' }));
  return dir;
}

/** Uses the installed package: library → commit an image; bin → list it. */
function useInstalled(project: string): void {
  const store = path.join(project, 'store');
  writeFileSync(path.join(project, 'hello.txt'), 'hello from an installed tbah\n');
  writeFileSync(path.join(project, 'use.mjs'), `
import { Store, createContainer, copyIntoContainer, configureContainer, commitContainer, inspectObject, VERSION } from 'tbah';
const store = await Store.open({ root: ${JSON.stringify(store)} });
const ctr = await createContainer(store, { image: 'scratch' });
await copyIntoContainer(store, { container: ctr.name, sources: ['hello.txt'], dest: '/hello.txt' });
await configureContainer(store, ctr.name, { label: ['org.example.installed=yes'] }, {});
const img = await commitContainer(store, { container: ctr.name, image: 'installed:1', rm: true, timestamp: 0 });
const info = await inspectObject(store, 'installed:1', 'image');
console.log(JSON.stringify({ version: VERSION, id: img.id, labels: info.OCIv1.config.Labels }));
`);
  const out = JSON.parse(run(process.execPath, ['use.mjs'], project)) as { version: string; id: string; labels: Record<string, string> };
  assert.match(out.version, /^\d+\.\d+\.\d+/);
  assert.match(out.id, /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(out.labels, { 'org.example.installed': 'yes' });
  // The bin npm linked, on the same store.
  const ids = run(path.join(project, 'node_modules', '.bin', 'tbah'), ['images', '--quiet', '--no-trunc'], project, userEnv({ TBAH_ROOT: store }));
  assert.equal(ids.trim(), out.id);
}

describe('installing tbah as a package', { timeout: 300_000 }, () => {
  let dir = '';
  let clone = '';
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tbah-pkg-'));
    clone = path.join(dir, 'tbah-clone');
    mkdirSync(clone);
    // What a fresh clone has: the tracked (and new, unignored) files; no node_modules, build/ or dist/.
    const files = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], repoRoot).split('\0').filter((f) => f !== '');
    for (const f of files) {
      const src = path.join(repoRoot, f);
      if (!existsSync(src) || lstatSync(src).isDirectory()) continue; // deleted in the work tree, or a submodule
      mkdirSync(path.dirname(path.join(clone, f)), { recursive: true });
      cpSync(src, path.join(clone, f), { verbatimSymlinks: true });
    }
    assert.ok(!existsSync(path.join(clone, 'build')) && !existsSync(path.join(clone, 'node_modules')));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('npm install /path/to/clone: prepare installs the build tools and builds; library and bin work', () => {
    const project = newProject(path.join(dir, 'from-clone'));
    run('npm', ['install', ...NPM_FLAGS, clone], project);
    assert.ok(existsSync(path.join(clone, 'build', 'src', 'index.js')), 'prepare built the library in the clone');
    assert.ok(existsSync(path.join(clone, 'dist', 'tbah.cjs')), 'prepare bundled the CLI in the clone');
    useInstalled(project);
    // A second install finds the build current: prepare does not build again.
    const before = lstatSync(path.join(clone, 'dist', 'tbah.cjs')).mtimeMs;
    run('npm', ['install', ...NPM_FLAGS, clone], project);
    assert.equal(lstatSync(path.join(clone, 'dist', 'tbah.cjs')).mtimeMs, before);
  });

  test('npm pack → npm install TARBALL: the tarball carries the build and the types', () => {
    // npm pack runs prepare too: after the test above it is current, on its own it builds.
    const packed = run('npm', ['pack', '--pack-destination', dir, '--loglevel=error'], clone).trim().split('\n').at(-1)!;
    const tarball = path.join(dir, packed);
    assert.ok(existsSync(tarball), `npm pack wrote ${packed}`);
    const listing = run('tar', ['tzf', tarball], dir).split('\n');
    for (const f of ['package/bin/tbah.js', 'package/dist/tbah.cjs', 'package/dist/tbah.cjs.cache', 'package/bin/package.json', 'package/build/src/index.js', 'package/build/src/index.d.ts', 'package/docs/library.md']) {
      assert.ok(listing.includes(f), `the tarball has ${f}`);
    }
    assert.ok(!listing.some((f) => f.startsWith('package/build/test/') || f.startsWith('package/test/') || f.startsWith('package/node_modules/')), 'no tests or node_modules in the tarball');

    const project = newProject(path.join(dir, 'from-tarball'));
    run('npm', ['install', ...NPM_FLAGS, tarball], project);
    assert.ok(!lstatSync(path.join(project, 'node_modules', 'tbah')).isSymbolicLink(), 'a real copy, not a link to the clone');
    assert.deepEqual(readdirSync(path.join(project, 'node_modules', 'tbah')).sort().filter((f) => f !== 'LICENSE'), ['README.md', 'bin', 'build', 'dist', 'docs', 'package.json']);
    useInstalled(project);

    // The shipped declarations type-check a user's TypeScript (with this repo's tsc).
    writeFileSync(path.join(project, 'check.ts'), `
import { Store, createContainer, commitContainer, type CommitResult } from 'tbah';
const store: Store = await Store.open({ root: '/nonexistent' });
const ctr = await createContainer(store, { image: 'scratch' });
const r: CommitResult = await commitContainer(store, { container: ctr.name, timestamp: 0 });
const id: string = r.id;
export { id };
`);
    writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({
      // A user's usual setup, with @types/node (taken from this repo); the shipped .d.ts are checked too.
      compilerOptions: {
        module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false,
        typeRoots: [path.join(repoRoot, 'node_modules', '@types')], types: ['node'],
      },
      files: ['check.ts'],
    }));
    run(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], project);
  });
});
