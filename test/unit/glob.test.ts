import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TbahError } from '../../src/core/errors.js';
import { expandGlob, hasMagic } from '../../src/core/match/glob.js';

let base: string;
let root: string;

const FILES = [
  '.env', '[x].txt', '!neg.txt', 'a{b,c}/f', 'A.TXT', 'a.txt', 'b.txt', 'x+y.txt', 'sp ace.txt', 'a\\b',
  'src/a.js', 'src/b.ts', 'src/lib/c.js', 'src/lib/deep/d.js', 'src/.hidden/e.js',
];

before(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'tbah-glob-'));
  root = path.join(base, 'ctx');
  for (const f of FILES) {
    await mkdir(path.dirname(path.join(root, f)), { recursive: true });
    await writeFile(path.join(root, f), f);
  }
  await symlink('src', path.join(root, 'link-to-src'));
  await symlink('..', path.join(root, 'src/lib/loop'));
  await symlink('nowhere', path.join(root, 'dangling'));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

/**
 * Buildah's answers: Go 1.19 running copier.extendedGlob (filepath.Glob with
 * `**` expanded through WalkDir) over the same tree, recorded on this machine.
 */
const GO_GLOB: [string, string[]][] = [
  ['*', ['!neg.txt', '.env', 'A.TXT', '[x].txt', 'a.txt', 'a\\b', 'a{b,c}', 'b.txt', 'dangling', 'link-to-src', 'sp ace.txt', 'src', 'x+y.txt']],
  ['*.txt', ['!neg.txt', '[x].txt', 'a.txt', 'b.txt', 'sp ace.txt', 'x+y.txt']],
  ['[x].txt', []], // a class: would match x.txt, not the file named [x].txt
  ['\\[x].txt', ['[x].txt']],
  ['[!a].txt', ['a.txt']], // the class of '!' and 'a', not a negation
  ['[^a].txt', ['b.txt']],
  ['!neg.txt', ['!neg.txt']], // a leading ! is no negation for globs
  ['\\!neg.txt', ['!neg.txt']],
  ['!*', ['!neg.txt']],
  ['a{b,c}', ['a{b,c}']], // braces are literal
  ['a{b,c}/*', ['a{b,c}/f']],
  ['A.TXT', ['A.TXT']],
  ['a.TXT', []], // case-sensitive
  ['*.TXT', ['A.TXT']],
  ['?.txt', ['a.txt', 'b.txt']],
  ['x+y.txt', ['x+y.txt']],
  ['x?y.txt', ['x+y.txt']],
  ['sp ace.txt', ['sp ace.txt']],
  ['sp*', ['sp ace.txt']],
  ['**', ['.', 'a{b,c}', 'src', 'src/.hidden', 'src/lib', 'src/lib/deep']], // directories only
  ['src/**', ['src', 'src/.hidden', 'src/lib', 'src/lib/deep']],
  ['**/*.js', ['src/.hidden/e.js', 'src/a.js', 'src/lib/c.js', 'src/lib/deep/d.js']],
  ['src/**/*.js', ['src/.hidden/e.js', 'src/a.js', 'src/lib/c.js', 'src/lib/deep/d.js']],
  ['**/lib', ['src/lib']],
  ['**/lib/*.js', ['src/lib/c.js']],
  ['src/*/*.js', ['src/.hidden/e.js', 'src/lib/c.js']],
  ['.*', ['.env']],
  ['src/.*', ['src/.hidden']],
  ['link-to-src', ['link-to-src']],
  ['link-to-src/*', ['link-to-src/.hidden', 'link-to-src/a.js', 'link-to-src/b.ts', 'link-to-src/lib']],
  ['link-to-src/**', []], // WalkDir does not enter a symlink
  ['link-to-src/lib/*', ['link-to-src/lib/c.js', 'link-to-src/lib/deep', 'link-to-src/lib/loop']],
  ['src/lib/loop/*.js', ['src/lib/loop/a.js']],
  ['src/lib/loop/lib/loop/*.js', ['src/lib/loop/lib/loop/a.js']],
  ['src/lib/loop', ['src/lib/loop']],
  ['dangling', ['dangling']], // lstat: a dangling symlink exists
  ['dang*', ['dangling']],
  ['nonexistent', []],
  ['nonexistent/*', []],
  ['src/lib/../a.js', ['src/a.js']],
  ['src/*/..', ['src']], // cleaned lexically before globbing
  ['a\\\\b', ['a\\b']],
  ['a\\\\*', ['a\\b']],
  ['a\\b', []], // an escaped b: the name "ab"
  ['src/lib/deep/d.js', ['src/lib/deep/d.js']],
  ['/src/a.js', ['src/a.js']],
  ['src//a.js', ['src/a.js']],
  ['./src/./a.js', ['src/a.js']],
  ['**/**', ['.', 'a{b,c}', 'src', 'src/.hidden', 'src/lib', 'src/lib/deep']],
  ['**/deep/**', ['src/lib/deep']],
  ['**/*.ts', ['src/b.ts']],
  ['src/**/lib/**/*.js', ['src/lib/c.js', 'src/lib/deep/d.js']],
];

describe('expandGlob', () => {
  it("gives Buildah's answers", async () => {
    for (const [pattern, want] of GO_GLOB) {
      assert.deepEqual(await expandGlob(root, pattern), want, `pattern ${JSON.stringify(pattern)}`);
    }
  });

  it('rejects malformed patterns before touching the disk', async () => {
    for (const p of ['[', 'src/[a', '**/[', 'missing/*/[', 'a\\']) {
      await assert.rejects(expandGlob(root, p), (err: unknown) => err instanceof TbahError && err.code === 'invalid-argument' && err.message.includes('pattern'), p);
    }
  });

  it('sorts by bytes with the root first, without duplicates', async () => {
    const r = path.join(base, 'order');
    for (const n of ['b', 'B', 'é', 'a', '-x', '_']) await mkdir(path.join(r, n), { recursive: true });
    assert.deepEqual(await expandGlob(r, '*'), ['-x', 'B', '_', 'a', 'b', 'é']);
    assert.deepEqual(await expandGlob(r, '**'), ['.', '-x', 'B', '_', 'a', 'b', 'é']);
    // Overlapping ** expansions find each directory once.
    assert.deepEqual(await expandGlob(r, '**/**/**'), ['.', '-x', 'B', '_', 'a', 'b', 'é']);
  });

  it('resolves symlinks inside the root, as Buildah does in its chroot', async () => {
    const r = path.join(base, 'jail');
    await mkdir(path.join(r, 'etc'), { recursive: true });
    await writeFile(path.join(r, 'etc/only-in-root'), '');
    await symlink('/', path.join(r, 'abs'));
    await symlink('/etc', path.join(r, 'etclink'));
    await symlink('../../../../..', path.join(r, 'up'));
    assert.deepEqual(await expandGlob(r, 'etclink/*'), ['etclink/only-in-root']);
    assert.deepEqual(await expandGlob(r, 'abs/etc/*'), ['abs/etc/only-in-root']);
    assert.deepEqual(await expandGlob(r, 'up/etc/*'), ['up/etc/only-in-root']);
    assert.deepEqual(await expandGlob(r, 'abs/*'), ['abs/abs', 'abs/etc', 'abs/etclink', 'abs/up']);
    // A pattern climbing out of the root is clamped at the root.
    assert.deepEqual(await expandGlob(r, '../../etc/*'), ['etc/only-in-root']);
  });

  it('expands ** after a wildcard and takes directory names found by ** literally', async () => {
    // Both are where Buildah re-reads paths as patterns (and finds nothing).
    const r = path.join(base, 'deviations');
    await mkdir(path.join(r, '[d]/sub'), { recursive: true });
    await writeFile(path.join(r, '[d]/in.txt'), '');
    await writeFile(path.join(r, '[d]/sub/in.txt'), '');
    assert.deepEqual(await expandGlob(r, '**/in.txt'), ['[d]/in.txt', '[d]/sub/in.txt']);
    assert.deepEqual(await expandGlob(r, '*/**'), ['[d]', '[d]/sub']);
    assert.deepEqual(await expandGlob(r, '*/**/in.txt'), ['[d]/in.txt', '[d]/sub/in.txt']);
  });

  it('re-exports hasMagic for callers deciding whether to glob', () => {
    assert.equal(hasMagic('src/*.js'), true);
    assert.equal(hasMagic('src/a.js'), false);
  });
});
