import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TbahError } from '../../src/core/errors.js';
import { splitShellWords } from '../../src/core/shell-words.js';

// Expected values were produced by github.com/mattn/go-shellwords v1.0.13
// (the version Buildah vendors) with Buildah's settings, on this machine.
const SPLITS: [string, string[]][] = [
  ['', []],
  ['   ', []],
  ['echo hi there', ['echo', 'hi', 'there']],
  ['  echo   hi  ', ['echo', 'hi']],
  ['a\tb\nc\rd', ['a', 'b', 'c', 'd']],
  ["'single quoted' x", ['single quoted', 'x']],
  ['"double quoted" x', ['double quoted', 'x']],
  ["a'b c'd", ['ab cd']],
  ['a"b c"d', ['ab cd']],
  ["''", ['']],
  ['""', ['']],
  ["a '' b", ['a', '', 'b']],
  ['a "" b', ['a', '', 'b']],
  ["'it''s'", ['its']],
  ['"a\\"b"', ['a"b']],
  ['"a\\\\b"', ['a\\b']],
  ['"a\\$b"', ['a$b']],
  ['"a\\xb"', ['axb']], // go-shellwords drops the backslash inside "…" too
  ['a\\ b', ['a b']],
  ['a\\\\b', ['a\\b']],
  ['a\\tb', ['a\tb']],
  ['a\\nb', ['a\nb']],
  ['"a\\tb"', ['a\tb']],
  ["'a\\tb'", ['a\\tb']],
  ["'a\\'", ['a\\']],
  ["\\'a", ["'a"]],
  ['\\"a', ['"a']],
  ["'a\"b'", ['a"b']],
  ['"a\'b"', ["a'b"]],
  ['echo $HOME', ['echo', '$HOME']],
  ['echo ${HOME}', ['echo', '${HOME}']],
  ['echo $(date) x', ['echo', '$(date)', 'x']],
  ['echo $(date +%s) x', ['echo', '$(date +%s)', 'x']],
  ['echo `date` x', ['echo', '`date`', 'x']],
  ['echo `date +%s` x', ['echo', '`date +%s`', 'x']],
  ['a`b c`d', ['a`b c`d']],
  ["`a 'b' c`", ['`a b c`']],
  ['`a "b" c`', ['`a b c`']],
  ['$(a "b" c)', ['$(a "b" c)']],
  ["$(a 'b' c)", ["$(a 'b' c)"]],
  ["'(a)'", ['(a)']],
  ['"(a)"', ['(a)']],
  ['a\\(b', ['a(b']],
  ["'a;b' \"c|d\" e\\;f", ['a;b', 'c|d', 'e;f']],
  ['#not a comment', ['#not', 'a', 'comment']],
  ['über straße', ['über', 'straße']],
  ['emoji 😀 x', ['emoji', '😀', 'x']],
  ['--flag=value "--other=a b"', ['--flag=value', '--other=a b']],
  ["nginx -g 'daemon off;'", ['nginx', '-g', 'daemon off;']],
  ["sh -c 'echo $HOME'", ['sh', '-c', 'echo $HOME']],
  ['\\ ', [' ']],
  ['\\\\', ['\\']],
  ['" "', [' ']],
  ["' '", [' ']],
];

describe('splitShellWords: go-shellwords semantics', () => {
  for (const [input, words] of SPLITS) {
    it(JSON.stringify(input), () => {
      assert.deepEqual(splitShellWords(input), words);
    });
  }
});

function rejects(input: string, why: RegExp, what = '--cmd'): void {
  assert.throws(() => splitShellWords(input, what), (err: unknown) => {
    assert.ok(err instanceof TbahError, `expected TbahError, got ${String(err)}`);
    assert.equal(err.code, 'invalid-argument');
    assert.ok(err.message.startsWith(`${what} ${JSON.stringify(input)}: `), err.message);
    assert.match(err.message, why);
    assert.ok(err.hint && err.hint.length > 0);
    assert.ok(!err.message.includes('\n'), 'one-line message');
    return true;
  });
}

describe('splitShellWords: errors name the input and the reason', () => {
  // go-shellwords rejects all of these ("invalid command line string").
  const cases: [string, RegExp][] = [
    ["'unterminated", /unterminated single quote/],
    ['"unterminated', /unterminated double quote/],
    ["say 'it", /unterminated single quote/],
    ['a "b\\"', /unterminated double quote/],
    ['`unterminated', /unterminated backtick/],
    ['$(unterminated', /unterminated "\$\("/],
    ['trailing\\', /ends with a backslash/],
    ['a\\', /ends with a backslash/],
    ['a(b', /unquoted "\("/],
    ['(a)', /unquoted "\("/],
    ['x=$((1+2))', /unquoted "\("/],
    ['a)b', /unmatched "\)"/],
  ];
  for (const [input, why] of cases) it(JSON.stringify(input), () => rejects(input, why));

  it('uses a default name when none is given', () => {
    assert.throws(() => splitShellWords("'x"), /^TbahError: command line "'x": unterminated single quote$/m);
  });
});

describe('splitShellWords: shell operators are refused, not silently cut (departure)', () => {
  // go-shellwords stops at the first unquoted operator and Buildah keeps only
  // the words before it: `echo hi; rm x` → ["echo","hi"]. tbah refuses.
  const cases: [string, string][] = [
    ['echo hi; rm x', ';'],
    ['echo hi && rm x', '&'],
    ['echo hi | grep h', '|'],
    ['echo hi > f', '>'],
    ['echo 2>f', '>'],
    ['cat < f', '<'],
    ['a & b', '&'],
  ];
  for (const [input, op] of cases) {
    it(JSON.stringify(input), () => rejects(input, new RegExp(`shell operator "\\${op}"`)));
  }
  it('quoted or escaped operators are plain characters', () => {
    assert.deepEqual(splitShellWords("echo 'a;b' \"c&&d\" e\\|f `g|h` $(i;j)"), ['echo', 'a;b', 'c&&d', 'e|f', '`g|h`', '$(i;j)']);
  });
});
