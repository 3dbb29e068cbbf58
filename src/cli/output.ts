/** Terminal output: stdout carries only values; messages go to stderr, coloured only on a TTY. */
import { styleText } from 'node:util';

type Style = Parameters<typeof styleText>[0];

export function paint(stream: NodeJS.WriteStream, style: Style, text: string): string {
  if (!stream.isTTY || process.env.NO_COLOR !== undefined || process.env.FORCE_COLOR === '0') return text;
  return styleText(style, text);
}

export function out(line: string): void {
  process.stdout.write(line + '\n');
}

/** A status line on stderr (progress-like, not a warning). */
export function note(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

export function warn(msg: string): void {
  process.stderr.write(`${paint(process.stderr, 'yellow', 'tbah: warning:')} ${msg}\n`);
}

/** Columns as Go's tabwriter (padding 3) lays them out, as Buildah prints tables. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, [...c].length); });
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n');
}

/** Go's units.HumanSizeWithPrecision(size, 3): decimal units. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let v = bytes;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${Number(v.toPrecision(3))} ${units[i]}`;
}

/** "2 minutes ago", as Docker's units.HumanDuration. */
export function humanAgo(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 1) return 'Less than a second ago';
  if (s === 1) return '1 second ago';
  if (s < 60) return `${s} seconds ago`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute ago';
  if (m < 60) return `${m} minutes ago`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour ago';
  if (h < 48) return `${h} hours ago`;
  if (h < 24 * 7 * 2) return `${Math.round(h / 24)} days ago`;
  if (h < 24 * 30 * 2) return `${Math.round(h / 24 / 7)} weeks ago`;
  if (h < 24 * 365 * 2) return `${Math.round(h / 24 / 30)} months ago`;
  return `${Math.round(h / 24 / 365)} years ago`;
}
