/**
 * The command line as Buildah's flag parser (Go's pflag via cobra) reads it,
 * turned into what commander understands, before commander parses it:
 *
 * - every boolean flag takes `--flag=VALUE` (and `-f=VALUE`) with Go's
 *   strconv.ParseBool values; `--flag=false` becomes the flag's negation;
 * - `--pull` without `=` means `--pull=always` (and `--pull-always`,
 *   `--pull-never` are its old spellings), on the commands that have it;
 * - an unknown command is an error even when `--help` follows it.
 *
 * Only flags are rewritten: never past `--`, never past a command's first
 * argument (flags end there, as in Buildah; `run`'s command is left alone).
 */
import { type Command, Option } from 'commander';
import { TbahError } from '../core/errors.js';

/** strconv.ParseBool's spellings, exactly (Go accepts no others: "yes" and "tRuE" are errors). */
const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

export function parseGoBool(value: string, flagLabel: string): boolean {
  if (GO_TRUE.has(value)) return true;
  if (GO_FALSE.has(value)) return false;
  throw new TbahError('invalid-argument', `invalid argument ${JSON.stringify(value)} for ${JSON.stringify(flagLabel)} flag: strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`, {
    hint: `write ${flagLabel.split(', ').pop()!}=true or ${flagLabel.split(', ').pop()!}=false`,
  });
}

const isBoolean = (o: Option): boolean => !o.required && !o.optional;

/** The long name without `--no-`: the one thing `--x` and `--no-x` both set. */
const positiveLong = (o: Option): string | undefined => (o.long === undefined ? undefined : o.negate ? o.long.replace(/^--no-/, '--') : o.long);

function findOption(cmd: Command, flag: string): Option | undefined {
  return cmd.options.find((o) => o.long === flag || o.short === flag);
}

/**
 * Give every boolean flag its opposite, hidden, so `--x=false` / `--no-x=false`
 * have something to become (commander only knows `--x` and `--no-x`).
 */
export function addBooleanNegations(cmd: Command): void {
  for (const o of [...cmd.options]) {
    // Hidden negations are what this adds; a hidden flag of its own (run --tty) still takes =false.
    if (!isBoolean(o) || o.long === undefined || (o.hidden && o.negate) || o.long === '--version') continue;
    const pos = positiveLong(o)!;
    const other = o.negate ? pos : `--no-${pos.slice(2)}`;
    if (findOption(cmd, other) === undefined) cmd.addOption(new Option(other).hideHelp());
  }
}

function findCommand(program: Command, word: string): Command | undefined {
  return program.commands.find((c) => c.name() === word || c.aliases().includes(word));
}

/** Damerau-free edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

export function unknownCommand(program: Command, word: string): TbahError {
  const names = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
  const near = names.filter((n) => distance(n, word) <= 2 || (word.length >= 2 && n.startsWith(word)));
  return new TbahError('usage', `unknown command ${JSON.stringify(word)} for "tbah"`, {
    hint: near.length > 0 ? `did you mean ${near.slice(0, 3).join(', ')}? (\`tbah --help\` lists the commands)` : '`tbah --help` lists the commands',
  });
}

/** How many of the following argv entries a short-flag group such as `-qf docker` consumes as a value. */
function shortGroupTakesNext(cmd: Command, program: Command, group: string): boolean {
  for (let k = 1; k < group.length; k++) {
    const o = findOption(cmd, `-${group[k]}`) ?? findOption(program, `-${group[k]}`);
    if (o === undefined) return false; // commander reports it
    if (!isBoolean(o)) return k === group.length - 1 && o.required;
  }
  return false;
}

export function normaliseArgv(argv: readonly string[], program: Command): string[] {
  const out = argv.slice(0, 2);
  let cmd: Command = program;
  let i = 2;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (!a.startsWith('-') || a === '-') {
      if (cmd !== program) break; // the command's first argument: flags end here
      if (a === 'help') {
        // `tbah help CMD` is commander's; an unknown CMD is an error there too (commander would print nothing).
        const topic = argv.slice(i + 1).find((x) => !x.startsWith('-'));
        if (topic !== undefined && findCommand(program, topic) === undefined) throw unknownCommand(program, topic);
        break;
      }
      const sub = findCommand(program, a);
      if (sub === undefined) throw unknownCommand(program, a);
      cmd = sub;
      out.push(a);
      continue;
    }
    const long = a.startsWith('--');
    if (!long && a.length > 2 && a[2] !== '=') {
      // A group of short flags (`-qa`, `-qf docker`, `-fdocker`): commander splits it.
      out.push(a);
      if (shortGroupTakesNext(cmd, program, a) && i + 1 < argv.length) out.push(argv[++i]!);
      continue;
    }
    const eq = a.indexOf('=');
    const flag = long ? (eq > 0 ? a.slice(0, eq) : a) : a.slice(0, 2);
    const value = long ? (eq > 0 ? a.slice(eq + 1) : undefined) : (a[2] === '=' ? a.slice(3) : undefined);
    const hasPull = findOption(cmd, '--pull') !== undefined;
    if (hasPull && (a === '--pull' || a === '--pull-always')) { out.push('--pull=always'); continue; }
    if (hasPull && a === '--pull-never') { out.push('--pull=never'); continue; }
    const opt = findOption(cmd, flag) ?? findOption(program, flag);
    if (opt === undefined) { out.push(a); continue; } // commander says what is wrong
    if (!isBoolean(opt)) {
      if (!long && value !== undefined) { out.push(flag, value); continue; } // pflag's `-f=docker`
      out.push(a);
      // Its value is the next word (`--format docker`, `-qf docker`), which is no argument.
      if (value === undefined && opt.required) {
        if (i + 1 < argv.length) out.push(argv[++i]!);
      }
      continue;
    }
    if (value === undefined) { out.push(a); continue; }
    const label = opt.short !== undefined && opt.long !== undefined ? `${opt.short}, ${opt.long}` : (opt.long ?? opt.short!);
    const set = parseGoBool(value, label);
    // `--x=true` is `--x`; `--x=false` is `--no-x` (and the reverse for a flag spelt `--no-x`).
    const pos = positiveLong(opt);
    if (pos === undefined) {
      if (set) out.push(opt.short!); // a short-only boolean: false is its default, so nothing to add
      continue;
    }
    out.push(set === !opt.negate ? pos : `--no-${pos.slice(2)}`);
  }
  return out.concat(argv.slice(i));
}
