/**
 * A parser for Go's text/template language, as Buildah's `--format` takes it:
 * text and `{{actions}}` with `{{-`/`-}}` trimming and comments; pipelines
 * with `|`, variable declarations (`$x :=`, `$i, $v :=`) and assignments;
 * fields, variables, `(…).Field`, string/raw/char/number/bool/nil constants;
 * `if`/`else if`/`with`/`else with`/`range`/`else`/`end`, `break`, `continue`.
 * `define`, `template` and `block` are refused by name.
 */

export type Arg =
  | { kind: 'dot'; pos: number }
  | { kind: 'field'; names: string[]; pos: number }
  | { kind: 'var'; name: string; names: string[]; pos: number }
  | { kind: 'ident'; name: string; pos: number }
  | { kind: 'string'; value: string; text: string; pos: number }
  | { kind: 'number'; text: string; value: number; isInt: boolean; pos: number }
  | { kind: 'bool'; value: boolean; pos: number }
  | { kind: 'nil'; pos: number }
  | { kind: 'pipe'; pipe: Pipe; names: string[]; pos: number };

export interface Cmd { args: Arg[]; pos: number }
export interface Pipe { decl: string[]; assign: boolean; cmds: Cmd[]; pos: number }

export type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipe; pos: number }
  | { kind: 'if' | 'with' | 'range'; pipe: Pipe; list: Node[]; elseList: Node[] | undefined; pos: number }
  | { kind: 'break' | 'continue'; pos: number };

export class TemplateSyntaxError extends Error {}

type Tok =
  | { t: 'space' | 'pipe' | 'lparen' | 'rparen' | 'declare' | 'assign' | 'comma' | 'eoa'; pos: number }
  | { t: 'field' | 'var' | 'ident' | 'string' | 'number' | 'char'; text: string; pos: number };

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);
const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlnum = (c: string | undefined): boolean => c !== undefined && /[\p{L}\p{N}_]/u.test(c);

/** Go's interpreted string literal (`"a\tb"`, `\x41`, `\u00e9`, octal). */
export function unquoteGo(lit: string): string {
  const q = lit[0];
  if (q === '`') return lit.slice(1, -1).replace(/\r/g, '');
  const body = lit.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') { out += c; continue; }
    const n = body[++i];
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };
    if (n !== undefined && n in simple) { out += simple[n]; continue; }
    const hexLen = n === 'x' ? 2 : n === 'u' ? 4 : n === 'U' ? 8 : 0;
    if (hexLen > 0) {
      const h = body.slice(i + 1, i + 1 + hexLen);
      if (!new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(h)) throw new TemplateSyntaxError(`invalid syntax in ${lit}`);
      out += n === 'x' ? String.fromCharCode(parseInt(h, 16)) : String.fromCodePoint(parseInt(h, 16));
      i += hexLen;
      continue;
    }
    if (n !== undefined && /[0-7]/.test(n)) {
      const o = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(o)) throw new TemplateSyntaxError(`invalid syntax in ${lit}`);
      out += String.fromCharCode(parseInt(o, 8));
      i += 2;
      continue;
    }
    throw new TemplateSyntaxError(`invalid syntax in ${lit}`);
  }
  return out;
}

function parseNumber(text: string): { value: number; isInt: boolean } | undefined {
  const t = text.replace(/_/g, '');
  if (/^[+-]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[1-9]\d*|0)$/.test(t)) {
    const neg = t.startsWith('-');
    const u = t.replace(/^[+-]/, '');
    const v = /^0[xX]/.test(u) ? parseInt(u.slice(2), 16) : /^0[bB]/.test(u) ? parseInt(u.slice(2), 2)
      : /^0[oO]/.test(u) ? parseInt(u.slice(2), 8) : /^0[0-7]+$/.test(u) ? parseInt(u.slice(1), 8) : Number(u);
    return { value: neg ? -v : v, isInt: true };
  }
  if (/^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$/.test(t)) return { value: Number(t), isInt: false };
  return undefined;
}

/** Tokens of one action (between the delimiters), ending with 'eoa'. */
function lexAction(src: string, start: number, end: number): Tok[] {
  const toks: Tok[] = [];
  let i = start;
  while (i < end) {
    const c = src[i]!;
    const pos = i;
    if (isSpace(c)) {
      while (i < end && isSpace(src[i])) i++;
      toks.push({ t: 'space', pos });
    } else if (c === '|') { toks.push({ t: 'pipe', pos }); i++; }
    else if (c === '(') { toks.push({ t: 'lparen', pos }); i++; }
    else if (c === ')') { toks.push({ t: 'rparen', pos }); i++; }
    else if (c === ',') { toks.push({ t: 'comma', pos }); i++; }
    else if (c === ':' && src[i + 1] === '=') { toks.push({ t: 'declare', pos }); i += 2; }
    else if (c === '=') { toks.push({ t: 'assign', pos }); i++; }
    else if (c === '"' || c === '`' || c === "'") {
      let j = i + 1;
      while (j < end && src[j] !== c) {
        if (src[j] === '\\' && c !== '`') j++;
        if (c !== '`' && src[j] === '\n') throw new TemplateSyntaxError(`unterminated ${c === "'" ? 'character constant' : 'quoted string'}`);
        j++;
      }
      if (j >= end) throw new TemplateSyntaxError(`unterminated ${c === '`' ? 'raw quoted string' : c === "'" ? 'character constant' : 'quoted string'}`);
      toks.push({ t: c === "'" ? 'char' : 'string', text: src.slice(i, j + 1), pos });
      i = j + 1;
    } else if (c === '.' && !/\d/.test(src[i + 1] ?? '')) {
      let j = i + 1;
      while (j < end && isAlnum(src[j])) j++;
      toks.push({ t: 'field', text: src.slice(i, j), pos });
      i = j;
    } else if (c === '$') {
      let j = i + 1;
      while (j < end && isAlnum(src[j])) j++;
      toks.push({ t: 'var', text: src.slice(i, j), pos });
      i = j;
    } else if (/[0-9+\-.]/.test(c)) {
      let j = i + 1;
      while (j < end && /[0-9a-zA-Z_.+\-]/.test(src[j]!) && !(src[j] === '.' && /[A-Za-z_]/.test(src[j + 1] ?? '') && !/[eE]/.test(src[j - 1]!))) {
        if ((src[j] === '+' || src[j] === '-') && !/[eEpP]/.test(src[j - 1]!)) break;
        j++;
      }
      toks.push({ t: 'number', text: src.slice(i, j), pos });
      i = j;
    } else if (isAlnum(c)) {
      let j = i;
      while (j < end && isAlnum(src[j])) j++;
      toks.push({ t: 'ident', text: src.slice(i, j), pos });
      i = j;
    } else {
      throw new TemplateSyntaxError(`unexpected ${JSON.stringify(c)} in command`);
    }
  }
  toks.push({ t: 'eoa', pos: end });
  return toks;
}

/** A syntax error carries the byte offset it is at (for Go's `format:LINE:COL`). */
export class PositionedSyntaxError extends TemplateSyntaxError {
  constructor(message: string, readonly pos: number) { super(message); }
}

interface Action { toks: Tok[]; pos: number }
type Piece = { kind: 'text'; text: string } | { kind: 'action'; action: Action };

/** Split the template into text and actions, applying `{{-`/`-}}` trimming and dropping comments. */
function scan(src: string): Piece[] {
  const pieces: Piece[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = src.slice(i, open < 0 ? src.length : open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    trimNext = false;
    if (open < 0) { if (text) pieces.push({ kind: 'text', text }); break; }
    let a = open + 2;
    if (src[a] === '-' && isSpace(src[a + 1])) {
      text = text.replace(/[ \t\r\n]+$/, '');
      a += 2;
    }
    if (text) pieces.push({ kind: 'text', text });
    // Comments: {{/* … */}} (with optional trim markers).
    let b = a;
    while (isSpace(src[b])) b++;
    if (src.startsWith('/*', b)) {
      const endC = src.indexOf('*/', b + 2);
      if (endC < 0) throw new PositionedSyntaxError('unclosed comment', open);
      let k = endC + 2;
      let trim = false;
      if (src[k] === ' ' && src[k + 1] === '-' && src.startsWith('}}', k + 2)) { trim = true; k += 2; }
      if (!src.startsWith('}}', k)) throw new PositionedSyntaxError('comment ends before closing delimiter', open);
      i = k + 2;
      trimNext = trim;
      continue;
    }
    // Find the closing delimiter outside quotes.
    let j = a;
    let close = -1;
    while (j < src.length) {
      const c = src[j]!;
      if (c === '"' || c === '`' || c === "'") {
        let k = j + 1;
        while (k < src.length && src[k] !== c) { if (src[k] === '\\' && c !== '`') k++; k++; }
        j = k + 1;
        continue;
      }
      if (src.startsWith('}}', j)) { close = j; break; }
      j++;
    }
    if (close < 0) throw new PositionedSyntaxError('unclosed action', open);
    let end = close;
    if (src[close - 1] === '-' && isSpace(src[close - 2]) && close - 2 >= a) { end = close - 2; trimNext = true; }
    try {
      pieces.push({ kind: 'action', action: { toks: lexAction(src, a, end), pos: a } });
    } catch (err) {
      if (err instanceof TemplateSyntaxError && !(err instanceof PositionedSyntaxError)) throw new PositionedSyntaxError(err.message, a);
      throw err;
    }
    i = close + 2;
  }
  return pieces;
}

class Parser {
  private toks: Tok[] = [];
  private k = 0;
  private pieceIndex = 0;
  private vars: string[][] = [['$']];

  constructor(private readonly pieces: Piece[], private readonly funcs: ReadonlySet<string>) {}

  parse(): Node[] {
    const { list, stop } = this.list();
    if (stop !== undefined) throw new PositionedSyntaxError(`unexpected {{${stop.word}}}`, stop.pos);
    return list;
  }

  private peek(): Tok { return this.toks[this.k]!; }
  private next(): Tok { return this.toks[this.k++]!; }
  private skipSpace(): void { while (this.peek().t === 'space') this.k++; }
  private nextNonSpace(): Tok { this.skipSpace(); return this.next(); }
  private err(msg: string, pos = this.peek().pos): never { throw new PositionedSyntaxError(msg, pos); }

  /** Nodes until {{end}} or {{else…}} (returned as `stop`) or the end of input. */
  private list(): { list: Node[]; stop?: { word: 'end' | 'else'; pos: number } } {
    const list: Node[] = [];
    while (this.pieceIndex < this.pieces.length) {
      const p = this.pieces[this.pieceIndex++]!;
      if (p.kind === 'text') { list.push({ kind: 'text', text: p.text }); continue; }
      this.toks = p.action.toks;
      this.k = 0;
      const first = this.nextNonSpace();
      if (first.t === 'ident' && KEYWORDS.has(first.text)) {
        switch (first.text) {
          case 'end':
            if (this.nextNonSpace().t !== 'eoa') this.err('unexpected token in end');
            return { list, stop: { word: 'end', pos: first.pos } };
          case 'else':
            return { list, stop: { word: 'else', pos: first.pos } };
          case 'if': case 'with': case 'range':
            list.push(this.control(first.text, first.pos));
            continue;
          case 'break': case 'continue':
            if (this.nextNonSpace().t !== 'eoa') this.err(`unexpected token in {{${first.text}}}`);
            list.push({ kind: first.text, pos: first.pos });
            continue;
          default:
            this.err(`{{${first.text}}} is not supported by tbah (named templates); inline the text instead`, first.pos);
        }
      }
      this.k = 0;
      list.push({ kind: 'action', pipe: this.pipeline('command', 'eoa'), pos: p.action.pos });
    }
    return { list };
  }

  private control(word: 'if' | 'with' | 'range', pos: number): Node {
    this.vars.push([]);
    const pipe = this.pipeline(word, 'eoa');
    const { list, stop } = this.list();
    if (stop === undefined) this.err(`unexpected EOF: {{${word}}} has no {{end}}`, pos);
    let elseList: Node[] | undefined;
    if (stop.word === 'else') {
      // {{else}}, or {{else if …}} / {{else with …}}: a nested control that shares our {{end}}.
      const after = this.nextNonSpace();
      if (after.t === 'ident' && (after.text === 'if' || after.text === 'with') && word !== 'range') {
        elseList = [this.controlChained(after.text, after.pos)];
      } else {
        if (after.t !== 'eoa') this.err('unexpected token after else');
        const rest = this.list();
        if (rest.stop?.word !== 'end') this.err(`unexpected EOF: {{${word}}} has no {{end}}`, pos);
        elseList = rest.list;
      }
    }
    this.vars.pop();
    return { kind: word, pipe, list, elseList, pos };
  }

  /** `{{else if X}}…{{end}}`: the inner control consumes the shared {{end}}. */
  private controlChained(word: 'if' | 'with', pos: number): Node {
    return this.control(word, pos);
  }

  private pipeline(context: string, endTok: 'eoa' | 'rparen'): Pipe {
    this.skipSpace();
    const pos = this.peek().pos;
    const decl: string[] = [];
    let assign = false;
    // Declarations: $x := …, $x = …, and (range) $i, $v := …
    const save = this.k;
    const v1 = this.peek();
    if (v1.t === 'var') {
      this.next();
      this.skipSpace();
      const t2 = this.peek();
      if (t2.t === 'declare' || t2.t === 'assign') {
        this.next();
        decl.push(v1.text);
        assign = t2.t === 'assign';
      } else if (t2.t === 'comma' && context === 'range') {
        this.next();
        const v2 = this.nextNonSpace();
        if (v2.t !== 'var') this.err('range can only initialize variables');
        const t3 = this.nextNonSpace();
        if (t3.t !== 'declare' && t3.t !== 'assign') this.err('expected := or = after range variables');
        decl.push(v1.text, v2.text);
        assign = t3.t === 'assign';
      } else {
        this.k = save;
      }
    }
    if (assign) {
      for (const d of decl) if (!this.known(d)) this.err(`undefined variable "${d}"`, v1.pos);
    } else {
      for (const d of decl) this.vars[this.vars.length - 1]!.push(d);
    }
    const cmds: Cmd[] = [];
    for (;;) {
      this.skipSpace();
      const t = this.peek();
      if (t.t === endTok) {
        this.next();
        break;
      }
      if (t.t === 'eoa' || t.t === 'rparen') this.err(t.t === 'eoa' ? 'unclosed left paren' : 'unexpected right paren');
      cmds.push(this.command());
      this.skipSpace();
      if (this.peek().t === 'pipe') {
        this.next();
        this.skipSpace();
        if (this.peek().t === endTok) this.err('missing command after |');
      }
    }
    if (cmds.length === 0) this.err(`missing value for ${context}`, pos);
    for (const c of cmds.slice(1)) {
      const a = c.args[0]!;
      if (a.kind === 'bool' || a.kind === 'dot' || a.kind === 'nil' || a.kind === 'number' || a.kind === 'string') {
        this.err(`non executable command in pipeline stage ${cmds.indexOf(c) + 1}`, c.pos);
      }
    }
    return { decl, assign, cmds, pos };
  }

  private known(name: string): boolean {
    return this.vars.some((scope) => scope.includes(name));
  }

  private command(): Cmd {
    const pos = this.peek().pos;
    const args: Arg[] = [];
    for (;;) {
      this.skipSpace();
      const t = this.peek();
      if (t.t === 'eoa' || t.t === 'rparen' || t.t === 'pipe') break;
      args.push(this.operand());
      const after = this.peek();
      if (after.t !== 'space' && after.t !== 'eoa' && after.t !== 'rparen' && after.t !== 'pipe') this.err(`unexpected ${JSON.stringify(this.text(after))} in operand`, after.pos);
    }
    if (args.length === 0) this.err('empty command', pos);
    return { args, pos };
  }

  private text(t: Tok): string {
    return 'text' in t ? t.text : ({ space: ' ', pipe: '|', lparen: '(', rparen: ')', declare: ':=', assign: '=', comma: ',', eoa: '}}' } as Record<string, string>)[t.t]!;
  }

  /**
   * A term with its trailing field chain (`.A.B`, `$x.A.B`, `(…).A`). As Go's
   * parser, a chained node sits at the position of its first chained field.
   */
  private operand(): Arg {
    const t = this.next();
    let chainPos = -1;
    const chain = (): string[] => {
      const names: string[] = [];
      while (this.peek().t === 'field') {
        const f = this.next() as { text: string; pos: number };
        if (f.text === '.') this.err('unexpected . after term');
        if (chainPos < 0) chainPos = f.pos;
        names.push(...f.text.slice(1).split('.'));
      }
      return names;
    };
    switch (t.t) {
      case 'field': {
        if (t.text === '.') {
          if (this.peek().t === 'field') this.err('unexpected . after term');
          return { kind: 'dot', pos: t.pos };
        }
        const names = [...t.text.slice(1).split('.'), ...chain()];
        return { kind: 'field', names, pos: chainPos >= 0 ? chainPos : t.pos };
      }
      case 'var': {
        if (!this.known(t.text)) this.err(`undefined variable "${t.text}"`, t.pos);
        const names = chain();
        return { kind: 'var', name: t.text, names, pos: chainPos >= 0 ? chainPos : t.pos };
      }
      case 'ident': {
        if (t.text === 'true' || t.text === 'false') return { kind: 'bool', value: t.text === 'true', pos: t.pos };
        if (t.text === 'nil') return { kind: 'nil', pos: t.pos };
        if (KEYWORDS.has(t.text)) this.err(`unexpected <${t.text}> in command`, t.pos);
        if (this.peek().t === 'field') this.err(`unexpected . after term ${JSON.stringify(t.text)}`);
        if (!this.funcs.has(t.text)) this.err(`function ${JSON.stringify(t.text)} not defined`, t.pos);
        return { kind: 'ident', name: t.text, pos: t.pos };
      }
      case 'string':
        try {
          return { kind: 'string', value: unquoteGo(t.text), text: t.text, pos: t.pos };
        } catch (err) {
          this.err((err as Error).message, t.pos);
        }
      // eslint-disable-next-line no-fallthrough
      case 'char': {
        const s = unquoteGo(`"${t.text.slice(1, -1).replace(/"/g, '\\"')}"`);
        const cps = [...s];
        if (cps.length !== 1) this.err(`malformed character constant: ${t.text}`, t.pos);
        return { kind: 'number', text: t.text, value: cps[0]!.codePointAt(0)!, isInt: true, pos: t.pos };
      }
      case 'number': {
        const n = parseNumber(t.text);
        if (n === undefined) this.err(`bad number syntax: ${JSON.stringify(t.text)}`, t.pos);
        return { kind: 'number', text: t.text, ...n, pos: t.pos };
      }
      case 'lparen': {
        const pipe = this.pipeline('parenthesized pipeline', 'rparen');
        const names = chain();
        return { kind: 'pipe', pipe, names, pos: chainPos >= 0 ? chainPos : t.pos };
      }
      default:
        return this.err(`unexpected ${JSON.stringify(this.text(t))} in operand`, t.pos);
    }
  }
}

/** Parse; `funcs` are the function names the template may call (others are an error, as in Go). */
export function parseTemplate(src: string, funcs: ReadonlySet<string>): Node[] {
  return new Parser(scan(src), funcs).parse();
}

/** A node as Go prints it in error contexts (`at <index .Env 9>`). */
export function argString(a: Arg): string {
  const chain = (names: string[]): string => names.map((n) => `.${n}`).join('');
  switch (a.kind) {
    case 'dot': return '.';
    case 'field': return chain(a.names);
    case 'var': return a.name + chain(a.names);
    case 'ident': return a.name;
    case 'string': return a.text;
    case 'number': return a.text;
    case 'bool': return String(a.value);
    case 'nil': return 'nil';
    case 'pipe': return `(${pipeString(a.pipe)})${chain(a.names)}`;
  }
}

export function cmdString(c: Cmd): string {
  return c.args.map(argString).join(' ');
}

export function pipeString(p: Pipe): string {
  const decl = p.decl.length > 0 ? `${p.decl.join(', ')} ${p.assign ? '=' : ':='} ` : '';
  return decl + p.cmds.map(cmdString).join(' | ');
}

/** `name:LINE:COL` of a byte offset, as Go's template errors say it (COL counted from 0). */
export function location(src: string, pos: number, name: string): string {
  const before = src.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - (before.lastIndexOf('\n') + 1);
  return `${name}:${line}:${col}`;
}
