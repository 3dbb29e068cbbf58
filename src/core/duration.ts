/**
 * Go's `time.ParseDuration`, which Buildah uses for `--healthcheck-*` flags:
 * `[-+]?([0-9]*(\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h))+`, or a bare `0`.
 * Ported step by step, float64 fraction arithmetic included, so results match
 * Go to the nanosecond.
 *
 * One limit Go does not have: the result must be a safe JS integer
 * (|d| ≤ 2^53−1 ns, about 104 days), because image configs store it as a JSON
 * number and a rounded value would no longer be the duration that was asked for.
 */
import { TbahError } from './errors.js';

const UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['\u00b5s', 1_000n], // µ MICRO SIGN
  ['\u03bcs', 1_000n], // μ GREEK SMALL LETTER MU
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

const LIMIT = 1n << 63n; // Go's Duration is an int64

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * Parse a Go duration string into nanoseconds.
 * @param what names the input in error messages, e.g. `--healthcheck-interval`.
 */
export function parseDuration(s: string, what = 'duration'): number {
  const fail = (why: string): never => {
    throw new TbahError('invalid-argument', `${what} ${JSON.stringify(s)}: ${why}`, {
      hint: 'use a Go duration such as 30s, 1m30s, 500ms or 1h (units: ns, us, ms, s, m, h)',
    });
  };
  let rest = s;
  let neg = false;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    neg = rest[0] === '-';
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') fail('invalid duration');

  let total = 0n;
  while (rest !== '') {
    if (!(rest[0] === '.' || isDigit(rest[0]))) fail('invalid duration');

    // Integer part: overflow is an error, as in Go's leadingInt.
    let i = 0;
    let v = 0n;
    for (; isDigit(rest[i]); i++) {
      if (v > LIMIT / 10n) fail('invalid duration (out of range)');
      v = v * 10n + BigInt(rest.charCodeAt(i) - 48);
      if (v > LIMIT) fail('invalid duration (out of range)');
    }
    const pre = i > 0;
    rest = rest.slice(i);

    // Fraction: digits past int64 precision are consumed but ignored (Go's leadingFraction).
    let f = 0n;
    let scale = 1; // float64 in Go
    let post = false;
    if (rest[0] === '.') {
      rest = rest.slice(1);
      let overflow = false;
      let j = 0;
      for (; isDigit(rest[j]); j++) {
        if (overflow) continue;
        if (f > (LIMIT - 1n) / 10n) { overflow = true; continue; }
        const y = f * 10n + BigInt(rest.charCodeAt(j) - 48);
        if (y > LIMIT) { overflow = true; continue; }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      rest = rest.slice(j);
    }
    if (!pre && !post) fail('invalid duration');

    // Unit: everything up to the next digit or '.'.
    let k = 0;
    while (k < rest.length && rest[k] !== '.' && !isDigit(rest[k])) k++;
    if (k === 0) fail('missing unit in duration');
    const u = rest.slice(0, k);
    rest = rest.slice(k);
    const unit = UNITS.get(u);
    if (unit === undefined) fail(`unknown unit ${JSON.stringify(u)} in duration`);

    if (v > LIMIT / unit!) fail('invalid duration (out of range)');
    v *= unit!;
    if (f > 0n) {
      // Go: v += uint64(float64(f) * (float64(unit) / scale)); conversion truncates.
      v += BigInt(Math.trunc(Number(f) * (Number(unit!) / scale)));
      if (v > LIMIT) fail('invalid duration (out of range)');
    }
    total += v;
    if (total > LIMIT) fail('invalid duration (out of range)');
  }
  if (!neg && total > LIMIT - 1n) fail('invalid duration (out of range)');
  if (total > BigInt(Number.MAX_SAFE_INTEGER)) fail('duration too long (more than 2^53 nanoseconds, about 104 days)');
  return neg && total !== 0n ? -Number(total) : Number(total);
}
