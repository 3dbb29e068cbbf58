/**
 * bin/tbah.js: the code cache made at build time is used, a cache that does
 * not belong to the bundle is not, and the CLI answers the same either way;
 * the deferred built-ins behave as the modules; a symlink to the launcher runs;
 * its sh line drops NODE_EXTRA_CA_CERTS only for commands that never use TLS.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot, tbahBin } from '../helpers/cli.js';

const require = createRequire(import.meta.url);

interface Launcher {
  compile(): { cached: boolean };
  bundleRequire(file: string): (id: string) => unknown;
}

/** Calls that exercise parsing, the store, locks, output and errors. */
const CALLS: string[][] = [
  ['--help'], ['config', '--help'], ['from', '--name', 'c', 'scratch'], ['config', '--env', 'A=1', 'c'], ['containers'],
  ['inspect', '--format', '{{.Container}}', 'c'], ['mount', 'c'], ['umount', 'c'], ['commit', 'c', 'i'], ['images', '--format', '{{.Name}}'],
  ['inspect', '--type', 'image', '--format', '{{.FromImage}}', 'i'], ['config', '--bogus', 'c'], ['nosuch'], ['rm', 'nosuch'],
];

/** Run CALLS with the launcher `bin` in a fresh store; the transcript of every call. */
function transcript(bin: string, dir: string): string[] {
  const store = mkdtempSync(path.join(dir, 'store-'));
  const env: NodeJS.ProcessEnv = { ...process.env, TBAH_ROOT: store, NO_COLOR: '1' };
  delete env['NODE_OPTIONS'];
  return CALLS.map((args) => {
    const r = spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8', cwd: dir });
    // Container and image IDs differ from store to store.
    const scrub = (s: string) => s.replaceAll(store, 'STORE').replace(/[0-9a-f]{12,64}/g, 'ID').replace(/\d+ (seconds|minutes) ago|Less than a second ago/g, 'AGO');
    return `${args.join(' ')} -> ${r.status}\n${scrub(r.stdout)}${scrub(r.stderr)}`;
  });
}

/** `compile().cached` of a launcher. */
function cached(bin: string): boolean {
  const r = spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(bin)}).compile().cached)`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim() === 'true';
}

describe('launcher (bin/tbah.js)', () => {
  let dir: string;
  let copy: string;
  let reference: string[];
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tbah-launcher-'));
    // A copy of the installed layout, whose cache the tests can damage.
    copy = path.join(dir, 'pkg');
    for (const d of ['bin', 'dist']) cpSync(path.join(repoRoot, d), path.join(copy, d), { recursive: true });
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(copy, 'node_modules'));
    reference = transcript(tbahBin, dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('uses the code cache the build made', () => {
    assert.equal(cached(tbahBin), true);
  });

  it('ignores a cache made for another build, and answers the same', () => {
    const cacheFile = path.join(copy, 'dist', 'tbah.cjs.cache');
    const good = readFileSync(cacheFile);
    const foreign = Buffer.from(good);
    foreign.write('0000000000000000', 'tbah-code-cache:'.length, 'latin1');
    writeFileSync(cacheFile, foreign);
    assert.equal(cached(path.join(copy, 'bin', 'tbah.js')), false);
    assert.deepEqual(transcript(path.join(copy, 'bin', 'tbah.js'), dir), reference);
    writeFileSync(cacheFile, good);
  });

  it('falls back when V8 rejects the cache, or when there is none, and answers the same', () => {
    const cacheFile = path.join(copy, 'dist', 'tbah.cjs.cache');
    const good = readFileSync(cacheFile);
    const damaged = Buffer.from(good.subarray(0, good.length >> 1));
    damaged.fill(0x5a, 64, 4096);
    writeFileSync(cacheFile, damaged);
    assert.equal(cached(path.join(copy, 'bin', 'tbah.js')), false);
    assert.deepEqual(transcript(path.join(copy, 'bin', 'tbah.js'), dir), reference);
    unlinkSync(cacheFile);
    assert.equal(cached(path.join(copy, 'bin', 'tbah.js')), false);
    assert.deepEqual(transcript(path.join(copy, 'bin', 'tbah.js'), dir), reference);
    writeFileSync(cacheFile, good);
  });

  it('runs through a symlink, as npm link or a PATH entry makes it', () => {
    const link = path.join(dir, 'tbah');
    symlinkSync(tbahBin, link);
    const r = spawnSync(link, ['version', '--json'], { encoding: 'utf8', env: { ...process.env, TBAH_ROOT: path.join(dir, 'v') } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { node: string }).node, process.version);
  });

  it('drops NODE_EXTRA_CA_CERTS, through its #! line, only for the commands that never use TLS', () => {
    // A `node` that prints what it was given, first on PATH.
    const fake = path.join(dir, 'fake-bin');
    mkdirSync(fake);
    writeFileSync(path.join(fake, 'node'), '#!/bin/sh\nprintf "%s|%s\\n" "${NODE_EXTRA_CA_CERTS-unset}" "$*"\n', { mode: 0o755 });
    const env = { ...process.env, PATH: `${fake}:${process.env['PATH'] ?? ''}`, NODE_EXTRA_CA_CERTS: '/etc/extra ca.pem' };
    const call = (...args: string[]): string => {
      const r = spawnSync(tbahBin, args, { env, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    for (const args of [['config', '--env', 'A=1 B', 'c'], ['mount', 'c'], ['umount', '-a'], ['unmount', 'c'], ['containers'], ['ps'], ['ls'], ['list'],
      ['images'], ['rm', 'c'], ['delete', 'c'], ['rmi', 'i'], ['tag', 'i', 'j'], ['version'], ['info'], ['--root', '/r', 'images'], ['--root=/r', 'images'],
      ['inspect', 'c'], ['inspect', '--type', 'image', 'localhost/x']]) {
      assert.equal(call(...args), `unset|${tbahBin} ${args.join(' ')}\n`, args.join(' '));
    }
    for (const args of [[], ['--help'], ['pull', 'x'], ['push', 'x'], ['from', 'x'], ['login', 'r'], ['logout', 'r'], ['inspect', 'docker://r/x'],
      ['inspect', '--type', 'image', 'docker://r/x'], ['--root', '/r', 'inspect', 'docker://r/x'], ['commit', 'c', 'docker://r/x'],
      ['copy', 'c', 'https://x/y'], ['add', 'c', 'https://x/y'], ['run', 'c', '--', 'true'], ['--root', '/r', 'pull', 'x'], ['nosuch']]) {
      assert.equal(call(...args), `/etc/extra ca.pem|${[tbahBin, ...args].join(' ')}\n`, args.join(' '));
    }
  });

  it('hands the bundle stand-ins for built-ins that behave as the modules', () => {
    const launcher = require(tbahBin) as Launcher;
    const req = launcher.bundleRequire(path.join(repoRoot, 'dist', 'tbah.cjs'));
    const real = require('node:zlib') as Record<string | symbol, unknown>;
    const lazy = req('node:zlib') as Record<string | symbol, unknown>;
    assert.equal(req('zlib'), lazy, 'one stand-in per module, with or without node:');
    assert.equal(typeof lazy, 'object');
    assert.equal(lazy['createGzip'], real['createGzip']);
    assert.equal(lazy['constants'], real['constants']);
    assert.ok('gunzipSync' in lazy);
    assert.ok(!('noSuchExport' in lazy));
    assert.deepEqual(Reflect.ownKeys(lazy), Reflect.ownKeys(real));
    assert.equal(Object.getPrototypeOf(lazy), Object.getPrototypeOf(real));
    assert.deepEqual({ ...lazy }, { ...real });
    assert.equal(Object.getOwnPropertyDescriptor(lazy, 'createGzip')?.value, real['createGzip']);
    lazy['__tbahProbe'] = 1;
    assert.equal(real['__tbahProbe'], 1, 'writes reach the module');
    delete lazy['__tbahProbe'];
    assert.ok(!('__tbahProbe' in real));
    // Modules Node has loaded already, or whose export is a function, are the modules themselves.
    assert.equal(req('node:path'), require('node:path'));
    assert.equal(req('node:stream'), require('node:stream'));
  });
});
