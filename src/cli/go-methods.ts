/**
 * The methods of time.Time and time.Duration that templates call on
 * Buildah's fields (`{{.OCIv1.Created.Unix}}`, `{{.CreatedAtRaw.Format
 * "2006-01-02"}}`, `{{.Docker.Config.Healthcheck.Interval.Seconds}}`).
 * Anything else returns undefined (the caller refuses it by name).
 */
import { DAYS, type GoType, type GoValue, FLOAT, MONTHS, STRING, concrete, goDuration, goTime, typeName, val } from './go-fmt.js';

const I64: GoType = { k: 'int', name: 'int64' };
const INT: GoType = { k: 'int' };
export const MONTH: GoType = { k: 'int', name: 'time.Month' };
export const WEEKDAY: GoType = { k: 'int', name: 'time.Weekday' };

interface GoTime {
  /** In the time's own zone. */
  year: number; month: number; day: number; hour: number; minute: number; second: number; nano: number;
  /** Seconds east of UTC, and the zone's name as Go prints it (UTC, or the offset for a fixed zone). */
  offset: number; zone: string;
  /** Seconds since the epoch. */
  unix: number;
}

function parseTime(v: unknown): GoTime {
  const s = typeof v === 'string' && v !== '' ? v : '0001-01-01T00:00:00Z';
  const m = /^(-?\d{4,})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|z|([+-])(\d\d):(\d\d))$/.exec(s);
  if (!m) throw new Error(`cannot parse time ${JSON.stringify(s)}`);
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  const nano = Number((m[7] ?? '').padEnd(9, '0').slice(0, 9) || '0');
  const offset = m[9] ? (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 3600 + Number(m[11]) * 60) : 0;
  const d = new Date(0);
  d.setUTCFullYear(year!, month! - 1, day!);
  d.setUTCHours(hour!, minute!, second!, 0);
  const zone = m[9] ? `${m[9]}${m[10]}${m[11]}` : 'UTC';
  return { year: year!, month: month!, day: day!, hour: hour!, minute: minute!, second: second!, nano, offset, zone, unix: d.getTime() / 1000 - offset };
}

function weekday(t: GoTime): number {
  const d = new Date(0);
  d.setUTCFullYear(t.year, t.month - 1, t.day);
  return d.getUTCDay();
}

function yearDay(t: GoTime): number {
  const start = new Date(0);
  start.setUTCFullYear(t.year, 0, 1);
  const d = new Date(0);
  d.setUTCFullYear(t.year, t.month - 1, t.day);
  return Math.round((d.getTime() - start.getTime()) / 86400e3) + 1;
}

const p2 = (n: number): string => String(n).padStart(2, '0');

/** time.Time.Format with Go's reference-time layout (Mon Jan 2 15:04:05 MST 2006). */
export function goFormat(t: GoTime, layout: string): string {
  let out = '';
  const zoneOffset = (sep: string, withSeconds: boolean, short: boolean, z: boolean): string => {
    if (z && t.offset === 0) return 'Z';
    const sign = t.offset < 0 ? '-' : '+';
    const a = Math.abs(t.offset);
    const hh = p2(Math.floor(a / 3600));
    if (short) return sign + hh;
    return sign + hh + sep + p2(Math.floor((a % 3600) / 60)) + (withSeconds ? sep + p2(a % 60) : '');
  };
  for (let i = 0; i < layout.length;) {
    const rest = layout.slice(i);
    const take = (tok: string, text: string): boolean => {
      if (!rest.startsWith(tok)) return false;
      out += text;
      i += tok.length;
      return true;
    };
    const h12 = t.hour % 12 === 0 ? 12 : t.hour % 12;
    if (take('January', MONTHS[t.month - 1]!) || take('Jan', MONTHS[t.month - 1]!.slice(0, 3))
      || take('Monday', DAYS[weekday(t)]!) || take('Mon', DAYS[weekday(t)]!.slice(0, 3)) || take('MST', t.zone)
      || take('2006', String(t.year).padStart(4, '0')) || take('002', String(yearDay(t)).padStart(3, '0')) || take('__2', String(yearDay(t)).padStart(3, ' '))
      || take('01', p2(t.month)) || take('02', p2(t.day)) || take('03', p2(h12)) || take('04', p2(t.minute)) || take('05', p2(t.second))
      || take('06', p2(t.year % 100)) || take('15', p2(t.hour)) || take('_2', String(t.day).padStart(2, ' '))
      || take('Z070000', zoneOffset('', true, false, true)) || take('Z07:00:00', zoneOffset(':', true, false, true))
      || take('Z0700', zoneOffset('', false, false, true)) || take('Z07:00', zoneOffset(':', false, false, true)) || take('Z07', zoneOffset('', false, true, true))
      || take('-070000', zoneOffset('', true, false, false)) || take('-07:00:00', zoneOffset(':', true, false, false))
      || take('-0700', zoneOffset('', false, false, false)) || take('-07:00', zoneOffset(':', false, false, false)) || take('-07', zoneOffset('', false, true, false))
      || take('PM', t.hour >= 12 ? 'PM' : 'AM') || take('pm', t.hour >= 12 ? 'pm' : 'am')
      || take('1', String(t.month)) || take('2', String(t.day)) || take('3', String(h12)) || take('4', String(t.minute)) || take('5', String(t.second))) continue;
    // Fractional seconds: .000 (fixed digits) or .999 (trailing zeros dropped).
    const frac = /^[.,](0+|9+)(?!\d)/.exec(rest);
    if (frac) {
      const digits = frac[1]!;
      let f = String(t.nano).padStart(9, '0').slice(0, digits.length);
      if (digits[0] === '9') f = f.replace(/0+$/, '');
      out += f === '' ? '' : rest[0] + f;
      i += frac[0].length;
      continue;
    }
    out += layout[i];
    i++;
  }
  return out;
}

/** Call `name` on a time or duration; undefined when it is not a method tbah knows. */
export function goMethod(recv: GoValue, name: string, args: GoValue[]): GoValue | undefined {
  const want = (n: number): void => {
    if (args.length !== n) throw new Error(`wrong number of args for ${name}: want ${n} got ${args.length}`);
  };
  if (recv.t.k === 'duration') {
    const ns = typeof recv.v === 'number' ? recv.v : 0;
    const table: Record<string, () => GoValue> = {
      Hours: () => val(FLOAT, ns / 3600e9), Minutes: () => val(FLOAT, ns / 60e9), Seconds: () => val(FLOAT, ns / 1e9),
      Milliseconds: () => val(I64, Math.trunc(ns / 1e6)), Microseconds: () => val(I64, Math.trunc(ns / 1e3)), Nanoseconds: () => val(I64, ns),
      String: () => val(STRING, goDuration(ns)),
    };
    if (!(name in table)) return undefined;
    want(0);
    return table[name]!();
  }
  if (recv.t.k !== 'time') return undefined;
  const t = parseTime(recv.v);
  if (name === 'Format') {
    want(1);
    const layout = concrete(args[0]!);
    if (layout.t.k !== 'string') throw new Error(`wrong type for value; expected string; got ${typeName(layout.t)}`);
    return val(STRING, goFormat(t, typeof layout.v === 'string' ? layout.v : ''));
  }
  const table: Record<string, () => GoValue> = {
    Unix: () => val(I64, Math.floor(t.unix)),
    UnixMilli: () => val(I64, Math.floor(t.unix) * 1000 + Math.floor(t.nano / 1e6)),
    UnixMicro: () => val(I64, Math.floor(t.unix) * 1e6 + Math.floor(t.nano / 1e3)),
    UnixNano: () => val(I64, Math.floor(t.unix) * 1e9 + t.nano),
    Year: () => val(INT, t.year), Month: () => val(MONTH, t.month), Day: () => val(INT, t.day),
    Hour: () => val(INT, t.hour), Minute: () => val(INT, t.minute), Second: () => val(INT, t.second), Nanosecond: () => val(INT, t.nano),
    YearDay: () => val(INT, yearDay(t)), Weekday: () => val(WEEKDAY, weekday(t)),
    IsZero: () => val({ k: 'bool' }, t.unix === -62135596800 && t.nano === 0),
    String: () => val(STRING, goTime(recv.v)),
  };
  if (!(name in table)) return undefined;
  want(0);
  return table[name]!();
}
