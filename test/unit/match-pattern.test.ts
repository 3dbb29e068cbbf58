import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TbahError } from '../../src/core/errors.js';
import { compileGoRegexp, compileMatch, goClean, hasMagic, matchPattern } from '../../src/core/match/pattern.js';

/**
 * Answers of Go 1.19 `filepath.Match` (plus Go ≥1.20's whole-pattern
 * validation), recorded with a Go program on this machine.
 */
const GO_MATCH: [string, string[], boolean[]][] = [
  ['*', ['', 'abc', '.hidden', 'a/b'], [true, true, true, false]],
  ['*.txt', ['a.txt', '.txt', 'a.txt.bak', 'd/a.txt'], [true, true, false, false]],
  ['?.txt', ['a.txt', 'ab.txt', '/.txt', 'é.txt'], [true, false, false, true]],
  ['a*b*c', ['abc', 'aXbYc', 'a/b/c', 'abcbc'], [true, true, false, true]],
  ['[a-c].txt', ['a.txt', 'c.txt', 'd.txt', '-.txt'], [true, true, false, false]],
  ['[^a].txt', ['a.txt', 'b.txt', '/.txt'], [false, true, true]],
  ['[!a].txt', ['a.txt', 'b.txt', '!.txt'], [true, false, true]],
  ['[\\]a].txt', [']', '].txt', 'a.txt'], [false, true, true]],
  ['[\\-].txt', ['-.txt', 'a.txt'], [true, false]],
  ['[z-a]', ['a', 'm', 'z'], [false, false, false]],
  ['[x].txt', ['x.txt', '[x].txt'], [true, false]],
  ['\\*.txt', ['*.txt', 'a.txt'], [true, false]],
  ['\\[x].txt', ['[x].txt', 'x.txt'], [true, false]],
  ['a\\b', ['ab', 'a\\b'], [true, false]],
  ['!neg.txt', ['!neg.txt', 'neg.txt'], [true, false]],
  ['a{b,c}', ['a{b,c}', 'ab', 'ac'], [true, false, false]],
  ['x+y.txt', ['x+y.txt', 'xxy.txt'], [true, false]],
  ['a(b)|c.$^', ['a(b)|c.$^', 'ab'], [true, false]],
  ['a.c', ['a.c', 'abc'], [true, false]],
  ['ü*', ['über', 'uber'], [true, false]],
  ['A.TXT', ['A.TXT', 'a.txt'], [true, false]],
  ['a/*/c', ['a/b/c', 'a/b/d/c', 'a//c'], [true, false, true]],
  ['*/b', ['a/b', 'b', 'x/y/b'], [true, false, false]],
  ['', ['', 'a'], [true, false]],
];
const GO_BAD = ['[', '[a', '[]', '[]a]', '[-a]', '[a-]', 'a\\', '[a\\', '*[', 'a*[b', '[a-\\', 'ok/[x'];

// A line-by-line port of Go's path/filepath match.go (Go ≥1.20), used as the
// oracle for the random comparison below. It works on code points.
function goMatch(pattern: string, name: string): boolean | 'ERR' {
  const BAD = 'ERR';
  let pat = Array.from(pattern);
  let nm = Array.from(name);
  const scanChunk = (p: string[]): [boolean, string[], string[]] => {
    let star = false;
    while (p.length > 0 && p[0] === '*') {
      p = p.slice(1);
      star = true;
    }
    let inrange = false;
    let i = 0;
    scan: for (; i < p.length; i++) {
      switch (p[i]) {
        case '\\':
          if (i + 1 < p.length) i++;
          break;
        case '[':
          inrange = true;
          break;
        case ']':
          inrange = false;
          break;
        case '*':
          if (!inrange) break scan;
      }
    }
    return [star, p.slice(0, i), p.slice(i)];
  };
  const getEsc = (c: string[]): [string, string[]] | typeof BAD => {
    if (c.length === 0 || c[0] === '-' || c[0] === ']') return BAD;
    if (c[0] === '\\') {
      c = c.slice(1);
      if (c.length === 0) return BAD;
    }
    const r = c[0]!;
    const rest = c.slice(1);
    if (rest.length === 0) return BAD;
    return [r, rest];
  };
  const matchChunk = (chunk: string[], s: string[]): [string[], boolean] | typeof BAD => {
    let failed = false;
    while (chunk.length > 0) {
      if (!failed && s.length === 0) failed = true;
      switch (chunk[0]) {
        case '[': {
          let r = '';
          if (!failed) {
            r = s[0]!;
            s = s.slice(1);
          }
          chunk = chunk.slice(1);
          let negated = false;
          if (chunk.length > 0 && chunk[0] === '^') {
            negated = true;
            chunk = chunk.slice(1);
          }
          let match = false;
          let nrange = 0;
          for (;;) {
            if (chunk.length > 0 && chunk[0] === ']' && nrange > 0) {
              chunk = chunk.slice(1);
              break;
            }
            const lo = getEsc(chunk);
            if (lo === BAD) return BAD;
            let hi = lo[0];
            chunk = lo[1];
            if (chunk[0] === '-') {
              const h = getEsc(chunk.slice(1));
              if (h === BAD) return BAD;
              hi = h[0];
              chunk = h[1];
            }
            if (!failed && lo[0].codePointAt(0)! <= r.codePointAt(0)! && r.codePointAt(0)! <= hi.codePointAt(0)!) match = true;
            nrange++;
          }
          if (match === negated) failed = true;
          break;
        }
        case '?':
          if (!failed) {
            if (s[0] === '/') failed = true;
            s = s.slice(1);
          }
          chunk = chunk.slice(1);
          break;
        default:
          if (chunk[0] === '\\') {
            chunk = chunk.slice(1);
            if (chunk.length === 0) return BAD;
          }
          if (!failed) {
            if (chunk[0] !== s[0]) failed = true;
            s = s.slice(1);
          }
          chunk = chunk.slice(1);
      }
    }
    return failed ? [[], false] : [s, true];
  };
  outer: while (pat.length > 0) {
    const [star, chunk, rest] = scanChunk(pat);
    pat = rest;
    if (star && chunk.length === 0) return !nm.includes('/');
    const r = matchChunk(chunk, nm);
    if (r !== BAD && r[1] && (r[0].length === 0 || pat.length > 0)) {
      nm = r[0];
      continue;
    }
    if (r === BAD) return BAD;
    if (star) {
      for (let i = 0; i < nm.length && nm[i] !== '/'; i++) {
        const t = matchChunk(chunk, nm.slice(i + 1));
        if (t !== BAD && t[1]) {
          if (pat.length === 0 && t[0].length > 0) continue;
          nm = t[0];
          continue outer;
        }
        if (t === BAD) return BAD;
      }
    }
    while (pat.length > 0) {
      const [, c, r2] = scanChunk(pat);
      pat = r2;
      if (matchChunk(c, []) === BAD) return BAD;
    }
    return false;
  }
  return nm.length === 0;
}

describe('hasMagic', () => {
  it('is true exactly for Go glob meta characters * ? [ \\', () => {
    for (const p of ['*', 'a?', '[x]', 'a\\b', 'src/**']) assert.equal(hasMagic(p), true, p);
    for (const p of ['a.txt', 'a{b,c}', '!neg', 'x+y', '(a)|b', ']', '']) assert.equal(hasMagic(p), false, p);
  });
});

describe('compileMatch (Go filepath.Match)', () => {
  it("agrees with Go's recorded answers", () => {
    for (const [pattern, names, want] of GO_MATCH) {
      const re = compileMatch(pattern);
      assert.deepEqual(names.map((n) => re.test(n)), want, `pattern ${JSON.stringify(pattern)}`);
    }
  });

  it('rejects the patterns Go rejects, naming the pattern', () => {
    for (const p of GO_BAD) {
      assert.throws(
        () => compileMatch(p),
        (err: unknown) => err instanceof TbahError && err.code === 'invalid-argument' && err.message.includes(`'${p}'`),
        p,
      );
    }
  });

  it('treats regexp syntax as literal text', () => {
    assert.equal(matchPattern('a+b(c).txt', 'a+b(c).txt'), true);
    assert.equal(matchPattern('a+b(c).txt', 'aab(c).txt'), false);
    assert.equal(matchPattern('a|b', 'a'), false);
    assert.equal(matchPattern('$x^', '$x^'), true);
  });

  it('agrees with a port of Go filepath.Match on 20000 random patterns and names', () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return (seed >>> 8) % n;
    };
    const str = (alphabet: string, max: number): string => {
      const a = Array.from(alphabet);
      let s = '';
      for (let n = rnd(max + 1); n > 0; n--) s += a[rnd(a.length)];
      return s;
    };
    let errors = 0;
    let hits = 0;
    for (let t = 0; t < 20000; t++) {
      const pattern = str('ab*?[]^!-\\/.é', 8);
      const name = str('ab/!-^.\\é[]', 6);
      const want = goMatch(pattern, name);
      let got: boolean | 'ERR';
      try {
        got = compileMatch(pattern).test(name);
      } catch {
        got = 'ERR';
      }
      if (want === 'ERR') errors++;
      if (want === true) hits++;
      assert.equal(got, want, `pattern ${JSON.stringify(pattern)} name ${JSON.stringify(name)}`);
    }
    // The sample must exercise all three outcomes.
    assert.ok(errors > 1000 && hits > 500, `errors=${errors} hits=${hits}`);
  });
});

describe('goClean', () => {
  it("is Go's path.Clean", () => {
    const cases: [string, string][] = [
      ['', '.'], ['.', '.'], ['/', '/'], ['a/', 'a'], ['./a', 'a'], ['a//b', 'a/b'], ['x/../bar', 'bar'],
      ['../a', '../a'], ['/../a', '/a'], ['a/b/../../..', '..'], ['!a/../b', 'b'], ['dir/**/', 'dir/**'],
    ];
    for (const [input, want] of cases) assert.equal(goClean(input), want, input);
  });
});

/** Go regexp answers recorded on this machine for the RE2 subset moby/patternmatcher emits. */
const GO_REGEXP: [string, string[], boolean[] | 'ERR'][] = [
  ['^a\\b$', ['a', 'ab', 'a\\b'], [true, false, false]],
  ['^[[^/]*]$', ['[', ']', '[^/]', 'a]', '[[]'], [false, true, true, false, true]],
  ['^[!a]\\.txt$', ['!.txt', 'a.txt', 'b.txt'], [true, true, false]],
  ['^\\Qa.b$', ['a.b$', 'a.b', 'axb$'], [true, false, false]],
  ['^[[:alpha:]]$', ['a', 'Z', '1', ':'], [true, true, false, false]],
  ['^[[:^digit:]x]$', ['a', '5', 'x'], [true, false, true]],
  ['^\\pL\\p{Greek}$', ['aα', 'αα', '1α', 'ab'], [true, true, false, false]],
  ['^.$', ['\n', '\r', 'é', '\u2028'], [false, true, true, true]],
  ['^(.*/)?foo$', ['foo', 'a/foo', 'a/b/foo', 'xfoo'], [true, true, true, false]],
  ['^\\x41\\101\\0$', ['AA\u0000', 'AA0'], [true, false]],
  ['^a{2}$', ['aa', 'a{2}'], [true, false]],
  ['^a{,2}$', ['a{,2}', 'aa'], [true, false]],
  ['^\\d\\s\\w$', ['1 _', '1\u000b_', '١ _'], [true, false, false]],
  ['^a]$', ['a]'], [true]],
  ['^a\\q$', ['x'], 'ERR'],
  ['^[z-a]$', ['x'], 'ERR'],
  ['^a\\1$', ['x'], 'ERR'],
  ['^[[:foo:]]$', ['x'], 'ERR'],
  ['^a**$', ['x'], 'ERR'],
  ['^[a$', ['x'], 'ERR'],
  ['^\\C$', ['x'], 'ERR'],
];

describe('compileGoRegexp (Go RE2 subset)', () => {
  it("agrees with Go's recorded answers", () => {
    for (const [src, names, want] of GO_REGEXP) {
      if (want === 'ERR') {
        assert.throws(() => compileGoRegexp(src, 'p'), (err: unknown) => err instanceof TbahError && err.code === 'invalid-argument', src);
        continue;
      }
      const re = compileGoRegexp(src, 'p');
      assert.deepEqual(names.map((n) => re.test(n)), want, src);
    }
  });
});
