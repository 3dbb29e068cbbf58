/**
 * Go's pattern languages as JavaScript RegExps, so tbah matches paths exactly
 * as Buildah and Docker do:
 *
 * - `compileMatch`: Go `filepath.Match` (copy/add source globs). `*` and `?`
 *   never match '/', `[...]` is a class with ranges and `^` negation (`[!a]`
 *   is the class of '!' and 'a', not a negation), `\` escapes.
 * - `compileGoRegexp`: the subset of Go RE2 syntax that moby/patternmatcher
 *   generates from .dockerignore lines; its quirks (`a\b` is a word boundary,
 *   `[^/]` emitted inside a user's class, ...) only come out right if the
 *   generated Go regexp is read as Go reads it.
 *
 * Every literal is emitted as `\u{...}` (flag `u`), so no character of a
 * pattern can ever act as JS regexp syntax.
 */
import { TbahError } from '../errors.js';

const GLOB_HINT = 'patterns use Go filepath.Match syntax: * ? [a-z] [^a] and \\ to escape; write a literal [ as \\[';

function badPattern(pattern: string, why: string, hint = GLOB_HINT): TbahError {
  return new TbahError('invalid-argument', `invalid pattern '${pattern}': ${why}`, { hint });
}

/** Go's path.Clean. */
export function goClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
    } else out.push(part);
  }
  const s = (rooted ? '/' : '') + out.join('/');
  return s === '' ? '.' : s;
}

/** True if the pattern has Go glob meta characters (`filepath.Glob`'s hasMeta on Unix: `* ? [ \`). */
export function hasMagic(pattern: string): boolean {
  return /[*?[\\]/.test(pattern);
}

const hex = (cp: number): string => `\\u{${cp.toString(16)}}`;
const lit = (cp: number): string => (/[0-9A-Za-z_]/.test(String.fromCodePoint(cp)) ? String.fromCodePoint(cp) : hex(cp));

type Range = [number, number];

/** A JS class from inclusive code point ranges (empty ranges dropped: Go's `[z-a]` matches nothing). */
function jsClass(ranges: Range[], negated: boolean, extra = ''): string {
  const body = ranges
    .filter(([lo, hi]) => lo <= hi)
    .map(([lo, hi]) => (lo === hi ? hex(lo) : `${hex(lo)}-${hex(hi)}`))
    .join('');
  return `[${negated ? '^' : ''}${body}${extra}]`;
}

/**
 * The JS RegExp source (anchored) equivalent to a Go `filepath.Match` pattern.
 * Validation follows Go 1.16+, which rejects a malformed pattern even where
 * matching would have stopped before reaching the bad part.
 */
export function matchSource(pattern: string): string {
  const cps = Array.from(pattern, (c) => c.codePointAt(0)!);
  let i = 0;
  let out = '';
  // Go's getEsc: one (possibly escaped) class character; something must follow it.
  const classChar = (): number => {
    const c = cps[i];
    if (c === undefined) throw badPattern(pattern, "unterminated character class (missing ']')");
    if (c === 0x2d || c === 0x5d) throw badPattern(pattern, `'${String.fromCodePoint(c)}' must be escaped inside a character class`);
    if (c === 0x5c) {
      i++;
      if (cps[i] === undefined) throw badPattern(pattern, 'trailing backslash');
    }
    const r = cps[i++]!;
    if (i >= cps.length) throw badPattern(pattern, "unterminated character class (missing ']')");
    return r;
  };
  while (i < cps.length) {
    const c = cps[i++]!;
    if (c === 0x2a /* * */) out += '[^/]*';
    else if (c === 0x3f /* ? */) out += '[^/]';
    else if (c === 0x5c /* \ */) {
      if (i >= cps.length) throw badPattern(pattern, 'trailing backslash');
      out += lit(cps[i++]!);
    } else if (c === 0x5b /* [ */) {
      let negated = false;
      if (cps[i] === 0x5e /* ^ */) {
        negated = true;
        i++;
      }
      const ranges: Range[] = [];
      for (;;) {
        if (cps[i] === 0x5d /* ] */ && ranges.length > 0) {
          i++;
          break;
        }
        const lo = classChar();
        let hi = lo;
        if (cps[i] === 0x2d /* - */) {
          i++;
          hi = classChar();
        }
        ranges.push([lo, hi]);
      }
      // Go's class reads any rune, '/' included, so no separator exclusion here.
      out += jsClass(ranges, negated);
    } else out += lit(c);
  }
  return `^${out}$`;
}

/** Go `filepath.Match` pattern → RegExp. Throws TbahError('invalid-argument') for a malformed pattern. */
export function compileMatch(pattern: string): RegExp {
  return new RegExp(matchSource(pattern), 'u');
}

/** Go `filepath.Match(pattern, name)` (ErrBadPattern becomes a TbahError). */
export function matchPattern(pattern: string, name: string): boolean {
  return compileMatch(pattern).test(name);
}

// ---------------------------------------------------------------------------
// Go RE2 syntax → JS, for the regexps moby/patternmatcher builds.

const PERL: Record<string, Range[]> = {
  d: [[0x30, 0x39]],
  s: [[0x09, 0x0a], [0x0c, 0x0d], [0x20, 0x20]],
  w: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
};

const POSIX: Record<string, Range[]> = {
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]],
  alpha: [[0x41, 0x5a], [0x61, 0x7a]],
  ascii: [[0x00, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  upper: [[0x41, 0x5a]],
  word: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
};

/** Complement of sorted, possibly overlapping ranges within the code point space. */
function complement(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= 0x10ffff) out.push([next, 0x10ffff]);
  return out;
}

const isAlnum = (cp: number): boolean => (cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a);
const unhex = (cp: number | undefined): number => {
  if (cp === undefined) return -1;
  if (cp >= 0x30 && cp <= 0x39) return cp - 0x30;
  if (cp >= 0x41 && cp <= 0x46) return cp - 0x41 + 10;
  if (cp >= 0x61 && cp <= 0x66) return cp - 0x61 + 10;
  return -1;
};

/** Go's unicode.Categories names (JS knows them all as \p{...}); anything else is tried as a script. */
const CATEGORY = /^(?:[CLMNPSZ]|C[cfos]|L[lmotu]|M[cen]|N[dlo]|P[cdefios]|S[ckmo]|Z[lps])$/;

interface Piece {
  src: string;
  /** Empty-width assertions need a group around them before JS lets them be quantified. */
  assertion: boolean;
  quantified: boolean;
}

/**
 * Compile Go RE2 syntax (the subset reachable from moby/patternmatcher) to a
 * JS RegExp with the same matches. `what` names the user's pattern in errors.
 */
export function compileGoRegexp(src: string, what: string, hint?: string): RegExp {
  const cps = Array.from(src, (c) => c.codePointAt(0)!);
  let i = 0;
  const fail = (why: string): never => {
    throw badPattern(what, why, hint);
  };

  // Go's parseEscape: a single-character escape; `i` points just after the backslash.
  const charEscape = (): number => {
    const c = cps[i++];
    if (c === undefined) return fail('trailing backslash');
    if (c < 0x80 && !isAlnum(c)) return c;
    if (c >= 0x30 && c <= 0x37) {
      // \1..\7 alone would be a backreference, which Go does not support.
      if (c !== 0x30 && !(cps[i] !== undefined && cps[i]! >= 0x30 && cps[i]! <= 0x37)) return fail(`invalid escape sequence \\${String.fromCodePoint(c)}`);
      let r = c - 0x30;
      for (let k = 1; k < 3 && cps[i] !== undefined && cps[i]! >= 0x30 && cps[i]! <= 0x37; k++) r = r * 8 + cps[i++]! - 0x30;
      return r;
    }
    switch (c) {
      case 0x78 /* x */: {
        if (cps[i] === 0x7b /* { */) {
          i++;
          let r = 0;
          let n = 0;
          while (cps[i] !== 0x7d /* } */) {
            const v = unhex(cps[i++]);
            if (v < 0) return fail('invalid escape sequence \\x{...}');
            r = r * 16 + v;
            n++;
            if (r > 0x10ffff) return fail('invalid escape sequence \\x{...}');
          }
          i++;
          if (n === 0) return fail('invalid escape sequence \\x{}');
          return r;
        }
        const x = unhex(cps[i++]);
        const y = unhex(cps[i++]);
        if (x < 0 || y < 0) return fail('invalid escape sequence \\x');
        return x * 16 + y;
      }
      case 0x61: return 0x07; // \a
      case 0x66: return 0x0c; // \f
      case 0x6e: return 0x0a; // \n
      case 0x72: return 0x0d; // \r
      case 0x74: return 0x09; // \t
      case 0x76: return 0x0b; // \v
      default: return fail(`invalid escape sequence \\${String.fromCodePoint(c)}`);
    }
  };

  // \d \s \w and negations (ASCII, as in Go); `i` points at the letter.
  const perlClass = (): { ranges: Range[]; negated: boolean } | undefined => {
    const c = cps[i];
    if (c === undefined) return undefined;
    const ch = String.fromCodePoint(c);
    const ranges = PERL[ch.toLowerCase()];
    if (ranges === undefined || !'dswDSW'.includes(ch)) return undefined;
    i++;
    return { ranges, negated: ch !== ch.toLowerCase() };
  };

  // \pN, \p{Name}, \P..., \p{^Name}; `i` points at 'p' or 'P'. Returns a JS class item.
  const unicodeClass = (): string => {
    let negated = cps[i++] === 0x50;
    let name: string;
    if (cps[i] === 0x7b) {
      const end = cps.indexOf(0x7d, i);
      if (end < 0) return fail('invalid character class range (missing })');
      name = String.fromCodePoint(...cps.slice(i + 1, end));
      i = end + 1;
    } else {
      if (cps[i] === undefined) return fail('invalid character class range \\p');
      name = String.fromCodePoint(cps[i++]!);
    }
    if (name.startsWith('^')) {
      negated = !negated;
      name = name.slice(1);
    }
    if (name === 'Any') return negated ? '' : '\\u{0}-\\u{10ffff}';
    const item = CATEGORY.test(name) ? `\\p{${name}}` : /^[A-Z][A-Za-z_]*$/.test(name) ? `\\p{Script=${name}}` : undefined;
    try {
      if (item === undefined) throw new Error();
      new RegExp(`[${item}]`, 'u');
    } catch {
      return fail(`invalid character class range \\p{${name}}`);
    }
    return negated ? item.replace('\\p', '\\P') : item;
  };

  // Go's parseClass; `i` points just after '['.
  const parseClass = (): string => {
    let negated = false;
    if (cps[i] === 0x5e) {
      negated = true;
      i++;
    }
    const ranges: Range[] = [];
    let extra = '';
    let first = true;
    while (first || cps[i] !== 0x5d) {
      if (cps[i] === undefined) return fail("missing closing ']'");
      first = false;
      if (cps[i] === 0x5b && cps[i + 1] === 0x3a) {
        // [:name:] — only if a closing ":]" exists; otherwise '[' is an ordinary character.
        const rest = String.fromCodePoint(...cps.slice(i + 2));
        const end = rest.indexOf(':]');
        if (end >= 0) {
          let name = rest.slice(0, end);
          const neg = name.startsWith('^');
          if (neg) name = name.slice(1);
          const r = POSIX[name];
          if (r === undefined) return fail(`invalid character class range [:${rest.slice(0, end)}:]`);
          ranges.push(...(neg ? complement(r) : r));
          i += 2 + Array.from(rest.slice(0, end)).length + 2;
          continue;
        }
      }
      if (cps[i] === 0x5c && (cps[i + 1] === 0x70 || cps[i + 1] === 0x50)) {
        i++;
        extra += unicodeClass();
        continue;
      }
      if (cps[i] === 0x5c) {
        i++;
        const p = perlClass();
        if (p) {
          ranges.push(...(p.negated ? complement(p.ranges) : p.ranges));
          continue;
        }
        i--;
      }
      const classChar = (): number => {
        if (cps[i] === undefined) return fail("missing closing ']'");
        if (cps[i] === 0x5c) {
          i++;
          return charEscape();
        }
        return cps[i++]!;
      };
      const lo = classChar();
      let hi = lo;
      if (cps[i] === 0x2d && cps[i + 1] !== undefined && cps[i + 1] !== 0x5d) {
        i++;
        hi = classChar();
        if (hi < lo) return fail(`invalid character class range ${String.fromCodePoint(lo)}-${String.fromCodePoint(hi)}`);
      }
      ranges.push([lo, hi]);
    }
    i++; // ']'
    return jsClass(ranges, negated, extra);
  };

  const parseSeq = (depth: number): string => {
    const pieces: Piece[] = [];
    const atom = (s: string, assertion = false): void => {
      pieces.push({ src: s, assertion, quantified: false });
    };
    const quantify = (q: string): void => {
      const last = pieces[pieces.length - 1];
      if (last === undefined) return fail(`missing argument to repetition operator ${q}`);
      if (last.quantified) return fail(`invalid nested repetition operator ${q}`);
      if (cps[i] === 0x3f /* ? */) {
        i++;
        q += '?'; // non-greedy
      }
      last.src = (last.assertion ? `(?:${last.src})` : last.src) + q;
      last.quantified = true;
    };
    while (i < cps.length && cps[i] !== 0x7c /* | */) {
      if (cps[i] === 0x29 /* ) */) {
        if (depth === 0) return fail("unexpected ')'");
        break;
      }
      const c = cps[i++]!;
      switch (c) {
        case 0x28 /* ( */: {
          if (cps[i] === 0x3f) return fail('unsupported group syntax');
          const inner = parseAlt(depth + 1);
          if (cps[i] !== 0x29) return fail("missing closing ')'");
          i++;
          atom(`(?:${inner})`);
          break;
        }
        case 0x5e /* ^ */:
          atom('^', true);
          break;
        case 0x24 /* $ */:
          atom('$', true);
          break;
        case 0x2e /* . */:
          atom('[^\\n]'); // Go's '.' excludes only \n (JS's also excludes \r, U+2028, U+2029)
          break;
        case 0x5b /* [ */:
          atom(parseClass());
          break;
        case 0x2a /* * */:
          quantify('*');
          break;
        case 0x2b /* + */:
          quantify('+');
          break;
        case 0x3f /* ? */:
          quantify('?');
          break;
        case 0x7b /* { */: {
          const m = /^\{(\d+)(,(\d*))?\}/.exec(String.fromCodePoint(...cps.slice(i - 1, i + 24)));
          if (m) {
            const lo = Number(m[1]);
            const hi = m[2] === undefined ? lo : m[3] === '' ? undefined : Number(m[3]);
            if (lo > 1000 || (hi !== undefined && (hi > 1000 || hi < lo))) return fail(`invalid repeat count ${m[0]}`);
            i += m[0].length - 1;
            quantify(m[0]);
          } else atom(lit(c)); // not a repeat: a literal '{'
          break;
        }
        case 0x5c /* \ */: {
          const e = cps[i];
          if (e === 0x41 /* A */ || e === 0x7a /* z */) {
            i++;
            atom(e === 0x41 ? '^' : '$', true);
          } else if (e === 0x62 /* b */ || e === 0x42 /* B */) {
            i++;
            // Go's \b is an ASCII word boundary, as is JS's without the i flag.
            atom(e === 0x62 ? '\\b' : '\\B', true);
          } else if (e === 0x51 /* Q */) {
            i++;
            while (i < cps.length && !(cps[i] === 0x5c && cps[i + 1] === 0x45)) atom(lit(cps[i++]!));
            if (i < cps.length) i += 2;
          } else if (e === 0x43 /* C */) {
            return fail('invalid escape sequence \\C');
          } else if (e === 0x70 || e === 0x50) {
            atom(`[${unicodeClass()}]`);
          } else {
            const p = perlClass();
            atom(p ? jsClass(p.ranges, p.negated) : lit(charEscape()));
          }
          break;
        }
        default:
          atom(lit(c));
      }
    }
    return pieces.map((p) => p.src).join('');
  };

  const parseAlt = (depth: number): string => {
    const branches = [parseSeq(depth)];
    while (cps[i] === 0x7c) {
      i++;
      branches.push(parseSeq(depth));
    }
    return branches.join('|');
  };

  const body = parseAlt(0);
  if (i < cps.length) fail("unexpected ')'");
  return new RegExp(body, 'u');
}
