/**
 * The subset of Go templates scripts use with Buildah's `--format`:
 * `{{.Field}}`, `{{.A.B}}`, `{{json .X}}`, `{{index .M "key"}}`, `{{len .X}}`,
 * and `\t`/`\n` escapes in the format string.
 */
import { TbahError } from '../core/errors.js';

function lookup(data: unknown, pathExpr: string, tmpl: string): unknown {
  if (pathExpr === '.') return data;
  if (!pathExpr.startsWith('.')) throw bad(tmpl, `"${pathExpr}" is not a field`);
  let cur: unknown = data;
  for (const part of pathExpr.slice(1).split('.')) {
    if (cur === null || typeof cur !== 'object') throw bad(tmpl, `can't evaluate field ${part}`);
    // Buildah's templates name Go struct fields (.OCIv1.Config.Env); our JSON keys may be lower-case.
    const fold = (k: string): string => k.replace(/[_.]/g, '').toLowerCase(); // DiffIDs ~ diff_ids, RootFS ~ rootfs
    const key = part in (cur as object) ? part : Object.keys(cur as object).find((k) => fold(k) === fold(part));
    if (key === undefined) throw bad(tmpl, `can't evaluate field ${part}`);
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function bad(tmpl: string, why: string): TbahError {
  return new TbahError('invalid-argument', `--format ${JSON.stringify(tmpl)}: ${why}`, { hint: 'fields are written {{.Name}}; see the command\'s page in docs/' });
}

function show(v: unknown): string {
  if (v === undefined || v === null) return '<no value>';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.map(show).join(' ')}]`;
  if (typeof v === 'object') return `map[${Object.entries(v as object).map(([k, x]) => `${k}:${show(x)}`).join(' ')}]`;
  return String(v);
}

export function renderTemplate(tmpl: string, data: unknown): string {
  const src = tmpl.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  return src.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_m, expr: string) => {
    const words = expr.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
    if (words.length === 1) return show(lookup(data, words[0]!, tmpl));
    const [fn, ...args] = words;
    if (fn === 'json' && args.length === 1) return JSON.stringify(lookup(data, args[0]!, tmpl));
    if (fn === 'len' && args.length === 1) {
      const v = lookup(data, args[0]!, tmpl);
      return String(Array.isArray(v) || typeof v === 'string' ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0);
    }
    if (fn === 'index' && args.length === 2) {
      const m = lookup(data, args[0]!, tmpl) as Record<string, unknown> | undefined;
      const key = JSON.parse(args[1]!) as string;
      return show(m?.[key]);
    }
    throw bad(tmpl, `unsupported expression {{${expr}}}`);
  });
}
