/**
 * Parse `WWW-Authenticate` (RFC 7235 §4.1): one header may carry several
 * challenges, e.g. `Basic realm="x", Bearer realm="https://a/token",service="a"`.
 * A comma separates both parameters and challenges; what follows decides:
 * `name=` continues the parameters, a bare token starts a new challenge.
 */

export interface AuthChallenge {
  /** Lower-cased scheme: `basic`, `bearer`, ... */
  scheme: string;
  /** Parameters with lower-cased names; quoted values are unescaped. */
  params: Record<string, string>;
  /** A token68 credential-style value (`Negotiate abc==`), if present instead of params. */
  token68?: string;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

class Cursor {
  pos = 0;
  constructor(readonly s: string) {}
  get done(): boolean {
    return this.pos >= this.s.length;
  }
  peek(): string {
    return this.s[this.pos] ?? '';
  }
  skipWs(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }
  /** Skip whitespace and commas (empty list elements are allowed by RFC 7230 §7). */
  skipSeparators(): void {
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === ',') this.pos++;
  }
  token(): string {
    const start = this.pos;
    while (!this.done && TCHAR.test(this.peek())) this.pos++;
    return this.s.slice(start, this.pos);
  }
  /** A quoted-string; the cursor is on the opening quote. Unterminated → rest of the header. */
  quoted(): string {
    this.pos++;
    let out = '';
    while (!this.done) {
      const c = this.s[this.pos++]!;
      if (c === '"') return out;
      if (c === '\\' && !this.done) out += this.s[this.pos++]!;
      else out += c;
    }
    return out;
  }
}

/** Parse every challenge in a `WWW-Authenticate` value. Never throws; junk is skipped. */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const c = new Cursor(header);
  const out: AuthChallenge[] = [];
  let current: AuthChallenge | undefined;
  while (true) {
    c.skipSeparators();
    if (c.done) break;
    const name = c.token();
    if (name === '') {
      c.pos++; // not a token character: skip it rather than loop forever
      continue;
    }
    c.skipWs();
    if (c.peek() === '=' && current !== undefined) {
      // After a comma, `name=` is always an auth-param (a token68 only follows the scheme).
      c.pos++;
      c.skipWs();
      const value = c.peek() === '"' ? c.quoted() : c.token();
      current.params[name.toLowerCase()] = value;
      continue;
    }
    // A new challenge: scheme, then optionally a token68 or the first param.
    current = { scheme: name.toLowerCase(), params: {} };
    out.push(current);
    const afterScheme = c.pos;
    const t = c.token();
    if (t === '') continue;
    c.skipWs();
    if (c.peek() === '=') {
      const rest = c.s.slice(c.pos);
      const padding = /^=+\s*(,|$)/.exec(rest);
      if (padding === null) {
        // First auth-param: rewind so the loop reads it as name=value.
        c.pos = afterScheme;
        continue;
      }
      const eqs = /^=+/.exec(rest)![0];
      current.token68 = t + eqs;
      c.pos += eqs.length;
      continue;
    }
    // token68 may contain characters outside tchar ('/', '+' is a tchar; '/' is not).
    while (!c.done && /[A-Za-z0-9\-._~+/=]/.test(c.peek())) c.pos++;
    current.token68 = c.s.slice(afterScheme, c.pos).trim();
  }
  return out;
}

/** The first challenge with the given scheme (case-insensitive), if any. */
export function findChallenge(challenges: AuthChallenge[], scheme: string): AuthChallenge | undefined {
  const s = scheme.toLowerCase();
  return challenges.find((ch) => ch.scheme === s);
}
