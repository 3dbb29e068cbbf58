import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TbahError } from '../../src/core/errors.js';
import { parseDuration } from '../../src/core/duration.js';

// Expected values were produced by Go 1.19 time.ParseDuration on this machine.
const VALID: [string, number][] = [
  ['0', 0],
  ['-0', 0],
  ['+0', 0],
  ['0s', 0],
  ['30s', 30_000_000_000],
  ['1m30s', 90_000_000_000],
  ['500ms', 500_000_000],
  ['1h', 3_600_000_000_000],
  ['1.5h', 5_400_000_000_000],
  ['1.5s', 1_500_000_000],
  ['.5s', 500_000_000],
  ['1.s', 1_000_000_000],
  ['1ns', 1],
  ['1us', 1_000],
  ['1\u00b5s', 1_000], // micro sign
  ['1\u03bcs', 1_000], // Greek mu
  ['1ms', 1_000_000],
  ['2h45m', 9_900_000_000_000],
  ['-1.5h', -5_400_000_000_000],
  ['+5s', 5_000_000_000],
  ['1.0000000001s', 1_000_000_000],
  ['0.3333333333h', 1_199_999_999_880],
  ['1.999999999999999999999999s', 2_000_000_000],
  ['3.000000001s', 3_000_000_001],
  ['0.123456789123456789s', 123_456_789],
  ['1.5ns', 1],
  ['1m.5s', 60_500_000_000],
  ['1m0.5s', 60_500_000_000],
  ['1.1us', 1_100],
  ['0.7ms', 700_000],
  ['0.0015us', 1],
  ['5.6h', 20_160_000_000_000],
  ['1h1h1h', 10_800_000_000_000],
  ['00001s', 1_000_000_000],
  ['0.000000000000000000000000001h', 0],
  ['2501h', 9_003_600_000_000_000],
  ['9007199254740991ns', Number.MAX_SAFE_INTEGER],
];

describe('parseDuration: Go time.ParseDuration values', () => {
  for (const [input, ns] of VALID) {
    it(JSON.stringify(input), () => {
      const got = parseDuration(input);
      assert.equal(got, ns);
      assert.ok(!Object.is(got, -0), 'never -0');
    });
  }
});

function rejects(input: string, why: RegExp, what?: string): void {
  assert.throws(() => (what === undefined ? parseDuration(input) : parseDuration(input, what)), (err: unknown) => {
    assert.ok(err instanceof TbahError, `expected TbahError, got ${String(err)}`);
    assert.equal(err.code, 'invalid-argument');
    assert.ok(err.message.startsWith(`${what ?? 'duration'} ${JSON.stringify(input)}: `), err.message);
    assert.match(err.message, why);
    assert.match(err.hint ?? '', /30s/);
    return true;
  });
}

describe('parseDuration: inputs Go rejects', () => {
  const cases: [string, RegExp][] = [
    ['', /invalid duration/],
    ['-', /invalid duration/],
    ['.', /invalid duration/],
    ['.s', /invalid duration/],
    ['-.s', /invalid duration/],
    ['s', /invalid duration/],
    [' 1s', /invalid duration/],
    ['1', /missing unit/],
    ['10', /missing unit/],
    ['1s2', /missing unit/],
    ['1s.5', /missing unit/],
    ['1sec', /unknown unit "sec"/],
    ['1 s', /unknown unit " s"/],
    ['1s ', /unknown unit "s "/],
    ['1S', /unknown unit "S"/],
    ['1H', /unknown unit "H"/],
    ['1d', /unknown unit "d"/],
    ['1e3s', /unknown unit "e"/],
    ['0x10s', /unknown unit "x"/],
    ['1_000s', /unknown unit "_"/],
    ['9223372036854775808ns', /out of range/],
    ['2562048h', /out of range/],
    ['100000000000000000000000s', /out of range/],
  ];
  for (const [input, why] of cases) it(JSON.stringify(input), () => rejects(input, why));
});

describe('parseDuration: tbah limit of 2^53-1 ns (Go accepts these)', () => {
  for (const input of ['9007199254740992ns', '2502h', '2562047h', '9223372036854775807ns', '-9223372036854775808ns']) {
    it(JSON.stringify(input), () => rejects(input, /too long/));
  }
  it('the largest safe value still parses, negative too', () => {
    assert.equal(parseDuration('-9007199254740991ns'), -Number.MAX_SAFE_INTEGER);
  });
});

describe('parseDuration: error names the flag', () => {
  it('uses the given name', () => rejects('10', /missing unit/, '--healthcheck-interval'));
});
