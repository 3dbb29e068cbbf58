/**
 * `.containerignore` / `.dockerignore`, ported from Docker's Go code:
 * BuildKit's `ignorefile.ReadAll` line rules and moby/patternmatcher's
 * pattern compiler and `MatchesOrParentMatches`. The quirks are kept on
 * purpose (a build context must exclude exactly what Docker excludes):
 * `#` is a comment only at column 0, `dir/` also matches a file `dir`,
 * `a\b` is the Go regexp `^a\b$` (a word boundary), `a**` is a string prefix.
 * Two departures: a pattern whose generated regexp Go would reject fails at
 * parse time (Docker fails only when it first evaluates that line, which for
 * a `!` line depends on the context's contents), and the context root "."
 * is never excluded.
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { TbahError, isErrno } from '../errors.js';
import { compileGoRegexp, goClean, matchSource } from './pattern.js';

export interface IgnorePattern {
  /** The pattern as Docker keeps it: cleaned, slash-separated, without the leading '!'. */
  readonly pattern: string;
  /** A `!` line: re-includes what earlier lines excluded. */
  readonly exclusion: boolean;
  /** 1-based line in the ignore file (0 if the pattern did not come from a file). */
  readonly line: number;
}

const HINT = 'see the .dockerignore reference: Go filepath.Match syntax plus ** and ! lines';

/** Go's unicode.IsSpace set (String.prototype.trim differs: it trims U+FEFF, not U+0085). */
const GO_SPACE = '\t\n\v\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';

function trimSpace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && GO_SPACE.includes(s[a]!)) a++;
  while (b > a && GO_SPACE.includes(s[b - 1]!)) b--;
  return s.slice(a, b);
}

/**
 * Parse ignore-file text like BuildKit's `ReadAll` followed by
 * patternmatcher's `New`. Throws TbahError('invalid-argument') naming the
 * line for a lone `!` or a malformed pattern. `source` names the file in errors.
 */
export function parseIgnoreFile(text: string, source = 'ignore file'): IgnorePattern[] {
  const out: IgnorePattern[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop(); // bufio.ScanLines: no empty token after a final newline
  lines.forEach((raw, idx) => {
    if (Buffer.byteLength(raw) >= 64 * 1024) {
      throw new TbahError('invalid-argument', `${source} line ${idx + 1}: line too long`, { hint: 'Docker reads ignore-file lines of at most 64 KiB' });
    }
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (idx === 0 && line.startsWith('\uFEFF')) line = line.slice(1);
    if (line.startsWith('#')) return;
    let p = trimSpace(line);
    if (p === '') return;
    // ReadAll: clean, drop a leading '/', keep the '!'.
    const invert = p.startsWith('!');
    if (invert) p = trimSpace(p.slice(1));
    if (p.length > 0) {
      p = goClean(p);
      if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
    }
    if (invert) p = `!${p}`;
    out.push(newPattern(p, idx + 1, source));
  });
  return out;
}

/** patternmatcher.New for one ReadAll line (which cleans once more, '!' included). */
function newPattern(line: string, lineNo: number, source: string): IgnorePattern {
  let p = goClean(trimSpace(line));
  let exclusion = false;
  if (p.startsWith('!')) {
    if (p.length === 1) {
      throw new TbahError('invalid-argument', `${source} line ${lineNo}: illegal exclusion pattern "!"`, {
        hint: 'a ! line needs a pattern after it, e.g. !keep.txt',
      });
    }
    exclusion = true;
    p = p.slice(1);
  }
  const pat: IgnorePattern = { pattern: p, exclusion, line: lineNo };
  try {
    matchSource(p); // Docker checks the syntax with filepath.Match(p, ".")
    compilePattern(pat); // and fails on the generated regexp when it first uses it
  } catch (err) {
    if (err instanceof TbahError) {
      throw new TbahError('invalid-argument', `${source} line ${lineNo}: ${err.message}`, { hint: err.hint ?? HINT, cause: err });
    }
    throw err;
  }
  return pat;
}

type Matcher = (path: string) => boolean;

/** patternmatcher's Pattern.compile: exact, prefix (`a/**`), suffix (`**\/x`) or a Go regexp. */
function compilePattern(pat: IgnorePattern): Matcher {
  const cleaned = pat.pattern;
  const cps = Array.from(cleaned);
  let pos = cps[0] === '\uFEFF' ? 1 : 0; // Go's text/scanner drops a leading BOM
  let reg = '^';
  let type: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  for (let i = 0; pos < cps.length; i++) {
    const ch = cps[pos++]!;
    if (ch === '*') {
      if (cps[pos] === '*') {
        pos++;
        if (cps[pos] === '/') pos++; // "**/" is "**"
        if (pos >= cps.length) {
          if (type === 'exact') type = 'prefix';
          else {
            reg += '.*';
            type = 'regexp';
          }
        } else {
          reg += '(.*/)?';
          type = 'regexp';
        }
        if (i === 0) type = 'suffix';
      } else {
        reg += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      reg += '[^/]';
      type = 'regexp';
    } else if ('.+()|{}$'.includes(ch)) {
      reg += `\\${ch}`;
    } else if (ch === '\\') {
      if (pos < cps.length) {
        reg += `\\${cps[pos++]!}`;
        type = 'regexp';
      } else reg += '\\';
    } else if (ch === '[' || ch === ']') {
      reg += ch;
      type = 'regexp';
    } else reg += ch;
  }
  switch (type) {
    case 'exact':
      return (p) => p === cleaned;
    case 'prefix': {
      const prefix = cleaned.slice(0, -2);
      return (p) => p.startsWith(prefix);
    }
    case 'suffix': {
      const suffix = cleaned.slice(2);
      return (p) => p.endsWith(suffix) || (suffix.startsWith('/') && p === suffix.slice(1));
    }
    case 'regexp': {
      const re = compileGoRegexp(`${reg}$`, cleaned, HINT);
      return (p) => re.test(p);
    }
  }
}

/** Docker's exclusion test for context paths (patternmatcher `MatchesOrParentMatches`). */
export class IgnoreMatcher {
  readonly patterns: readonly IgnorePattern[];
  readonly hasExclusions: boolean;
  private readonly compiled: Matcher[];
  /** Literal text before the first wildcard of each `!` pattern (for mayReinclude). */
  private readonly exclusionPrefixes: string[];

  constructor(patterns: readonly IgnorePattern[]) {
    this.patterns = [...patterns];
    this.compiled = this.patterns.map(compilePattern);
    this.hasExclusions = this.patterns.some((p) => p.exclusion);
    this.exclusionPrefixes = this.patterns.filter((p) => p.exclusion).map((p) => p.pattern.split(/[*?[\\]/, 1)[0]!);
  }

  /** Patterns given as ignore-file lines (patternmatcher.New on a string list). */
  static fromLines(lines: readonly string[], source = 'ignore patterns'): IgnoreMatcher {
    return new IgnoreMatcher(parseIgnoreFile(lines.join('\n'), source));
  }

  /** True if the slash-separated path relative to the context is excluded. */
  matches(relPath: string): boolean {
    const file = goClean(relPath);
    if (file === '.') return false; // Docker never excludes the context itself
    const slash = file.lastIndexOf('/');
    const parent = slash < 0 ? '.' : slash === 0 ? '/' : file.slice(0, slash);
    const parentDirs = parent.split('/');
    let matched = false;
    this.patterns.forEach((pat, idx) => {
      // An include only matters while unmatched, an exclusion only once matched.
      if (pat.exclusion !== matched) return;
      const test = this.compiled[idx]!;
      let m = test(file);
      if (!m && parent !== '.') {
        for (let k = 1; k <= parentDirs.length && !m; k++) m = test(parentDirs.slice(0, k).join('/'));
      }
      if (m) matched = !pat.exclusion;
    });
    return matched;
  }

  /**
   * Whether a `!` pattern could re-include something below the excluded
   * directory `relDir`; if not, a walk can skip the directory (Docker's
   * optimisation, made safe for patterns like `!**\/keep`: a pattern's
   * literal head must be compatible with `relDir/`).
   */
  mayReinclude(relDir: string): boolean {
    const dir = `${goClean(relDir)}/`;
    return this.exclusionPrefixes.some((pre) => pre.startsWith(dir) || dir.startsWith(pre));
  }
}

/** Parse and compile an ignore file; a missing file is TbahError('not-found'). */
export async function readIgnoreFileAt(file: string): Promise<IgnoreMatcher> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new TbahError('not-found', `ignore file ${file} does not exist`, { hint: 'check the --ignorefile path' });
    throw new TbahError('io', `cannot read ignore file ${file}: ${(err as Error).message}`, { cause: err });
  }
  return new IgnoreMatcher(parseIgnoreFile(text, file));
}

/** The context's `.containerignore`, else its `.dockerignore` (Buildah's order), else undefined. */
export async function readIgnoreFile(contextDir: string): Promise<IgnoreMatcher | undefined> {
  for (const name of ['.containerignore', '.dockerignore']) {
    try {
      return await readIgnoreFileAt(path.join(contextDir, name));
    } catch (err) {
      if (!(err instanceof TbahError && err.code === 'not-found')) throw err;
    }
  }
  return undefined;
}

/**
 * Relative paths under `contextDir` that the matcher keeps, in byte order,
 * parents before children; symlinks are not followed. An excluded directory
 * is not yielded, and is entered only if a `!` pattern may re-include
 * something inside it.
 */
export async function* walkContext(contextDir: string, matcher: IgnoreMatcher | undefined): AsyncGenerator<string> {
  async function* walk(rel: string): AsyncGenerator<string> {
    let ents: Dirent[];
    try {
      ents = await readdir(path.join(contextDir, rel), { withFileTypes: true });
    } catch (err) {
      throw new TbahError('io', `cannot read context directory ${path.join(contextDir, rel)}: ${(err as Error).message}`, { cause: err });
    }
    ents.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
    for (const e of ents) {
      const child = rel === '' ? e.name : `${rel}/${e.name}`;
      const excluded = matcher?.matches(child) ?? false;
      if (!excluded) yield child;
      if (e.isDirectory() && (!excluded || matcher!.mayReinclude(child))) yield* walk(child);
    }
  }
  yield* walk('');
}
