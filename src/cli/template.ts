/**
 * Go templates for `--format` (inspect, images, containers, info, version),
 * evaluated as Go's text/template evaluates them over Buildah's Go structs:
 * the data is JSON plus a Go type (go-schemas.ts), so absent fields print
 * their zero values and everything prints as Go's fmt does (go-fmt.ts).
 *
 * Functions: text/template's builtins (and, or, not, len, index, slice, print,
 * printf, println, eq, ne, lt, le, gt, ge, html, js, urlquery) and those of
 * Buildah's formats package (json, split, join, title, lower, upper, pad,
 * truncate). Not supported, refused with an error naming them: named
 * templates (define, template, block), `call`, method calls (e.g.
 * `.Created.Unix`), `%#v` and `*` widths in printf.
 */
import { TbahError } from '../core/errors.js';
import {
  ANY, BOOL, FLOAT, FormatUnsupported, type GoType, type GoValue, INT, INVALID, STRING, concrete, findField, fieldValue,
  formatValue, isTrue, marshal, sprint, sprintf, sprintln, typeName, val,
} from './go-fmt.js';
import { goMethod } from './go-methods.js';
import {
  type Arg, type Cmd, type Node, type Pipe, PositionedSyntaxError, TemplateSyntaxError, argString, cmdString, location, parseTemplate,
} from './template-parse.js';

export interface TemplateOptions {
  /** The template's name in error messages, as Buildah names it (`format` for inspect, `image` for lists). */
  name?: string;
  /** What to list in the hint when a field is unknown. */
  fieldsHint?: string;
}

class ExecError extends Error {
  constructor(message: string, readonly pos: number, readonly at: string) { super(message); }
}
class Break extends Error {}
class Continue extends Error {}

type Fn = (args: GoValue[], lazy: LazyArgs) => GoValue;
/** Arguments evaluated on demand (and/or short-circuit as in Go 1.18+). */
type LazyArgs = { count: number; get(i: number): GoValue };

const STRINGS: GoType = { k: 'slice', elem: STRING };

function str(x: GoValue, fn: string): string {
  const c = concrete(x);
  if (c.t.k === 'string') return typeof c.v === 'string' ? c.v : '';
  throw new Error(`wrong type for value; expected string; got ${typeName(c.t)} (in ${fn})`);
}
function int(x: GoValue, fn: string): number {
  const c = concrete(x);
  if (c.t.k === 'int') return typeof c.v === 'number' ? c.v : 0;
  throw new Error(`wrong type for value; expected int; got ${typeName(c.t)} (in ${fn})`);
}

/** Basic kinds that eq/lt compare, as text/template's basicKind. */
function basic(x: GoValue): { kind: 'bool' | 'int' | 'float' | 'string'; v: boolean | number | string } | undefined {
  const c = concrete(x);
  switch (c.t.k) {
    case 'bool': return { kind: 'bool', v: c.v === true };
    case 'int': case 'duration': return { kind: 'int', v: typeof c.v === 'number' ? c.v : 0 };
    case 'float': return { kind: 'float', v: typeof c.v === 'number' ? c.v : 0 };
    case 'string': return { kind: 'string', v: typeof c.v === 'string' ? c.v : '' };
    default: return undefined;
  }
}

function compare(a: GoValue, b: GoValue, op: 'eq' | 'lt'): boolean {
  const x = basic(a);
  const y = basic(b);
  if (x === undefined || y === undefined) {
    throw new Error(`${op === 'eq' ? 'non-comparable type' : 'invalid type for comparison'}: ${typeName(concrete(x === undefined ? a : b).t)}`);
  }
  if (x.kind !== y.kind) throw new Error('incompatible types for comparison');
  if (op === 'eq') return x.v === y.v;
  if (x.kind === 'bool') throw new Error('invalid type for comparison');
  return (x.v as number | string) < (y.v as number | string);
}

function length(x: GoValue): number {
  const c = concrete(x);
  switch (c.t.k) {
    case 'string': return Buffer.byteLength(typeof c.v === 'string' ? c.v : '');
    case 'slice': return Array.isArray(c.v) ? c.v.length : 0;
    case 'map': return c.v !== null && typeof c.v === 'object' ? Object.keys(c.v).length : 0;
    default: throw new Error(`len of type ${c.t.k === 'invalid' ? 'nil' : typeName(c.t)}`);
  }
}

/** `index X K1 K2…`: slices by int, maps by key (a missing key gives the element's zero value). */
function index(x0: GoValue, keys: GoValue[]): GoValue {
  let x = x0;
  for (const key of keys) {
    const c = concrete(x.t.k === 'ptr' ? val(x.t.elem, x.v) : x);
    if (c.t.k === 'invalid') throw new Error('index of untyped nil');
    if (c.t.k === 'slice' || c.t.k === 'string') {
      const k = concrete(key);
      if (k.t.k !== 'int') throw new Error(`cannot index slice/array with type ${typeName(k.t)}`);
      const i = typeof k.v === 'number' ? k.v : 0;
      const n = length(c);
      if (i < 0 || i >= n) throw new Error(`index out of range: ${i}`);
      x = c.t.k === 'string' ? val({ k: 'int', name: 'uint8' }, Buffer.from(c.v as string)[i]) : val(c.t.elem, (c.v as unknown[])[i]);
    } else if (c.t.k === 'map') {
      const k = concrete(key);
      if (k.t.k !== 'string') throw new Error(`value has type ${typeName(k.t)}; should be string`);
      const obj = (c.v ?? {}) as Record<string, unknown>;
      const kv = typeof k.v === 'string' ? k.v : '';
      x = val(c.t.elem, Object.prototype.hasOwnProperty.call(obj, kv) ? obj[kv] : undefined);
    } else {
      throw new Error(`can't index item of type ${typeName(c.t)}`);
    }
  }
  return x;
}

function sliceFn(x: GoValue, idx: GoValue[]): GoValue {
  const c = concrete(x);
  if (c.t.k !== 'slice' && c.t.k !== 'string') throw new Error(`can't slice item of type ${typeName(c.t)}`);
  const n = length(c);
  const [i, j] = [idx[0] ? int(idx[0], 'slice') : 0, idx[1] ? int(idx[1], 'slice') : n];
  if (idx.length > 2) throw new Error('slice: 3-index slices are not supported by tbah');
  if (i < 0 || j < i || j > n) throw new Error(`index out of range: ${j > n ? j : i}`);
  if (c.t.k === 'string') return val(c.t, Buffer.from(c.v as string).subarray(i, j).toString());
  return val(c.t, ((c.v as unknown[] | null) ?? []).slice(i, j));
}

/** strings.Title (deprecated in Go, still what Buildah calls): upper-case the first letter of each word. */
const title = (s: string): string => s.replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase());

const htmlEscape = (s: string): string => s.replace(/[<>&'"\0]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&#39;', '"': '&#34;', '\0': '\uFFFD' })[c]!);
const jsEscape = (s: string): string => s.replace(/[\\'"<>&=\n\r\t\u0000-\u001f]/g, (c) => {
  const named: Record<string, string> = { '\\': '\\\\', "'": "\\'", '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
  return named[c] ?? `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
});

function escapeArg(args: GoValue[]): string {
  // html, js, urlquery: one string argument as is, otherwise fmt.Sprint of all.
  if (args.length === 1 && concrete(args[0]!).t.k === 'string') return str(args[0]!, 'escape');
  return sprint(args);
}

const FUNCS: Record<string, Fn> = {
  and: (_a, lazy) => { let v = INVALID; for (let i = 0; i < lazy.count; i++) { v = lazy.get(i); if (!isTrue(v)) return v; } return v; },
  or: (_a, lazy) => { let v = INVALID; for (let i = 0; i < lazy.count; i++) { v = lazy.get(i); if (isTrue(v)) return v; } return v; },
  not: (a) => { if (a.length !== 1) throw new Error(`wrong number of args for not: want 1 got ${a.length}`); return val(BOOL, !isTrue(a[0]!)); },
  len: (a) => { if (a.length !== 1) throw new Error(`wrong number of args for len: want 1 got ${a.length}`); return val(INT, length(a[0]!)); },
  index: (a) => { if (a.length < 1) throw new Error('wrong number of args for index: want at least 1 got 0'); return index(a[0]!, a.slice(1)); },
  slice: (a) => { if (a.length < 1) throw new Error('wrong number of args for slice: want at least 1 got 0'); return sliceFn(a[0]!, a.slice(1)); },
  print: (a) => val(STRING, sprint(a)),
  println: (a) => val(STRING, sprintln(a)),
  printf: (a) => { if (a.length < 1) throw new Error('wrong number of args for printf: want at least 1 got 0'); return val(STRING, sprintf(str(a[0]!, 'printf'), a.slice(1))); },
  eq: (a) => { if (a.length < 2) throw new Error('missing argument for comparison'); return val(BOOL, a.slice(1).some((b) => compare(a[0]!, b, 'eq'))); },
  ne: (a) => { if (a.length !== 2) throw new Error(`wrong number of args for ne: want 2 got ${a.length}`); return val(BOOL, !compare(a[0]!, a[1]!, 'eq')); },
  lt: (a) => { if (a.length !== 2) throw new Error(`wrong number of args for lt: want 2 got ${a.length}`); return val(BOOL, compare(a[0]!, a[1]!, 'lt')); },
  le: (a) => { if (a.length !== 2) throw new Error(`wrong number of args for le: want 2 got ${a.length}`); return val(BOOL, compare(a[0]!, a[1]!, 'lt') || compare(a[0]!, a[1]!, 'eq')); },
  gt: (a) => { if (a.length !== 2) throw new Error(`wrong number of args for gt: want 2 got ${a.length}`); return val(BOOL, !compare(a[0]!, a[1]!, 'lt') && !compare(a[0]!, a[1]!, 'eq')); },
  ge: (a) => { if (a.length !== 2) throw new Error(`wrong number of args for ge: want 2 got ${a.length}`); return val(BOOL, !compare(a[0]!, a[1]!, 'lt')); },
  html: (a) => val(STRING, htmlEscape(escapeArg(a))),
  js: (a) => val(STRING, jsEscape(escapeArg(a))),
  urlquery: (a) => val(STRING, encodeURIComponent(escapeArg(a)).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)),
  json: (a) => { if (a.length !== 1) throw new Error(`wrong number of args for json: want 1 got ${a.length}`); return val(STRING, marshal(a[0]!)); },
  split: (a) => val(STRINGS, str(a[0]!, 'split').split(str(a[1]!, 'split'))),
  join: (a) => {
    const c = concrete(a[0]!);
    if (c.t.k !== 'slice' || concrete(val(c.t.elem, '')).t.k !== 'string') throw new Error(`wrong type for value; expected []string; got ${typeName(c.t)}`);
    return val(STRING, ((c.v as string[] | null) ?? []).join(str(a[1]!, 'join')));
  },
  title: (a) => val(STRING, title(str(a[0]!, 'title'))),
  lower: (a) => val(STRING, str(a[0]!, 'lower').toLowerCase()),
  upper: (a) => val(STRING, str(a[0]!, 'upper').toUpperCase()),
  pad: (a) => { const s = str(a[0]!, 'pad'); return val(STRING, s === '' ? s : ' '.repeat(int(a[1]!, 'pad')) + s + ' '.repeat(int(a[2]!, 'pad'))); },
  truncate: (a) => { const s = str(a[0]!, 'truncate'); const n = int(a[1]!, 'truncate'); return val(STRING, Buffer.byteLength(s) < n ? s : Buffer.from(s).subarray(0, n).toString()); },
  call: () => { throw new Error('call is not supported by tbah'); },
};

const fold = (k: string): string => k.replace(/[_.-]/g, '').toLowerCase();

class Exec {
  private vars: { name: string; value: GoValue }[] = [];
  private out = '';

  run(nodes: Node[], dot: GoValue): string {
    this.vars = [{ name: '$', value: dot }];
    this.walk(nodes, dot);
    return this.out;
  }

  private walk(nodes: Node[], dot: GoValue): void {
    for (const n of nodes) {
      switch (n.kind) {
        case 'text': this.out += n.text; break;
        case 'action': {
          const v = this.pipe(n.pipe, dot);
          if (n.pipe.decl.length === 0) this.out += this.printable(v);
          break;
        }
        case 'if': case 'with': {
          const mark = this.vars.length;
          const v = this.pipe(n.pipe, dot);
          if (isTrue(v)) this.walk(n.list, n.kind === 'with' ? v : dot);
          else if (n.elseList) this.walk(n.elseList, dot);
          this.vars.length = mark;
          break;
        }
        case 'range': this.range(n, dot); break;
        case 'break': throw new Break();
        case 'continue': throw new Continue();
      }
    }
  }

  private range(n: Node & { kind: 'if' | 'with' | 'range' }, dot: GoValue): void {
    const mark = this.vars.length;
    // The pipeline without its declarations; they are set per element.
    const v = concrete(this.pipe({ ...n.pipe, decl: [] }, dot));
    const items: [GoValue, GoValue][] = [];
    if (v.t.k === 'slice') {
      const elem = v.t.elem;
      ((v.v as unknown[] | null) ?? []).forEach((e, i) => items.push([val(INT, i), val(elem, e)]));
    } else if (v.t.k === 'map') {
      const elem = v.t.elem;
      const obj = (v.v ?? {}) as Record<string, unknown>;
      for (const k of Object.keys(obj).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) items.push([val(STRING, k), val(elem, obj[k])]);
    } else if (v.t.k !== 'invalid') {
      const last = n.pipe.cmds[n.pipe.cmds.length - 1]!;
      throw new ExecError(`range can't iterate over ${formatValue(v)}`, last.args[0]!.pos, argString(last.args[0]!));
    }
    if (items.length === 0) {
      this.vars.length = mark;
      if (n.elseList) this.walk(n.elseList, dot);
      return;
    }
    for (const [k, e] of items) {
      this.vars.length = mark;
      if (n.pipe.decl.length === 1) this.setVar(n.pipe.decl[0]!, e, n.pipe.assign);
      if (n.pipe.decl.length === 2) { this.setVar(n.pipe.decl[0]!, k, n.pipe.assign); this.setVar(n.pipe.decl[1]!, e, n.pipe.assign); }
      try {
        this.walk(n.list, e);
      } catch (err) {
        if (err instanceof Break) break;
        if (!(err instanceof Continue)) throw err;
      }
    }
    this.vars.length = mark;
  }

  private setVar(name: string, value: GoValue, assign: boolean): void {
    if (assign) {
      for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) { this.vars[i]!.value = value; return; }
    }
    this.vars.push({ name, value });
  }

  private getVar(name: string, pos: number): GoValue {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    throw new ExecError(`undefined variable: ${name}`, pos, name);
  }

  /** What `{{pipeline}}` writes: a missing value is `<no value>`; a pointer prints what it points to. */
  private printable(v: GoValue): string {
    const c = concrete(v);
    if (c.t.k === 'invalid') return '<no value>';
    if (c.t.k === 'ptr') return c.v === undefined || c.v === null ? '<nil>' : formatValue(val(c.t.elem, c.v));
    return formatValue(c);
  }

  private pipe(p: Pipe, dot: GoValue): GoValue {
    let v: GoValue | undefined;
    for (const c of p.cmds) v = this.command(c, dot, v);
    const result = v!;
    for (const d of p.decl) this.setVar(d, result, p.assign);
    return result;
  }

  private command(c: Cmd, dot: GoValue, final: GoValue | undefined): GoValue {
    const [first, ...rest] = c.args;
    if (first!.kind === 'ident') {
      const fn = FUNCS[first!.name]!;
      const argNodes = [...rest];
      const lazy: LazyArgs = {
        count: argNodes.length + (final ? 1 : 0),
        get: (i) => (i < argNodes.length ? this.arg(argNodes[i]!, dot) : final!),
      };
      const args = first!.name === 'and' || first!.name === 'or' ? [] : [...argNodes.map((a) => this.arg(a, dot)), ...(final ? [final] : [])];
      try {
        return fn(args, lazy);
      } catch (err) {
        if (err instanceof ExecError || err instanceof Break || err instanceof Continue) throw err;
        if (err instanceof FormatUnsupported) throw new ExecError(err.message, c.pos, cmdString(c));
        throw new ExecError(`error calling ${first!.name}: ${(err as Error).message}`, c.pos, cmdString(c));
      }
    }
    if (rest.length > 0 || final !== undefined) {
      // Arguments go to a method: the last name of a field chain (`.Created.Format "2006"`).
      const names = first!.kind === 'field' || first!.kind === 'var' || first!.kind === 'pipe' ? first!.names : [];
      if (names.length === 0) throw new ExecError(`can't give argument to non-function ${argString(first!)}`, first!.pos, argString(first!));
      const recv = this.fields(first!.kind === 'field' ? dot : first!.kind === 'var' ? this.getVar(first!.name, first!.pos) : this.arg({ ...first!, names: [] } as Arg, dot),
        names.slice(0, -1), first!.pos, argString(first!));
      const args = [...rest.map((a) => this.arg(a, dot)), ...(final ? [final] : [])];
      return this.method(recv, names[names.length - 1]!, args, first!.pos, argString(first!));
    }
    if (first!.kind === 'nil') throw new ExecError('nil is not a command', first!.pos, 'nil');
    return this.arg(first!, dot);
  }

  /** A method of time.Time or time.Duration (the values Buildah's structs hold that templates call). */
  private method(recv0: GoValue, name: string, args: GoValue[], pos: number, at: string): GoValue {
    let recv = concrete(recv0);
    if (recv.t.k === 'ptr') {
      if (recv.v === undefined || recv.v === null) throw new ExecError(`nil pointer evaluating ${typeName(recv.t)}.${name}`, pos, at);
      recv = val(recv.t.elem, recv.v);
    }
    if (recv.t.k === 'time' || recv.t.k === 'duration') {
      try {
        const r = goMethod(recv, name, args);
        if (r !== undefined) return r;
      } catch (err) {
        throw new ExecError(`error calling ${name}: ${(err as Error).message}`, pos, at);
      }
      throw new ExecError(`method ${name} of ${typeName(recv.t)} is not supported by tbah`, pos, at);
    }
    if (args.length > 0) throw new ExecError(`${at} is a field, not a method: it takes no arguments`, pos, at);
    return this.field(recv, name, pos, at);
  }

  private arg(a: Arg, dot: GoValue): GoValue {
    switch (a.kind) {
      case 'dot': return dot;
      case 'field': return this.fields(dot, a.names, a.pos, argString(a));
      case 'var': return this.fields(this.getVar(a.name, a.pos), a.names, a.pos, argString(a));
      case 'pipe': {
        const mark = this.vars.length;
        const v = this.pipe(a.pipe, dot);
        if (a.pipe.decl.length === 0) this.vars.length = mark;
        return this.fields(v, a.names, a.pos, argString(a));
      }
      case 'string': return val(STRING, a.value);
      case 'number': return a.isInt ? val(INT, a.value) : val(FLOAT, a.value);
      case 'bool': return val(BOOL, a.value);
      case 'nil': return val(ANY, null); // an untyped nil argument (a nil interface)
      case 'ident': {
        const fn = FUNCS[a.name]!;
        try {
          return fn([], { count: 0, get: () => INVALID });
        } catch (err) {
          throw new ExecError(`error calling ${a.name}: ${(err as Error).message}`, a.pos, a.name);
        }
      }
    }
  }

  /** `.A.B.C` from a receiver, as text/template's evalField (methods of times and durations too). */
  private fields(recv0: GoValue, names: string[], pos: number, at: string): GoValue {
    let recv = recv0;
    for (const name of names) recv = this.method(recv, name, [], pos, at);
    return recv;
  }

  private field(recv0: GoValue, name: string, pos: number, path: string): GoValue {
    let recv = concrete(recv0);
    if (recv.t.k === 'invalid') return INVALID; // a field of nothing is nothing, as Go
    if (recv.t.k === 'ptr') {
      if (recv.v === undefined || recv.v === null) throw new ExecError(`nil pointer evaluating ${typeName(recv.t)}.${name}`, pos, path);
      recv = val(recv.t.elem, recv.v);
    }
    if (recv.t.k === 'struct') {
      const t = recv.t;
      const chain = findField(t, name)
        // tbah also takes the JSON key or another spelling (.OCIv1.config, .RootFS.diff_ids).
        ?? findField(t, t.fields.find((f) => f.json === name)?.name ?? '\0')
        ?? findField(t, allFields(t).find((f) => fold(f.name) === fold(name) || fold(f.json ?? '') === fold(name))?.name ?? '\0');
      const obj = recv.v !== null && typeof recv.v === 'object' ? (recv.v as Record<string, unknown>) : {};
      if (chain !== undefined) {
        let v = recv;
        for (const f of chain) v = fieldValue(f, v.v !== null && typeof v.v === 'object' ? (v.v as Record<string, unknown>) : {});
        return v;
      }
      // Keys tbah adds beyond Buildah's struct (inspect's Layers, Format, …) are plain JSON.
      const extra = name in obj ? name : Object.keys(obj).find((k) => fold(k) === fold(name));
      if (extra !== undefined) return val(ANY, obj[extra]);
      throw new ExecError(`can't evaluate field ${name} in type ${typeName(t)}`, pos, path);
    }
    if (recv.t.k === 'map') {
      const obj = (recv.v ?? {}) as Record<string, unknown>;
      return Object.prototype.hasOwnProperty.call(obj, name) ? val(recv.t.elem, obj[name]) : INVALID;
    }
    throw new ExecError(`can't evaluate field ${name} in type ${typeName(recv.t)}`, pos, path);
  }
}

function allFields(t: GoType & { k: 'struct' }): { name: string; json?: string }[] {
  return t.fields.flatMap((f) => (f.embedded && f.type.k === 'struct' ? allFields(f.type) : [f]));
}

/** The fields a struct type offers, for hints (`.ID .Name …`). */
export function fieldList(t: GoType): string {
  return t.k === 'struct' ? allFields(t).map((f) => `.${f.name}`).join(' ') : '';
}

export interface CompiledTemplate {
  render(data: unknown, type?: GoType): string;
}

/** Parse once (errors are TbahErrors naming the template), render per row. */
export function compileTemplate(tmpl: string, opts: TemplateOptions = {}): CompiledTemplate {
  const name = opts.name ?? 'format';
  const fail = (msg: string, hint?: string): TbahError => new TbahError('invalid-argument', msg, {
    hint: hint ?? 'see the Go text/template syntax; docs/inspect.md lists what tbah supports',
  });
  let nodes: Node[];
  try {
    nodes = parseTemplate(tmpl, new Set(Object.keys(FUNCS)));
  } catch (err) {
    if (err instanceof PositionedSyntaxError) throw fail(`template: ${location(tmpl, err.pos, name).replace(/:\d+$/, '')}: ${err.message}`);
    if (err instanceof TemplateSyntaxError) throw fail(`template: ${name}: ${err.message}`);
    throw err;
  }
  return {
    render(data: unknown, type: GoType = ANY): string {
      try {
        return new Exec().run(nodes, val(type, data));
      } catch (err) {
        if (err instanceof ExecError) {
          const hint = /can't evaluate field/.test(err.message) && type.k === 'struct'
            ? opts.fieldsHint ?? `the fields of ${typeName(type)} are ${fieldList(type)}`
            : undefined;
          throw fail(`template: ${location(tmpl, err.pos, name)}: executing "${name}" at <${err.at}>: ${err.message}`, hint);
        }
        if (err instanceof Break || err instanceof Continue) throw fail(`template: ${name}: {{break}} or {{continue}} outside {{range}}`);
        throw err;
      }
    },
  };
}

/** Render one template over one value (`type`: its Go type; default: the JSON as interface{}). */
export function renderTemplate(tmpl: string, data: unknown, type?: GoType, opts: TemplateOptions = {}): string {
  return compileTemplate(tmpl, opts).render(data, type);
}
