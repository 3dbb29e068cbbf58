/**
 * Go values as Buildah's templates see them: a JSON value plus the Go type it
 * was marshalled from, so that a field absent from the JSON still has its Go
 * zero value (`[]`, `map[]`, `0s`, `{}`) and prints as Go's fmt prints it
 * (`%v`: structs positionally, maps sorted, durations as `5s`, times as
 * `2006-01-02 15:04:05.999999999 -0700 MST`). Also Sprintf and encoding/json.
 */

export type GoType =
  | { k: 'string'; name?: string }
  | { k: 'int'; name?: string }
  | { k: 'float' }
  | { k: 'bool' }
  | { k: 'duration' }
  | { k: 'time' }
  | { k: 'slice'; elem: GoType; name?: string }
  | { k: 'map'; elem: GoType; name?: string }
  | { k: 'struct'; name: string; fields: GoField[] }
  | { k: 'ptr'; elem: GoType }
  /** interface{}: the type comes from the JSON value. */
  | { k: 'any' }
  /** No value at all (a missing map key): prints `<no value>`. */
  | { k: 'invalid' };

export interface GoField {
  /** The Go field name, as templates write it. */
  name: string;
  type: GoType;
  /** The JSON key (default: the Go name); '-' means never in JSON. */
  json?: string;
  omitempty?: boolean;
  /** An embedded struct: its fields are promoted and live at the same JSON level. */
  embedded?: boolean;
}

/** A value: `v` is the JSON representation; undefined or null is the zero value (nil for slices, maps, pointers, interfaces). */
export interface GoValue {
  t: GoType;
  v: unknown;
}

export const STRING: GoType = { k: 'string' };
export const INT: GoType = { k: 'int' };
export const BOOL: GoType = { k: 'bool' };
export const FLOAT: GoType = { k: 'float' };
export const ANY: GoType = { k: 'any' };
export const INVALID: GoValue = { t: { k: 'invalid' }, v: undefined };

export const val = (t: GoType, v: unknown): GoValue => ({ t, v });

/** The Go type of a JSON value held in an interface{}. Whole numbers are taken as ints (tbah-only fields count things). */
export function dynamicType(v: unknown): GoType {
  if (typeof v === 'string') return STRING;
  if (typeof v === 'number') return Number.isInteger(v) ? INT : FLOAT;
  if (typeof v === 'boolean') return BOOL;
  if (Array.isArray(v)) return { k: 'slice', elem: ANY };
  if (v !== null && typeof v === 'object') return { k: 'map', elem: ANY };
  return { k: 'invalid' };
}

/** Look through interfaces: the concrete value (an invalid one for nil). */
export function concrete(x: GoValue): GoValue {
  if (x.t.k !== 'any') return x;
  if (x.v === undefined || x.v === null) return INVALID;
  return val(dynamicType(x.v), x.v);
}

export function typeName(t: GoType): string {
  switch (t.k) {
    case 'string': return t.name ?? 'string';
    case 'int': return t.name ?? 'int';
    case 'float': return 'float64';
    case 'bool': return 'bool';
    case 'duration': return 'time.Duration';
    case 'time': return 'time.Time';
    case 'slice': return t.name ?? `[]${typeName(t.elem)}`;
    case 'map': return t.name ?? `map[string]${typeName(t.elem)}`;
    case 'struct': return t.name;
    case 'ptr': return `*${typeName(t.elem)}`;
    case 'any': return 'interface {}';
    case 'invalid': return '<nil>';
  }
}

/** The JSON object behind a struct value (a zero struct reads as an empty object). */
function structObject(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

const jsonKey = (f: GoField): string => f.json ?? f.name;

/** The field's value inside its struct's JSON object (an embedded struct shares the object). */
export function fieldValue(f: GoField, obj: Record<string, unknown>): GoValue {
  if (f.embedded) return val(f.type, obj);
  if (f.json === '-') return val(f.type, undefined);
  return val(f.type, obj[jsonKey(f)]);
}

export function structFields(x: GoValue): { field: GoField; value: GoValue }[] {
  if (x.t.k !== 'struct') return [];
  const obj = structObject(x.v);
  return x.t.fields.map((field) => ({ field, value: fieldValue(field, obj) }));
}

/** Go's field lookup: the struct's own fields first, then those of embedded structs (promoted). */
export function findField(t: GoType & { k: 'struct' }, name: string): GoField[] | undefined {
  const own = t.fields.find((f) => f.name === name);
  if (own) return [own];
  for (const f of t.fields) {
    if (f.embedded && f.type.k === 'struct') {
      const sub = findField(f.type, name);
      if (sub) return [f, ...sub];
    }
  }
  return undefined;
}

export function isNil(x: GoValue): boolean {
  return x.t.k === 'invalid' || ((x.t.k === 'ptr' || x.t.k === 'slice' || x.t.k === 'map' || x.t.k === 'any') && (x.v === undefined || x.v === null));
}

/** text/template's truth: false for zero values (nil, 0, "", empty slices and maps), true for any struct. */
export function isTrue(x0: GoValue): boolean {
  const x = concrete(x0);
  switch (x.t.k) {
    case 'invalid': return false;
    case 'bool': return x.v === true;
    case 'string': return typeof x.v === 'string' && x.v.length > 0;
    case 'int': case 'float': case 'duration': return typeof x.v === 'number' && x.v !== 0;
    case 'slice': return Array.isArray(x.v) && x.v.length > 0;
    case 'map': return Object.keys(structObject(x.v)).length > 0;
    case 'ptr': return x.v !== undefined && x.v !== null;
    case 'time': case 'struct': return true;
    case 'any': return false;
  }
}

// ---- scalars as Go prints them ----

/** time.Time.String() of an RFC 3339 time as encoding/json wrote it. */
export function goTime(v: unknown): string {
  if (typeof v !== 'string' || v === '') return '0001-01-01 00:00:00 +0000 UTC';
  const m = /^(\d{4,}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|z|[+-]\d\d:\d\d)$/.exec(v);
  if (!m) return v;
  const frac = m[3] ? m[3].replace(/0+$/, '') : '';
  const zone = m[4]!.toUpperCase() === 'Z' ? '+0000 UTC' : `${m[4]!.replace(':', '')} ${m[4]!.replace(':', '')}`;
  return `${m[1]} ${m[2]}${frac ? `.${frac}` : ''} ${zone}`;
}

/** time.Duration.String(). */
export function goDuration(ns0: unknown): string {
  const ns = typeof ns0 === 'number' ? Math.trunc(ns0) : 0;
  if (ns === 0) return '0s';
  const neg = ns < 0;
  const u = Math.abs(ns);
  const trim = (s: string): string => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  const fixed = (n: number, div: number): string => trim(`${Math.floor(n / div)}.${String(n % div).padStart(String(div).length - 1, '0')}`);
  let s: string;
  if (u < 1e3) s = `${u}ns`;
  else if (u < 1e6) s = `${fixed(u, 1e3)}µs`;
  else if (u < 1e9) s = `${fixed(u, 1e6)}ms`;
  else {
    const h = Math.floor(u / 3600e9);
    const m = Math.floor((u % 3600e9) / 60e9);
    const sec = fixed(u % 60e9, 1e9);
    s = h > 0 ? `${h}h${m}m${sec}s` : m > 0 ? `${m}m${sec}s` : `${sec}s`;
  }
  return neg ? `-${s}` : s;
}

/** Shortest decimal digits and the exponent of a finite float, as strconv finds them. */
function floatDigits(f: number): { digits: string; exp: number } {
  const [mant, e] = Math.abs(f).toExponential().split('e') as [string, string];
  return { digits: mant.replace('.', ''), exp: Number(e) };
}

function expForm(neg: boolean, digits: string, exp: number): string {
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp);
  return `${neg ? '-' : ''}${m}e${exp < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`;
}

/** %v of a float64: strconv 'g' with the shortest digits (%e below exponent -4 and from 6 on: 1e+06). */
export function goFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const { digits, exp } = floatDigits(f);
  // strconv: "if precision was the shortest possible, use precision 6 for this decision".
  if (exp < -4 || exp >= 6) return expForm(f < 0, digits, exp);
  return String(f);
}

/** strconv.Quote: Go escapes, printable Unicode kept as is. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c >= 0x80 && c < 0xa0) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else if (c === 0xfffd && ch !== '\ufffd') out += '\\ufffd';
    else out += ch;
  }
  return `${out}"`;
}

// ---- %v ----

export const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
export const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** time.Month and time.Weekday are ints with a String method. */
function stringer(x: GoValue): string | undefined {
  if (x.t.k !== 'int' || typeof x.v !== 'number') return undefined;
  if (x.t.name === 'time.Month') return MONTHS[x.v - 1] ?? `%!Month(${x.v})`;
  if (x.t.name === 'time.Weekday') return DAYS[x.v] ?? `%!Weekday(${x.v})`;
  return undefined;
}

/** A fake but Go-shaped address for a pointer fmt would print as one (never meaningful, never varies). */
const ADDRESS = '0xc000010000';

/** fmt's %v (`plus`: %+v) of a value at `depth` (0 = the operand itself). */
export function formatValue(x: GoValue, depth = 0, plus = false): string {
  switch (x.t.k) {
    case 'invalid': return '<nil>';
    case 'string': return typeof x.v === 'string' ? x.v : '';
    case 'int': return stringer(x) ?? (typeof x.v === 'number' ? String(Math.trunc(x.v)) : '0');
    case 'float': return goFloat(typeof x.v === 'number' ? x.v : 0);
    case 'bool': return x.v === true ? 'true' : 'false';
    case 'duration': return goDuration(x.v);
    case 'time': return goTime(x.v);
    case 'slice': {
      const a = Array.isArray(x.v) ? x.v : [];
      const elem = x.t.elem;
      return `[${a.map((e) => formatValue(val(elem, e), depth + 1, plus)).join(' ')}]`;
    }
    case 'map': {
      const o = structObject(x.v);
      const elem = x.t.elem;
      return `map[${Object.keys(o).sort(compareKeys).map((k) => `${k}:${formatValue(val(elem, o[k]), depth + 1, plus)}`).join(' ')}]`;
    }
    case 'struct':
      return `{${structFields(x).map(({ field, value }) => (plus ? `${field.name}:` : '') + formatValue(value, depth + 1, plus)).join(' ')}}`;
    case 'ptr': {
      if (x.v === undefined || x.v === null) return '<nil>';
      const e = x.t.elem;
      // A Stringer (time.Time) prints through its method; other pointers print &{…} at top level, an address inside.
      if (e.k === 'time' || e.k === 'duration') return formatValue(val(e, x.v), depth + 1, plus);
      if (depth === 0 && (e.k === 'struct' || e.k === 'slice' || e.k === 'map')) return `&${formatValue(val(e, x.v), depth + 1, plus)}`;
      return ADDRESS;
    }
    case 'any': {
      const c = concrete(x);
      return c.t.k === 'invalid' ? '<nil>' : formatValue(c, depth, plus);
    }
  }
}

/** fmt sorts map keys (strings here) by byte order. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

// ---- Sprintf ----

export class FormatUnsupported extends Error {}

interface Spec { minus: boolean; plus: boolean; sharp: boolean; space: boolean; zero: boolean; width?: number; prec?: number }

function pad(s: string, sp: Spec, numeric = false): string {
  if (sp.width === undefined || [...s].length >= sp.width) return s;
  const n = sp.width - [...s].length;
  if (sp.minus) return s + ' '.repeat(n);
  if (sp.zero && numeric) {
    const sign = /^[+-]/.test(s) ? s[0]! : '';
    return sign + '0'.repeat(n) + s.slice(sign.length);
  }
  return (sp.zero && !numeric ? '0' : ' ').repeat(n) + s;
}

/** `%!verb(type=value)`: what Go prints for a verb that does not fit the operand. */
const badVerb = (verb: string, x: GoValue): string => (x.t.k === 'invalid' ? `%!${verb}(<nil>)` : `%!${verb}(${typeName(x.t)}=${formatValue(x)})`);

function fmtInt(n: number, verb: string, sp: Spec): string {
  let digits: string;
  const a = Math.abs(Math.trunc(n));
  switch (verb) {
    case 'd': case 'v': digits = String(a); break;
    case 'x': digits = a.toString(16); if (sp.sharp) digits = `0x${digits}`; break;
    case 'X': digits = a.toString(16).toUpperCase(); if (sp.sharp) digits = `0X${digits}`; break;
    case 'o': digits = a.toString(8); if (sp.sharp) digits = `0${digits}`; break;
    case 'b': digits = a.toString(2); break;
    default: throw new Error('unreachable');
  }
  if (sp.prec !== undefined) digits = digits.padStart(sp.prec, '0');
  const sign = n < 0 ? '-' : sp.plus ? '+' : sp.space ? ' ' : '';
  return pad(sign + digits, sp, sp.prec === undefined);
}

function fmtFloat(f: number, verb: string, sp: Spec): string {
  let s: string;
  const p = sp.prec;
  switch (verb) {
    case 'f': case 'F': s = Math.abs(f).toFixed(p ?? 6); break;
    case 'e': case 'E': {
      const { digits, exp } = p === undefined ? floatDigits(Number(Math.abs(f).toExponential(6))) : floatDigits(Number(Math.abs(f).toExponential(p)));
      const want = (p ?? 6) + 1;
      s = expForm(false, digits.padEnd(want, '0'), exp);
      if (verb === 'E') s = s.toUpperCase();
      break;
    }
    case 'g': case 'G': case 'v': {
      if (p === undefined) s = goFloat(Math.abs(f));
      else {
        const { digits, exp } = floatDigits(Number(Math.abs(f).toPrecision(Math.max(p, 1))));
        s = exp < -4 || exp >= Math.max(p, 1) ? expForm(false, digits, exp) : String(Number(Math.abs(f).toPrecision(Math.max(p, 1))));
      }
      if (verb === 'G') s = s.toUpperCase();
      break;
    }
    default: throw new Error('unreachable');
  }
  const sign = f < 0 || Object.is(f, -0) ? '-' : sp.plus ? '+' : sp.space ? ' ' : '';
  return pad(sign + s, sp, true);
}

/** One operand under one verb. */
function fmtOne(x0: GoValue, verb: string, sp: Spec, depth: number): string {
  const x = x0.t.k === 'any' ? concrete(x0) : x0;
  const k = x.t.k;
  if (verb === 'T') return pad(x.t.k === 'invalid' ? '<nil>' : typeName(x.t), sp);
  const named = stringer(x);
  if (named !== undefined && (verb === 'v' || verb === 's' || verb === 'q')) return fmtOne(val(STRING, named), verb, sp, depth);
  if (verb === 'v') {
    if (k === 'int') return fmtInt(typeof x.v === 'number' ? x.v : 0, 'd', sp);
    if (k === 'float') return sp.prec === undefined && !sp.plus && sp.width === undefined ? formatValue(x, depth) : fmtFloat(typeof x.v === 'number' ? x.v : 0, 'g', sp);
    return pad(formatValue(x, depth, sp.plus), sp);
  }
  // Slices and maps apply the verb to each element, as fmt does.
  if (k === 'slice') {
    const a = Array.isArray(x.v) ? x.v : [];
    if ((verb === 's' || verb === 'q' || verb === 'x' || verb === 'X') && x.t.elem.k === 'int' && x.t.name === '[]byte') {
      return fmtOne(val(STRING, Buffer.from(a as number[]).toString('latin1')), verb, sp, depth);
    }
    const elem = x.t.elem;
    return pad(`[${a.map((e) => fmtOne(val(elem, e), verb, { ...sp, width: undefined }, depth + 1)).join(' ')}]`, sp);
  }
  if (k === 'map') {
    const o = structObject(x.v);
    const elem = x.t.elem;
    return pad(`map[${Object.keys(o).sort(compareKeys).map((key) => `${fmtOne(val(STRING, key), verb, {} as Spec, depth + 1)}:${fmtOne(val(elem, o[key]), verb, {} as Spec, depth + 1)}`).join(' ')}]`, sp);
  }
  if (k === 'struct') {
    return pad(`{${structFields(x).map(({ field, value }) => (sp.plus ? `${field.name}:` : '') + fmtOne(value, verb, { ...sp, width: undefined }, depth + 1)).join(' ')}}`, sp);
  }
  if (k === 'ptr' && x.v !== undefined && x.v !== null && (x.t.elem.k === 'time' || x.t.elem.k === 'duration')) return fmtOne(val(x.t.elem, x.v), verb, sp, depth);
  switch (verb) {
    case 's': {
      if (k === 'string' || k === 'time' || k === 'duration') {
        let s = formatValue(x);
        if (sp.prec !== undefined) s = [...s].slice(0, sp.prec).join('');
        return pad(s, sp);
      }
      if (k === 'invalid') return pad('%!s(<nil>)', sp);
      return badVerb('s', x);
    }
    case 'q': {
      if (k === 'string' || k === 'time' || k === 'duration') {
        let s = formatValue(x);
        if (sp.prec !== undefined) s = [...s].slice(0, sp.prec).join('');
        return pad(sp.sharp && !/[`\n\r]/.test(s) ? `\`${s}\`` : goQuote(s), sp);
      }
      if (k === 'int') {
        const c = typeof x.v === 'number' ? x.v : 0;
        const ch = String.fromCodePoint(c);
        return pad(ch === "'" ? "'\\''" : `'${goQuote(ch).slice(1, -1).replace(/\\"/g, '"')}'`, sp);
      }
      return badVerb('q', x);
    }
    case 'd': case 'o': case 'b':
      if (k === 'int') return fmtInt(typeof x.v === 'number' ? x.v : 0, verb, sp);
      if (k === 'duration') return fmtInt(typeof x.v === 'number' ? x.v : 0, verb, sp);
      return badVerb(verb, x);
    case 'x': case 'X':
      if (k === 'int' || k === 'duration') return fmtInt(typeof x.v === 'number' ? x.v : 0, verb, sp);
      if (k === 'string') {
        const hex = Buffer.from(typeof x.v === 'string' ? x.v : '', 'utf8').toString('hex');
        return pad(verb === 'X' ? hex.toUpperCase() : hex, sp);
      }
      if (k === 'float') return badVerb(verb, x);
      return badVerb(verb, x);
    case 'c':
      if (k === 'int') return pad(String.fromCodePoint(typeof x.v === 'number' ? x.v : 0), sp);
      return badVerb('c', x);
    case 'U':
      if (k === 'int') return pad(`U+${(typeof x.v === 'number' ? x.v : 0).toString(16).toUpperCase().padStart(4, '0')}`, sp);
      return badVerb('U', x);
    case 't':
      if (k === 'bool') return pad(x.v === true ? 'true' : 'false', sp);
      return badVerb('t', x);
    case 'e': case 'E': case 'f': case 'F': case 'g': case 'G':
      if (k === 'float') return fmtFloat(typeof x.v === 'number' ? x.v : 0, verb, sp);
      return badVerb(verb, x);
    default:
      return badVerb(verb, x);
  }
}

/** fmt.Sprintf over Go values. `%#v` and `*` widths are refused (FormatUnsupported) rather than guessed. */
export function sprintf(format: string, args: GoValue[]): string {
  let out = '';
  let argi = 0;
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c !== '%') { out += c; continue; }
    i++;
    if (i >= format.length) { out += '%!(NOVERB)'; break; }
    if (format[i] === '%') { out += '%'; continue; }
    const sp: Spec = { minus: false, plus: false, sharp: false, space: false, zero: false };
    for (; i < format.length; i++) {
      const f = format[i];
      if (f === '-') { sp.minus = true; sp.zero = false; } else if (f === '+') sp.plus = true;
      else if (f === '#') sp.sharp = true;
      else if (f === ' ') sp.space = true;
      else if (f === '0') sp.zero = !sp.minus;
      else break;
    }
    if (format[i] === '*' || format[i] === '[') throw new FormatUnsupported(`printf: ${format[i] === '*' ? '"*" widths' : 'explicit argument indexes'} are not supported by tbah`);
    let w = '';
    while (i < format.length && /\d/.test(format[i]!)) w += format[i++];
    if (w) sp.width = Number(w);
    if (format[i] === '.') {
      i++;
      if (format[i] === '*') throw new FormatUnsupported('printf: "*" precisions are not supported by tbah');
      let p = '';
      while (i < format.length && /\d/.test(format[i]!)) p += format[i++];
      sp.prec = p ? Number(p) : 0;
    }
    const verb = format[i];
    if (verb === undefined) { out += '%!(NOVERB)'; break; }
    if (verb === 'v' && sp.sharp) throw new FormatUnsupported('printf: %#v (Go syntax) is not supported by tbah');
    if (argi >= args.length) { out += `%!${verb}(MISSING)`; continue; }
    out += fmtOne(args[argi++]!, verb, sp, 0);
  }
  if (argi < args.length) {
    out += `%!(EXTRA ${args.slice(argi).map((a) => (a.t.k === 'invalid' ? '<nil>' : `${typeName(concrete(a).t)}=${formatValue(a)}`)).join(', ')})`;
  }
  return out;
}

/** fmt.Sprint: operands in %v, a space between two operands when neither is a string. */
export function sprint(args: GoValue[]): string {
  let out = '';
  args.forEach((a, i) => {
    const isStr = (x: GoValue): boolean => concrete(x).t.k === 'string';
    if (i > 0 && !isStr(a) && !isStr(args[i - 1]!)) out += ' ';
    out += formatValue(a, 0);
  });
  return out;
}

export function sprintln(args: GoValue[]): string {
  return `${args.map((a) => formatValue(a, 0)).join(' ')}\n`;
}

// ---- encoding/json (with SetEscapeHTML(false), as Buildah's `json` template function) ----

function jsonString(s: string): string {
  // Go escapes control characters (\n \r \t by name, others as \u00XX) and U+2028/U+2029; not <, >, & here.
  return `"${s.replace(/[\\"\u0000-\u001f\u2028\u2029]/g, (c) => {
    if (c === '"' || c === '\\') return `\\${c}`;
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  })}"`;
}

function isEmptyForJson(x: GoValue): boolean {
  const v = x.v;
  switch (x.t.k) {
    case 'string': return typeof v !== 'string' || v === '';
    case 'int': case 'float': case 'duration': return typeof v !== 'number' || v === 0;
    case 'bool': return v !== true;
    case 'slice': return !Array.isArray(v) || v.length === 0;
    case 'map': return Object.keys(structObject(v)).length === 0;
    case 'ptr': case 'any': case 'invalid': return v === undefined || v === null;
    default: return false; // structs (and time.Time) are never empty
  }
}

function marshalFields(t: GoType & { k: 'struct' }, obj: Record<string, unknown>, out: string[]): void {
  for (const f of t.fields) {
    if (f.json === '-') continue;
    const x = fieldValue(f, obj);
    if (f.embedded && f.type.k === 'struct') { marshalFields(f.type, obj, out); continue; }
    if (f.omitempty && isEmptyForJson(x)) continue;
    const key = jsonKey(f);
    if (out.some((e) => e.startsWith(`${jsonString(key)}:`))) continue; // the shallower field won
    out.push(`${jsonString(key)}:${marshal(x)}`);
  }
}

export function marshal(x: GoValue): string {
  const v = x.v;
  switch (x.t.k) {
    case 'invalid': return 'null';
    case 'string': return jsonString(typeof v === 'string' ? v : '');
    case 'int': case 'duration': return String(typeof v === 'number' ? Math.trunc(v) : 0);
    case 'float': return typeof v === 'number' ? JSON.stringify(v) : '0';
    case 'bool': return v === true ? 'true' : 'false';
    case 'time': return jsonString(typeof v === 'string' && v !== '' ? v : '0001-01-01T00:00:00Z');
    case 'slice': return Array.isArray(v) ? `[${v.map((e) => marshal(val((x.t as { elem: GoType }).elem, e))).join(',')}]` : 'null';
    case 'map': {
      if (v === undefined || v === null) return 'null';
      const o = structObject(v);
      const elem = x.t.elem;
      return `{${Object.keys(o).sort(compareKeys).map((k) => `${jsonString(k)}:${marshal(val(elem, o[k]))}`).join(',')}}`;
    }
    case 'struct': {
      const out: string[] = [];
      marshalFields(x.t, structObject(v), out);
      return `{${out.join(',')}}`;
    }
    case 'ptr': return v === undefined || v === null ? 'null' : marshal(val(x.t.elem, v));
    case 'any': {
      const c = concrete(x);
      return c.t.k === 'invalid' ? 'null' : c.t.k === 'int' ? JSON.stringify(v) : marshal(c);
    }
  }
}
