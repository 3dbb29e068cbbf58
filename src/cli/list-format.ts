/**
 * `images` and `containers` output as Buildah's formats package writes it:
 * the template (a `table` prefix adds a header row from the column names),
 * spaces turned into tabs, every row through Go's text/tabwriter (padding 3).
 */
import type { GoType } from './go-fmt.js';
import { goTabwrite } from './output.js';
import { compileTemplate, fieldList } from './template.js';

export interface ListFormat {
  /** Buildah's template name for errors (`image`). */
  name: string;
  type: GoType;
  /** Column titles of `table` templates. */
  headers: Record<string, string>;
  /** Expand a literal `\t` first (Buildah does for `images`, not for `containers`). */
  expandTabs?: boolean;
}

/** The whole output (with its trailing newline; empty without rows or header). */
export function renderRows(template: string, rows: readonly unknown[], f: ListFormat): string {
  let t = f.expandTabs ? template.replace(/\\t/g, '\t') : template;
  let text = '';
  const opts = { name: f.name, fieldsHint: `valid fields: ${fieldList(f.type)}` };
  if (t.startsWith('table')) {
    t = t.slice(5).trim().replace(/ /g, '\t');
    text += `${compileTemplate(t, opts).render(f.headers, { k: 'map', elem: { k: 'string' } })}\n`;
  }
  t = t.replace(/ /g, '\t');
  const c = compileTemplate(t, opts);
  for (const r of rows) text += `${c.render(r, f.type)}\n`;
  return goTabwrite(text);
}
