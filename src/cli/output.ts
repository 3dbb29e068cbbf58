/** Terminal output: stdout carries only values; messages go to stderr, coloured only on a TTY. */
import { styleText } from 'node:util';
import { TbahError } from '../core/errors.js';

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

/**
 * `--log-level` (Buildah's logrus levels): warnings show by default, `error`
 * hides them, `info` and `debug` add lines on stderr. Never log a secret:
 * callers pass names and paths, not flag values or credentials.
 */
const LEVELS = ['panic', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LEVELS)[number];
let level = LEVELS.indexOf('warn');

/** Parse and set the level; Buildah's text for a bad one. */
export function setLogLevel(v: string): LogLevel {
  const want = v.toLowerCase() === 'warning' ? 'warn' : v.toLowerCase();
  const i = LEVELS.indexOf(want as LogLevel);
  if (i < 0) {
    throw new TbahError('invalid-argument', `unable to parse log level: not a valid logrus Level: ${JSON.stringify(v)}`, {
      hint: `use one of ${LEVELS.join(', ')}`,
    });
  }
  level = i;
  return LEVELS[i]!;
}

export function logEnabled(l: LogLevel): boolean {
  return LEVELS.indexOf(l) <= level;
}

export function warn(msg: string): void {
  if (logEnabled('warn')) process.stderr.write(`${paint(process.stderr, 'yellow', 'tbah: warning:')} ${msg}\n`);
}

export function info(msg: string): void {
  if (logEnabled('info')) process.stderr.write(`${paint(process.stderr, 'dim', 'tbah: info:')} ${msg}\n`);
}

/** Debug output: the message is built only when it will be shown. */
export function debug(msg: string | (() => string)): void {
  if (logEnabled('debug')) process.stderr.write(`${paint(process.stderr, 'dim', 'tbah: debug:')} ${typeof msg === 'function' ? msg() : msg}\n`);
}

/** One failure among several (rm, rmi): reported as it happens; the command exits 125 at the end. */
export function reportFailure(err: unknown): void {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${paint(process.stderr, 'red', 'tbah:')} ${msg}\n`);
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

/** Buildah's `images` size (formattedSize): `%.3g` of decimal units B, KB, MB, GB, TB. */
export function imageSize(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = bytes;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  const r = Number(v.toPrecision(3));
  // %.3g switches to an exponent once rounding reaches 1000 (999.7 B → "1e+03 B").
  return `${r >= 1000 ? '1e+03' : String(r)} ${units[i]}`;
}

/** "2 minutes ago", as Docker's units.HumanDuration (which truncates, except hours, which round). */
export function humanAgo(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const ms = now - Date.parse(iso);
  const s = Math.trunc(ms / 1000);
  if (s < 1) return 'Less than a second ago';
  if (s === 1) return '1 second ago';
  if (s < 60) return `${s} seconds ago`;
  const m = Math.trunc(ms / 60000);
  if (m === 1) return 'About a minute ago';
  if (m < 60) return `${m} minutes ago`;
  const h = Math.trunc(ms / 3600000 + 0.5);
  if (h === 1) return 'About an hour ago';
  if (h < 48) return `${h} hours ago`;
  if (h < 24 * 7 * 2) return `${Math.trunc(h / 24)} days ago`;
  if (h < 24 * 30 * 2) return `${Math.trunc(h / 24 / 7)} weeks ago`;
  if (h < 24 * 365 * 2) return `${Math.trunc(h / 24 / 30)} months ago`;
  return `${Math.trunc(ms / 3600000 / 24 / 365)} years ago`;
}

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
