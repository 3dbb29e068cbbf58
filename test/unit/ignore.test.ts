import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TbahError } from '../../src/core/errors.js';
import { IgnoreMatcher, parseIgnoreFile, readIgnoreFile, readIgnoreFileAt, walkContext } from '../../src/core/match/ignore.js';

/**
 * Docker's answers for 52 .dockerignore files (152 checks): moby/patternmatcher
 * `MatchesOrParentMatches` after BuildKit's `ReadAll`, from
 * shared/research/npm-deps.md (appendix). ERROR = Docker rejects the file.
 */
const APPENDIX: [string, [string, 'ign' | 'keep' | 'ERROR'][]][] = [
  ["foo", [["foo", "ign"], ["foo/bar", "ign"], ["a/foo", "keep"], ["a/foo/bar", "keep"]]],
  ["*.md", [["a.md", "ign"], ["dir/a.md", "keep"], ["dir/sub/a.md", "keep"], [".md", "ign"]]],
  ["**/*.md", [["a.md", "ign"], ["dir/a.md", "ign"], ["dir/sub/a.md", "ign"]]],
  ["dir/", [["dir", "ign"], ["dir/x", "ign"], ["dir/x/y", "ign"], ["a/dir", "keep"]]],
  ["/foo", [["foo", "ign"], ["a/foo", "keep"], ["foo/x", "ign"]]],
  ["dir\n!dir/keep.txt", [["dir", "ign"], ["dir/keep.txt", "keep"], ["dir/other.txt", "ign"], ["dir/sub/keep.txt", "ign"]]],
  ["*\n!src", [["src", "keep"], ["src/a.js", "keep"], ["src/sub/b.js", "keep"], ["other", "ign"], ["other/x.js", "ign"]]],
  ["*\n!src/**", [["src", "ign"], ["src/a.js", "keep"], ["other.js", "ign"]]],
  ["**", [["a", "ign"], ["a/b", "ign"], ["a/b/c", "ign"]]],
  ["a/**/b", [["a/b", "ign"], ["a/x/b", "ign"], ["a/x/y/b", "ign"], ["a/b/c", "ign"], ["b", "keep"]]],
  ["?.txt", [["a.txt", "ign"], ["ab.txt", "keep"], ["d/a.txt", "keep"]]],
  ["[a-c].txt", [["a.txt", "ign"], ["b.txt", "ign"], ["d.txt", "keep"]]],
  ["[^a].txt", [["a.txt", "keep"], ["b.txt", "ign"]]],
  ["[!a].txt", [["a.txt", "ign"], ["b.txt", "keep"], ["!.txt", "ign"]]],
  ["\\*.txt", [["*.txt", "ign"], ["a.txt", "keep"]]],
  ["# comment\n #notcomment", [["# comment", "keep"], ["#notcomment", "ign"], [" #notcomment", "keep"]]],
  ["foo   \n  bar", [["foo", "ign"], ["bar", "ign"], ["foo   ", "keep"], ["  bar", "keep"]]],
  ["./foo", [["foo", "ign"], ["a/foo", "keep"]]],
  ["x/../bar", [["bar", "ign"], ["x/bar", "keep"]]],
  ["*/temp*", [["a/temp1", "ign"], ["a/b/temp1", "keep"], ["temp1", "keep"], ["a/temp1/z", "ign"]]],
  ["temp?", [["temp1", "ign"], ["temp12", "keep"], ["tempa/x", "ign"]]],
  ["**/node_modules", [["node_modules", "ign"], ["node_modules/x", "ign"], ["a/node_modules", "ign"], ["a/b/node_modules/c/d", "ign"]]],
  ["**/foo", [["x/y/foo/bar/baz", "ign"], ["foo", "ign"], ["x/foo", "ign"]]],
  [".git", [[".git", "ign"], [".git/HEAD", "ign"], ["sub/.git/HEAD", "keep"]]],
  ["*.log\n!important.log\n*.log", [["a.log", "ign"], ["important.log", "ign"]]],
  ["*.log\n!important.log", [["a.log", "ign"], ["important.log", "keep"], ["x/important.log", "keep"]]],
  ["dir/*\n!dir/sub", [["dir/a", "ign"], ["dir/sub", "keep"], ["dir/sub/x", "keep"], ["dir/sub/y/z", "keep"]]],
  ["docs\n!docs/**/*.md", [["docs/a.txt", "ign"], ["docs/a.md", "keep"], ["docs/x/y.md", "keep"], ["docs/x/y.txt", "ign"]]],
  ["a{b,c}", [["ab", "keep"], ["ac", "keep"], ["a{b,c}", "ign"]]],
  ["foo.*", [["foo.js", "ign"], ["fooxjs", "keep"], ["foo.", "ign"]]],
  ["FOO", [["FOO", "ign"], ["foo", "keep"]]],
  ["a+b(c).txt", [["a+b(c).txt", "ign"], ["aab(c).txt", "keep"]]],
  ["*", [[".hidden", "ign"], ["a/.hidden", "ign"], ["a", "ign"]]],
  ["**/*", [["a", "ign"], ["a/b", "ign"]]],
  ["a/**", [["a", "keep"], ["a/b", "ign"], ["a/b/c", "ign"], ["ab", "keep"]]],
  ["**/a/**", [["a/b", "ign"], ["x/a/b", "ign"], ["x/a", "keep"]]],
  ["*.txt\n!/keep.txt", [["keep.txt", "keep"], ["drop.txt", "ign"]]],
  ["foo\\", [["foo\\", "ERROR"], ["foo", "ERROR"]]],
  ["a\\b", [["a\\b", "keep"], ["ab", "keep"], ["a/b", "ign"]]],
  ["dir/**/\n!dir/keep/", [["dir/x", "ign"], ["dir/keep", "keep"], ["dir/keep/y", "keep"]]],
  ["a/b\n!a", [["a/b", "keep"], ["a/b/c", "keep"], ["a", "keep"]]],
  ["**/*.go\n!vendor/**", [["main.go", "ign"], ["vendor/x.go", "keep"], ["vendor/a/b.go", "keep"]]],
  ["ü*.txt", [["über.txt", "ign"], ["uber.txt", "keep"]]],
  ["  !  foo ", [["foo", "keep"], ["bar", "keep"]]],
  ["!", [["a", "ERROR"]]],
  ["[", [["a", "ERROR"], ["[", "ERROR"]]],
  ["*/", [["a", "ign"], ["a/b", "ign"]]],
  ["**/", [["a", "ign"], ["a/b", "ign"]]],
  ["Dockerfile\n.dockerignore", [["Dockerfile", "ign"], [".dockerignore", "ign"], ["sub/Dockerfile", "keep"]]],
  ["node_modules\n!node_modules/keep\nnode_modules/keep/drop", [["node_modules/x", "ign"], ["node_modules/keep/a", "keep"], ["node_modules/keep/drop", "ign"], ["node_modules/keep/drop/z", "ign"]]],
  ["a/b/c", [["a/b/c/d/e", "ign"], ["a/b", "keep"]]],
  ["*/*/c", [["a/b/c/d", "ign"], ["x/c", "keep"]]],
];

/**
 * More of Docker's answers, recorded on this machine with patternmatcher
 * (with Go ≥1.20's whole-pattern check) and ReadAll: the compiler's
 * exact/prefix/suffix shortcuts, Go regexp quirks, BOMs, CRLF, Go's TrimSpace.
 * "ERR" = Docker rejects the file.
 */
const MORE: [string, string[], boolean[] | 'ERR'][] = [
  ["**.md", ["a.md", "x/b.md", "x/y/c.md", "md", "a.mdx"], [true, true, true, false, false]],
  ["a**", ["a", "abc", "a/b/c", "ba"], [true, true, true, false]],
  ["a^b", ["a^b", "ab"], [true, false]],
  ["x/a^b*", ["x/a^bc", "x/abc"], [false, false]],
  ["[*]", ["*", "]", "[", "[^/]", "a"], [false, true, false, true, false]],
  ["a\\Qb*", ["ab*", "abc", "ab[^/]*$"], [false, false, true]],
  ["a\\.b", ["a.b", "axb"], [true, false]],
  ["a\\d", ["a1", "ad", "a/d"], [true, false, false]],
  ["\ufeffa*", ["a", "ab", "\ufeffa"], [true, true, false]],
  ["x\n\ufeffy", ["y", "\ufeffy"], [false, true]],
  ["\ufeffy", ["y", "\ufeffy"], [true, false]],
  ["docs\n!docs/**/keep", ["docs/keep", "docs/a/keep", "docs/a/b", "docs"], [false, false, true, true]],
  ["*\n!**/keep", ["a/keep", "a/b/keep", "a/b", "keep"], [false, false, true, false]],
  ["a\r\nb", ["a", "b", "a\r"], [true, true, false]],
  ["  # not a comment", ["# not a comment", "not"], [true, false]],
  ["\t!\tfoo\t\nfoo", ["foo"], [true]],
  ["/", ["a", "/"], [false, true]],
  [".", ["a"], [false]],
  ["*\n!.", ["a"], [true]],
  ["!/", ["a"], "ERR"],
  ["a[b", ["a"], "ERR"],
  ["a[]b]", ["a"], "ERR"],
  ["a[\\]]b", ["a]b", "ab"], [true, false]],
  ["[z-a]", ["a"], "ERR"],
  ["a\\q", ["a"], "ERR"],
  ["x\n!a\\q", ["x", "a"], "ERR"],
  ["**/a[bc]/**", ["a/ab/x", "ab/x", "ab", "x/ac/y/z"], [true, true, false, true]],
  ["**/", ["x"], [true]],
  ["*.go\n!*_test.go\nvendor", ["a.go", "a_test.go", "vendor/a_test.go", "sub/a.go"], [true, false, true, false]],
  ["\u0085foo\u0085", ["foo"], [true]],
  ["\u00a0foo", ["foo", "\u00a0foo"], [true, false]],
];

const matcherFor = (text: string): IgnoreMatcher => new IgnoreMatcher(parseIgnoreFile(text, '.dockerignore'));

describe('IgnoreMatcher', () => {
  it("gives Docker's answer for every check of the research appendix", () => {
    let checks = 0;
    let passed = 0;
    const failures: string[] = [];
    for (const [text, cases] of APPENDIX) {
      let m: IgnoreMatcher | undefined;
      try {
        m = matcherFor(text);
      } catch (err) {
        assert.ok(err instanceof TbahError && err.code === 'invalid-argument', String(err));
      }
      for (const [p, want] of cases) {
        checks++;
        const got = m === undefined ? 'ERROR' : m.matches(p) ? 'ign' : 'keep';
        if (got === want) passed++;
        else failures.push(`${JSON.stringify(text)} ${JSON.stringify(p)}: Docker ${want}, tbah ${got}`);
      }
    }
    assert.equal(APPENDIX.length, 52);
    assert.equal(checks, 152);
    assert.deepEqual(failures, []);
    assert.equal(passed, 152);
  });

  it("gives Docker's answer for the compiler's shortcuts and quirks", () => {
    for (const [text, names, want] of MORE) {
      if (want === 'ERR') {
        assert.throws(() => matcherFor(text), TbahError, JSON.stringify(text));
        continue;
      }
      const m = matcherFor(text);
      assert.deepEqual(names.map((n) => m.matches(n)), want, JSON.stringify(text));
    }
  });

  it('never excludes the context itself and cleans the path it is given', () => {
    const m = matcherFor('*\n.');
    assert.equal(m.matches('.'), false);
    assert.equal(m.matches(''), false);
    assert.equal(m.matches('./a'), true);
    assert.equal(matcherFor('a/b').matches('a//b/'), true);
  });

  it('rejects an invalid Go regexp eagerly, even in a ! line Docker would not reach', () => {
    // Docker compiles a pattern on first use, so `!a\q` only fails once an earlier line matched.
    assert.throws(() => matcherFor('!a\\q'), /line 1/);
  });
});

describe('parseIgnoreFile', () => {
  it("applies ReadAll's line rules", () => {
    const text = '\uFEFF# comment\r\n  /dir/sub/  \r\n\n #x\n!  ./keep/../kept\n\t\n*.log\r';
    assert.deepEqual(parseIgnoreFile(text), [
      { pattern: 'dir/sub', exclusion: false, line: 2 },
      { pattern: '#x', exclusion: false, line: 4 },
      { pattern: 'kept', exclusion: true, line: 5 },
      { pattern: '*.log', exclusion: false, line: 7 },
    ]);
    assert.deepEqual(parseIgnoreFile(''), []);
  });

  it('names the file and line of a lone ! or a bad pattern', () => {
    const bad: [string, RegExp][] = [
      ['a\n!\n', /^\.dockerignore line 2: illegal exclusion pattern "!"$/],
      ['a\n\n  !  \n', /^\.dockerignore line 3: /],
      ['!/', /^\.dockerignore line 1: illegal exclusion/],
      ['ok\nfoo\\', /^\.dockerignore line 2: invalid pattern 'foo\\': trailing backslash$/],
      ['# x\n[', /^\.dockerignore line 2: invalid pattern '\['/],
      ['[z-a]', /^\.dockerignore line 1: invalid pattern '\[z-a\]'/],
      [`${'x'.repeat(70000)}`, /line 1: line too long/],
    ];
    for (const [text, re] of bad) {
      assert.throws(
        () => parseIgnoreFile(text, '.dockerignore'),
        (err: unknown) => err instanceof TbahError && err.code === 'invalid-argument' && re.test(err.message) && err.hint !== undefined,
        JSON.stringify(text.slice(0, 20)),
      );
    }
  });

  it('builds a matcher from plain lines', () => {
    const m = IgnoreMatcher.fromLines(['node_modules', '!node_modules/keep']);
    assert.equal(m.hasExclusions, true);
    assert.equal(m.matches('node_modules/x'), true);
    assert.equal(m.matches('node_modules/keep/y'), false);
  });
});

describe('mayReinclude', () => {
  it('is true only when a ! pattern could match below the directory', () => {
    const m = matcherFor('node_modules\nbuild\n!node_modules/keep\n!docs/**/*.md');
    assert.equal(m.mayReinclude('node_modules'), true);
    assert.equal(m.mayReinclude('build'), false);
    assert.equal(m.mayReinclude('docs'), true);
    assert.equal(m.mayReinclude('docs/a/b'), true);
    assert.equal(matcherFor('x').mayReinclude('x'), false);
    // A leading wildcard could match anywhere (Docker's own prefix test would skip it).
    assert.equal(matcherFor('a\n!**/keep').mayReinclude('a'), true);
    assert.equal(matcherFor('a\n!*/keep').mayReinclude('a'), true);
  });

  it('never prunes a directory holding a path the matcher keeps (random patterns)', () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return (seed >>> 8) % n;
    };
    const tokens = ['a', 'b', 'a', 'b', '/', '/', '*', '**', '?', '.', '[ab]', '[^a]', '\\b', 'a^', '/**/', '**/', '/**'];
    const comps = ['a', 'b', 'ab', 'a.b', '.a', 'ba'];
    const word = (n: number): string => Array.from({ length: n }, () => comps[rnd(comps.length)]).join('/');
    let pruned = 0;
    for (let t = 0; t < 4000; t++) {
      const lines = Array.from({ length: 1 + rnd(4) }, () => (rnd(2) === 0 ? '!' : '') + Array.from({ length: 1 + rnd(5) }, () => tokens[rnd(tokens.length)]).join(''));
      let m: IgnoreMatcher;
      try {
        m = matcherFor(lines.join('\n'));
      } catch {
        continue;
      }
      for (let k = 0; k < 5; k++) {
        const dir = word(1 + rnd(2));
        if (!m.matches(dir) || m.mayReinclude(dir)) continue;
        pruned++;
        for (let j = 0; j < 5; j++) {
          const p = `${dir}/${word(1 + rnd(3))}`;
          assert.equal(m.matches(p), true, `${JSON.stringify(lines)}: ${p} is kept under pruned ${dir}`);
        }
      }
    }
    assert.ok(pruned > 1000, `pruned=${pruned}`);
  });
});

describe('ignore files on disk', () => {
  let base: string;
  before(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'tbah-ignore-'));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('reads .containerignore before .dockerignore, and neither is fine', async () => {
    const ctx = path.join(base, 'order');
    await mkdir(ctx);
    assert.equal(await readIgnoreFile(ctx), undefined);
    await writeFile(path.join(ctx, '.dockerignore'), 'from-docker\n');
    assert.deepEqual((await readIgnoreFile(ctx))?.patterns.map((p) => p.pattern), ['from-docker']);
    await writeFile(path.join(ctx, '.containerignore'), 'from-container\n');
    assert.deepEqual((await readIgnoreFile(ctx))?.patterns.map((p) => p.pattern), ['from-container']);
  });

  it('reads an explicit --ignorefile and names it in errors', async () => {
    const f = path.join(base, 'custom.ignore');
    await writeFile(f, '*.tmp\n');
    assert.equal((await readIgnoreFileAt(f)).matches('x.tmp'), true);
    await assert.rejects(readIgnoreFileAt(path.join(base, 'missing')), (err: unknown) => err instanceof TbahError && err.code === 'not-found');
    const bad = path.join(base, 'bad.ignore');
    await writeFile(bad, 'ok\n!\n');
    await assert.rejects(readIgnoreFileAt(bad), (err: unknown) => err instanceof TbahError && err.message.startsWith(`${bad} line 2:`));
  });

  it('walks the context keeping what Docker keeps', async () => {
    const ctx = path.join(base, 'walk');
    for (const f of ['Dockerfile', 'src/a.js', 'src/a.test.js', 'node_modules/x/i.js', 'node_modules/keep/k.js', 'build/out.o', '.git/HEAD', 'B']) {
      await mkdir(path.dirname(path.join(ctx, f)), { recursive: true });
      await writeFile(path.join(ctx, f), f);
    }
    await symlink('src', path.join(ctx, 'srclink'));
    const m = matcherFor('.git\nbuild\n**/*.test.js\nnode_modules\n!node_modules/keep');
    const seen: string[] = [];
    for await (const rel of walkContext(ctx, m)) seen.push(rel);
    assert.deepEqual(seen, ['B', 'Dockerfile', 'node_modules/keep', 'node_modules/keep/k.js', 'src', 'src/a.js', 'srclink']);
    const all: string[] = [];
    for await (const rel of walkContext(ctx, undefined)) all.push(rel);
    assert.equal(all.length, 15);
  });
});
