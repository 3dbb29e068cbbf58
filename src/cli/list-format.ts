/**
 * `images` and `containers` output as Buildah's formats package writes it:
 * the template (a `table` prefix adds a header row from the column names),
 * spaces turned into tabs, every row through Go's text/tabwriter (padding 3).
 */
import type { GoType } from './go-fmt.js';
import { compileTemplate, fieldList } from './template.js';

/**
 * Go's text/tabwriter (minwidth 0, tabwidth 0, padding `padding`, padchar ' ',
 * no flags): tab-terminated cells are aligned in column blocks of consecutive
 * lines; the text after a line's last tab is not part of any column.
 */
export function goTabwrite(text: string, padding = 3): string {
  const lines = text.split('\n').map((l) => l.split('\t'));
  const width = (s: string): number => [...s].length;
  const widths: number[] = [];
  let out = '';
  const writeLines = (line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i]!;
      line.forEach((cell, j) => {
        out += cell;
        if (j < widths.length) out += ' '.repeat(Math.max(0, widths[j]! - width(cell)));
      });
      if (i + 1 < lines.length) out += '\n';
    }
  };
  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let cur = line0; cur < line1; cur++) {
      if (column >= lines[cur]!.length - 1) continue;
      // A block of lines with a cell in this column begins here.
      writeLines(line0, cur);
      line0 = cur;
      let w = 0;
      for (; cur < line1; cur++) {
        const line = lines[cur]!;
        if (column >= line.length - 1) break;
        w = Math.max(w, width(line[column]!) + padding);
      }
      widths.push(w);
      format(line0, cur);
      widths.pop();
      line0 = cur; // (the line that ended the block has no cell here: skipping it is right)
    }
    writeLines(line0, line1);
  };
  format(0, lines.length);
  return out;
}

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
